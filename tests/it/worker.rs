//! Real worker hosts for the deploy tests: containers built here from a debootstrapped
//! Debian (or, without a Docker engine or with `PAD_WORKER_BACKEND=sshd`, one sshd per
//! worker on a loopback address), each with `deployer` (key only), `airflow-svc`, the sudo
//! rule and `AIRFLOW_HOME=/srv/airflow`. The logic is `pad_testkit::worker`, shared with
//! `cargo xtask worker up/down`; this is its test-side wrapper, which panics with the
//! worker's log on failure and tears the set down when dropped.
//!
//! The tests at the bottom check the harness itself.

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::{Cmd, Finished};
use pad_testkit::worker as harness;

use crate::support::{e2e_enabled, shared_target, workspace_root};

/// Says in the test output (past libtest's capture, so a passing run shows it too) what
/// a test could not prove because its workers are sshd processes on this machine.
pub(crate) fn unproven(test: &str, what: &str) {
    use std::io::Write;
    let line = format!(
        "NOT PROVEN by {test} (sshd workers: no Docker engine, or PAD_WORKER_BACKEND=sshd): {what}; {}\n",
        harness::SSHD_UNPROVEN
    );
    // Written to the file descriptor, not through eprintln!, which the harness captures.
    std::io::stderr().write_all(line.as_bytes()).unwrap();
}

/// A file of this machine that no container can see, to check a worker does not.
pub(crate) fn host_marker() -> tempfile::NamedTempFile {
    let marker = tempfile::Builder::new().prefix("pad-host-only-").tempfile_in("/tmp").unwrap();
    std::fs::write(marker.path(), "this machine\n").unwrap();
    marker
}

/// What to start.
#[derive(Debug, Clone)]
pub(crate) struct WorkerOptions {
    pub(crate) count: usize,
    /// `deployer ALL=(airflow-svc) NOPASSWD: ALL` in `/etc/sudoers.d/pad` (default true).
    pub(crate) sudo_rule: bool,
    /// `AIRFLOW_HOME` as a tmpfs of this size, such as `Some("8m")`.
    pub(crate) airflow_home_tmpfs: Option<&'static str>,
}

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions { count: 1, sudo_rule: true, airflow_home_tmpfs: None }
    }
}

/// Running workers; dropping the set removes them (by container ID) and their network.
pub(crate) struct WorkerSet {
    inner: harness::WorkerSet,
    workers: Vec<Worker>,
}

/// One worker host.
#[derive(Debug, Clone)]
pub(crate) struct Worker {
    pub(crate) name: String,
    /// Reachable from the tests: the container's address, or 127.0.0.x in the fallback.
    pub(crate) host: String,
    /// 22 in containers, 2222… in the fallback.
    pub(crate) port: u16,
    /// `deployer`, key only.
    pub(crate) ssh_user: String,
    /// `airflow-svc`.
    pub(crate) service_user: String,
    /// The private key of `deployer` (no passphrase).
    pub(crate) identity: Utf8PathBuf,
    /// This worker's host key as a known_hosts line (`host` or `[host]:port`).
    pub(crate) known_hosts: Utf8PathBuf,
    /// `/srv/airflow`, owned by `airflow-svc`; `/srv` is root's.
    pub(crate) airflow_home: String,
    inner: harness::Worker,
}

/// The directory the worker image, its root filesystem and the sets live in.
pub(crate) fn work_dir() -> Utf8PathBuf {
    workspace_root().join("target/worker")
}

