//! `<state>/state.json`: what `up` started (each service's PID, process group, start
//! time and log), with which series, database and ports. Written atomically after every
//! change, removed by `down`; `down`, `status` and the next `up` act on it alone.

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::config::Runtime;
use crate::{AirflowError, Series};

/// The state file's name in the state directory.
pub const STATE_FILE: &str = "state.json";

/// What runs, as `up` recorded it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub series: Series,
    /// The version the tool environment's Airflow reports.
    pub airflow_version: String,
    pub home: Utf8PathBuf,
    pub venv: Utf8PathBuf,
    /// The admin user and the file its password is in.
    pub user: String,
    pub password_file: Utf8PathBuf,
    #[serde(flatten)]
    pub(crate) runtime: Runtime,
    pub services: Vec<ServiceState>,
    /// The PostgreSQL cluster, with `--db postgres`.
    pub postgres: Option<ServiceState>,
}

/// One process group `up` started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceState {
    pub name: String,
    /// The leader's PID, which is also the group's ID.
    pub pid: u32,
    /// The leader's start time in clock ticks since boot (`/proc/<pid>/stat`), telling
    /// our process from a later one with the same PID.
    pub start_time: u64,
    pub log: Utf8PathBuf,
}

impl ServiceState {
    /// Whether the process `up` started still runs.
    pub fn alive(&self) -> bool {
        crate::proc::alive(self.pid, self.start_time)
    }
}

impl State {
    /// The api-server's (3.x) or webserver's (2.10) URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.runtime.port)
    }

    pub fn db(&self) -> crate::Db {
        self.runtime.db
    }

    pub fn port(&self) -> u16 {
        self.runtime.port
    }

    pub fn scheduler_health_port(&self) -> u16 {
        self.runtime.scheduler_health_port
    }
}

pub(crate) fn path(state_dir: &Utf8Path) -> Utf8PathBuf {
    state_dir.join(STATE_FILE)
}

pub(crate) fn load(state_dir: &Utf8Path) -> Result<Option<State>, AirflowError> {
    let path = path(state_dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(AirflowError::io(&path, source)),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|err| AirflowError::Invalid {
        path,
        message: format!("{err}; stop its processes by hand if any run, then delete it"),
    })
}

pub(crate) fn save(state_dir: &Utf8Path, state: &State) -> Result<(), AirflowError> {
    let path = path(state_dir);
    let json = serde_json::to_vec_pretty(state).expect("a state serialises");
    pad_stdx::write_atomic(&path, &json, 0o644).map_err(|source| AirflowError::io(&path, source))
}

pub(crate) fn remove(state_dir: &Utf8Path) -> Result<(), AirflowError> {
    let path = path(state_dir);
    match std::fs::remove_file(&path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(AirflowError::io(&path, err)),
        _ => Ok(()),
    }
}
