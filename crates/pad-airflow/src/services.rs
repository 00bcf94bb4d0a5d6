//! The services: `up` (migrate, admin user, start, wait for health), `down`, `status`,
//! `reset` and the logs. Each service is started through `pad_process::Cmd::spawn` as
//! the leader of its own process group, its output appended to
//! `<data>/services/<name>.log`, and recorded in the state file before `up` waits for
//! it; a failed `up` stops every group it started.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::{Cmd, Running, Sink};
use serde::Serialize;
use serde_json::Value;

use crate::client::{self, Client};
use crate::config::{self, ADMIN_USER, Db, Runtime, Secrets, Series};
use crate::error::{tail_file, tail_lines};
use crate::state::{self, ServiceState, State};
use crate::{AirflowError, Progress, Setup, UpOptions, proc};

/// How long `up` waits for every service to be healthy: Airflow 3's first start on two
/// busy cores takes well under a minute; this leaves room for a loaded CI machine.
const HEALTHY_WITHIN: Duration = Duration::from_secs(300);
/// How long a stopping service gets between `TERM` and `KILL`.
const STOP_GRACE: Duration = Duration::from_secs(20);
/// How many lines of a log an error shows.
const LOG_TAIL: usize = 30;

/// What `up` did.
#[derive(Debug, Clone, Serialize)]
pub struct Up {
    pub state: State,
    /// Everything was up already: nothing was changed.
    pub already_up: bool,
    /// The services started now (all of them, or those that had died).
    pub started: Vec<String>,
    pub url: String,
    pub user: String,
    pub password_file: Utf8PathBuf,
    /// Where `up` recorded what it started.
    pub state_file: Utf8PathBuf,
    /// From the call to every service healthy.
    pub seconds: f64,
}

