//! How Airflow is configured here: every setting is an `AIRFLOW__SECTION__KEY`
//! variable given to each command (no `airflow.cfg` is read: `AIRFLOW_CONFIG` points at
//! one in the data directory that Airflow writes once and we never edit), and the
//! secrets the services must share, kept in `<data>/secrets.json` (0600).

use std::fmt;
use std::str::FromStr;

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;
use serde::{Deserialize, Serialize};

use crate::{AirflowError, Setup};

/// The admin user `up` makes sure of.
pub const ADMIN_USER: &str = "admin";

/// How often the DAG folder is listed again and how soon a changed file is parsed
/// again, in seconds: small, so a new release shows within seconds (Airflow's defaults,
/// 300 and 30, suit a production scheduler, not a loop of edits).
pub(crate) const REFRESH_SECONDS: u32 = 5;
const MIN_FILE_PROCESS_SECONDS: u32 = 2;

/// An Airflow series pinned under `deploy/airflow/<series>`, such as `2.10` or `3.3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Series(String);

impl Series {
    pub fn new(series: &str) -> Series {
        Series(series.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Airflow 2 (webserver, FAB users, `/api/v1`), else 3 (api-server, dag-processor,
    /// simple auth manager, `/api/v2`).
    pub fn is_v2(&self) -> bool {
        self.0.starts_with("2.")
    }

    /// The services `up` starts, in order.
    pub fn services(&self) -> &'static [&'static str] {
        if self.is_v2() {
            &["scheduler", "triggerer", "webserver"]
        } else {
            &["scheduler", "dag-processor", "triggerer", "api-server"]
        }
    }
}

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The metadata database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Db {
    /// A file in the data directory. Airflow 2.10 allows only the SequentialExecutor on
    /// it (one task at a time); Airflow 3 runs the LocalExecutor on it.
    #[default]
    Sqlite,
    /// A PostgreSQL cluster of our own, with the LocalExecutor: DAG runs in parallel on
    /// every series.
    Postgres,
}

impl Db {
    pub fn as_str(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        }
    }
}

impl FromStr for Db {
    type Err = String;
    fn from_str(text: &str) -> Result<Db, String> {
        match text {
            "sqlite" => Ok(Db::Sqlite),
            "postgres" | "postgresql" => Ok(Db::Postgres),
            _ => Err(format!("unknown database `{text}`: use sqlite or postgres")),
        }
    }
}

/// What the services of one `up` share, besides the setup: the database and the ports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Runtime {
    pub(crate) db: Db,
    /// SQLAlchemy's URL of the metadata database.
    pub(crate) db_url: String,
    /// The api-server's (3.x) or webserver's (2.10) port.
    pub(crate) port: u16,
    /// The scheduler's health check server.
    pub(crate) scheduler_health_port: u16,
    /// PostgreSQL's port (its socket is in the cluster directory), with `--db postgres`.
    #[serde(default)]
    pub(crate) postgres_port: Option<u16>,
}

/// The secrets every process of one data directory must agree on. Its `Debug` shows
/// none of them.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Secrets {
    /// Signs the task execution API's and the UI's tokens (3.x).
    pub(crate) jwt_secret: String,
    /// Flask's / the API's session secret.
    pub(crate) secret_key: String,
    /// The admin user's password, also in [`password_file`].
    pub(crate) admin_password: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

/// `<data>/secrets.json`, made with fresh random values when missing.
pub(crate) fn secrets(data: &Utf8Path) -> Result<Secrets, AirflowError> {
    let path = data.join("secrets.json");
    if let Ok(bytes) = std::fs::read(&path)
        && let Ok(secrets) = serde_json::from_slice::<Secrets>(&bytes)
    {
        return Ok(secrets);
    }
    let secrets = Secrets { jwt_secret: random_hex(32)?, secret_key: random_hex(32)?, admin_password: random_hex(12)? };
    let json = serde_json::to_vec_pretty(&secrets).expect("secrets serialise");
    pad_stdx::write_atomic(&path, &json, 0o600).map_err(|source| AirflowError::io(&path, source))?;
    Ok(secrets)
}

/// Where the admin user's password can be read: on 3.x the simple auth manager's
/// passwords file (JSON, user name to password), on 2.10 a file holding only it.
pub fn password_file(setup: &Setup) -> Utf8PathBuf {
    if setup.series.is_v2() {
        setup.data_dir().join("admin-password")
    } else {
        setup.data_dir().join("simple_auth_manager_passwords.json")
    }
}

/// `n` random bytes from the kernel, in hex.
fn random_hex(n: usize) -> Result<String, AirflowError> {
    use std::io::Read as _;
    let path = Utf8Path::new("/dev/urandom");
    let mut bytes = vec![0u8; n];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut bytes))
        .map_err(|source| AirflowError::io(path, source))?;
    Ok(pad_stdx::hex(&bytes))
}

