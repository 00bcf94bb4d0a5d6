//! Worker hosts for deploys, made on this machine: the end-to-end tests' workers, and
//! `cargo xtask worker up/down` ([`up`], [`down`]).
//!
//! A worker is a container of an image built here from scratch (no registry can be
//! reached): `debootstrap` a minimal Debian bookworm with `openssh-server`, `sudo` and
//! `python3` (Debian's `/usr/bin/python3.11`), `docker import` it, and tag it with the hash
//! of its recipe (`worker/recipe.sh`), so it is built once. Each set of workers gets its own
//! private Docker network; each worker its own filesystem, host key, login user
//! `deployer` (key only), service user `airflow-svc`, the sudo rule
//! `deployer ALL=(airflow-svc) NOPASSWD: ALL` and `AIRFLOW_HOME=/srv/airflow`.
//!
//! Without a Docker engine (or with `PAD_WORKER_BACKEND=sshd`) a worker is one
//! `sshd -D -f <own config>` on its own loopback address (127.0.0.2, …) in a mount
//! namespace of its own, where `/srv/airflow`, `~deployer/.ssh` and `/etc/sudoers.d` are
//! the worker's; see `sshd.rs`.
//!
//! Everything a set starts is recorded in `<work>/sets/<id>/set.json` and torn down by ID;
//! a set whose owning process died is swept by the next start.

use std::fs::File;
use std::io::Read;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::{Cmd, Finished};
use serde::{Deserialize, Serialize};

use crate::KitError;
use crate::error::{Context as _, failed};

mod airflow;
mod docker;
mod image;
mod sshd;

pub use airflow::{AIRFLOW_VENV, AirflowEnv, WORKER_PYTHON, airflow_env};
pub use image::{ImageInfo, RECIPE, ensure_image, image_tag};

/// Chooses the backend: `docker` or `sshd` (the fallback without a Docker engine).
pub const BACKEND_VAR: &str = pad_layout::EnvVars::PAD_WORKER_BACKEND;
pub const SSH_USER: &str = "deployer";
pub const SERVICE_USER: &str = "airflow-svc";
pub const AIRFLOW_HOME: &str = "/srv/airflow";
/// The owner of a set started by `cargo xtask worker up`: never swept.
const USER_OWNER: &str = "user";
/// How long a worker may take to answer on its SSH port.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// What runs a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// A container per worker (the normal case, and CI's).
    Docker,
    /// One `sshd` per worker on a loopback address (no Docker engine).
    Sshd,
}

/// Set to `1` (by `cargo xtask ci` when the engine answers): Docker or nothing.
pub const REQUIRE_DOCKER_VAR: &str = pad_layout::EnvVars::PAD_REQUIRE_DOCKER;

/// What the sshd fallback cannot show, since its workers share this machine's kernel and,
/// apart from a few paths mounted over, its filesystem: each worker test that relies on
/// one of these says so in its output when it runs on the fallback.
pub const SSHD_UNPROVEN: &str = "the sshd fallback shares this machine's filesystem (apart from /srv/airflow, ~deployer/.ssh and /etc/sudoers.d) and kernel, so it cannot show that a worker sees nothing of this machine, that its /usr/bin/python3.11 is its own, or that a release works on a separate host; run with a Docker engine to prove those";

impl Backend {
    /// `PAD_WORKER_BACKEND` when set, else Docker when an engine answers, else sshd; with
    /// `PAD_REQUIRE_DOCKER=1`, Docker only: an engine that does not answer is an error.
    pub fn detect() -> Result<Backend, KitError> {
        let required = std::env::var(REQUIRE_DOCKER_VAR).is_ok_and(|v| v == "1");
        Backend::choose(std::env::var(BACKEND_VAR).ok().as_deref(), required, docker::engine_answers)
    }

