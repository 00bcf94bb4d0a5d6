//! `cargo xtask ci-config [--check]`: the pipelines `.gitlab-ci.yml` runs, and with
//! `--check` every problem in it (`pad_flow::ci_config`), each `cargo xtask` call parsed
//! by this front end's own command line.

use std::process::ExitCode;

use anyhow::{Result, bail};
use camino::Utf8Path;
use clap::Parser;
use clap::error::ErrorKind;
use pad_ci::{Event, When};
use pad_layout::{Problem, vars};
use serde::Serialize;

use crate::flags::{CiConfigArgs, Cli};

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    file: &'a Utf8Path,
    pipelines: Vec<PipelineReport>,
    problems: &'a [Problem],
}

#[derive(Serialize)]
struct PipelineReport {
    event: String,
    /// Whether `workflow:rules` start a pipeline at all.
    runs: bool,
    jobs: Vec<JobReport>,
}

#[derive(Serialize)]
struct JobReport {
    name: String,
    stage: String,
    when: &'static str,
    calls: Vec<String>,
}

/// The words after `cargo xtask`, parsed as this command line would.
fn parse(args: &[String]) -> Result<(), String> {
    match Cli::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().map(String::as_str))) {
        Ok(_) => Ok(()),
        Err(err) if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => Ok(()),
        Err(err) => Err(err.render().to_string()),
    }
}

pub(crate) fn run(root: &Utf8Path, args: &CiConfigArgs) -> Result<ExitCode> {
    let config = pad_flow::ci_config(root, &vars::from_process_env, &parse)?;
    let default_branch = &config.facts.default_branch;
    let mut pipelines = Vec::new();
    for event in Event::canonical(default_branch) {
        let vars = event.variables(default_branch, "0000000000000000000000000000000000000000");
        let plan = config.pipeline.plan(&vars)?;
        pipelines.push(PipelineReport {
            event: event.describe(default_branch),
            runs: plan.is_some(),
            jobs: plan
                .unwrap_or_default()
                .iter()
                .map(|p| JobReport {
                    name: p.job.name.clone(),
                    stage: p.job.stage.clone(),
                    when: p.when.as_str(),
                    calls: p.job.xtask_calls().iter().map(|(_, call)| call.display()).collect(),
                })
                .collect(),
        });
    }
    let problems = &config.problems;
    if !args.json && !args.check {
        let mut text = format!("{}: {} jobs\n", config.pipeline.file, config.pipeline.jobs.len());
        for pipeline in &pipelines {
            let jobs: Vec<String> = pipeline
                .jobs
                .iter()
                .map(|j| if j.when == When::Manual.as_str() { format!("{} (manual)", j.name) } else { j.name.clone() })
                .collect();
            let jobs = if pipeline.runs { jobs.join(" → ") } else { "no pipeline (workflow:rules)".to_owned() };
            text.push_str(&format!("\n{}:\n  {jobs}\n", pipeline.event));
            for job in &pipeline.jobs {
                for call in &job.calls {
                    text.push_str(&format!("    {:<12} {call}\n", job.name));
                }
            }
        }
        crate::print_text(&text);
    }
    let calls: usize = config.pipeline.jobs.iter().map(|j| j.xtask_calls().len()).sum();
    if args.json {
        crate::print_json(&Report { ok: problems.is_empty(), file: &config.pipeline.file, pipelines, problems })?;
    }
    for problem in problems {
        eprintln!("{}: {problem}", if args.check { "error" } else { "warning" });
    }
    if !problems.is_empty() && args.check {
        let n = problems.len();
        bail!("{n} problem{} in {}", if n == 1 { "" } else { "s" }, config.pipeline.file);
    }
    if problems.is_empty() {
        eprintln!(
            "ci-config: {} is valid: {} jobs, {calls} `cargo xtask` calls, checked for a merge request, the default branch `{default_branch}` and a tag",
            config.pipeline.file,
            config.pipeline.jobs.len(),
        );
    }
    Ok(ExitCode::SUCCESS)
}
