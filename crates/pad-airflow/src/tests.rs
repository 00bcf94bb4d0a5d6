//! Unit tests of the parts that need no Airflow: `/proc` parsing, a task's section of a
//! `dags test` output, the REST API's DAG entries, settings and the state file. The
//! services themselves are tested against real Airflow in `tests/it/airflow.rs`.

use camino::Utf8PathBuf;
use serde_json::json;

use crate::config::{self, Runtime, Secrets};
use crate::{Db, Series, Setup};

fn setup(series: &str) -> Setup {
    Setup {
        series: Series::new(series),
        venv: Utf8PathBuf::from("/t/venvs/airflow/venv"),
        home: Utf8PathBuf::from("/r/target/airflow"),
        state_dir: Utf8PathBuf::from("/r/target/airflow-local"),
    }
}

fn secrets() -> Secrets {
    Secrets { jwt_secret: "j".repeat(8), secret_key: "k".repeat(8), admin_password: "p".repeat(8) }
}

#[test]
fn stat_lines_are_read_past_a_command_name_with_spaces_and_parentheses() {
    let line = "4242 (airflow sched) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 1 0 0 20 0 3 0 987654 1000 10";
    let stat = crate::proc::parse_stat(line).expect("parses");
    assert_eq!(stat, crate::proc::Stat { state: 'S', pgid: 4242, start_time: 987654 });
    assert_eq!(crate::proc::parse_stat("4242 (cut"), None);
}

#[test]
fn our_own_process_is_alive_only_with_its_start_time() {
    let pid = std::process::id();
    let stat = crate::proc::stat(pid).expect("this process has a stat");
    assert!(crate::proc::alive(pid, stat.start_time));
    assert!(!crate::proc::alive(pid, stat.start_time + 1), "a reused PID is not ours");
    assert!(!crate::proc::group_is_ours(pid, stat.start_time + 1));
}

#[test]
fn a_failed_tasks_section_is_cut_from_the_run_output() {
    let output = "\
[DAG TEST] starting task_id=plan map_index=-1
plan ran
[DAG TEST] end task task_id=plan map_index=-1
[DAG TEST] starting task_id=planner map_index=-1
other task
[DAG TEST] end task task_id=planner map_index=-1
[DAG TEST] starting task_id=plan map_index=-1
second try
Traceback: boom
[DAG TEST] end task task_id=plan map_index=-1
DagRun Finished";
    let section = crate::dags_test::task_section(output, "plan").expect("found");
    assert_eq!(
        section,
        "[DAG TEST] starting task_id=plan map_index=-1\nsecond try\nTraceback: boom\n[DAG TEST] end task task_id=plan map_index=-1"
    );
    assert_eq!(crate::dags_test::task_section(output, "verify"), None);
}

#[test]
fn dag_entries_of_both_apis_give_the_schedule() {
    let v2 = json!({"dag_id": "a", "schedule_interval": {"__type": "CronExpression", "value": "@daily"},
        "is_paused": true, "fileloc": "/h/dags/a.py"});
    let status = crate::services::dag_status(&v2, true);
    assert_eq!((status.dag_id.as_str(), status.schedule.as_str(), status.paused), ("a", "@daily", true));
    let v3 = json!({"dag_id": "b", "timetable_summary": "@weekly", "is_paused": false, "fileloc": "/h/dags/b.py"});
    let status = crate::services::dag_status(&v3, false);
    assert_eq!((status.schedule.as_str(), status.paused, status.file.as_str()), ("@weekly", false, "/h/dags/b.py"));
}