impl WorkerSet {
    /// Starts the workers, building the worker image first if its recipe changed.
    #[track_caller]
    pub(crate) fn start(options: WorkerOptions) -> WorkerSet {
        let backend = harness::Backend::detect().unwrap_or_else(|e| panic!("{e:?}"));
        let inner = harness::start(
            &work_dir(),
            &harness::Options {
                count: options.count,
                sudo_rule: options.sudo_rule,
                airflow_home_tmpfs: options.airflow_home_tmpfs.map(str::to_owned),
                backend,
                persistent: false,
            },
        )
        .unwrap_or_else(|e| panic!("starting {} worker(s) ({backend:?}) failed: {e:?}", options.count));
        let workers = inner
            .workers
            .iter()
            .map(|w| Worker {
                name: w.name.clone(),
                host: w.host.clone(),
                port: w.port,
                ssh_user: w.ssh_user.clone(),
                service_user: w.service_user.clone(),
                identity: w.identity.clone(),
                known_hosts: w.known_hosts.clone(),
                airflow_home: w.airflow_home.clone(),
                inner: w.clone(),
            })
            .collect();
        WorkerSet { inner, workers }
    }

    pub(crate) fn workers(&self) -> &[Worker] {
        &self.workers
    }

    /// One known_hosts file with every worker's key.
    pub(crate) fn known_hosts_file(&self) -> Utf8PathBuf {
        self.inner.known_hosts.clone()
    }

    /// The text of a `deploy/<name>.toml` for these workers.
    pub(crate) fn target_toml(&self, name: &str) -> String {
        self.inner.target_toml(name)
    }

    /// Whether the workers are containers (else sshd processes on loopback).
    pub(crate) fn is_docker(&self) -> bool {
        self.inner.backend == harness::Backend::Docker
    }
}

impl Drop for WorkerSet {
    fn drop(&mut self) {
        if let Err(err) = self.inner.stop() {
            eprintln!("warning: tearing down worker set {}: {err:?}", self.inner.id);
        }
    }
}

impl Worker {
    /// Runs `sh -c script` as root on the worker (docker exec; nsenter in the fallback).
    #[track_caller]
    pub(crate) fn exec_root(&self, script: &str) -> Finished {
        self.inner.exec_root(script).unwrap_or_else(|e| panic!("worker {}: {e:?}", self.name))
    }

    /// Runs `sh -c script` as `airflow-svc` on the worker.
    #[track_caller]
    pub(crate) fn exec_as_service(&self, script: &str) -> Finished {
        self.inner.exec_as_service(script).unwrap_or_else(|e| panic!("worker {}: {e:?}", self.name))
    }

    /// Runs `script` as `deployer` over SSH with the system client, host key checked,
    /// giving up after 5 s without an answer.
    pub(crate) fn ssh(&self, script: &str) -> Finished {
        Cmd::new("ssh", Utf8Path::new("/"))
            .args(["-i", self.identity.as_str(), "-p", &self.port.to_string()])
            .args(["-o", &format!("UserKnownHostsFile={}", self.known_hosts)])
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"])
            .args(["-o", "ServerAliveInterval=2", "-o", "ServerAliveCountMax=2", "-o", "LogLevel=ERROR"])
            .arg(format!("{}@{}", self.ssh_user, self.host))
            .arg(script)
            .run_unchecked()
            .unwrap()
    }

    /// Copies a file of this machine onto the worker.
    #[track_caller]
    pub(crate) fn copy_in(&self, from: &Utf8Path, dest: &str) {
        self.inner.copy_in(from, dest).unwrap_or_else(|e| panic!("worker {}: {e:?}", self.name));
    }

    /// Takes the worker off its network (docker network disconnect; iptables DROP in the
    /// fallback): connections to it hang.
    #[track_caller]
    pub(crate) fn cut_network(&self) {
        self.inner.cut_network().unwrap_or_else(|e| panic!("worker {}: {e:?}", self.name));
    }

    /// Puts it back, at the same address.
    #[track_caller]
    pub(crate) fn restore_network(&self) {
        self.inner.restore_network().unwrap_or_else(|e| panic!("worker {}: {e:?}", self.name));
    }

    /// docker pause (SIGSTOP to the worker's processes in the fallback).
    #[track_caller]
    pub(crate) fn pause(&self) {
        self.inner.pause().unwrap_or_else(|e| panic!("worker {}: {e:?}", self.name));
    }