    /// `detect`'s rule, given `PAD_WORKER_BACKEND`, `PAD_REQUIRE_DOCKER=1`, and a way to
    /// ask whether the engine answers.
    pub(crate) fn choose(
        variable: Option<&str>,
        required: bool,
        engine_answers: impl Fn() -> bool,
    ) -> Result<Backend, KitError> {
        let chosen = match variable.filter(|v| !v.is_empty()) {
            Some("docker") => Backend::Docker,
            Some("sshd") => Backend::Sshd,
            Some(other) => return Err(failed(format!("{BACKEND_VAR}={other}: use `docker` or `sshd`"))),
            None if engine_answers() => Backend::Docker,
            None => Backend::Sshd,
        };
        if required && chosen == Backend::Sshd {
            let why = if engine_answers() {
                format!("{BACKEND_VAR}=sshd asks for the fallback")
            } else {
                "the Docker engine does not answer (`docker version`)".to_owned()
            };
            return Err(failed(format!(
                "{REQUIRE_DOCKER_VAR}=1 (set by `cargo xtask ci` when it found the engine): the workers must be containers, but {why}; start the engine (`systemctl start docker`), or unset {REQUIRE_DOCKER_VAR} to run on the sshd fallback, which proves less"
            )));
        }
        Ok(chosen)
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct Options {
    pub count: usize,
    /// Install `deployer ALL=(airflow-svc) NOPASSWD: ALL`; without it `sudo -n` is refused.
    pub sudo_rule: bool,
    /// Make `AIRFLOW_HOME` a tmpfs of this size (`8m`), to fill the disk on purpose.
    pub airflow_home_tmpfs: Option<String>,
    pub backend: Backend,
    /// Keep the set when this process exits (`cargo xtask worker up`); otherwise the next
    /// start sweeps it once this process is gone.
    pub persistent: bool,
}

/// A running set of workers and everything needed to reach and stop them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSet {
    pub id: String,
    pub backend: Backend,
    /// `<work>/sets/<id>`: keys, known_hosts, per-worker files.
    pub dir: Utf8PathBuf,
    /// The private Docker network (Docker backend).
    pub network: Option<String>,
    /// `<pid>:<start time>` of the process that owns the set, or `user`.
    pub owner: String,
    /// The private key of `deployer` (no passphrase).
    pub identity: Utf8PathBuf,
    /// known_hosts lines for every worker.
    pub known_hosts: Utf8PathBuf,
    pub workers: Vec<Worker>,
}

/// One worker host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Worker {
    pub name: String,
    /// Reachable from this machine: the container's address, or 127.0.0.x.
    pub host: String,
    pub port: u16,
    pub ssh_user: String,
    pub service_user: String,
    pub identity: Utf8PathBuf,
    /// This worker's host key, as `host key` or `[host]:port key`.
    pub known_hosts: Utf8PathBuf,
    pub airflow_home: String,
    pub handle: Handle,
}

/// How a worker is reached for inspection and failure injection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Handle {
    Container { id: String, network: String, ip: String },
    Sshd { pid: u32, dir: Utf8PathBuf, addr: String, port: u16, tag: String },
}

/// Starts `options.count` workers under `work_dir` (`target/worker`). On failure, whatever
/// was started is torn down and the error carries the worker's log.
pub fn start(work_dir: &Utf8Path, options: &Options) -> Result<WorkerSet, KitError> {
    if options.count == 0 {
        return Err(failed("a worker set needs at least one worker"));
    }
    create_dir(&work_dir.join("sets"))?;
    sweep_stale(work_dir);
    let id = new_id(options.persistent);
    let dir = work_dir.join("sets").join(&id);
    create_dir(&dir)?;
    let mut set = WorkerSet {
        id,
        backend: options.backend,
        identity: dir.join("id_ed25519"),
        known_hosts: dir.join("known_hosts"),
        dir,
        network: None,
        owner: if options.persistent { USER_OWNER.to_owned() } else { owner_token(std::process::id()) },
        workers: Vec::new(),
    };
    set.save()?;
    match fill(work_dir, &mut set, options) {
        Ok(()) => Ok(set),
        Err(err) => {
            if let Err(stop) = set.stop() {
                tracing::warn!("tearing down the failed worker set {}: {}", set.id, pad_layout::error_chain(&stop));
            }
            Err(err)
        }
    }
}

