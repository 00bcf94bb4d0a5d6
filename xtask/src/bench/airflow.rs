//! `cargo xtask bench airflow`: the local Airflow against what a user would otherwise run
//! here, in one run, in the same pinned tool environment:
//!
//! - start to healthy: `airflow up` (migrate, admin user, four services, health) against
//!   `airflow standalone` (the same, in one command), both timed until the health
//!   endpoint calls every service healthy;
//! - a DAG edit until the running Airflow shows it: ours is `deploy-local-build` (tests,
//!   package, deploy, `current` switched) and the dag-processor's refresh, services left
//!   running; the PoC's is copying `dags/` into the home and restarting Airflow
//!   (standalone again) until its REST API shows the change.
//!
//! Works on a copy of the repository in `<target>/bench/airflow/` (wiped first), with a
//! `deploy/local.toml` pointing the local target there.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use pad_process::{Cmd, Running, Sink};

use super::{Target, note, print_targets, timed};
use crate::flags::BenchAirflowArgs;
use crate::progress::Steps;

/// The DAG whose schedule the edits change, and the schedules.
const DAG_ID: &str = "image_matching";
const DAG_FILE: &str = "dags/image_matching.py";
/// Waits longer than this are given up on.
const LIMIT: Duration = Duration::from_secs(600);

#[derive(Debug, serde::Serialize)]
struct Report {
    series: String,
    airflow_version: String,
    up_seconds: f64,
    standalone_up_seconds: f64,
    edit_seconds: f64,
    copy_restart_edit_seconds: f64,
    targets: Vec<Target>,
}