#[test]
fn settings_pick_the_executor_each_series_allows_on_each_database() {
    let value = |series: &str, url: &str, key: &str| {
        config::settings(&setup(series), url, None, &secrets())
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .unwrap_or_default()
    };
    let sqlite = "sqlite:////x/airflow.db";
    let pg = "postgresql+psycopg2://airflow@/postgres?host=/x/pg&port=5";
    assert_eq!(value("2.10", sqlite, "AIRFLOW__CORE__EXECUTOR"), "SequentialExecutor");
    assert_eq!(value("2.10", pg, "AIRFLOW__CORE__EXECUTOR"), "LocalExecutor");
    assert_eq!(value("3.3", sqlite, "AIRFLOW__CORE__EXECUTOR"), "LocalExecutor");
    assert_eq!(value("2.10", pg, "AIRFLOW__CORE__PARALLELISM"), "4");
    assert_eq!(value("3.3", sqlite, "AIRFLOW__CORE__DAGS_FOLDER"), "/r/target/airflow/dags");
    assert_eq!(
        value("3.3", sqlite, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"),
        "/r/target/airflow-local/3.3/simple_auth_manager_passwords.json"
    );
    assert_eq!(value("2.10", sqlite, "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL"), "");
    assert_eq!(value("3.3", sqlite, "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL"), "5");
    let runtime =
        Runtime { db: Db::Sqlite, db_url: sqlite.into(), port: 8793, scheduler_health_port: 8794, postgres_port: None };
    let with = config::settings(&setup("3.3"), sqlite, Some(&runtime), &secrets());
    assert!(
        with.contains(&("AIRFLOW__CORE__EXECUTION_API_SERVER_URL".into(), "http://127.0.0.1:8793/execution/".into()))
    );
}

#[test]
fn secrets_are_made_once_private_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = camino::Utf8Path::from_path(dir.path()).unwrap();
    let first = config::secrets(data).unwrap();
    let again = config::secrets(data).unwrap();
    assert_eq!(first.jwt_secret, again.jwt_secret);
    assert_eq!(first.jwt_secret.len(), 64);
    assert_ne!(first.jwt_secret, first.secret_key);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(data.join("secrets.json")).unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "secrets.json is readable by its owner only");
}

#[test]
fn down_without_a_state_file_is_nothing_to_do_and_status_says_not_up() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = camino::Utf8Path::from_path(dir.path()).unwrap();
    assert!(crate::down(state_dir).unwrap().is_none());
    let err = crate::status(state_dir).unwrap_err();
    assert!(err.to_string().contains("cargo xtask airflow up"), "{err}");
}

#[test]
fn up_on_a_target_never_deployed_says_to_deploy_first() {
    let dir = tempfile::tempdir().unwrap();
    let root = camino::Utf8Path::from_path(dir.path()).unwrap();
    let setup = Setup {
        series: Series::new("3.3"),
        venv: root.join("venv"),
        home: root.join("airflow"),
        state_dir: root.join("airflow-local"),
    };
    let err = crate::up(&setup, &crate::UpOptions::default(), &()).unwrap_err();
    assert!(err.to_string().contains("run `cargo xtask deploy-local-build` first"), "{err}");
    let err = crate::dags_test(&setup, &crate::DagTestOptions::default(), &()).unwrap_err();
    assert!(err.to_string().contains("deploy-local-build"), "{err}");
    std::fs::create_dir_all(root.join("airflow/releases/r1")).unwrap();
    std::os::unix::fs::symlink("releases/r1", root.join("airflow/current")).unwrap();
    let err = crate::up(&setup, &crate::UpOptions::default(), &()).unwrap_err();
    assert!(err.to_string().contains("cargo xtask test --airflow 3.3"), "{err}");
}

#[test]
fn a_taken_port_is_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let root = camino::Utf8Path::from_path(dir.path()).unwrap();
    std::fs::create_dir_all(root.join("airflow/releases/r1")).unwrap();
    std::os::unix::fs::symlink("releases/r1", root.join("airflow/current")).unwrap();
    std::fs::create_dir_all(root.join("venv/bin")).unwrap();
    std::fs::write(root.join("venv/bin/airflow"), "").unwrap();
    let setup = Setup {
        series: Series::new("3.3"),
        venv: root.join("venv"),
        home: root.join("airflow"),
        state_dir: root.join("airflow-local"),
    };
    let err = crate::up(&setup, &crate::UpOptions { db: Db::Sqlite, port: Some(port) }, &()).unwrap_err();
    assert!(err.to_string().contains(&format!("port {port} is already taken")), "{err}");
    assert!(!root.join("airflow-local/state.json").exists(), "nothing recorded, nothing left running");
}

/// A `-vv` log of the secrets (or of anything holding them) shows none of them.
#[test]
fn secrets_debug_shows_none_of_them() {
    let shown = format!("{:?}", secrets());
    for value in ["jjjjjjjj", "kkkkkkkk", "pppppppp"] {
        assert!(!shown.contains(value), "{shown}");
    }
}
