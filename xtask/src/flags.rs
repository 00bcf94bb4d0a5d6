//! The command line: every task, its flags and their help.

use camino::Utf8PathBuf;
use clap::{Args, Parser, Subcommand};

/// Build, test, package and deploy the Airflow DAGs and pipelines of this repository.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, propagate_version = true)]
pub(crate) struct Cli {
    /// The repository to work on (default: the workspace `cargo xtask` was built from).
    #[arg(long, global = true, env = "PAD_REPO", value_name = "DIR")]
    pub(crate) repo: Option<Utf8PathBuf>,
    /// More logs on stderr (-v info, -vv debug); PAD_LOG takes a full filter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List projects, DAGs, artifacts.yaml files and deploy targets; fail on a broken layout.
    Layout(LayoutArgs),
    /// Scaffold a project (package, test, requirements) and its DAG stub.
    NewProject(NewProjectArgs),
    /// Run every check CI runs: format, clippy, the unit and end-to-end tests.
    Ci(CiArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LayoutArgs {
    /// Print JSON on stdout instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct NewProjectArgs {
    /// The project's name: lowercase letters, digits and `-`, starting with a letter.
    pub(crate) name: String,
    /// Print JSON on stdout instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CiArgs {
    /// Do not install missing system packages; fail with the command that would.
    #[arg(long)]
    pub(crate) no_provision: bool,
}
