//! Real Airflow on this machine, run on what `deploy-local-build` installed into the
//! local target's `AIRFLOW_HOME` (`dags -> current/dags`, `<project>/venv`), with the
//! pinned tool environment of one Airflow series (`deploy/airflow/<series>/`).
//!
//! - [`up`]: migrate the metadata database, make sure the admin user exists, start the
//!   services (3.x: api-server, scheduler, dag-processor, triggerer; 2.10: webserver,
//!   scheduler, triggerer), each the leader of a process group of its own, record them
//!   in `<state>/state.json`, and return when Airflow's health endpoint says every one
//!   is healthy. Idempotent: what runs is left alone, what died is started again.
//! - [`down`]: stops exactly what `up` recorded, by process group, and waits.
//! - [`status`]: each service, the release `current` points to, the DAGs Airflow parsed
//!   and their import errors (through the REST API, [`Client`]).
//! - [`reset`]: stops, wipes the metadata database, logs and run history (never the
//!   releases), and migrates again.
//! - [`log_files`]: where each service writes.
//! - [`dags_test`]: one run of one DAG (`dag.test()`, what `airflow dags test` runs),
//!   without the services.
//!
//! The database is SQLite (a file) or PostgreSQL ([`postgres`]: a cluster of its own
//! under the state directory, run as a non-root user). Everything that changes lives in
//! the state directory (`<target>/airflow-local`), so two checkouts never share one.
//! Nothing here prints: progress goes to a [`Progress`], results are returned.

mod client;
mod config;
mod dags_test;
mod error;
mod postgres;
mod proc;
mod services;
mod state;

#[cfg(test)]
mod tests;

pub use client::Client;
pub use config::{ADMIN_USER, Db, Series, password_file};
pub use dags_test::{DagTest, DagTestOptions, TaskOutcome, dags_test};
pub use error::AirflowError;
pub use postgres::PG_USER;
pub use services::{
    DagStatus, ImportError, ServiceStatus, Status, Up, down, is_healthy, log_files, reset, status, tail_logs, up,
};
pub use state::{STATE_FILE, ServiceState, State};

use camino::{Utf8Path, Utf8PathBuf};

/// What a local Airflow runs on.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The Airflow series, as pinned under `deploy/airflow/<series>`.
    pub series: Series,
    /// The pinned tool environment of that series (holding `bin/airflow`).
    pub venv: Utf8PathBuf,
    /// The local target's `AIRFLOW_HOME`, where `deploy-local-build` installs releases.
    pub home: Utf8PathBuf,
    /// Where the state, databases, logs and secrets go: `<target>/airflow-local`.
    pub state_dir: Utf8PathBuf,
}

impl Setup {
    /// `<state>/<series>`: this series' metadata database, logs, configuration and
    /// secrets (the two series' schemas differ, so each has its own).
    pub fn data_dir(&self) -> Utf8PathBuf {
        self.state_dir.join(self.series.as_str())
    }

    /// The release `current` points to, if the target was deployed to.
    pub fn current_release(&self) -> Option<String> {
        current_release(&self.home)
    }
}

/// How `up` runs.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    pub db: Db,
    /// The port of the api-server (3.x) or webserver (2.10): checked free; default: a free
    /// one.
    pub port: Option<u16>,
}

/// Where the local Airflow reports what it does while it works. Called from one thread.
pub trait Progress {
    /// A step starts, such as `migrate the database` or `start scheduler`.
    fn step(&self, _what: &str) {}
}

impl Progress for () {}

/// The release `<home>/current` points to.
pub fn current_release(home: &Utf8Path) -> Option<String> {
    let target = std::fs::read_link(home.join("current")).ok()?;
    target.file_name().map(|name| name.to_string_lossy().into_owned())
}
