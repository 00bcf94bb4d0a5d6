//! Installs a package into `AIRFLOW_HOME` as an atomic, incremental, reversible release:
//! on this machine, or on worker hosts over SSH (`ssh2`) as the service user.
//!
//! A deploy runs ten steps on every host of a [`Target`], all hosts in parallel:
//!
//! 1. **connect**: nothing for the local target; for a remote one an SSH session whose
//!    host key is checked against known_hosts (an unknown or changed key is refused with
//!    its SHA-256 fingerprint and the fix), authenticated by a key file or the ssh-agent,
//!    and a check that `sudo -n -u <service_user>` is allowed, before anything is written.
//! 2. **lock**: a live process on the host (`sh`, as the service user) creates
//!    `$AIRFLOW_HOME/.pad/lock/` with `mkdir`, records the owner, its pid and the time,
//!    and holds it while its standard input stays open: the lock dies with the client or
//!    its SSH session. A second deploy is told who holds it; a lock whose process is dead
//!    (or silent for [`LOCK_STALE_SECS`]) is reported as stale and cleared.
//! 3. **inspect**: partial directories of an interrupted run are removed, then the host's
//!    content store, releases, `current` and history are read.
//! 4. **upload**: only the files whose content the store lacks, as one gzipped tar
//!    streamed into `tar -xzf -` on the host; each object is checked with `sha256sum`
//!    before it is renamed into `$AIRFLOW_HOME/.pad/store/<sha256>-<mode>`.
//! 5. **unpack**: `releases/.tmp-<id>-<nonce>/` is assembled from the store (hard links,
//!    else copies), each project's `venv.tar.gz` unpacked beside itself into `venv/` (or
//!    linked to the copy in `.pad/envs/<key>/` that was unpacked and smoke-tested on the
//!    host before), and the target's `[env]` written to `.env`.
//! 6. **verify**: every file against the manifest (`sha256sum -c`) and every link.
//! 7. **smoke test**: each project's `venv/bin/python -c 'import <package>'` as the
//!    service user; an interpreter the host lacks is named. An environment linked from
//!    `.pad/envs/` whose project files passed before is not tested again; one that
//!    passed is kept there.
//! 8. **switch**: the release is renamed to `releases/<id>`, then `current` is switched by
//!    renaming a new symlink over it; `dags -> current/dags` and
//!    `<project> -> current/projects/<project>` are made once (a plain `dags/` directory
//!    found there is moved aside, never deleted).
//! 9. **prune**: releases beyond `keep`, never the current or the previous one, and store
//!    objects no kept release uses.
//! 10. **unlock**.
//!
//! With [`ConnectOptions::namespace`], all of this happens in
//! `$AIRFLOW_HOME/namespaces/<NS>/` (its own releases, `current`, lock and history; the
//! store shared through a link), and `$AIRFLOW_HOME/dags` becomes a directory of links,
//! one per namespace (`prod` for the plain deploy), each to a `current`.
//! [`list_namespaces`] and [`remove_namespaces`] list and remove them.
//!
//! A failure or an interruption at any step leaves the previous release serving; the
//! next run removes what the interrupted one left. The release id is
//! `<version>-<12 hex digits>` from the package's inputs hash (and the `.env`), so
//! deploying an unchanged package finds its release complete and only checks it.
//!
//! Every command on a host runs as `sudo -n -u <service_user> -- sh -c '<script>'` (or
//! `sh -c` when the target names no service user) with every value shell-quoted. Hosts
//! need only POSIX `sh`, `tar` (with `gzip`), `sudo` and coreutils.
//!
//! The crate prints nothing: progress goes to a [`Progress`], results come back as a
//! [`DeployReport`].

// A deploy returns an error once per host, and the errors carry what a person needs
// to fix them (fingerprints, paths, commands): their size costs nothing that matters.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use pad_layout::Target;
use serde::Serialize;

