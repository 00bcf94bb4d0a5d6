//! `cargo xtask render [--check] [--schema]`: dags/<name>.py from each
//! dags/<name>.dag.yaml (`pad_render::render_repo`), or the format's JSON Schema.

use std::process::ExitCode;

use anyhow::Result;
use camino::Utf8Path;
use pad_render::{RenderMode, RenderReport, Status};

use crate::flags::RenderArgs;

pub(crate) fn run(root: &Utf8Path, args: &RenderArgs) -> Result<ExitCode> {
    if args.schema {
        let (schema, problems) = pad_render::repo_schema(root);
        crate::print_json(&schema)?;
        for problem in &problems {
            eprintln!("warning: left out of the schema: {problem}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mode = if args.check { RenderMode::Check } else { RenderMode::Write };
    let report = pad_render::render_repo(root, mode)?;
    if args.json {
        crate::print_json(&report)?;
    } else {
        print_text(&report, mode);
    }
    report.check()?;
    Ok(ExitCode::SUCCESS)
}

fn print_text(report: &RenderReport, mode: RenderMode) {
    for file in &report.files {
        let status = match (file.status, mode) {
            (Status::Unchanged, _) => "up to date",
            (Status::Written, RenderMode::Write) => "written",
            (Status::Written, RenderMode::Check) => "STALE",
            (Status::Removed, RenderMode::Write) => "removed (its YAML is gone)",
            (Status::Removed, RenderMode::Check) => "ORPHANED",
        };
        println!("{:<32} {status}  (from {})", file.output, file.source);
    }
    if report.files.is_empty() && report.problems.is_empty() {
        println!("no dags/*.dag.yaml to render");
    }
}
