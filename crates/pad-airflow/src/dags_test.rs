//! `dags_test`: one run of one DAG, what `airflow dags test` does (each task in this
//! process, in order, no scheduler), on the deployed release in the local
//! `AIRFLOW_HOME`, with each task's final state read back from the metadata database and
//! a failed task's own log lines cut out of the run's output.

use std::collections::BTreeMap;

use camino::Utf8PathBuf;
use pad_process::{Cmd, Sink};
use serde::{Deserialize, Serialize};

use crate::config::{self, Secrets};
use crate::error::tail_lines;
use crate::{AirflowError, Progress, Setup};

const DRIVER: &str = include_str!("dags_test.py");
/// How many lines of a failed task's log are kept.
const LOG_TAIL: usize = 40;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct DagTestOptions {
    pub dag_id: String,
    /// The logical date (2.10: execution date), default now.
    pub date: Option<String>,
    /// The run's configuration, JSON.
    pub conf: Option<String>,
    /// Airflow Variables and Connections, given as `AIRFLOW_VAR_<KEY>` / `AIRFLOW_CONN_<ID>`.
    pub variables: BTreeMap<String, String>,
    pub connections: BTreeMap<String, String>,
}

/// How the run ended.
#[derive(Debug, Clone, Serialize)]
pub struct DagTest {
    pub dag_id: String,
    pub run_id: Option<String>,
    /// The DAG run's state (`success`, `failed`), or `none` when no run was made.
    pub state: String,
    pub tasks: Vec<TaskOutcome>,
    /// What Airflow raised, if it did (`DagRun failed`).
    pub error: Option<String>,
    /// The whole run's output.
    pub log: Utf8PathBuf,
    /// The release the run used.
    pub release: Option<String>,
}

impl DagTest {
    pub fn success(&self) -> bool {
        self.state == "success"
    }
}

/// One task's final state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskOutcome {
    pub task_id: String,
    pub map_index: i64,
    pub state: String,
    pub try_number: Option<i64>,
    /// The end of the task's own log, for a task that did not succeed.
    #[serde(default)]
    pub log_tail: Option<String>,
}

#[derive(Deserialize)]
struct Report {
    run_id: Option<String>,
    state: Option<String>,
    tasks: Vec<TaskOutcome>,
    error: Option<String>,
    known: Option<Vec<String>>,
}

/// Runs `options.dag_id` once. The metadata database is the one `up` uses when Airflow
/// is up, else this series' SQLite file, migrated first when new.
pub fn dags_test(setup: &Setup, options: &DagTestOptions, progress: &dyn Progress) -> Result<DagTest, AirflowError> {
    crate::services::check_ready(setup)?;
    let data = setup.data_dir();
    std::fs::create_dir_all(&data).map_err(|source| AirflowError::io(&data, source))?;
    let secrets = config::secrets(&data)?;
    let db_url = match crate::state::load(&setup.state_dir)? {
        Some(state) if state.series == setup.series => state.runtime.db_url.clone(),
        _ => config::sqlite_url(&data),
    };
    crate::services::migrate(setup, &db_url, &secrets, false, progress)?;

    let dir = data.join("dags-test");
    std::fs::create_dir_all(&dir).map_err(|source| AirflowError::io(&dir, source))?;
    let driver = dir.join("dags_test.py");
    pad_stdx::write_atomic(&driver, DRIVER.as_bytes(), 0o644).map_err(|source| AirflowError::io(&driver, source))?;
    let name = pad_stdx::safe_token(&options.dag_id);
    let report_path = dir.join(format!("{name}.json"));
    let log = dir.join(format!("{name}.log"));
    let _ = std::fs::remove_file(&report_path);

    let mut cmd = python(setup, &db_url, &secrets).args([driver.as_str(), report_path.as_str(), &options.dag_id]);
    if let Some(date) = &options.date {
        cmd = cmd.arg(date);
    }
    if let Some(conf) = &options.conf {
        cmd = cmd.args(["--conf", conf]);
    }
    for (key, value) in &options.variables {
        cmd = cmd.env(format!("AIRFLOW_VAR_{}", key.to_uppercase()), value);
    }
    for (id, uri) in &options.connections {
        cmd = cmd.env(format!("AIRFLOW_CONN_{}", id.to_uppercase()), uri);
    }
    progress.step(&format!("run {} once (airflow dags test)", options.dag_id));
    let file = std::fs::File::create(&log).map_err(|source| AirflowError::io(&log, source))?;
    let err_file = file.try_clone().map_err(|source| AirflowError::io(&log, source))?;
    let mut running = cmd
        .spawn(Sink::File(file), Sink::File(err_file))
        .map_err(|err| AirflowError::command("airflow dags test", &err))?;
    let status = running.wait().map_err(|err| AirflowError::command("airflow dags test", &err))?;

    let output = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
    let report: Report = match std::fs::read(&report_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|err| AirflowError::Invalid { path: report_path.clone(), message: err.to_string() })?,
        Err(_) => {
            return Err(AirflowError::Command {
                step: format!("airflow dags test {} ({status}, output in {log})", options.dag_id),
                tail: tail_lines(&output, LOG_TAIL),
            });
        }
    };
    if let Some(known) = report.known {
        return Err(AirflowError::UnknownDag { dag_id: options.dag_id.clone(), dags: setup.home.join("dags"), known });
    }
    let mut tasks = report.tasks;
    for task in &mut tasks {
        if !matches!(task.state.as_str(), "success" | "skipped") {
            let own = task_section(&output, &task.task_id);
            task.log_tail = Some(tail_lines(own.as_deref().unwrap_or(&output), LOG_TAIL));
        }
    }
    Ok(DagTest {
        dag_id: options.dag_id.clone(),
        run_id: report.run_id,
        state: report.state.unwrap_or_else(|| "none".to_owned()),
        tasks,
        error: report.error,
        log,
        release: setup.current_release(),
    })
}

/// The tool environment's Python, configured like the `airflow` commands.
fn python(setup: &Setup, db_url: &str, secrets: &Secrets) -> Cmd {
    let mut cmd = Cmd::new(setup.venv.join("bin/python").as_str(), &setup.data_dir());
    for (key, value) in config::settings(setup, db_url, None, secrets) {
        cmd = cmd.env(key, value);
    }
    cmd
}

/// The lines `dag.test()` printed for `task_id`: from its last
/// `[DAG TEST] starting task_id=<id> ` line to its `[DAG TEST] end task task_id=<id> `
/// line (both series write these).
pub(crate) fn task_section(output: &str, task_id: &str) -> Option<String> {
    let start_marker = format!("[DAG TEST] starting task_id={task_id} ");
    let end_marker = format!("[DAG TEST] end task task_id={task_id} ");
    let lines: Vec<&str> = output.lines().collect();
    let start = lines.iter().rposition(|line| line.contains(&start_marker))?;
    let end = lines[start..].iter().position(|line| line.contains(&end_marker)).map_or(lines.len(), |i| start + i + 1);
    Some(lines[start..end].join("\n"))
}
