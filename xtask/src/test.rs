//! `cargo xtask test [PROJECT…]`: each project's pytest suite in its environment, then
//! every DAG file loaded by each pinned Airflow (`pad_flow::test`).

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Result, bail};
use camino::Utf8Path;
use pad_flow::{TestPlan, TestRun};
use pad_venv::{DagReport, LintReport, TestReport};
use serde::Serialize;

use crate::flags::TestArgs;
use crate::progress::Steps;

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    projects: &'a [TestReport],
    dags: &'a [DagReport],
    lint: Option<&'a LintReport>,
}

pub(crate) fn run(root: &Utf8Path, args: &TestArgs) -> Result<ExitCode> {
    let plan = TestPlan {
        projects: args.projects.clone(),
        // pytest runs in each project's directory: a relative --junit is the caller's.
        junit_dir: args.junit.as_deref().map(crate::absolute).transpose()?,
        force: args.force,
        locked: args.locked,
        airflow: args.airflow.clone(),
        variables: pairs(&args.var, "--var")?,
        connections: pairs(&args.conn, "--conn")?,
        skip_dags: args.no_dags,
        skip_lint: args.no_lint,
        // Namespace findings fail when a remote target sets data_root (pad-flow decides).
        namespaces: false,
    };
    let steps = Steps::new().timed(args.timings);
    let run = pad_flow::test(&crate::workspace(root), &plan, &steps);
    steps.print_timings();
    let run = run?;
    render(&run, args.json)?;
    run.check()?;
    Ok(ExitCode::SUCCESS)
}

/// Shows a test run: its notes, then the report as JSON or as text.
fn render(run: &TestRun, json: bool) -> Result<()> {
    if !json {
        render_text(run);
        return Ok(());
    }
    print_notes(run);
    crate::print_json(&Report { ok: run.ok(), projects: &run.projects, dags: &run.dags, lint: run.lint.as_ref() })
}

/// Shows a test run as text: its notes, the report, and the end of pytest's output for
/// each failed project. `deploy-local-build` shows its tests this way.
pub(crate) fn render_text(run: &TestRun) {
    print_notes(run);
    print_text(&run.projects, &run.dags);
    if let Some(lint) = &run.lint {
        crate::lint::print_text(lint);
    }
    for report in run.projects.iter().filter(|r| !r.passed) {
        eprintln!("\n--- {} failed; the end of pytest's output:\n{}", report.project, report.output);
    }
}

fn print_notes(run: &TestRun) {
    for note in &run.notes {
        eprintln!("note: {note}");
    }
}

fn print_text(reports: &[TestReport], dag_reports: &[DagReport]) {
    for report in reports {
        let status = if report.passed { "passed" } else { "FAILED" };
        let cached = if report.cached { " (cached)" } else { "" };
        println!("{:<24} {status}  {}{cached}", report.project, report.summary);
        for failure in &report.failures {
            println!("    {failure}");
        }
    }
    for report in dag_reports {
        let status = if report.problems.is_empty() { "passed" } else { "FAILED" };
        let label = format!("dags (Airflow {})", report.airflow_version);
        let cached = if report.cached { " (cached)" } else { "" };
        println!("{label:<24} {status}  {} DAGs loaded, {} problems{cached}", report.dags.len(), report.problems.len());
        for problem in &report.problems {
            println!("    {}: {}: {}", problem.file, problem.kind, problem.message);
        }
        for note in &report.notes {
            println!(
                "    note: {}: {} (no failure: no remote target sets data_root): {}",
                note.file, note.kind, note.message
            );
        }
    }
}

/// `KEY=VALUE` pairs from repeated flags.
pub(crate) fn pairs(values: &[String], flag: &str) -> Result<BTreeMap<String, String>> {
    values
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => bail!("{flag} {pair}: expected KEY=VALUE"),
        })
        .collect()
}
