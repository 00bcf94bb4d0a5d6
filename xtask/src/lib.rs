//! `cargo xtask`: the front end of platform-airflow-dags.
//!
//! It parses flags, calls one library function per task, and renders the result: text or
//! JSON on stdout, logs and progress on stderr. The logic lives in the `pad-*` crates so
//! other tools can reuse it.

use std::process::ExitCode;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use clap::Parser;

mod airflow;
mod bench;
mod cache;
mod ci;
mod ci_config;
mod dags;
mod deploy;
mod deploy_local;
mod flags;
mod layout;
mod lint;
mod namespace;
mod new_project;
mod package;
mod progress;
mod publish;
mod render;
mod test;
mod venv;
mod worker;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tidy;

use flags::{Cli, Command};

/// Runs `cargo xtask` with the process's arguments and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let root = match repo_root(cli.repo.as_deref()) {
        Ok(root) => root,
        Err(err) => return report(&err),
    };
    let result = match cli.command {
        Command::Layout(args) => layout::run(&root, &args),
        Command::NewProject(args) => new_project::run(&root, &args),
        Command::Render(args) => render::run(&root, &args),
        Command::Lint(args) => lint::run(&root, &args),
        Command::Venv(args) => venv::run(&root, &args),
        Command::Test(args) => test::run(&root, &args),
        Command::Package(args) => package::run(&root, &args),
        Command::Publish(args) => publish::publish(&root, &args),
        Command::Fetch(args) => publish::fetch(&root, &args),
        Command::Verify(args) => publish::verify(&args),
        Command::DeployLocalBuild(args) => deploy_local::run(&root, &args),
        Command::Deploy(args) => deploy::deploy(&root, &args),
        Command::Releases(args) => deploy::releases(&root, &args),
        Command::Rollback(args) => deploy::rollback(&root, &args),
        Command::Namespace(command) => namespace::run(&root, &command),
        Command::Ci(args) => ci::run(&root, &args),
        Command::CiConfig(args) => ci_config::run(&root, &args),
        Command::Bench(args) => bench::run(&root, &args),
        Command::Cache(command) => cache::run(&root, &command),
        Command::Worker(args) => worker::run(&root, &args),
        Command::Airflow(args) => airflow::run(&root, &args.action),
        Command::Dags(command) => dags::run(&root, &command),
    };
    match result {
        Ok(code) => code,
        Err(err) => report(&err),
    }
}

/// Prints an error and its causes; several failures of one kind (projects that could
/// not be built) one by one, then their count.
fn report(err: &anyhow::Error) -> ExitCode {
    if let Some(pad_flow::FlowError::Several(failures)) = err.downcast_ref() {
        for failure in failures {
            eprintln!("error: {}", error_line(failure));
        }
    }
    eprintln!("error: {}", pad_store::redact(&format!("{err:#}")));
    ExitCode::FAILURE
}

/// Logs to stderr at the level of `-v`/`-vv`, or as `PAD_LOG` says; every line is
/// redacted (`pad_store::Redacting`), and events that would format a credential are
/// never made (see [`formats_no_secret`]).
fn init_logging(verbose: u8) {
    use tracing_subscriber::filter::{FilterExt as _, filter_fn};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, Layer as _};

    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env(pad_layout::EnvVars::PAD_LOG).unwrap_or_else(|_| EnvFilter::new(default));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(|| pad_store::Redacting(std::io::stderr()))
        .without_time()
        .with_target(false)
        .with_filter(filter.and(filter_fn(|meta| formats_no_secret(meta.target(), *meta.level()))));
    tracing_subscriber::registry().with(layer).init();
}

/// Whether a dependency's event is safe to format at all. reqsign (OpenDAL's request
/// signer) logs its credential providers with `Debug`, the S3 secret key and session
/// token included; ureq's traces dump the bytes on the wire in hex and text, headers
/// and all, split across lines where no redaction can recognise a secret. Both are
/// dropped before anything is formatted, whatever `PAD_LOG` says.
fn formats_no_secret(target: &str, level: tracing::Level) -> bool {
    !(target.starts_with("reqsign") || (target.starts_with("ureq_proto") && level == tracing::Level::TRACE))
}