pub(crate) fn run(root: &Utf8Path, args: &BenchAirflowArgs) -> Result<ExitCode> {
    let ws = crate::workspace(root);
    let work = ws.target_dir.join("bench/airflow");
    if work.exists() {
        // A former run's services, if it was interrupted, are stopped first.
        let old = pad_flow::Workspace::new(&work.join("repo")).with_target_dir(&ws.target_dir);
        let _ = pad_airflow::down(&pad_flow::airflow_state_dir(&old, &work.join("home")));
        std::fs::remove_dir_all(&work).with_context(|| format!("removing {work}"))?;
    }
    let repo = work.join("repo");
    for dir in ["dags", "projects", "deploy"] {
        copy_tree(&root.join(dir), &repo.join(dir))?;
    }
    let home = work.join("home");
    std::fs::write(repo.join("deploy/local.toml"), format!("hosts = \"local\"\nairflow_home = \"{home}\"\n"))?;
    let bws = pad_flow::Workspace::new(&repo).with_target_dir(&ws.target_dir);
    let steps = Steps::new();

    note("deploy-local-build of a copy of the repository");
    deploy(&bws, &steps)?;
    let setup = pad_flow::local_airflow(&bws, Some(&args.airflow), &steps)?;

    note(&format!("ours: airflow up (Airflow {})", setup.series));
    let (up, up_seconds) = timed(|| pad_airflow::up(&setup, &pad_airflow::UpOptions::default(), &()));
    let up = up?;
    let airflow_version = up.state.airflow_version.clone();
    let client = up.state.client()?;
    note("ours: edit the DAG, deploy-local-build, until Airflow shows the new schedule");
    set_schedule(&repo, "@weekly", "@hourly")?;
    let (seen, edit_seconds) = timed(|| -> Result<()> {
        deploy(&bws, &steps)?;
        wait_schedule(&client, "@hourly", "0 * * * *")
    });
    let down = pad_airflow::down(&setup.state_dir);
    seen?;
    down?;

    note("airflow standalone in the same tool environment, dags/ copied into its home");
    let sa_home = work.join("standalone");
    copy_tree(&repo.join("dags"), &sa_home.join("dags"))?;
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let (standalone, standalone_up_seconds) = timed(|| start_standalone(&setup, &sa_home, port));
    let mut standalone = standalone?;
    note("the PoC: edit the DAG, copy dags/ into the home, restart standalone, until it shows");
    set_schedule(&repo, "@hourly", "@daily")?;
    let (seen, copy_restart_edit_seconds) = timed(|| -> Result<()> {
        copy_tree(&repo.join("dags"), &sa_home.join("dags"))?;
        stop(&mut standalone.0);
        standalone = start_standalone(&setup, &sa_home, port)?;
        let password = standalone_password(&sa_home)?;
        let client = pad_airflow::Client::login(&url, &setup.series, pad_airflow::ADMIN_USER, &password)?;
        wait_schedule(&client, "@daily", "0 0 * * *")
    });
    stop(&mut standalone.0);
    seen?;

    let targets = vec![
        Target {
            target: "healthy in under 15 s",
            measured: format!("{up_seconds:.1} s"),
            met: Some(up_seconds < 15.0),
        },
        Target {
            target: "a DAG edit visible in under 5 s",
            measured: format!("{edit_seconds:.1} s"),
            met: Some(edit_seconds < 5.0),
        },
    ];
    let report = Report {
        series: setup.series.to_string(),
        airflow_version,
        up_seconds,
        standalone_up_seconds,
        edit_seconds,
        copy_restart_edit_seconds,
        targets,
    };
    if args.json {
        crate::print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &Report) {
    println!("Airflow {} ({}), SQLite, one run each", report.airflow_version, report.series);
    println!("{:<32} {:>10} {:>24} {:>8}", "", "ours", "the alternative", "ratio");
    println!(
        "{:<32} {:>8.1} s {:>22.1} s {:>7.2}×  (airflow standalone ÷ airflow up)",
        "start to healthy",
        report.up_seconds,
        report.standalone_up_seconds,
        report.standalone_up_seconds / report.up_seconds
    );
    println!(
        "{:<32} {:>8.1} s {:>22.1} s {:>7.2}×  (copy + restart standalone ÷ deploy-local-build + refresh)",
        "DAG edit until Airflow shows it",
        report.edit_seconds,
        report.copy_restart_edit_seconds,
        report.copy_restart_edit_seconds / report.edit_seconds
    );
    print_targets(&report.targets);
}

fn deploy(ws: &pad_flow::Workspace, steps: &Steps) -> Result<()> {
    let build = pad_flow::deploy_local_build(ws, &pad_flow::LocalBuildOptions::default(), steps)?;
    if !build.deploy.success() {
        bail!("deploy-local-build of the bench's copy did not switch to the new release");
    }
    Ok(())
}

/// Replaces the schedule `from` with `to` in the bench copy's DAG.
fn set_schedule(repo: &Utf8Path, from: &str, to: &str) -> Result<()> {
    let path = repo.join(DAG_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let old = format!("schedule=\"{from}\"");
    if !text.contains(&old) {
        bail!("{path} has no `{old}` to change");
    }
    std::fs::write(&path, text.replace(&old, &format!("schedule=\"{to}\""))).with_context(|| format!("writing {path}"))
}

/// Waits until the REST API gives the DAG the schedule `preset` (2.10) or `cron` (3.x's
/// summary).
fn wait_schedule(client: &pad_airflow::Client, preset: &str, cron: &str) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < LIMIT {
        if let Ok(dag) = client.get(&format!("/dags/{DAG_ID}")) {
            let summary = dag["timetable_summary"].as_str().or_else(|| dag["schedule_interval"]["value"].as_str());
            if summary == Some(preset) || summary == Some(cron) {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("Airflow did not show the schedule {preset} of {DAG_ID} within {} s", LIMIT.as_secs())
}

/// `airflow standalone` on `home` and `port`, the leader of its own process group,
/// returned once healthy, with its log.
fn start_standalone(setup: &pad_airflow::Setup, home: &Utf8Path, port: u16) -> Result<(Running, Utf8PathBuf)> {
    let log = home.join("standalone.log");
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
    let err = file.try_clone()?;
    // standalone starts each component as `airflow …` from PATH.
    let path = std::env::var(pad_layout::EnvVars::PATH).unwrap_or_default();
    let running = Cmd::new(setup.venv.join("bin/airflow").as_str(), home)
        .arg("standalone")
        .env(pad_layout::EnvVars::PATH, format!("{}:{path}", setup.venv.join("bin")))
        .env("AIRFLOW_HOME", home.as_str())
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .env("AIRFLOW__API__PORT", port.to_string())
        .env("AIRFLOW__WEBSERVER__WEB_SERVER_PORT", port.to_string())
        .env("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", format!("http://localhost:{port}/execution/"))
        .own_process_group()
        .spawn(Sink::File(file), Sink::File(err))?;
    let mut running = running;
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while !pad_airflow::is_healthy(&url, &setup.series) {
        if let Some(status) = running.try_wait()? {
            bail!("airflow standalone exited ({status}); see {log}");
        }
        if started.elapsed() > LIMIT {
            stop(&mut running);
            bail!("airflow standalone was not healthy within {} s; see {log}", LIMIT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok((running, log))
}

/// The admin password `airflow standalone` generated in its home.
fn standalone_password(home: &Utf8Path) -> Result<String> {
    for name in ["simple_auth_manager_passwords.json.generated", "standalone_admin_password.txt"] {
        let path = home.join(name);
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text)
                && let Some(password) = value[pad_airflow::ADMIN_USER].as_str()
            {
                return Ok(password.to_owned());
            }
            return Ok(text.trim().to_owned());
        }
    }
    bail!("airflow standalone wrote no admin password in {home}")
}

/// Stops a standalone and every process it started (its process group).
fn stop(running: &mut Running) {
    let pgid = running.id().to_string();
    let _ = Cmd::new("kill", Utf8Path::new("/")).args(["-TERM", "--", &format!("-{pgid}")]).run();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if matches!(running.try_wait(), Ok(Some(_))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Cmd::new("kill", Utf8Path::new("/")).args(["-KILL", "--", &format!("-{pgid}")]).run();
    running.kill();
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Copies a source tree, leaving out build and cache output.
fn copy_tree(from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {to}"))?;
    for entry in from.read_dir_utf8().with_context(|| format!("reading {from}"))? {
        let entry = entry?;
        let name = entry.file_name();
        if ["__pycache__", ".pytest_cache", "build", "dist", ".venv", "venv"].contains(&name)
            || name.ends_with(".egg-info")
        {
            continue;
        }
        let target: Utf8PathBuf = to.join(name);
        if entry.file_type()?.is_dir() {
            copy_tree(entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| format!("copying {} to {target}", entry.path()))?;
        }
    }
    Ok(())
}
