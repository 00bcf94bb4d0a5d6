//! `cargo xtask bench …`: measurements of the toolchain against what it replaces, printed
//! side by side. Numbers for people, measured on this machine, never asserted in tests.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use camino::Utf8Path;
use pad_process::Cmd;

use crate::flags::{BenchArgs, BenchTarget};

mod airflow;
mod cache;
mod deploy;
pub(crate) mod flow;
mod package;
mod probe;
mod render;
mod report;
mod venv;

pub(crate) fn run(root: &Utf8Path, args: &BenchArgs) -> Result<ExitCode> {
    match &args.target {
        BenchTarget::Airflow(args) => airflow::run(root, args),
        BenchTarget::Cache(args) => cache::run(root, args),
        BenchTarget::Deploy(args) => deploy::run(root, args),
        BenchTarget::Flow(args) => flow::run(root, args),
        BenchTarget::Package(args) => package::run(root, args),
        BenchTarget::Render(args) => render::run(root, args),
        BenchTarget::Venv(args) => match &args.pack_probe {
            Some(project) => probe::run(root, project),
            None => venv::run(root, args),
        },
    }
}

/// Runs `f` and returns what it returned with the seconds it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let started = Instant::now();
    let value = f();
    (value, started.elapsed().as_secs_f64())
}

/// The median of a non-empty list (the mean of the middle two for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 }
}

/// One target of an issue, judged on what a benchmark measured.
#[derive(Debug, serde::Serialize)]
struct Target {
    target: &'static str,
    measured: String,
    /// `None` when it could not be measured (a tool is missing).
    met: Option<bool>,
}

/// How a target fared, as the tables print it.
fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "missed",
        None => "skipped",
    }
}

/// The targets section of a benchmark's text output.
fn print_targets(targets: &[Target]) {
    let width = targets.iter().map(|t| t.target.len()).max().unwrap_or(0);
    println!("targets (measured here, not asserted in tests)");
    for target in targets {
        println!("  {:<width$} {:<7} {}", target.target, verdict(target.met), target.measured);
    }
}

/// The first line a tool prints about its version (on stdout, or else on stderr), or
/// `None` when it is not installed or fails.
fn tool_version(cmd: &Cmd) -> Option<String> {
    let finished = cmd.run_unchecked().ok()?;
    if !finished.status.success() {
        return None;
    }
    let text = if finished.stdout.trim().is_empty() { &finished.stderr } else { &finished.stdout };
    text.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_owned)
}

/// One line of progress on stderr: what is running now.
fn note(message: &str) {
    eprintln!("bench: {message}");
}