mod classify;
mod clock;
mod fault;
mod gate;
mod host;
mod local;
mod lock;
mod namespaces;
mod plan;
mod run;
mod scripts;
mod session;
mod shell;
mod ssh;
mod upload;

#[cfg(test)]
mod tests;

pub use gate::Gate;
pub use namespaces::{HostNamespaces, HostRemoval, NamespaceInfo, Removal, list_namespaces, remove_namespaces};
pub use run::{deploy, releases, rollback};

/// A lock whose holder still runs but has not shown a sign of life for this long is
/// taken as abandoned (its client was cut off): the holder is stopped and the lock
/// cleared. A live client renews it every few seconds.
pub const LOCK_STALE_SECS: u64 = 600;

/// The steps of a deploy on one host, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Connect,
    Lock,
    Inspect,
    Upload,
    Unpack,
    Verify,
    SmokeTest,
    Switch,
    Prune,
    Unlock,
}

impl Step {
    pub const ALL: [Step; 10] = [
        Step::Connect,
        Step::Lock,
        Step::Inspect,
        Step::Upload,
        Step::Unpack,
        Step::Verify,
        Step::SmokeTest,
        Step::Switch,
        Step::Prune,
        Step::Unlock,
    ];

    /// 1 to 10.
    pub fn number(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).expect("listed") + 1
    }

    pub fn name(self) -> &'static str {
        match self {
            Step::Connect => "connect",
            Step::Lock => "lock",
            Step::Inspect => "inspect",
            Step::Upload => "upload",
            Step::Unpack => "unpack",
            Step::Verify => "verify",
            Step::SmokeTest => "smoke test",
            Step::Switch => "switch",
            Step::Prune => "prune",
            Step::Unlock => "unlock",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/10 {}", self.number(), self.name())
    }
}

/// Where a deploy reports what it is doing, per host. Called from several threads.
pub trait Progress: Sync {
    /// `host` starts `step`.
    fn step(&self, host: &str, step: Step);
    /// Something a person should know: a directory moved aside, a stale lock cleared,
    /// bytes uploaded.
    fn note(&self, host: &str, message: &str);
    /// `host` has prepared its release and waits for the [`Gate`] (`what` it waits for:
    /// "the tests"). Its next step, or its end, follows.
    fn waiting(&self, host: &str, what: &str) {
        let _ = (host, what);
    }
}

/// `()` reports nothing.
impl Progress for () {
    fn step(&self, _host: &str, _step: Step) {}
    fn note(&self, _host: &str, _message: &str) {}
}

/// How to deploy.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// The package file, `platform-airflow-dags-<version>.tar.gz`.
    pub package: Utf8PathBuf,
    /// Options shared with `releases` and `rollback`.
    pub connect: ConnectOptions,
    /// How many hosts may fail before the deploy is abandoned everywhere (scap's
    /// `failure_limit`): with more failures no host switches, and hosts that already
    /// switched are switched back.
    pub failure_limit: usize,
    /// Where the packed environments whose entries passed are remembered, by SHA-256
    /// (`pad_bundle::VerifyOptions::checked_envs`), so a redeploy hashes them instead
    /// of unpacking them again to check. `None` checks every time.
    pub checked_envs: Option<Utf8PathBuf>,
    /// Prepare the release on every host, then wait for this go-ahead before making it
    /// and switching; refused, every host removes what it prepared and stays as it was.
    pub gate: Option<std::sync::Arc<Gate>>,
}

