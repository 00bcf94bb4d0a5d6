//! `cargo xtask airflow up|down|status|reset|logs`: the local Airflow, through
//! `pad_flow::local_airflow` (series, tool environment, AIRFLOW_HOME) and `pad_airflow`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use camino::Utf8Path;

use crate::flags::AirflowAction;
use crate::progress::Steps;

pub(crate) fn run(root: &Utf8Path, action: &AirflowAction) -> Result<ExitCode> {
    let ws = crate::workspace(root);
    let steps = Steps::new();
    let state_dir =
        || -> Result<camino::Utf8PathBuf> { Ok(pad_flow::airflow_state_dir(&ws, &pad_flow::local_airflow_home(&ws)?)) };
    match action {
        AirflowAction::Up(args) => {
            let setup = pad_flow::local_airflow(&ws, args.airflow.as_deref(), &steps)?;
            let options = pad_airflow::UpOptions { db: args.db, port: args.port };
            let up = pad_airflow::up(&setup, &options, &steps)?;
            if args.json {
                crate::print_json(&up)?;
                return Ok(ExitCode::SUCCESS);
            }
            let state = &up.state;
            if up.already_up {
                eprintln!("Airflow {} is already up: nothing changed", state.airflow_version);
            } else {
                eprintln!(
                    "Airflow {} ({}) up in {:.1} s: started {}",
                    state.airflow_version,
                    state.db().as_str(),
                    up.seconds,
                    up.started.join(", ")
                );
            }
            crate::print_text(&format!(
                "url       {}\nuser      {}\npassword  in {}\nrelease   {}\nstop with `cargo xtask airflow down`\n",
                up.url,
                up.user,
                up.password_file,
                pad_airflow::current_release(&state.home).unwrap_or_else(|| "none".to_owned()),
            ));
            Ok(ExitCode::SUCCESS)
        }
        AirflowAction::Down => {
            match pad_airflow::down(&state_dir()?)? {
                Some(state) => {
                    let names: Vec<&str> =
                        state.services.iter().chain(&state.postgres).map(|s| s.name.as_str()).collect();
                    eprintln!("stopped Airflow {}: {}", state.airflow_version, names.join(", "));
                }
                None => eprintln!("Airflow is not up: nothing to stop"),
            }
            Ok(ExitCode::SUCCESS)
        }
        AirflowAction::Status(args) => {
            let status = pad_airflow::status(&state_dir()?)?;
            if args.json {
                crate::print_json(&status)?;
            } else {
                crate::print_text(&render_status(&status));
            }
            Ok(if status.up { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        AirflowAction::Reset(args) => {
            let setup = pad_flow::local_airflow(&ws, args.airflow.as_deref(), &steps)?;
            let removed = pad_airflow::reset(&setup, args.db, &steps)?;
            for path in &removed {
                eprintln!("removed {path}");
            }
            eprintln!(
                "Airflow {} reset: a fresh {} database, migrated; the releases in {} are untouched",
                setup.series,
                args.db.as_str(),
                setup.home
            );
            Ok(ExitCode::SUCCESS)
        }
        AirflowAction::Logs(args) => {
            let setup = pad_flow::local_airflow(&ws, args.airflow.as_deref(), &steps)?;
            let files = pad_airflow::log_files(&setup, args.service.as_deref())?;
            if files.is_empty() {
                eprintln!("no logs yet in {}: run `cargo xtask airflow up`", setup.data_dir().join("services"));
                return Ok(ExitCode::SUCCESS);
            }
            pad_airflow::tail_logs(&files, args.lines, args.follow)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `status` for people.
fn render_status(status: &pad_airflow::Status) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Airflow {} ({}, {}) at {}: {}",
        status.airflow_version,
        status.series,
        status.db,
        status.url,
        if status.up { "up" } else { "NOT everything runs: `cargo xtask airflow up` restarts what died" }
    );
    let _ = writeln!(out, "user {} (password in {})", status.user, status.password_file);
    let _ = writeln!(out, "release {} in {}", status.release.as_deref().unwrap_or("none"), status.home);
    let _ = writeln!(out, "{:<14} {:>8} {:<6} {:>6} health", "service", "pid", "alive", "port");
    for s in &status.services {
        let port = s.port.map_or_else(|| "-".to_owned(), |p| p.to_string());
        let _ = writeln!(
            out,
            "{:<14} {:>8} {:<6} {:>6} {}",
            s.name,
            s.pid,
            if s.alive { "yes" } else { "DEAD" },
            port,
            s.health.as_deref().unwrap_or("-")
        );
    }
    if let Some(err) = &status.api_error {
        let _ = writeln!(out, "DAGs: cannot ask the REST API: {err}");
    } else {
        let _ = writeln!(out, "DAGs ({}):", status.dags.len());
        for dag in &status.dags {
            let _ = writeln!(
                out,
                "  {:<24} {:<16} {}",
                dag.dag_id,
                dag.schedule,
                if dag.paused { "paused" } else { "active" }
            );
        }
        let _ = writeln!(out, "import errors ({}):", status.import_errors.len());
        for err in &status.import_errors {
            let _ = writeln!(out, "  {}: {}", err.file, err.message);
        }
    }
    out
}
