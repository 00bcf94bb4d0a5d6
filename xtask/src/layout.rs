//! `cargo xtask layout`: what the repository holds, or every problem in it.

use std::process::ExitCode;

use anyhow::Result;
use camino::Utf8Path;
use pad_layout::{Hosts, LayoutError, Problem, Repo, Version, vars};

use crate::flags::LayoutArgs;

#[derive(serde::Serialize)]
struct Report<'a> {
    ok: bool,
    version: &'a Version,
    #[serde(flatten)]
    repo: &'a Repo,
    errors: &'a [Problem],
}

pub(crate) fn run(root: &Utf8Path, args: &LayoutArgs) -> Result<ExitCode> {
    let scan = pad_flow::scan(root);
    let version = pad_layout::version(&scan.repo.root, &vars::from_process_env);
    if args.json {
        crate::print_json(&Report {
            ok: scan.errors.is_empty(),
            version: &version,
            repo: &scan.repo,
            errors: &scan.errors,
        })?;
    } else {
        print_text(&scan.repo, &version);
    }
    for warning in &scan.repo.warnings {
        eprintln!("warning: {warning}");
    }
    if scan.errors.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    Err(LayoutError::new(&scan.repo.root, scan.errors).into())
}

fn print_text(repo: &Repo, version: &Version) {
    println!("repository  {}", repo.root);
    let note = version.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
    println!("version     {}{note}", version.version);

    println!("\nprojects ({})", repo.projects.len());
    let width = repo.projects.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for project in &repo.projects {
        let mut facts = Vec::new();
        facts.push(match &project.package {
            Some(package) => format!("package {package}"),
            None => "no package".to_owned(),
        });
        facts.push(format!("python {}", project.settings.python.as_deref().unwrap_or("3 (default)")));
        if project.tests_dir.is_some() {
            facts.push(format!("tests (dependencies: {})", project.test_deps));
        }
        if project.artifacts.is_some() {
            facts.push("artifacts.yaml".to_owned());
        }
        let dags: Vec<&str> = repo.dags_of(&project.name).map(|d| d.path.as_str()).collect();
        if !dags.is_empty() {
            facts.push(format!("DAGs {}", dags.join(", ")));
        }
        println!("  {:width$}  {}", project.name, facts.join("; "));
    }

    println!("\ndags ({})", repo.dags.len());
    for dag in &repo.dags {
        let projects = if dag.projects.is_empty() { "-".to_owned() } else { dag.projects.join(", ") };
        println!("  {}  runs {projects}", dag.path);
    }

    println!("\nartifacts.yaml ({})", repo.artifacts_files.len());
    for file in &repo.artifacts_files {
        println!("  {file}");
    }

    println!("\ntargets ({})", repo.targets.len());
    for target in &repo.targets {
        let source = target.file.as_ref().map_or("built in".to_owned(), |f| f.to_string());
        let hosts = match &target.hosts {
            Hosts::Local => "this machine".to_owned(),
            Hosts::Remote(hosts) => hosts.join(", "),
        };
        let home = match target.resolve_airflow_home(&repo.root, &vars::from_process_env) {
            Ok(home) if home.as_str() != target.airflow_home => format!("{} = {home}", target.airflow_home),
            Ok(_) => target.airflow_home.clone(),
            Err(err) => format!("{} (unresolved: {err})", target.airflow_home),
        };
        println!("  {}  {hosts}; AIRFLOW_HOME {home}; keep {} ({source})", target.name, target.keep);
    }
}