/// How to reach a target's hosts.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The repository root: a local target's relative `airflow_home` is taken from it.
    pub root: Utf8PathBuf,
    /// Values for `${VAR}` in the target; `None` reads the process environment.
    pub vars: Option<BTreeMap<String, String>>,
    /// Trust and record the host key of a host known_hosts does not list yet.
    pub accept_new_host_key: bool,
    /// How long to wait for a lock another deploy holds before failing.
    pub lock_wait: Duration,
    /// How long a host may stay silent before its connection is taken as lost (at least
    /// 5 s; the scripts of long steps print a tick every 2 s).
    pub io_timeout: Duration,
    /// Hash every file of a release that is already on the host. Otherwise a release that
    /// passed a full check is taken as intact while the size, modification time and inode
    /// of each of its files are unchanged (the no-op redeploy's fast path).
    pub full_verify: bool,
    /// The namespace to deploy into, list or roll back (`None`: the plain deploy). Its
    /// releases, `current`, lock and history live in `<AIRFLOW_HOME>/namespaces/<NS>`;
    /// the content store is shared.
    pub namespace: Option<String>,
    /// The test data profile the runtime helper reports (`projects/<p>/fixtures/<profile>/`).
    pub data_profile: Option<String>,
    /// Where each project's artifacts (`artifacts.yaml`) are in the target's artifact
    /// cache, by project and artifact name: what the runtime helper's `artifact()` says.
    pub artifacts: BTreeMap<String, BTreeMap<String, String>>,
}

impl ConnectOptions {
    pub fn new(root: &Utf8Path) -> ConnectOptions {
        ConnectOptions {
            root: root.to_owned(),
            vars: None,
            accept_new_host_key: false,
            lock_wait: Duration::ZERO,
            io_timeout: Duration::from_secs(60),
            full_verify: false,
            namespace: None,
            data_profile: None,
            artifacts: BTreeMap::new(),
        }
    }
}

impl DeployOptions {
    pub fn new(package: &Utf8Path, root: &Utf8Path) -> DeployOptions {
        DeployOptions {
            package: package.to_owned(),
            connect: ConnectOptions::new(root),
            failure_limit: 0,
            checked_envs: None,
            gate: None,
        }
    }
}

/// What happened on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostState {
    /// `current` now points at the new release.
    Switched,
    /// The release was already current and checked out whole; nothing changed.
    Unchanged,
    /// The release is ready but was not switched to, because other hosts failed.
    NotSwitched,
    /// The host switched, then was switched back because other hosts failed.
    RolledBack,
    /// The deploy failed on this host; its previous release still serves.
    Failed,
}

/// How long one step took.
#[derive(Debug, Clone, Serialize)]
pub struct StepTime {
    pub step: Step,
    pub seconds: f64,
}

/// The deploy of one host.
#[derive(Debug, Serialize)]
pub struct HostReport {
    pub host: String,
    pub state: HostState,
    pub release_id: String,
    /// The release `current` pointed at before.
    pub previous: Option<String>,
    /// Bytes sent for the upload, as they went over the wire (gzipped tar).
    pub bytes_uploaded: u64,
    /// Files uploaded to the store, and their size before compression.
    pub objects_uploaded: usize,
    pub object_bytes: u64,
    /// Files the store already had.
    pub objects_reused: usize,
    /// Releases and store objects pruned.
    pub pruned_releases: Vec<String>,
    pub pruned_objects: usize,
    pub steps: Vec<StepTime>,
    /// What a person should know (directories moved aside, stale locks cleared).
    pub notes: Vec<String>,
    #[serde(serialize_with = "serialize_error")]
    pub error: Option<DeployError>,
}

impl HostReport {
    /// A host's report before anything happened: failed until a deploy says otherwise.
    pub(crate) fn failed(host: &str, release_id: &str) -> HostReport {
        HostReport {
            host: host.to_owned(),
            state: HostState::Failed,
            release_id: release_id.to_owned(),
            previous: None,
            bytes_uploaded: 0,
            objects_uploaded: 0,
            object_bytes: 0,
            objects_reused: 0,
            pruned_releases: Vec::new(),
            pruned_objects: 0,
            steps: Vec::new(),
            notes: Vec::new(),
            error: None,
        }
    }
}

/// The deploy of every host of a target.
#[derive(Debug, Serialize)]
pub struct DeployReport {
    pub target: String,
    /// The namespace deployed into; `None` for the plain deploy.
    pub namespace: Option<String>,
    pub release_id: String,
    pub version: String,
    pub failure_limit: usize,
    /// More hosts failed than `failure_limit` allows: no host keeps the new release.
    pub aborted: bool,
    pub hosts: Vec<HostReport>,
}