    #[track_caller]
    pub(crate) fn unpause(&self) {
        self.inner.unpause().unwrap_or_else(|e| panic!("worker {}: {e:?}", self.name));
    }

    /// docker kill (SIGKILL to the worker's processes in the fallback).
    #[track_caller]
    pub(crate) fn kill(&self) {
        self.inner.kill().unwrap_or_else(|e| panic!("worker {}: {e:?}", self.name));
    }

    /// Copies an environment packed by [`airflow_env_tarball`] onto the worker and unpacks
    /// it at `/opt/airflow-venv` (root's, readable by `airflow-svc`).
    #[track_caller]
    pub(crate) fn install_airflow(&self, tarball: &Utf8Path) {
        self.inner.install_airflow(tarball).unwrap_or_else(|e| panic!("worker {}: {e:?}", self.name));
    }

    /// `/opt/airflow-venv/bin/airflow ARGS` (a shell command line) as `airflow-svc` with
    /// `AIRFLOW_HOME=/srv/airflow`, in that directory.
    #[track_caller]
    pub(crate) fn airflow(&self, args: &str) -> Finished {
        self.inner.airflow(args).unwrap_or_else(|e| panic!("worker {}: {e:?}", self.name))
    }

    /// The container's ID (Docker backend).
    pub(crate) fn container_id(&self) -> Option<&str> {
        match &self.inner.handle {
            harness::Handle::Container { id, .. } => Some(id),
            harness::Handle::Sshd { .. } => None,
        }
    }
}

/// The Airflow pinned in `deploy/airflow/<series>` as a relocatable `venv.tar.gz` whose
/// interpreter is the workers' `/usr/bin/python3.11`, built once (keyed by its lock) in
/// the e2e tests' shared target directory.
#[track_caller]
pub(crate) fn airflow_env_tarball(series: &str) -> Utf8PathBuf {
    harness::airflow_env(&workspace_root(), &shared_target(), series).unwrap_or_else(|e| panic!("{e:?}")).tarball
}

#[track_caller]
fn assert_ok(what: &str, out: &Finished) {
    assert!(out.status.success(), "{what} failed ({})\nstdout:\n{}\nstderr:\n{}", out.status, out.stdout, out.stderr);
}

/// Whether a container with this ID exists at all (`docker ps -a`).
fn container_exists(id: &str) -> bool {
    let out = Cmd::new("docker", Utf8Path::new("/"))
        .args(["ps", "--all", "--quiet", "--no-trunc", "--filter", &format!("id={id}")])
        .read()
        .unwrap();
    !out.is_empty()
}

