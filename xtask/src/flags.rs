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
    /// Build (or reuse) each project's Python environment and its venv.tar.gz.
    Venv(VenvArgs),
    /// Run each project's pytest suite in its environment, and load every DAG in real Airflow.
    Test(TestArgs),
    /// Run every check CI runs: format, clippy, the unit and end-to-end tests.
    Ci(CiArgs),
    /// Measure the toolchain against the alternatives and print the numbers side by side.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub(crate) struct VenvArgs {
    /// Projects to build (default: all).
    pub(crate) projects: Vec<String>,
    /// Fail when a lock file is stale instead of updating it (for CI).
    #[arg(long)]
    pub(crate) locked: bool,
    /// Rebuild even when an environment with the same key exists.
    #[arg(long)]
    pub(crate) force: bool,
    /// Print JSON on stdout: per project its key, reused or built, seconds, size and path.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    pub(crate) target: BenchTarget,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BenchTarget {
    /// Environments: ours (cold, warm, unchanged) against the pip flow, and packing against tar.
    ///
    /// On the image-matching project and a larger set (numpy, pandas, scikit-learn, pytest):
    /// `cargo xtask venv` with an empty uv cache, with a warm one, and unchanged; against
    /// `python -m venv`, `pip install -r` and `venv-pack`; and our packing against
    /// `tar -czf` and `tar -I pigz -cf` on the same environment. Works in target/bench/venv/
    /// (wiped first), downloads from PyPI and takes minutes.
    Venv(BenchVenvArgs),
}

#[derive(Debug, Args)]
pub(crate) struct BenchVenvArgs {
    /// Only this requirement set: `image-matching` (the project) or `bench-large`
    /// (numpy, pandas, scikit-learn, pytest). Repeatable; default: both.
    #[arg(long = "set", value_name = "SET")]
    pub(crate) sets: Vec<String>,
    /// Times each packing this many times and reports the median.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) pack_runs: u32,
    /// Print the results as JSON on stdout instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Internal: build PROJECT of --repo in PAD_TARGET_DIR and time its packing step.
    #[arg(long, hide = true, value_name = "PROJECT")]
    pub(crate) pack_probe: Option<String>,
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
pub(crate) struct TestArgs {
    /// Projects to test (default: all). The DAG check always covers all of dags/.
    pub(crate) projects: Vec<String>,
    /// Write JUnit XML reports into DIR: <project>.xml and dags-airflow-<series>.xml.
    #[arg(long, value_name = "DIR")]
    pub(crate) junit: Option<Utf8PathBuf>,
    /// Rerun tests whose inputs have not changed since they last passed.
    #[arg(long)]
    pub(crate) force: bool,
    /// Fail when a lock file is stale instead of updating it (for CI).
    #[arg(long)]
    pub(crate) locked: bool,
    /// Only these pinned Airflow series (as named under deploy/airflow/), such as 2.10.
    #[arg(long, value_name = "SERIES")]
    pub(crate) airflow: Vec<String>,
    /// An Airflow Variable the DAGs read while loading (AIRFLOW_VAR_<KEY>).
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) var: Vec<String>,
    /// An Airflow Connection the DAGs read while loading (AIRFLOW_CONN_<ID>).
    #[arg(long, value_name = "ID=URI")]
    pub(crate) conn: Vec<String>,
    /// Skip the DAG check.
    #[arg(long)]
    pub(crate) no_dags: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CiArgs {
    /// Do not install missing system packages; fail with the command that would.
    #[arg(long)]
    pub(crate) no_provision: bool,
}