impl DeployReport {
    pub fn failed(&self) -> usize {
        self.hosts.iter().filter(|h| h.state == HostState::Failed).count()
    }

    /// Whether every host serves the new release.
    pub fn success(&self) -> bool {
        !self.aborted && self.hosts.iter().all(|h| matches!(h.state, HostState::Switched | HostState::Unchanged))
    }
}

/// One release on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseInfo {
    pub id: String,
    pub version: Option<String>,
    pub commit: Option<String>,
    /// When it was first made current, seconds since the Unix epoch.
    pub deployed_at: Option<u64>,
    pub deployed_by: Option<String>,
    pub current: bool,
    pub previous: bool,
}

/// The releases of one host, oldest first.
#[derive(Debug, Serialize)]
pub struct HostReleases {
    pub host: String,
    pub releases: Vec<ReleaseInfo>,
    #[serde(serialize_with = "serialize_error")]
    pub error: Option<DeployError>,
}

/// The rollback of one host.
#[derive(Debug, Serialize)]
pub struct RollbackReport {
    pub host: String,
    pub from: Option<String>,
    pub to: Option<String>,
    #[serde(serialize_with = "serialize_error")]
    pub error: Option<DeployError>,
}

pub(crate) fn serialize_error<S: serde::Serializer>(error: &Option<DeployError>, s: S) -> Result<S::Ok, S::Error> {
    match error {
        Some(error) => s.serialize_some(&pad_layout::error_chain(error)),
        None => s.serialize_none(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("failed to read the package `{path}`")]
    Package {
        path: Utf8PathBuf,
        #[source]
        source: pad_bundle::BundleError,
    },
    #[error("failed to read the package `{path}`")]
    PackageIo {
        path: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the package `{path}` cannot be deployed: {reason}")]
    BadPackage { path: Utf8PathBuf, reason: String },
    #[error("target `{target}`: {what}")]
    Vars {
        target: String,
        what: &'static str,
        #[source]
        source: pad_layout::vars::VarError,
    },
    #[error("target `{target}`: {message}")]
    Config { target: String, message: String },
    #[error("{host}: cannot connect to port {port}")]
    Connect {
        host: String,
        port: u16,
        #[source]
        source: io::Error,
    },
    #[error("{host}: SSH failed to {action}")]
    Ssh {
        host: String,
        action: String,
        #[source]
        source: ssh2::Error,
    },
    #[error(
        "{host}: its host key ({key_type} {fingerprint}) is not in `{known_hosts}`; refusing to connect to an unknown host. Check the fingerprint with the host's administrator (on the host: `ssh-keygen -lf /etc/ssh/ssh_host_{key_file}_key.pub`), then add it with `ssh-keyscan -p {port} {host_only} >> {known_hosts}`, or pass --accept-new-host-key to trust it on first use"
    )]
    UnknownHostKey {
        host: String,
        host_only: String,
        port: u16,
        key_type: String,
        key_file: String,
        fingerprint: String,
        known_hosts: Utf8PathBuf,
    },
    #[error(
        "{host}: its host key CHANGED: it now presents {key_type} {fingerprint}, which does not match `{known_hosts}`. Someone may be intercepting the connection, or the host was reinstalled. If you know it was, remove the old key with `ssh-keygen -R '{pattern}' -f {known_hosts}` and connect again"
    )]
    ChangedHostKey { host: String, pattern: String, key_type: String, fingerprint: String, known_hosts: Utf8PathBuf },
    #[error("{host}: failed to record its host key in `{known_hosts}`")]
    RecordHostKey {
        host: String,
        known_hosts: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{host}: SSH authentication as `{user}` failed (tried: {tried}); load the key into ssh-agent (`ssh-add`) or set `identity` in the target to a private key the host accepts"
    )]
    Auth { host: String, user: String, tried: String },
    #[error(
        "{host}: `sudo -n -u {service_user}` was refused for `{login_user}`, so nothing was changed: {output}. Allow it with a sudoers rule such as `{login_user} ALL=({service_user}) NOPASSWD: ALL` in /etc/sudoers.d/ on the host"
    )]
    SudoRefused { host: String, login_user: String, service_user: String, output: String },
    #[error(
        "{host}: `{airflow_home}` holds `{marker}`: it is a source checkout, not an AIRFLOW_HOME, and a deploy would write releases/, .pad/ and current into it and move its dags/ aside; point the target's `airflow_home` (or AIRFLOW_HOME) at a directory of its own"
    )]
    NotAirflowHome { host: String, airflow_home: String, marker: String },
    #[error(
        "{host}: another deploy holds the lock `{lock}`: {holder}; wait for it to finish (or pass a lock wait), or, if that deploy is gone, the lock is cleared once its process ends"
    )]
    Locked { host: String, lock: String, holder: String },
    #[error(
        "{host}: {step} failed: `{airflow_home}` is out of disk space; free space there (or raise its quota), then deploy again:\n{output}"
    )]
    DiskFull { host: String, step: Step, airflow_home: String, output: String },
    #[error(
        "{host}: project `{project}`: its environment needs the interpreter `{interpreter}` (Python {version}), which is missing or not executable by `{user}` on the host; install Python {version} at that path on the host, or build the environment with the hosts' interpreter:\n{output}"
    )]
    Interpreter { host: String, project: String, interpreter: String, version: String, user: String, output: String },
    #[error(
        "{host}: project `{project}`: `import {package}` failed in its shipped environment, run as `{user}`:\n{output}"
    )]
    Import { host: String, project: String, package: String, user: String, output: String },
    #[error(
        "{host}: {count} file(s) of release `{release}` do not match the manifest: {files}; the bad store objects were removed, deploy again to upload them"
    )]
    Verify { host: String, release: String, count: usize, files: String },
    #[error("{host}: {step} failed (exit status {status}):\n{output}")]
    Remote { host: String, step: Step, status: i32, output: String },
    #[error("{host}: {step}: the connection failed")]
    Transport {
        host: String,
        step: Step,
        #[source]
        source: io::Error,
    },
    #[error("{host}: {step}: the host answered something unexpected: {output}")]
    Protocol { host: String, step: Step, output: String },
    #[error("{host}: there is no release `{id}`; releases on the host: {available}")]
    NoSuchRelease { host: String, id: String, available: String },
    #[error(
        "target `{target}`: there is no namespace `{name}` on any host, so nothing was removed; namespaces there: {known}{unreachable}. Check the name with `cargo xtask namespace list --target {target}`"
    )]
    NoSuchNamespace { target: String, name: String, known: String, unreachable: String },
    #[error(
        "{host}: there is no namespace `{name}` there, so nothing was changed; the namespaces a target holds are listed by `cargo xtask namespace list --target NAME`"
    )]
    NoNamespace { host: String, name: String },
    #[error("{host}: there is no previous release to roll back to (current: {current})")]
    NoPrevious { host: String, current: String },
    #[error("{host}: the release was prepared, then removed unmade: {reason}")]
    Refused { host: String, reason: String },
    #[error("{host}: not switched: {failed} of {hosts} hosts failed, more than the failure limit of {limit}")]
    FailureLimit { host: String, failed: usize, hosts: usize, limit: usize },
    #[cfg(test)]
    #[error("{host}: injected failure at {step} (test hook)")]
    Injected { host: String, step: Step },
}

/// The names of a target's hosts as reports name them (`local` for this machine).
pub fn host_names(target: &Target) -> Vec<String> {
    match &target.hosts {
        pad_layout::Hosts::Local => vec!["local".to_owned()],
        pad_layout::Hosts::Remote(hosts) => hosts.clone(),
    }
}