/// What `status` found.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub up: bool,
    pub series: String,
    pub airflow_version: String,
    pub db: String,
    pub url: String,
    pub user: String,
    pub password_file: Utf8PathBuf,
    pub home: Utf8PathBuf,
    /// The release `<home>/current` points to.
    pub release: Option<String>,
    pub services: Vec<ServiceStatus>,
    /// The DAGs Airflow has parsed, from its REST API.
    pub dags: Vec<DagStatus>,
    pub import_errors: Vec<ImportError>,
    /// Why the DAGs could not be listed, if they could not.
    pub api_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub name: String,
    pub pid: u32,
    pub alive: bool,
    /// The port it serves on, for the api-server, webserver, scheduler and PostgreSQL.
    pub port: Option<u16>,
    /// What Airflow's health endpoint says of it (`healthy`, `unhealthy`), if anything.
    pub health: Option<String>,
    pub log: Utf8PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct DagStatus {
    pub dag_id: String,
    /// The schedule as Airflow shows it (`@daily`, a cron expression, `None`).
    pub schedule: String,
    pub paused: bool,
    pub file: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportError {
    pub file: String,
    pub message: String,
}

/// Fails unless the target holds a release and the series' tool environment has its
/// `airflow`.
pub(crate) fn check_ready(setup: &Setup) -> Result<(), AirflowError> {
    if !setup.home.join("current").exists() {
        return Err(AirflowError::NotDeployed { home: setup.home.clone() });
    }
    let program = setup.venv.join("bin/airflow");
    if !program.is_file() {
        return Err(AirflowError::NoToolEnv { series: setup.series.to_string(), program });
    }
    Ok(())
}

/// `airflow db migrate`, unless (with `force` false) this database was migrated by this
/// tool environment before.
pub(crate) fn migrate(
    setup: &Setup,
    db_url: &str,
    secrets: &Secrets,
    force: bool,
    progress: &dyn Progress,
) -> Result<(), AirflowError> {
    let marker = setup.data_dir().join("migrated");
    let expected = format!("{}\n{db_url}\n", setup.venv);
    if !force && std::fs::read_to_string(&marker).is_ok_and(|text| text == expected) {
        return Ok(());
    }
    progress.step("migrate the metadata database");
    config::airflow(setup, db_url, None, secrets)
        .args(["db", "migrate"])
        .run()
        .map_err(|err| AirflowError::command(format!("`airflow db migrate` (Airflow {})", setup.series), &err))?;
    pad_stdx::write_atomic(&marker, expected.as_bytes(), 0o644).map_err(|source| AirflowError::io(&marker, source))
}

/// Makes sure the admin user exists with the password in [`config::password_file`].
fn ensure_admin(setup: &Setup, db_url: &str, secrets: &Secrets, progress: &dyn Progress) -> Result<(), AirflowError> {
    let file = config::password_file(setup);
    if !setup.series.is_v2() {
        // The simple auth manager reads its users' passwords from this file and makes up
        // one for a user it does not hold: ours is written first.
        let mut passwords: serde_json::Map<String, Value> =
            std::fs::read(&file).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
        if passwords.get(ADMIN_USER).and_then(Value::as_str) != Some(secrets.admin_password.as_str()) {
            passwords.insert(ADMIN_USER.to_owned(), Value::String(secrets.admin_password.clone()));
            let json = serde_json::to_vec(&passwords).expect("passwords serialise");
            pad_stdx::write_atomic(&file, &json, 0o600).map_err(|source| AirflowError::io(&file, source))?;
        }
        return Ok(());
    }
    pad_stdx::write_atomic(&file, secrets.admin_password.as_bytes(), 0o600)
        .map_err(|source| AirflowError::io(&file, source))?;
    let marker = setup.data_dir().join("admin-created");
    if std::fs::read_to_string(&marker).is_ok_and(|text| text == db_url) {
        return Ok(());
    }
    progress.step("create the admin user (FAB)");
    // The password goes through the environment, not the command line (which errors
    // and `ps` show).
    let script = "import os, sys\n\
        from airflow.__main__ import main\n\
        sys.argv = ['airflow', 'users', 'create', '--username', os.environ['PAD_AIRFLOW_USER'], '--password', \
        os.environ.pop('PAD_AIRFLOW_PASSWORD'), '--role', 'Admin', '--email', 'admin@localhost', '--firstname', \
        'Local', '--lastname', 'Admin']\n\
        main()\n";
    let mut cmd = Cmd::new(setup.venv.join("bin/python").as_str(), &setup.data_dir())
        .args(["-c", script])
        .env("PAD_AIRFLOW_USER", ADMIN_USER)
        .env("PAD_AIRFLOW_PASSWORD", &secrets.admin_password);
    for (key, value) in config::settings(setup, db_url, None, secrets) {
        cmd = cmd.env(key, value);
    }
    let output = cmd.run().map_err(|err| AirflowError::command("`airflow users create` (the admin user)", &err))?;
    // FAB says so and exits 0 when the user exists already.
    tracing::debug!("users create: {}", tail_lines(&output.stdout, 3));
    pad_stdx::write_atomic(&marker, db_url.as_bytes(), 0o644).map_err(|source| AirflowError::io(&marker, source))
}

fn free_port() -> Result<u16, AirflowError> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|source| AirflowError::io(Utf8Path::new("127.0.0.1:0"), source))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|source| AirflowError::io(Utf8Path::new("127.0.0.1:0"), source))
}

fn check_port(port: u16) -> Result<(), AirflowError> {
    TcpListener::bind(("127.0.0.1", port)).map(drop).map_err(|_| AirflowError::PortTaken { port })
}

/// The command line of service `name`.
fn service_args(setup: &Setup, runtime: &Runtime, name: &str) -> Vec<String> {
    let port = runtime.port.to_string();
    match name {
        "api-server" => vec!["api-server".into(), "--port".into(), port, "--host".into(), "127.0.0.1".into()],
        "webserver" => vec!["webserver".into(), "--port".into(), port, "--hostname".into(), "127.0.0.1".into()],
        other => {
            let _ = setup;
            vec![other.to_owned()]
        }
    }
}

