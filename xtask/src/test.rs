//! `cargo xtask test [PROJECT…]`: each project's pytest suite in its environment, then
//! every DAG file loaded by each pinned Airflow.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::thread;

use anyhow::{Context as _, Result, bail};
use camino::Utf8Path;
use pad_flow::Progress as _;
use pad_venv::{DagCheckOptions, DagReport, TestOptions, TestReport};
use serde::Serialize;

use crate::flags::TestArgs;
use crate::progress::Steps;

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    projects: &'a [TestReport],
    dags: &'a [DagReport],
}

pub(crate) fn run(root: &Utf8Path, args: &TestArgs) -> Result<ExitCode> {
    let repo = pad_flow::discover(root)?;
    let projects = pad_flow::select_projects(&repo, &args.projects)?;
    let ctx = crate::workspace(root).venv_context(args.locked, false)?;
    let steps = Steps::new();
    let mut errors = Vec::new();

    let envs = pad_venv::build_projects(&ctx, &repo.root, &projects, &steps);
    let mut notes: Vec<String> = envs.iter().flatten().flat_map(|env| env.notes.clone()).collect();
    let options = TestOptions { junit_dir: args.junit.clone(), force: args.force };
    let mut reports = Vec::new();
    // Two projects at a time: pytest runs are mostly one process each.
    let jobs: Vec<_> = projects.iter().zip(envs).collect();
    for chunk in jobs.chunks(2) {
        let results: Vec<_> = thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|(project, env)| {
                    let (ctx, repo, options, steps) = (&ctx, &repo, &options, &steps);
                    scope.spawn(move || match env {
                        Ok(env) => pad_venv::test_project(ctx, &repo.root, project, env, options, steps)
                            .map_err(anyhow::Error::new),
                        // With its causes: uv's own words on why it could not resolve.
                        Err(err) => Err(anyhow::anyhow!("{}", pad_layout::error_chain(err)))
                            .context(format!("{}: no environment to test in", project.name)),
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("test thread panicked")).collect()
        });
        for ((project, _), result) in chunk.iter().zip(results) {
            match result {
                Ok(report) => {
                    steps.done(&project.name, if report.passed { "passed" } else { "FAILED" });
                    reports.push(report);
                }
                Err(err) => {
                    steps.done(&project.name, "error");
                    errors.push(err);
                }
            }
        }
    }

    let mut dag_reports = Vec::new();
    if !args.no_dags {
        let pins = pad_venv::airflow_pins(&repo.root);
        if pins.is_empty() {
            bail!(
                "no Airflow version is pinned: add {}/<series>/requirements.txt (such as `apache-airflow==2.10.5`)",
                pad_venv::AIRFLOW_PINS_DIR
            );
        }
        let options = DagCheckOptions {
            variables: pairs(&args.var, "--var")?,
            connections: pairs(&args.conn, "--conn")?,
            force: args.force,
        };
        for pin in pins.iter().filter(|p| args.airflow.is_empty() || args.airflow.contains(&p.series)) {
            match pad_venv::check_dags(&ctx, &repo.root, pin, &repo.root.join("dags"), &options, &steps) {
                Ok(report) => {
                    steps.done(
                        &format!("airflow-{}", pin.series),
                        if report.problems.is_empty() { "DAGs ok" } else { "DAG problems" },
                    );
                    dag_reports.push(report);
                }
                Err(err) => errors.push(anyhow::Error::new(err)),
            }
        }
    }
    if let Some(dir) = &args.junit {
        for report in &dag_reports {
            crate::junit::write_dag_report(dir, report)?;
        }
    }

    notes.extend(reports.iter().flat_map(|r| r.notes.iter().cloned()));
    for note in &notes {
        eprintln!("note: {note}");
    }
    let ok = errors.is_empty() && reports.iter().all(|r| r.passed) && dag_reports.iter().all(|r| r.problems.is_empty());
    if args.json {
        crate::print_json(&Report { ok, projects: &reports, dags: &dag_reports })?;
    } else {
        print_text(&reports, &dag_reports);
    }
    let mut failed = Vec::new();
    for report in reports.iter().filter(|r| !r.passed) {
        if !args.json {
            eprintln!("\n--- {} failed; the end of pytest's output:\n{}", report.project, report.output);
        }
        let names = if report.failures.is_empty() { report.summary.clone() } else { report.failures.join("; ") };
        failed.push(format!("project {}: {names}", report.project));
    }
    for report in &dag_reports {
        for problem in &report.problems {
            failed.push(format!(
                "Airflow {}: {}: {} ({})",
                report.airflow_version, problem.file, problem.message, problem.kind
            ));
        }
    }
    for err in &errors {
        failed.push(format!("{err:#}"));
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    bail!("{} failure{}:\n  {}", failed.len(), if failed.len() == 1 { "" } else { "s" }, failed.join("\n  "))
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
    }
}

/// `KEY=VALUE` pairs from repeated flags.
fn pairs(values: &[String], flag: &str) -> Result<BTreeMap<String, String>> {
    values
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => bail!("{flag} {pair}: expected KEY=VALUE"),
        })
        .collect()
}