/// Prints a text for people on stdout, redacted (reports quote what servers said).
fn print_text(text: &str) {
    print!("{}", pad_store::redact(text));
}

/// An error and its causes on one line, redacted, for a report's line.
fn error_line(error: &dyn std::error::Error) -> String {
    pad_store::redact(&pad_layout::error_chain(error))
}

/// The repository to work on, found at run time, in this order:
///
/// 1. `--repo DIR`, else `PAD_REPO`;
/// 2. the workspace `cargo run` (so `cargo xtask`) was run in: cargo sets
///    `CARGO_MANIFEST_DIR` to `<root>/xtask` in the program's environment;
/// 3. the current directory.
///
/// For 2 and 3 the root is the nearest directory at or above that holds `dags/` and
/// `projects/`. Never the directory the binary was built in: with a shared target
/// directory (a global `build.target-dir`) one binary serves every checkout.
fn repo_root(explicit: Option<&Utf8Path>) -> Result<Utf8PathBuf> {
    let manifest_dir = std::env::var(pad_layout::EnvVars::CARGO_MANIFEST_DIR).ok().map(Utf8PathBuf::from);
    let cwd = std::env::current_dir().ok().and_then(|dir| Utf8PathBuf::from_path_buf(dir).ok());
    let root = find_repo(explicit, manifest_dir.as_deref(), cwd.as_deref())?;
    let root = std::fs::canonicalize(&root)?;
    Utf8PathBuf::from_path_buf(root).map_err(|p| anyhow::anyhow!("`{}` is not UTF-8", p.display()))
}

/// [`repo_root`]'s choice, given what it read from the process.
fn find_repo(
    explicit: Option<&Utf8Path>,
    manifest_dir: Option<&Utf8Path>,
    cwd: Option<&Utf8Path>,
) -> Result<Utf8PathBuf> {
    if let Some(root) = explicit {
        if !root.is_dir() {
            anyhow::bail!("repository `{root}` is not a directory: pass an existing path to --repo");
        }
        return Ok(root.to_owned());
    }
    if let Some(root) = manifest_dir.and_then(pad_layout::find_root) {
        tracing::debug!("repository {root}: the workspace cargo runs us in");
        return Ok(root);
    }
    let Some(cwd) = cwd else {
        anyhow::bail!("cannot read the current directory: run `cargo xtask` inside a checkout, or pass --repo DIR")
    };
    match pad_layout::find_root(cwd) {
        Some(root) => {
            tracing::debug!("repository {root}: at or above the current directory");
            Ok(root)
        }
        None => anyhow::bail!(
            "no repository at or above `{cwd}` (a directory holding dags/ and projects/): run `cargo xtask` inside a checkout, or pass --repo DIR (or set PAD_REPO)"
        ),
    }
}

/// The repository at `root` with its build output where `PAD_TARGET_DIR` says, or in
/// `target/` in the repository: the one place that variable is read.
fn workspace(root: &Utf8Path) -> pad_flow::Workspace {
    let ws = pad_flow::Workspace::new(root);
    match std::env::var(pad_layout::EnvVars::PAD_TARGET_DIR).ok().filter(|dir| !dir.is_empty()) {
        Some(dir) => ws.with_target_dir(Utf8Path::new(&dir)),
        None => ws,
    }
}

/// Prints a value as pretty JSON on stdout, redacted.
/// A path the user gave, made absolute against the current directory (for a path a
/// child process, running elsewhere, will use).
fn absolute(path: &Utf8Path) -> Result<Utf8PathBuf> {
    let full =
        std::path::absolute(path).with_context(|| format!("cannot resolve `{path}` against the current directory"))?;
    Utf8PathBuf::from_path_buf(full).map_err(|p| anyhow::anyhow!("`{}` is not UTF-8", p.display()))
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", pad_store::redact(&serde_json::to_string_pretty(value)?));
    Ok(())
}