/// Starts service `name`, the leader of a process group of its own, its output
/// appended to its log.
fn spawn(
    setup: &Setup,
    runtime: &Runtime,
    secrets: &Secrets,
    name: &str,
) -> Result<(ServiceState, Running), AirflowError> {
    let log = setup.data_dir().join("services").join(format!("{name}.log"));
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(|source| AirflowError::io(dir, source))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|source| AirflowError::io(&log, source))?;
    let err_file = file.try_clone().map_err(|source| AirflowError::io(&log, source))?;
    let running = config::airflow(setup, &runtime.db_url, Some(runtime), secrets)
        .args(service_args(setup, runtime, name))
        .own_process_group()
        .spawn(Sink::File(file), Sink::File(err_file))
        .map_err(|err| AirflowError::command(format!("starting {name}"), &err))?;
    let pid = running.id();
    let start_time = proc::stat(pid).map(|s| s.start_time).unwrap_or_default();
    Ok((ServiceState { name: name.to_owned(), pid, start_time, log }, running))
}

/// Starts Airflow, or what of it died; see the crate's documentation.
pub fn up(setup: &Setup, options: &UpOptions, progress: &dyn Progress) -> Result<Up, AirflowError> {
    let started_at = Instant::now();
    let data = setup.data_dir();
    std::fs::create_dir_all(&data).map_err(|source| AirflowError::io(&data, source))?;
    check_ready(setup)?;
    let secrets = config::secrets(&data)?;

    if let Some(mut state) = state::load(&setup.state_dir)? {
        let anything_alive = state.services.iter().chain(&state.postgres).any(ServiceState::alive);
        let differs = state.series != setup.series
            || state.runtime.db != options.db
            || options.port.is_some_and(|port| port != state.runtime.port);
        if differs && anything_alive {
            return Err(AirflowError::OtherUp {
                state: state::path(&setup.state_dir),
                running_series: state.series.to_string(),
                running_db: state.runtime.db.as_str().to_owned(),
                series: setup.series.to_string(),
                db: options.db.as_str().to_owned(),
            });
        }
        if !differs {
            return restart_dead(setup, &mut state, &secrets, started_at, progress);
        }
        // Nothing of an older, different start runs: start afresh.
        state::remove(&setup.state_dir)?;
    }

    let port = match options.port {
        Some(port) => {
            check_port(port)?;
            port
        }
        None => free_port()?,
    };
    let mut runtime = Runtime {
        db: options.db,
        db_url: config::sqlite_url(&data),
        port,
        scheduler_health_port: free_port()?,
        postgres_port: None,
    };
    let mut state = State {
        series: setup.series.clone(),
        airflow_version: String::new(),
        home: setup.home.clone(),
        venv: setup.venv.clone(),
        user: ADMIN_USER.to_owned(),
        password_file: config::password_file(setup),
        runtime: runtime.clone(),
        services: Vec::new(),
        postgres: None,
    };
    let result = (|| {
        if options.db == Db::Postgres {
            let pg_port = free_port()?;
            progress.step("start PostgreSQL");
            let (pg, url) = crate::postgres::start(&data, pg_port)?;
            runtime.postgres_port = Some(pg_port);
            runtime.db_url = url;
            state.postgres = Some(pg);
            state.runtime = runtime.clone();
            state::save(&setup.state_dir, &state)?;
        }
        state.airflow_version = airflow_version(setup)?;
        migrate(setup, &runtime.db_url, &secrets, true, progress)?;
        ensure_admin(setup, &runtime.db_url, &secrets, progress)?;
        let names: Vec<String> = setup.series.services().iter().map(|s| (*s).to_owned()).collect();
        start_and_wait(setup, &mut state, &secrets, &names, progress)
    })();
    match result {
        Ok(()) => Ok(up_report(
            setup,
            state,
            false,
            setup.series.services().iter().map(|s| (*s).to_owned()).collect(),
            started_at,
        )),
        Err(err) => {
            let _ = stop_all(&setup.state_dir, &state);
            Err(err)
        }
    }
}

fn up_report(setup: &Setup, state: State, already_up: bool, started: Vec<String>, started_at: Instant) -> Up {
    Up {
        state_file: state::path(&setup.state_dir),
        url: state.url(),
        user: state.user.clone(),
        password_file: state.password_file.clone(),
        state,
        already_up,
        started,
        seconds: started_at.elapsed().as_secs_f64(),
    }
}

