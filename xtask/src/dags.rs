//! `cargo xtask dags test`: one run of one DAG on the deployed release
//! (`pad_airflow::dags_test`), after an optional deploy-local-build, with a warning when
//! the working tree differs from what is deployed.

use std::process::ExitCode;

use anyhow::Result;
use camino::Utf8Path;

use crate::flags::{DagsCommand, DagsTestArgs};
use crate::progress::Steps;

pub(crate) fn run(root: &Utf8Path, command: &DagsCommand) -> Result<ExitCode> {
    match command {
        DagsCommand::Test(args) => test(root, args),
    }
}

fn test(root: &Utf8Path, args: &DagsTestArgs) -> Result<ExitCode> {
    let ws = crate::workspace(root);
    let variables = crate::test::pairs(&args.var, "--var")?;
    let connections = crate::test::pairs(&args.conn, "--conn")?;
    if args.build {
        let options = pad_flow::LocalBuildOptions {
            locked: false,
            variables: variables.clone(),
            connections: connections.clone(),
            // `dags test` runs the plain deploy's DAGs.
            namespace: None,
            data_profile: None,
        };
        let steps = Steps::with_stage_reports(root);
        let build = pad_flow::deploy_local_build(&ws, &options, &steps)?;
        if !build.deploy.success() {
            return crate::deploy::render_deploy(&steps, &build.deploy, false);
        }
    }
    let steps = Steps::new();
    let setup = pad_flow::local_airflow(&ws, args.airflow.as_deref(), &steps)?;
    if setup.current_release().is_some() {
        let differ = pad_flow::release_differences(&ws, &setup.home)?;
        if !differ.is_empty() {
            let shown: Vec<&str> = differ.iter().take(5).map(String::as_str).collect();
            let more = if differ.len() > 5 { format!(" and {} more", differ.len() - 5) } else { String::new() };
            eprintln!(
                "warning: the working tree differs from the deployed release {} ({}{more}): this run uses the deployed one; pass --build to deploy first",
                setup.current_release().unwrap_or_default(),
                shown.join(", ")
            );
        }
    }
    let options = pad_airflow::DagTestOptions {
        dag_id: args.dag_id.clone(),
        date: args.date.clone(),
        conf: args.conf.clone(),
        variables,
        connections,
    };
    let run = pad_airflow::dags_test(&setup, &options, &steps)?;
    if args.json {
        crate::print_json(&run)?;
    } else {
        let mut text = format!(
            "{} on release {} (Airflow {}): {}\n",
            run.dag_id,
            run.release.as_deref().unwrap_or("none"),
            setup.series,
            run.state
        );
        for task in &run.tasks {
            text.push_str(&format!("  {:<24} {}\n", task.task_id, task.state));
        }
        for task in run.tasks.iter().filter(|t| t.log_tail.is_some()) {
            text.push_str(&format!("--- {} ({}): the end of its log\n", task.task_id, task.state));
            text.push_str(task.log_tail.as_deref().unwrap_or_default());
            text.push('\n');
        }
        if let Some(err) = &run.error {
            text.push_str(&format!("Airflow: {err}\n"));
        }
        text.push_str(&format!("the whole run's output: {}\n", run.log));
        crate::print_text(&text);
    }
    Ok(if run.success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