#[test]
fn two_workers_answer_ssh_run_sudo_and_keep_their_own_files() {
    if !e2e_enabled("two_workers_answer_ssh_run_sudo_and_keep_their_own_files") {
        return;
    }
    let set = WorkerSet::start(WorkerOptions { count: 2, ..WorkerOptions::default() });
    let [w1, w2] = set.workers() else { panic!("expected 2 workers") };
    assert_ne!((&w1.host, w1.port), (&w2.host, w2.port));

    for worker in set.workers() {
        let line = std::fs::read_to_string(&worker.known_hosts).unwrap();
        let spec = if worker.port == 22 { worker.host.clone() } else { format!("[{}]:{}", worker.host, worker.port) };
        assert!(line.starts_with(&format!("{spec} ssh-ed25519 ")), "{line}");

        let out = worker.ssh("id -un; sudo -n -u airflow-svc id -un; stat -c '%U %a' /srv/airflow /srv");
        assert_ok("ssh + sudo", &out);
        assert_eq!(out.stdout, "deployer\nairflow-svc\nairflow-svc 755\nroot 755\n");
        // deployer cannot write AIRFLOW_HOME or its parent itself.
        let out = worker.ssh("touch /srv/airflow/x || touch /srv/x");
        assert!(!out.status.success(), "deployer could write under /srv: {}", out.stdout);
    }
    // The combined file names every worker.
    let all = std::fs::read_to_string(set.known_hosts_file()).unwrap();
    assert_eq!(all.lines().count(), 2, "{all}");

    // The worker's interpreter is its own Debian's, at the path the host's is, and
    // nothing of this machine is visible there. Only containers can show that: an sshd
    // worker's /usr/bin/python3.11 is this machine's own file.
    let version = "import sys; print(sys.executable, *sys.version_info[:2])";
    let out = w1.exec_as_service(&format!("/usr/bin/python3.11 -c '{version}'"));
    assert_ok("python3.11 on the worker", &out);
    if set.is_docker() {
        let here = Cmd::new("/usr/bin/python3.11", Utf8Path::new("/")).args(["-c", version]).read().unwrap();
        assert_eq!(out.stdout.trim(), here);
        let marker = host_marker();
        let path = marker.path().to_str().unwrap();
        let seen = w1.exec_root(&format!("test -e {path} && echo visible || echo absent"));
        assert_eq!(seen.stdout, "absent\n", "the worker sees {path} of this machine");
        // The same inode on the same device would be the same file.
        let host_python =
            Cmd::new("stat", Utf8Path::new("/")).args(["-L", "-c", "%i %d", "/usr/bin/python3.11"]).read().unwrap();
        let worker_python = w1.exec_root("stat -L -c '%i %d' /usr/bin/python3.11").stdout;
        assert_ne!(host_python.trim(), worker_python.trim(), "the worker's python3.11 is this machine's file");
    } else {
        unproven(
            "two_workers_answer_ssh_run_sudo_and_keep_their_own_files",
            "that the worker's python3.11 is its own and that it sees nothing of this machine",
        );
    }

    // Separate filesystems: what one worker writes, the other does not see.
    assert_eq!((w1.service_user.as_str(), w1.airflow_home.as_str()), ("airflow-svc", "/srv/airflow"));
    assert_ok("write", &w1.exec_as_service(&format!("echo one > {}/marker", w1.airflow_home)));
    assert_eq!(w1.exec_root("cat /srv/airflow/marker").stdout, "one\n");
    assert!(!w2.exec_root("test -e /srv/airflow/marker").status.success(), "w2 sees w1's file");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "copied\n").unwrap();
    w2.copy_in(Utf8Path::from_path(file.path()).unwrap(), "/srv/airflow/copied");
    assert_eq!(w2.exec_root("cat /srv/airflow/copied").stdout, "copied\n");

    // The target file parses and names both workers.
    let toml = set.target_toml("workers");
    for worker in set.workers() {
        assert!(toml.contains(&format!("\"{}\"", worker.host)), "{toml}");
    }
    assert!(toml.contains(&format!("port = {}", w1.port)), "{toml}");
    assert!(toml.contains(set.known_hosts_file().as_str()), "{toml}");

    // A worker cut off the network cannot be reached; back on it, it answers again.
    w1.cut_network();
    let out = w1.ssh("true");
    assert!(!out.status.success(), "ssh reached a worker that is cut off");
    assert_ok("ssh to the other worker", &w2.ssh("true"));
    w1.restore_network();
    assert_ok("ssh after restore_network", &w1.ssh("true"));

    // Paused, it does not answer; unpaused, it does.
    w2.pause();
    assert!(!w2.ssh("true").status.success(), "ssh reached a paused worker");
    w2.unpause();
    assert_ok("ssh after unpause", &w2.ssh("true"));

    // Killed, it is gone.
    w2.kill();
    assert!(!w2.ssh("true").status.success(), "ssh reached a killed worker");

    let ids: Vec<String> = set.workers().iter().filter_map(|w| w.container_id().map(str::to_owned)).collect();
    let docker = set.is_docker();
    drop(set);
    if docker {
        assert_eq!(ids.len(), 2);
        for id in ids {
            assert!(!container_exists(&id), "container {id} is still there after drop");
        }
    }
}