/// The SQLite database of a data directory.
pub(crate) fn sqlite_url(data: &Utf8Path) -> String {
    format!("sqlite:///{}", data.join("airflow.db"))
}

/// The `airflow` command of `setup` with `args`, configured for `runtime` (`None`: no
/// services, as for `dags test`: SQLite unless given).
pub(crate) fn airflow(setup: &Setup, db_url: &str, runtime: Option<&Runtime>, secrets: &Secrets) -> Cmd {
    let data = setup.data_dir();
    let mut cmd = Cmd::new(setup.venv.join("bin/airflow").as_str(), &data);
    for (key, value) in settings(setup, db_url, runtime, secrets) {
        cmd = cmd.env(key, value);
    }
    cmd
}

/// Every variable the Airflow commands get. Also what `status --json` and the README
/// describe as what we set.
pub(crate) fn settings(
    setup: &Setup,
    db_url: &str,
    runtime: Option<&Runtime>,
    secrets: &Secrets,
) -> Vec<(String, String)> {
    let data = setup.data_dir();
    let v2 = setup.series.is_v2();
    let postgres = db_url.starts_with("postgresql");
    // Airflow 2.10 refuses any other executor on SQLite; Airflow 3 has no
    // SequentialExecutor and runs the LocalExecutor on SQLite, one task at a time.
    let executor = if v2 && !postgres { "SequentialExecutor" } else { "LocalExecutor" };
    let mut vars: Vec<(&str, String)> = vec![
        ("AIRFLOW_HOME", setup.home.to_string()),
        ("AIRFLOW_CONFIG", data.join("airflow.cfg").to_string()),
        ("AIRFLOW__CORE__DAGS_FOLDER", setup.home.join("dags").to_string()),
        ("AIRFLOW__CORE__LOAD_EXAMPLES", "False".to_owned()),
        ("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "True".to_owned()),
        ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", db_url.to_owned()),
        ("AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS", "False".to_owned()),
        ("AIRFLOW__LOGGING__BASE_LOG_FOLDER", data.join("logs").to_string()),
        ("AIRFLOW__CORE__EXECUTOR", executor.to_owned()),
        ("AIRFLOW__CORE__PARALLELISM", if postgres { "4" } else { "1" }.to_owned()),
        ("AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL", MIN_FILE_PROCESS_SECONDS.to_string()),
        ("AIRFLOW__API_AUTH__JWT_SECRET", secrets.jwt_secret.clone()),
        ("AIRFLOW__API__SECRET_KEY", secrets.secret_key.clone()),
        ("AIRFLOW__WEBSERVER__SECRET_KEY", secrets.secret_key.clone()),
        ("AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK", "True".to_owned()),
        ("PYTHONDONTWRITEBYTECODE", "1".to_owned()),
    ];
    if v2 {
        vars.extend([
            ("AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL", REFRESH_SECONDS.to_string()),
            ("AIRFLOW__SCHEDULER__PARSING_PROCESSES", "1".to_owned()),
            ("AIRFLOW__WEBSERVER__WORKERS", "1".to_owned()),
            (
                "AIRFLOW__API__AUTH_BACKENDS",
                "airflow.providers.fab.auth_manager.api.auth.backend.basic_auth,airflow.api.auth.backend.session"
                    .to_owned(),
            ),
        ]);
    } else {
        vars.extend([
            ("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", REFRESH_SECONDS.to_string()),
            ("AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL", MIN_FILE_PROCESS_SECONDS.to_string()),
            ("AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES", "1".to_owned()),
            ("AIRFLOW__API__WORKERS", "1".to_owned()),
            ("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", format!("{ADMIN_USER}:admin")),
            ("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", password_file(setup).to_string()),
        ]);
    }
    if let Some(runtime) = runtime {
        vars.push((
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT",
            runtime.scheduler_health_port.to_string(),
        ));
        vars.push(("AIRFLOW__API__PORT", runtime.port.to_string()));
        vars.push(("AIRFLOW__API__HOST", "127.0.0.1".to_owned()));
        vars.push(("AIRFLOW__WEBSERVER__WEB_SERVER_HOST", "127.0.0.1".to_owned()));
        vars.push(("AIRFLOW__WEBSERVER__WEB_SERVER_PORT", runtime.port.to_string()));
        vars.push(("AIRFLOW__API__BASE_URL", format!("http://127.0.0.1:{}", runtime.port)));
        vars.push(("AIRFLOW__WEBSERVER__BASE_URL", format!("http://127.0.0.1:{}", runtime.port)));
        if !v2 {
            vars.push((
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                format!("http://127.0.0.1:{}/execution/", runtime.port),
            ));
        }
    }
    vars.into_iter().map(|(key, value)| (key.to_owned(), value)).collect()
}
