//! `AirflowError`: what can go wrong running the local Airflow, each naming the file,
//! service or port concerned and what to do.

use camino::{Utf8Path, Utf8PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AirflowError {
    #[error("`{home}` holds no release (no `current` link): run `cargo xtask deploy-local-build` first")]
    NotDeployed { home: Utf8PathBuf },
    #[error(
        "the Airflow {series} tool environment has no `{program}`: build it with `cargo xtask test --airflow {series}`"
    )]
    NoToolEnv { series: String, program: Utf8PathBuf },
    #[error("port {port} is already taken on 127.0.0.1: stop what listens there, or pass another --port")]
    PortTaken { port: u16 },
    #[error(
        "Airflow {running_series} ({running_db}) is already up from `{state}`: run `cargo xtask airflow down` before `up` with Airflow {series} ({db})"
    )]
    OtherUp { state: Utf8PathBuf, running_series: String, running_db: String, series: String, db: String },
    #[error("{step} failed{}", render_tail(.tail))]
    Command { step: String, tail: String },
    #[error("{service} exited during start-up ({status}); the tail of `{log}`:{}", render_tail(.tail))]
    Died { service: String, status: String, log: Utf8PathBuf, tail: String },
    #[error(
        "{service} is not healthy after {seconds} s ({health}); everything `up` started is stopped; the tail of `{log}`:{}",
        render_tail(.tail)
    )]
    Unhealthy { service: String, seconds: u64, health: String, log: Utf8PathBuf, tail: String },
    #[error("unknown service `{name}`: one of {}", .known.join(", "))]
    UnknownService { name: String, known: Vec<String> },
    #[error("Airflow is not up (no `{state}`): run `cargo xtask airflow up`")]
    NotUp { state: Utf8PathBuf },
    #[error("process group {pgid} ({service}) is still running {seconds} s after KILL")]
    DidNotStop { service: String, pgid: u32, seconds: u64 },
    #[error("{method} {url}: {message}")]
    Http { method: &'static str, url: String, message: String },
    #[error(
        "PostgreSQL is not installed (no `/usr/lib/postgresql/*/bin/pg_ctl`): install Debian's `postgresql` package (`cargo xtask ci --provision` does)"
    )]
    NoPostgres,
    #[error(
        "the PostgreSQL socket path `{path}` is longer than the 107 bytes a unix socket allows: use a shorter target directory (PAD_TARGET_DIR)"
    )]
    SocketPathTooLong { path: Utf8PathBuf },
    #[error("unknown DAG `{dag_id}` in `{dags}`: the DAGs are {}", if .known.is_empty() { "none".to_owned() } else { .known.join(", ") })]
    UnknownDag { dag_id: String, dags: Utf8PathBuf, known: Vec<String> },
    #[error("`{path}`: {message}")]
    Invalid { path: Utf8PathBuf, message: String },
    #[error("`{path}`")]
    Io {
        path: Utf8PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl AirflowError {
    pub(crate) fn io(path: &Utf8Path, source: std::io::Error) -> AirflowError {
        AirflowError::Io { path: path.to_owned(), source }
    }

    pub(crate) fn command(step: impl Into<String>, err: &pad_process::ProcessError) -> AirflowError {
        let tail = match err.output() {
            Some(output) => tail_lines(output, 30),
            None => err.to_string(),
        };
        AirflowError::Command { step: step.into(), tail }
    }
}

fn render_tail(tail: &str) -> String {
    if tail.trim().is_empty() { String::new() } else { format!("\n{}", tail.trim_end()) }
}

/// The last `n` lines of `text`.
pub(crate) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The last `n` lines of the file at `path` (empty when it cannot be read).
pub(crate) fn tail_file(path: &Utf8Path, n: usize) -> String {
    std::fs::read(path).map(|bytes| tail_lines(&String::from_utf8_lossy(&bytes), n)).unwrap_or_default()
}