#[test]
fn without_the_sudo_rule_sudo_is_refused() {
    if !e2e_enabled("without_the_sudo_rule_sudo_is_refused") {
        return;
    }
    let set = WorkerSet::start(WorkerOptions { count: 1, sudo_rule: false, airflow_home_tmpfs: None });
    let worker = &set.workers()[0];
    let out = worker.ssh("sudo -n -u airflow-svc id -un");
    assert!(!out.status.success(), "sudo worked without the rule: {}", out.stdout);
    assert!(out.stderr.contains("sudo"), "{}", out.stderr);
    assert!(!worker.exec_root("test -e /etc/sudoers.d/pad").status.success(), "the rule file is there");
}

#[test]
fn a_tmpfs_airflow_home_is_small_and_fills_up() {
    if !e2e_enabled("a_tmpfs_airflow_home_is_small_and_fills_up") {
        return;
    }
    let set = WorkerSet::start(WorkerOptions { count: 1, sudo_rule: true, airflow_home_tmpfs: Some("8m") });
    let worker = &set.workers()[0];
    let out = worker.exec_as_service("df -k --output=fstype,size /srv/airflow | tail -1; stat -c %U /srv/airflow");
    assert_ok("df", &out);
    assert_eq!(out.stdout.split_whitespace().collect::<Vec<_>>(), ["tmpfs", "8192", "airflow-svc"], "{}", out.stdout);
    // Programs run from it (Docker mounts a tmpfs noexec unless told otherwise).
    let out = worker.exec_as_service("cp /bin/true /srv/airflow/t && /srv/airflow/t && echo ran");
    assert_eq!(out.stdout, "ran\n", "{}", out.stderr);
    let out = worker.ssh("sudo -n -u airflow-svc sh -c 'head -c 10000000 /dev/zero > /srv/airflow/big'");
    assert!(!out.status.success());
    assert!(out.stderr.contains("No space left on device"), "{}", out.stderr);
}

#[test]
fn the_worker_image_is_built_once() {
    if !e2e_enabled("the_worker_image_is_built_once") {
        return;
    }
    // With PAD_REQUIRE_DOCKER=1 (cargo xtask ci, engine found) a missing engine fails here.
    let backend = harness::Backend::detect().unwrap_or_else(|e| panic!("{e}"));
    if backend != harness::Backend::Docker {
        unproven("the_worker_image_is_built_once", "that the worker image is built from its recipe, once");
        return;
    }
    let first = harness::ensure_image(&work_dir()).unwrap();
    let again = harness::ensure_image(&work_dir()).unwrap();
    assert_eq!(first.tag, again.tag);
    assert!(!again.built, "the image was built again although its recipe did not change");
    eprintln!(
        "worker image {}: first call {:.1} s (built: {}), cached {:.2} s",
        first.tag, first.seconds, first.built, again.seconds
    );
}

#[test]
fn real_airflow_runs_on_a_worker_from_an_env_built_here() {
    if !e2e_enabled("real_airflow_runs_on_a_worker_from_an_env_built_here") {
        return;
    }
    let started = std::time::Instant::now();
    let tarball = airflow_env_tarball("2.10");
    eprintln!("Airflow 2.10 env for the workers: {tarball} ({:.1} s)", started.elapsed().as_secs_f64());
    let set = WorkerSet::start(WorkerOptions::default());
    let worker = &set.workers()[0];
    let started = std::time::Instant::now();
    worker.install_airflow(&tarball);
    eprintln!("installed on {} in {:.1} s", worker.name, started.elapsed().as_secs_f64());
    let out = worker.exec_as_service("readlink /opt/airflow-venv/bin/python; stat -c %U /opt/airflow-venv");
    assert_eq!(out.stdout, "/usr/bin/python3.11\nroot\n", "{}", out.stderr);
    let out = worker.airflow("version");
    assert_ok("airflow version on the worker", &out);
    assert!(out.stdout.trim().ends_with("2.10.5"), "{}", out.stdout);
    // Installing the same tarball again changes nothing.
    worker.install_airflow(&tarball);
    assert_ok("airflow version after reinstall", &worker.airflow("version"));
}