fn fill(work_dir: &Utf8Path, set: &mut WorkerSet, options: &Options) -> Result<(), KitError> {
    keygen(&set.identity, &format!("{SSH_USER}@pad-worker-{}", set.id))?;
    match set.backend {
        Backend::Docker => docker::start(work_dir, set, options)?,
        Backend::Sshd => sshd::start(work_dir, set, options)?,
    }
    let mut all = String::new();
    for worker in &set.workers {
        all.push_str(&read(&worker.known_hosts)?);
    }
    write_atomic(&set.known_hosts, all.as_bytes())?;
    set.save()
}

impl WorkerSet {
    /// Records the set in `set.json`, so it can be stopped by ID even after a crash.
    pub fn save(&self) -> Result<(), KitError> {
        let json = serde_json::to_string_pretty(self).context("recording a worker set")?;
        write_atomic(&self.dir.join("set.json"), json.as_bytes())
    }

    pub fn load(path: &Utf8Path) -> Result<WorkerSet, KitError> {
        let text = read(path)?;
        serde_json::from_str(&text).with_context(|| format!("{path} is not a worker set record"))
    }

    /// Stops every worker by ID, removes the network and the set's directory.
    pub fn stop(&self) -> Result<(), KitError> {
        let result = match self.backend {
            Backend::Docker => docker::stop(self),
            Backend::Sshd => sshd::stop(self),
        };
        if result.is_ok() && self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).with_context(|| format!("removing {}", self.dir))?;
        }
        result
    }

    /// The text of a `deploy/<name>.toml` that deploys to these workers.
    pub fn target_toml(&self, name: &str) -> String {
        let hosts: Vec<String> = self.workers.iter().map(|w| toml_string(&w.host)).collect();
        let port = self.workers.first().map_or(22, |w| w.port);
        format!(
            "# deploy/{name}.toml: the worker hosts of set {id} ({backend:?}), made by `cargo xtask worker up`\n\
             # or the tests. Their host keys are in known_hosts; `deployer` logs in with identity.\n\
             hosts = [{hosts}]\n\
             ssh_user = {user}\n\
             port = {port}\n\
             identity = {identity}\n\
             known_hosts = {known_hosts}\n\
             service_user = {service}\n\
             airflow_home = {home}\n\
             keep = 5\n",
            id = self.id,
            backend = self.backend,
            hosts = hosts.join(", "),
            user = toml_string(SSH_USER),
            identity = toml_string(self.identity.as_str()),
            known_hosts = toml_string(self.known_hosts.as_str()),
            service = toml_string(SERVICE_USER),
            home = toml_string(AIRFLOW_HOME),
        )
    }
}

impl Worker {
    /// Runs `sh -c script` as root on the worker.
    pub fn exec_root(&self, script: &str) -> Result<Finished, KitError> {
        self.exec_as("root", script)
    }

    /// Runs `sh -c script` as the service user on the worker.
    pub fn exec_as_service(&self, script: &str) -> Result<Finished, KitError> {
        self.exec_as(SERVICE_USER, script)
    }

    /// Runs `sh -c script` as `user` on the worker (not over SSH: for inspection).
    pub fn exec_as(&self, user: &str, script: &str) -> Result<Finished, KitError> {
        match &self.handle {
            Handle::Container { id, .. } => docker::exec(id, user, script),
            Handle::Sshd { pid, .. } => sshd::exec(*pid, user, script),
        }
    }

    /// Copies a file of this machine to `dest` on the worker (owned by root).
    pub fn copy_in(&self, from: &Utf8Path, dest: &str) -> Result<(), KitError> {
        match &self.handle {
            Handle::Container { id, .. } => docker::copy_in(id, from, dest),
            Handle::Sshd { pid, .. } => sshd::copy_in(*pid, from, dest),
        }
    }

    /// Cuts the worker off the network: packets to it are lost (connections hang).
    pub fn cut_network(&self) -> Result<(), KitError> {
        match &self.handle {
            Handle::Container { id, network, .. } => docker::disconnect(id, network),
            Handle::Sshd { addr, port, tag, .. } => sshd::block(addr, *port, tag, true),
        }
    }

    /// Puts the worker back on the network at the same address.
    pub fn restore_network(&self) -> Result<(), KitError> {
        match &self.handle {
            Handle::Container { id, network, ip } => docker::connect(id, network, ip),
            Handle::Sshd { addr, port, tag, .. } => sshd::block(addr, *port, tag, false),
        }
    }

