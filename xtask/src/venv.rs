//! `cargo xtask venv [PROJECT…]`: build or reuse each project's environment and its
//! `venv.tar.gz`.

use std::process::ExitCode;

use anyhow::Result;
use camino::Utf8Path;
use pad_flow::{FlowError, Progress as _};
use pad_venv::BuiltEnv;
use serde::Serialize;

use crate::flags::VenvArgs;
use crate::progress::Steps;

#[derive(Serialize)]
struct Row<'a> {
    project: &'a str,
    key: &'a str,
    reused: bool,
    seconds: f64,
    size: Option<u64>,
    path: Option<&'a Utf8Path>,
    interpreter: &'a Utf8Path,
    python: &'a str,
    lock_updated: bool,
}

pub(crate) fn run(root: &Utf8Path, args: &VenvArgs) -> Result<ExitCode> {
    let repo = pad_flow::discover(root)?;
    let projects = pad_flow::select_projects(&repo, &args.projects)?;
    let ctx = crate::workspace(root).venv_context(args.locked, args.force)?;
    let steps = Steps::new();
    let results = pad_venv::build_projects(&ctx, &repo.root, &projects, &steps);

    let mut failures = Vec::new();
    let mut built = Vec::new();
    for (project, result) in projects.iter().zip(results) {
        match result {
            Ok(env) => {
                steps.done(&project.name, if env.reused { "reused" } else { "built" });
                built.push(env);
            }
            Err(err) => {
                steps.done(&project.name, "failed");
                failures.push(FlowError::from(err));
            }
        }
    }
    for env in &built {
        for warning in &env.warnings {
            eprintln!("warning: {warning}");
        }
    }
    if args.json {
        crate::print_json(&built.iter().map(row).collect::<Vec<_>>())?;
    } else {
        for env in &built {
            print_text(root, env);
        }
    }
    FlowError::from_failures(failures)?;
    Ok(ExitCode::SUCCESS)
}

fn row(env: &BuiltEnv) -> Row<'_> {
    Row {
        project: &env.name,
        key: &env.record.key,
        reused: env.reused,
        seconds: env.seconds,
        size: env.record.tarball.as_ref().map(|t| t.size),
        path: env.tarball.as_deref(),
        interpreter: &env.record.interpreter.path,
        python: &env.record.interpreter.version,
        lock_updated: env.lock_updated,
    }
}

fn print_text(root: &Utf8Path, env: &BuiltEnv) {
    let what = if env.reused { "reused" } else { "built " };
    let size = env.record.tarball.as_ref().map_or("-".to_owned(), |t| pad_stdx::human_size(t.size));
    let path = env.tarball.as_deref().map_or(env.venv.as_path(), |p| p);
    let path = path.strip_prefix(root).unwrap_or(path);
    let lock = if env.lock_updated { " (lock updated)" } else { "" };
    println!("{:<16} {what} {:>6.2}s {:>10}  {path}{lock}", env.name, env.seconds, size);
}