/// `up` on a recorded start: the services that died are started again, the rest left
/// alone.
fn restart_dead(
    setup: &Setup,
    state: &mut State,
    secrets: &Secrets,
    started_at: Instant,
    progress: &dyn Progress,
) -> Result<Up, AirflowError> {
    let mut restarted = Vec::new();
    if let Some(pg) = &state.postgres
        && !pg.alive()
    {
        let port = state.runtime.postgres_port.unwrap_or(free_port()?);
        progress.step("start PostgreSQL");
        let (pg, _) = crate::postgres::start(&setup.data_dir(), port)?;
        state.postgres = Some(pg);
        restarted.push("postgres".to_owned());
    }
    let dead: Vec<String> = state.services.iter().filter(|s| !s.alive()).map(|s| s.name.clone()).collect();
    if dead.is_empty() && restarted.is_empty() {
        return Ok(up_report(setup, state.clone(), true, Vec::new(), started_at));
    }
    for name in &dead {
        if let Some(service) = state.services.iter().find(|s| &s.name == name) {
            // What a dead leader left in its group goes first.
            if proc::group_is_ours(service.pid, service.start_time) {
                proc::stop_group(service.pid, STOP_GRACE);
            }
        }
    }
    state.services.retain(|s| !dead.contains(&s.name));
    start_and_wait(setup, state, secrets, &dead, progress)?;
    restarted.extend(dead);
    Ok(up_report(setup, state.clone(), false, restarted, started_at))
}