    /// Freezes every process of the worker.
    pub fn pause(&self) -> Result<(), KitError> {
        self.signal("pause")
    }

    pub fn unpause(&self) -> Result<(), KitError> {
        self.signal("unpause")
    }

    /// Kills the worker for good.
    pub fn kill(&self) -> Result<(), KitError> {
        self.signal("kill")
    }

    fn signal(&self, what: &str) -> Result<(), KitError> {
        match &self.handle {
            Handle::Container { id, .. } => {
                docker::docker(&[what, id]).map(drop).with_context(|| format!("docker {what} {}", self.name))
            }
            Handle::Sshd { pid, .. } => {
                let signal = match what {
                    "pause" => "STOP",
                    "unpause" => "CONT",
                    _ => "KILL",
                };
                sshd::signal_all(*pid, signal)
            }
        }
    }
}

/// What [`up`] started.
#[derive(Debug)]
pub struct Up {
    pub set: WorkerSet,
    /// The image the workers run, when they are containers.
    pub image: Option<ImageInfo>,
    /// `<work>/deploy/workers.toml`: a deploy target for the set.
    pub target_file: Utf8PathBuf,
}

/// Starts a set of workers that outlives this process (whatever `options.persistent`
/// says), records it in `<work>/state.json` and writes its deploy target to
/// `<work>/deploy/workers.toml`. Only one such set is up at a time.
pub fn up(work_dir: &Utf8Path, options: &Options) -> Result<Up, KitError> {
    let state = state_file(work_dir);
    if state.exists() {
        let set = WorkerSet::load(&state)?;
        return Err(failed(format!(
            "workers of set {} are already up ({}); run `cargo xtask worker down` first",
            set.id,
            set.workers.iter().map(|w| w.name.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    let image = match options.backend {
        Backend::Docker => Some(ensure_image(work_dir)?),
        Backend::Sshd => None,
    };
    let set = start(work_dir, &Options { persistent: true, ..options.clone() })?;
    let json = serde_json::to_string_pretty(&set).context("recording a worker set")?;
    write_atomic(&state, json.as_bytes())?;
    let deploy_dir = work_dir.join("deploy");
    create_dir(&deploy_dir)?;
    let target_file = deploy_dir.join("workers.toml");
    write_atomic(&target_file, set.target_toml("workers").as_bytes())?;
    Ok(Up { set, image, target_file })
}

/// Stops the set [`up`] started and removes its records; `None` when no set is up.
pub fn down(work_dir: &Utf8Path) -> Result<Option<WorkerSet>, KitError> {
    let state = state_file(work_dir);
    if !state.exists() {
        return Ok(None);
    }
    let set = WorkerSet::load(&state)?;
    set.stop()?;
    std::fs::remove_file(&state).with_context(|| format!("removing {state}"))?;
    let _ = std::fs::remove_file(work_dir.join("deploy/workers.toml"));
    Ok(Some(set))
}

/// `<work>/state.json`: the set of `cargo xtask worker up`.
pub fn state_file(work_dir: &Utf8Path) -> Utf8PathBuf {
    work_dir.join("state.json")
}

/// Generates an ed25519 key pair without a passphrase at `path` and `path.pub`.
fn keygen(path: &Utf8Path, comment: &str) -> Result<(), KitError> {
    let dir = path.parent().expect("a key file has a directory");
    create_dir(dir)?;
    Cmd::new("ssh-keygen", dir)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path.as_str()])
        .run()
        .with_context(|| format!("generating an SSH key at {path} (ssh-keygen is in openssh-client)"))?;
    Ok(())
}

/// A known_hosts line for the public key at `pub_key` served at `host:port`.
fn known_hosts_line(host: &str, port: u16, pub_key: &Utf8Path) -> Result<String, KitError> {
    let text = read(pub_key)?;
    let fields: Vec<&str> = text.split_whitespace().take(2).collect();
    if fields.len() != 2 {
        return Err(failed(format!("{pub_key} is not an OpenSSH public key")));
    }
    let spec = if port == 22 { host.to_owned() } else { format!("[{host}]:{port}") };
    Ok(format!("{spec} {} {}\n", fields[0], fields[1]))
}

/// The sshd configuration every worker runs with; `extra` adds lines (address, paths).
fn sshd_config(extra: &str) -> String {
    format!(
        "# sshd of a pad worker: key login for {SSH_USER} only.\n\
         {extra}\
         UsePAM no\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin no\n\
         AllowUsers {SSH_USER}\n\
         MaxStartups 64:30:128\n\
         MaxSessions 64\n\
         PrintMotd no\n\
         Subsystem sftp internal-sftp\n"
    )
}

/// `/etc/sudoers.d/pad`.
fn sudoers_rule() -> String {
    format!("{SSH_USER} ALL=({SERVICE_USER}) NOPASSWD: ALL\n")
}

/// Waits until `host:port` answers with an SSH banner; `alive` says whether waiting
/// still makes sense, `log` what to show when it does not answer.
fn wait_for_ssh(
    name: &str,
    host: &str,
    port: u16,
    alive: &dyn Fn() -> bool,
    log: &dyn Fn() -> String,
) -> Result<(), KitError> {
    let start = Instant::now();
    let addr = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?
        .next()
        .ok_or_else(|| failed(format!("no address for {host}")))?;
    loop {
        if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            stream.set_read_timeout(Some(Duration::from_secs(2))).with_context(|| format!("reading {host}:{port}"))?;
            let mut banner = [0u8; 8];
            if stream.read_exact(&mut banner).is_ok() && banner.starts_with(b"SSH-") {
                return Ok(());
            }
        }
        if !alive() {
            return Err(failed(format!(
                "worker {name} stopped before sshd answered on {host}:{port}; its log:\n{}",
                log()
            )));
        }
        if start.elapsed() > READY_TIMEOUT {
            return Err(failed(format!(
                "worker {name}: sshd did not answer on {host}:{port} within {READY_TIMEOUT:?}; its log:\n{}",
                log()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Holds an exclusive lock on `path` (created if needed) until the file is dropped.
fn lock(path: &Utf8Path) -> Result<File, KitError> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening the lock file {path}"))?;
    file.lock().with_context(|| format!("locking {path}"))?;
    Ok(file)
}

/// Writes `bytes` to a temporary name beside `path`, then renames it into place.
fn write_atomic(path: &Utf8Path, bytes: &[u8]) -> Result<(), KitError> {
    pad_stdx::write_atomic(path, bytes, 0o644).with_context(|| format!("writing {path}"))
}

fn create_dir(dir: &Utf8Path) -> Result<(), KitError> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))
}

fn read(path: &Utf8Path) -> Result<String, KitError> {
    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))
}

/// A TOML basic string.
fn toml_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A set ID unique on this machine: short, and usable in Docker names.
fn new_id(persistent: bool) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let prefix = if persistent { "up" } else { "t" };
    format!("{prefix}{}-{n}-{:04x}", std::process::id(), (nanos >> 10) & 0xffff)
}

/// `<pid>:<start time>` of a process, so a reused PID is not taken for its owner.
fn owner_token(pid: u32) -> String {
    format!("{pid}:{}", process_start(pid).unwrap_or_default())
}

fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the command: state is field 3, start time field 22.
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19).map(|s| (*s).to_owned())
}

/// Whether the process a token names still runs; `user` sets are always alive.
fn owner_alive(token: &str) -> bool {
    if token == USER_OWNER {
        return true;
    }
    let Some((pid, start)) = token.split_once(':') else { return false };
    let Ok(pid) = pid.parse::<u32>() else { return false };
    process_start(pid).is_some_and(|s| s == start)
}

/// Tears down sets whose owning process is gone (a test run that was killed).
fn sweep_stale(work_dir: &Utf8Path) {
    let Ok(entries) = work_dir.join("sets").read_dir_utf8() else { return };
    for entry in entries.flatten() {
        let record = entry.path().join("set.json");
        let Ok(set) = WorkerSet::load(&record) else { continue };
        if owner_alive(&set.owner) {
            continue;
        }
        tracing::info!("removing worker set {} left by a process that is gone", set.id);
        if let Err(err) = set.stop() {
            tracing::warn!("removing the stale worker set {}: {}", set.id, pad_layout::error_chain(&err));
        }
    }
    docker::sweep_labelled();
}