/// Starts `names`, records them, and waits until Airflow says every service is healthy;
/// a service that exits first, or a timeout, is an error with that service's log tail.
fn start_and_wait(
    setup: &Setup,
    state: &mut State,
    secrets: &Secrets,
    names: &[String],
    progress: &dyn Progress,
) -> Result<(), AirflowError> {
    let mut children = Vec::new();
    for name in names {
        progress.step(&format!("start {name}"));
        let (service, running) = spawn(setup, &state.runtime, secrets, name)?;
        state.services.push(service);
        children.push((name.clone(), running));
        state::save(&setup.state_dir, state)?;
    }
    progress.step("wait until every service is healthy");
    let agent = client::agent();
    let started = Instant::now();
    loop {
        for (name, running) in &mut children {
            if let Ok(Some(status)) = running.try_wait() {
                let log = setup.data_dir().join("services").join(format!("{name}.log"));
                return Err(AirflowError::Died {
                    service: name.clone(),
                    status: status.to_string(),
                    tail: tail_file(&log, LOG_TAIL),
                    log,
                });
            }
        }
        let unhealthy = unhealthy_service(&agent, state);
        match unhealthy {
            None => break,
            Some((service, health)) if started.elapsed() >= HEALTHY_WITHIN => {
                let log = state
                    .services
                    .iter()
                    .find(|s| s.name == service)
                    .map_or_else(|| setup.data_dir().join("services"), |s| s.log.clone());
                return Err(AirflowError::Unhealthy {
                    service,
                    seconds: HEALTHY_WITHIN.as_secs(),
                    health,
                    tail: tail_file(&log, LOG_TAIL),
                    log,
                });
            }
            Some(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
    // Healthy: they run on after us, stopped by `down` through the state file.
    for (_, running) in children {
        running.detach();
    }
    state::save(&setup.state_dir, state)
}

/// The first service Airflow does not call healthy, and what it says, or `None` when
/// every one is.
fn unhealthy_service(agent: &ureq::Agent, state: &State) -> Option<(String, String)> {
    let front = if state.series.is_v2() { "webserver" } else { "api-server" };
    let health = match health(agent, state) {
        Some(health) => health,
        None => return Some((front.to_owned(), "no answer yet".to_owned())),
    };
    for (key, service) in health_keys(state) {
        let status = health.get(key).and_then(|v| v.get("status")).and_then(Value::as_str).unwrap_or("unknown");
        if status != "healthy" {
            return Some((service.to_owned(), format!("{key}: {status}")));
        }
    }
    let scheduler = format!("http://127.0.0.1:{}/health", state.runtime.scheduler_health_port);
    match client::probe(agent, &scheduler) {
        Some((200, _)) => None,
        other => Some(("scheduler".to_owned(), format!("health check server: {:?}", other.map(|(s, _)| s)))),
    }
}

/// Airflow's health endpoint's answer (`/health` on 2.10, `/api/v2/monitor/health` on 3.x).
fn health(agent: &ureq::Agent, state: &State) -> Option<Value> {
    let path = if state.series.is_v2() { "/health" } else { "/api/v2/monitor/health" };
    match client::probe(agent, &format!("{}{path}", state.url()))? {
        (200, body) => serde_json::from_str(&body).ok(),
        _ => None,
    }
}

/// Whether the Airflow of `series` at `url` answers its health endpoint and calls its
/// database, scheduler, triggerer and (3.x) dag-processor healthy: for any Airflow, ours
/// or another's (`airflow standalone`).
pub fn is_healthy(url: &str, series: &Series) -> bool {
    let path = if series.is_v2() { "/health" } else { "/api/v2/monitor/health" };
    let Some((200, body)) = client::probe(&client::agent(), &format!("{}{path}", url.trim_end_matches('/'))) else {
        return false;
    };
    let Ok(health) = serde_json::from_str::<Value>(&body) else { return false };
    let mut keys = vec!["metadatabase", "scheduler", "triggerer"];
    if !series.is_v2() {
        keys.push("dag_processor");
    }
    keys.iter().all(|key| health.get(key).and_then(|v| v.get("status")).and_then(Value::as_str) == Some("healthy"))
}

/// The health endpoint's keys and the services they speak of.
fn health_keys(state: &State) -> Vec<(&'static str, &'static str)> {
    let mut keys = vec![("metadatabase", "scheduler"), ("scheduler", "scheduler"), ("triggerer", "triggerer")];
    if !state.series.is_v2() {
        keys.push(("dag_processor", "dag-processor"));
    }
    keys
}

/// The tool environment's Airflow version.
fn airflow_version(setup: &Setup) -> Result<String, AirflowError> {
    let output = Cmd::new(setup.venv.join("bin/python").as_str(), &setup.data_dir())
        .args(["-c", "import importlib.metadata as m; print(m.version('apache-airflow'))"])
        .run()
        .map_err(|err| AirflowError::command("reading the Airflow version", &err))?;
    Ok(output.stdout.trim().to_owned())
}

/// Stops every process group of `state`, PostgreSQL last, and removes the state file.
fn stop_all(state_dir: &Utf8Path, state: &State) -> Result<(), AirflowError> {
    let ours: Vec<&ServiceState> = state.services.iter().filter(|s| proc::group_is_ours(s.pid, s.start_time)).collect();
    let pgids: Vec<u32> = ours.iter().map(|s| s.pid).collect();
    let stuck = proc::stop_groups(&pgids, STOP_GRACE);
    if let Some(pg) = &state.postgres {
        crate::postgres::stop(pg, &state_dir.join(state.series.as_str()));
    }
    match ours.iter().find(|s| stuck.contains(&s.pid)) {
        Some(service) => {
            Err(AirflowError::DidNotStop { service: service.name.clone(), pgid: service.pid, seconds: 10 })
        }
        None => state::remove(state_dir),
    }
}

/// Stops exactly what `up` recorded and waits for it; `None` when nothing was up.
pub fn down(state_dir: &Utf8Path) -> Result<Option<State>, AirflowError> {
    let Some(state) = state::load(state_dir)? else { return Ok(None) };
    stop_all(state_dir, &state)?;
    Ok(Some(state))
}

/// What runs, and what Airflow has parsed.
pub fn status(state_dir: &Utf8Path) -> Result<Status, AirflowError> {
    let state = state::load(state_dir)?.ok_or_else(|| AirflowError::NotUp { state: state::path(state_dir) })?;
    let agent = client::agent();
    let health = health(&agent, &state);
    let scheduler_server =
        client::probe(&agent, &format!("http://127.0.0.1:{}/health", state.runtime.scheduler_health_port));
    let mut services: Vec<ServiceStatus> = state
        .services
        .iter()
        .map(|service| {
            let alive = service.alive();
            let key =
                health_keys(&state).into_iter().find(|(key, name)| *name == service.name && *key != "metadatabase");
            let (port, health) = match service.name.as_str() {
                "api-server" | "webserver" => {
                    (Some(state.runtime.port), Some(if health.is_some() { "healthy" } else { "no answer" }.to_owned()))
                }
                "scheduler" => (
                    Some(state.runtime.scheduler_health_port),
                    Some(match &scheduler_server {
                        Some((200, _)) => "healthy".to_owned(),
                        Some((code, _)) => format!("unhealthy (HTTP {code})"),
                        None => "no answer".to_owned(),
                    }),
                ),
                _ => (None, key.and_then(|(key, _)| component_status(health.as_ref(), key))),
            };
            // What answers for a dead service is not it (a child left in its group).
            let health = if alive { health } else { Some("exited".to_owned()) };
            ServiceStatus {
                name: service.name.clone(),
                pid: service.pid,
                alive,
                port,
                health,
                log: service.log.clone(),
            }
        })
        .collect();
    if let Some(pg) = &state.postgres {
        services.push(ServiceStatus {
            name: pg.name.clone(),
            pid: pg.pid,
            alive: pg.alive(),
            port: state.runtime.postgres_port,
            health: component_status(health.as_ref(), "metadatabase"),
            log: pg.log.clone(),
        });
    }
    let (dags, import_errors, api_error) = match parsed(&state) {
        Ok((dags, errors)) => (dags, errors, None),
        Err(err) => (Vec::new(), Vec::new(), Some(err.to_string())),
    };
    Ok(Status {
        up: services.iter().all(|s| s.alive),
        series: state.series.to_string(),
        airflow_version: state.airflow_version.clone(),
        db: state.runtime.db.as_str().to_owned(),
        url: state.url(),
        user: state.user.clone(),
        password_file: state.password_file.clone(),
        release: crate::current_release(&state.home),
        home: state.home.clone(),
        services,
        dags,
        import_errors,
        api_error,
    })
}

fn component_status(health: Option<&Value>, key: &str) -> Option<String> {
    health?.get(key)?.get("status")?.as_str().map(str::to_owned)
}

/// The admin user's password, from the file `up` wrote.
pub(crate) fn admin_password(state: &State) -> Result<String, AirflowError> {
    let path = &state.password_file;
    let text = std::fs::read_to_string(path).map_err(|source| AirflowError::io(path, source))?;
    if state.series.is_v2() {
        return Ok(text.trim().to_owned());
    }
    let value: Value = serde_json::from_str(&text)
        .map_err(|err| AirflowError::Invalid { path: path.clone(), message: err.to_string() })?;
    value.get(&state.user).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| AirflowError::Invalid {
        path: path.clone(),
        message: format!("no password for `{}`: run `cargo xtask airflow down` and `up` again", state.user),
    })
}

impl State {
    /// The REST API, logged in as the admin user.
    pub fn client(&self) -> Result<Client, AirflowError> {
        Client::login(&self.url(), &self.series, &self.user, &admin_password(self)?)
    }

    /// The state `up` recorded in `state_dir`, if any.
    pub fn load(state_dir: &Utf8Path) -> Result<Option<State>, AirflowError> {
        state::load(state_dir)
    }
}

/// The DAGs and import errors the REST API reports.
fn parsed(state: &State) -> Result<(Vec<DagStatus>, Vec<ImportError>), AirflowError> {
    let client = state.client()?;
    let dags = client.get("/dags?limit=1000")?;
    let dags = dags
        .get("dags")
        .and_then(Value::as_array)
        .map(|dags| dags.iter().map(|dag| dag_status(dag, state.series.is_v2())).collect())
        .unwrap_or_default();
    let errors = client.get("/importErrors?limit=1000")?;
    let errors = errors
        .get("import_errors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .map(|e| ImportError {
                    file: e.get("filename").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    message: tail_lines(e.get("stack_trace").and_then(Value::as_str).unwrap_or_default(), 1),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((dags, errors))
}

/// One DAG of the REST API's list: the schedule is `timetable_summary` on 3.x and
/// `schedule_interval.value` on 2.10.
pub(crate) fn dag_status(dag: &Value, v2: bool) -> DagStatus {
    let text = |key: &str| dag.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let schedule = if v2 {
        dag.get("schedule_interval")
            .and_then(|s| s.get("value"))
            .and_then(Value::as_str)
            .map_or_else(|| text("timetable_description"), str::to_owned)
    } else {
        dag.get("timetable_summary").and_then(Value::as_str).unwrap_or("None").to_owned()
    };
    DagStatus {
        dag_id: text("dag_id"),
        schedule,
        paused: dag.get("is_paused").and_then(Value::as_bool).unwrap_or(false),
        file: text("fileloc"),
    }
}

/// Stops Airflow if it is up, wipes this series' metadata database, logs and run
/// history (never the releases in `AIRFLOW_HOME`), and migrates again. Returns what was
/// removed.
pub fn reset(setup: &Setup, db: Db, progress: &dyn Progress) -> Result<Vec<Utf8PathBuf>, AirflowError> {
    check_ready(setup)?;
    if state::load(&setup.state_dir)?.is_some() {
        progress.step("stop the services");
        down(&setup.state_dir)?;
    }
    let data = setup.data_dir();
    let mut removed = Vec::new();
    for name in ["airflow.db", "pg", "logs", "dags-test", "services", "migrated", "admin-created"] {
        let path = data.join(name);
        let result = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        match result {
            Ok(()) => removed.push(path),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(AirflowError::io(&path, source)),
        }
    }
    std::fs::create_dir_all(&data).map_err(|source| AirflowError::io(&data, source))?;
    let secrets = config::secrets(&data)?;
    match db {
        Db::Sqlite => migrate(setup, &config::sqlite_url(&data), &secrets, true, progress)?,
        Db::Postgres => {
            progress.step("start PostgreSQL");
            let (pg, url) = crate::postgres::start(&data, free_port()?)?;
            let migrated = migrate(setup, &url, &secrets, true, progress);
            crate::postgres::stop(&pg, &data);
            migrated?;
        }
    }
    Ok(removed)
}

/// The log of each service (`service`: only that one), as `(name, path)`.
pub fn log_files(setup: &Setup, service: Option<&str>) -> Result<Vec<(String, Utf8PathBuf)>, AirflowError> {
    let dir = setup.data_dir().join("services");
    let mut known: Vec<(String, Utf8PathBuf)> =
        setup.series.services().iter().map(|name| ((*name).to_owned(), dir.join(format!("{name}.log")))).collect();
    known.push(("postgres".to_owned(), setup.data_dir().join("pg/postgres.log")));
    match service {
        None => Ok(known.into_iter().filter(|(_, path)| path.exists()).collect()),
        Some(name) => match known.iter().find(|(known, _)| known == name) {
            Some(found) => Ok(vec![found.clone()]),
            None => Err(AirflowError::UnknownService {
                name: name.to_owned(),
                known: known.into_iter().map(|(name, _)| name).collect(),
            }),
        },
    }
}

/// Shows the last `lines` lines of each log in `files` on our standard output (`tail`,
/// which names each file), and with `follow` goes on showing what is appended, also
/// across a restart, until interrupted.
pub fn tail_logs(files: &[(String, Utf8PathBuf)], lines: usize, follow: bool) -> Result<(), AirflowError> {
    let Some((_, first)) = files.first() else { return Ok(()) };
    let dir = first.parent().unwrap_or(Utf8Path::new("/"));
    let mut cmd = Cmd::new("tail", dir).args(["-n", &lines.to_string()]);
    if follow {
        cmd = cmd.arg("-F");
    }
    if files.len() > 1 || follow {
        cmd = cmd.arg("-v");
    }
    cmd = cmd.arg("--").args(files.iter().map(|(_, path)| path.as_str()));
    cmd.run_inherit().map_err(|err| AirflowError::command("tail of the logs", &err))
}
