//! Deploys over SSH to real worker hosts (`worker.rs`): `cargo xtask deploy`, `releases`
//! and `rollback` as a user runs them, with the host checked from inside after each step:
//! first deploy, no-op redeploy, a DAG-only change, rollback, host keys, sudo refused, a
//! full disk, the client killed mid-upload and mid-unpack, a lost network, concurrent
//! deploys, three hosts with one cut off and one whose switch fails (the others switched
//! back), a slow host, and a loop of random kill points.

use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use pad_bundle::{PackOptions, PackageFile, PackageSpec, ProjectEntry, SymlinkPolicy};
use serde_json::Value;

use crate::support::{Spawned, TestRepo, XtaskRun, e2e_enabled, xtask_cmd, xtask_with_env};
use crate::worker::{Worker, WorkerOptions, WorkerSet};

/// The workers' interpreter, which the shipped environments point at.
const WORKER_PYTHON: &str = "/usr/bin/python3.11";

/// A repository with `deploy/workers.toml` for `set`, and room for packages.
pub(crate) struct Deployer {
    pub(crate) repo: TestRepo,
    packages: Utf8PathBuf,
    _packages_dir: tempfile::TempDir,
}

impl Deployer {
    pub(crate) fn new(set: &WorkerSet) -> Deployer {
        let repo = TestRepo::empty();
        repo.write("dags/.keep", "").write("projects/.keep", "");
        repo.write("deploy/workers.toml", &set.target_toml("workers"));
        let dir = tempfile::tempdir().unwrap();
        let packages = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        Deployer { repo, packages, _packages_dir: dir }
    }

    pub(crate) fn xtask(&self, args: &[&str]) -> XtaskRun {
        let mut full = vec!["--repo", self.repo.root.as_str()];
        full.extend_from_slice(args);
        xtask_with_env(&self.repo.root, &full, &[])
    }

    /// `cargo xtask deploy --target workers --package FILE --json EXTRA…`.
    pub(crate) fn deploy(&self, package: &Utf8Path, extra: &[&str]) -> XtaskRun {
        let mut args = vec!["deploy", "--target", "workers", "--package", package.as_str(), "--json"];
        args.extend_from_slice(extra);
        self.xtask(&args)
    }

    /// The same as a child process, to kill.
    pub(crate) fn spawn_deploy(&self, package: &Utf8Path, extra: &[&str]) -> Spawned {
        let mut args = vec!["--repo", self.repo.root.as_str(), "deploy", "--target", "workers", "--package"];
        args.push(package.as_str());
        args.extend_from_slice(extra);
        Spawned::start(xtask_cmd(&self.repo.root, &args, &[]))
    }

    /// A package whose project `etl` ships an environment for the workers' interpreter.
    pub(crate) fn package(&self, spec: &Spec) -> Utf8PathBuf {
        synthetic_package(&self.packages, spec)
    }
}

/// What a synthetic package holds.
#[derive(Clone)]
pub(crate) struct Spec {
    pub(crate) version: String,
    pub(crate) dag: String,
    /// Incompressible bytes in `projects/etl/data.bin`, so the upload takes a while.
    pub(crate) big: usize,
    /// Small distinct files under `projects/etl/gen/`, so the unpack takes a while.
    pub(crate) many: usize,
    pub(crate) interpreter: String,
    /// Makes `data.bin` and the `gen/` files differ between packages.
    pub(crate) seed: u64,
}

impl Spec {
    pub(crate) fn new(version: &str) -> Spec {
        Spec {
            version: version.to_owned(),
            dag: format!("# DAG of {version}\nfrom airflow import DAG\n"),
            big: 0,
            many: 0,
            interpreter: WORKER_PYTHON.to_owned(),
            seed: 1,
        }
    }
}

fn synthetic_package(dir: &Utf8Path, spec: &Spec) -> Utf8PathBuf {
    let work = dir.join(format!("work-{}", spec.version));
    let _ = std::fs::remove_dir_all(&work);
    let venv = work.join("venv");
    std::fs::create_dir_all(venv.join("bin")).unwrap();
    std::os::unix::fs::symlink(&spec.interpreter, venv.join("bin/python")).unwrap();
    let home = Utf8Path::new(&spec.interpreter).parent().unwrap();
    std::fs::write(venv.join("pyvenv.cfg"), format!("home = {home}\nversion_info = 3.11.2\n")).unwrap();
    let tarball = work.join("venv.tar.gz");
    let options = PackOptions { symlinks: SymlinkPolicy::Keep, ..PackOptions::default() };
    let stats = pad_bundle::pack_dir(&venv, &tarball, &options).unwrap();

    let mut files: Vec<(Utf8PathBuf, Vec<u8>)> = vec![
        ("dags/etl_dag.py".into(), spec.dag.clone().into_bytes()),
        ("projects/etl/etl/__init__.py".into(), b"VALUE = 1\n".to_vec()),
    ];
    if spec.big > 0 {
        files.push(("projects/etl/data.bin".into(), pad_testkit::random_bytes(spec.big, spec.seed)));
    }
    for i in 0..spec.many {
        files.push((format!("projects/etl/gen/f{i:05}.py").into(), format!("N = {i}  # {}\n", spec.seed).into_bytes()));
    }
    let mut shipped =
        vec![PackageFile { archive_path: "projects/etl/venv.tar.gz".into(), src: tarball, precompressed: true }];
    for (path, bytes) in files {
        let src = work.join("tree").join(&path);
        std::fs::create_dir_all(src.parent().unwrap()).unwrap();
        std::fs::write(&src, bytes).unwrap();
        shipped.push(PackageFile { archive_path: path, src, precompressed: false });
    }
    let project = ProjectEntry {
        name: "etl".to_owned(),
        env_key: "synthetic".to_owned(),
        interpreter_path: spec.interpreter.clone(),
        interpreter_version: "3.11.2".to_owned(),
        package: Some("etl".to_owned()),
        venv_sha256: stats.sha256,
    };
    let package = PackageSpec {
        name: "platform-airflow-dags".to_owned(),
        version: spec.version.clone(),
        commit: None,
        dirty: false,
        files: shipped,
        projects: vec![project],
    };
    pad_bundle::write_package(&package, dir).unwrap().path
}

/// The one host report of a deploy's JSON, by host.
pub(crate) fn host_report<'a>(json: &'a Value, host: &str) -> &'a Value {
    json["hosts"].as_array().unwrap().iter().find(|h| h["host"] == host).unwrap_or_else(|| panic!("{host} in {json}"))
}

#[track_caller]
pub(crate) fn deployed(run: XtaskRun) -> (String, Value) {
    let run = run.success();
    let json = run.json();
    (json["release_id"].as_str().unwrap().to_owned(), json)
}

/// What `current` points at on the worker, checked whole: every file of the release
/// against its checksums, `dags` resolving through it. `None` before any deploy.
#[track_caller]
fn serving(worker: &Worker) -> Option<String> {
    let out = worker.exec_as_service(
        "cd /srv/airflow || exit 9
[ -L current ] || { echo none; exit 0; }
id=$(readlink current)
cd current && sha256sum -c --quiet .pad-release/sha256sums && test -f /srv/airflow/dags/etl_dag.py && echo \"$id\"",
    );
    assert!(out.status.success(), "the serving release is broken on {}:\n{}{}", worker.name, out.stdout, out.stderr);
    let line = out.stdout.trim();
    (line != "none").then(|| line.strip_prefix("releases/").unwrap_or(line).to_owned())
}

/// Names under AIRFLOW_HOME that interrupted runs leave (and the next run removes).
fn partials(worker: &Worker) -> String {
    worker
        .exec_root("cd /srv/airflow && ls -a releases .pad 2>/dev/null | grep -E '^(\\.tmp-|staging-)' || true")
        .stdout
}

/// Waits until `script` (as root on the worker) prints something; fails with what the
/// deploy printed if it ends first, or after `timeout`.
#[track_caller]
pub(crate) fn wait_during(worker: &Worker, child: &mut Spawned, script: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !worker.exec_root(script).stdout.trim().is_empty() {
            return;
        }
        if let Some(status) = child.try_wait() {
            panic!("the deploy ended ({status}) before `{script}` saw anything:\n{}", child.output());
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    panic!("`{script}` saw nothing in {timeout:?}");
}

fn kill(child: Spawned) -> String {
    child.kill()
}

#[test]
fn deploy_redeploy_dag_change_and_rollback() {
    if !e2e_enabled("deploy_redeploy_dag_change_and_rollback") {
        return;
    }
    let set = WorkerSet::start(WorkerOptions::default());
    let worker = &set.workers()[0];
    let d = Deployer::new(&set);

    // First deploy.
    let base = Spec { big: 2 << 20, many: 50, ..Spec::new("1.0") };
    let first = d.package(&base);
    let started = Instant::now();
    let (one, json) = deployed(d.deploy(&first, &[]));
    let first_secs = started.elapsed().as_secs_f64();
    let report = host_report(&json, &worker.host);
    assert_eq!(report["state"], "switched", "{json}");
    assert_eq!(serving(worker).as_deref(), Some(one.as_str()));
    let out = worker.exec_as_service(
        "cd /srv/airflow && readlink dags etl && ls etl/venv.tar.gz && cd etl && venv/bin/python -c 'import etl, sys; print(etl.VALUE, sys.executable)'",
    );
    let want = format!(
        "current/dags\ncurrent/projects/etl\netl/venv.tar.gz\n1 /srv/airflow/releases/{one}/projects/etl/venv/bin/python\n"
    );
    assert_eq!(out.stdout, want, "{}", out.stderr);
    let owner = worker.exec_root("stat -c %U /srv/airflow/current/dags/etl_dag.py /srv/airflow/.pad/store").stdout;
    assert_eq!(owner, "airflow-svc\nairflow-svc\n", "everything is the service user's");

    // No-op redeploy: nothing uploaded.
    let started = Instant::now();
    let (again, json) = deployed(d.deploy(&first, &[]));
    let noop_secs = started.elapsed().as_secs_f64();
    let report = host_report(&json, &worker.host);
    assert_eq!((again.as_str(), report["state"].as_str()), (one.as_str(), Some("unchanged")), "{json}");
    assert_eq!(report["bytes_uploaded"], 0, "{json}");
    let notes = report["notes"].to_string();
    assert!(notes.contains("against its last full check"), "the stamp stands for hashing: {notes}");
    // With --full-verify every file is hashed again.
    let (_, json) = deployed(d.deploy(&first, &["--full-verify"]));
    let notes = host_report(&json, &worker.host)["notes"].to_string();
    assert!(!notes.contains("against its last full check"), "{notes}");

    // A DAG-only change: about the changed bytes move.
    let dag = format!("{}# a change of {} bytes\n{}\n", base.dag, 4000, "x".repeat(4000));
    let changed = d.package(&Spec { version: "1.1".into(), dag: dag.clone(), ..base.clone() });
    let started = Instant::now();
    let (two, json) = deployed(d.deploy(&changed, &[]));
    let change_secs = started.elapsed().as_secs_f64();
    let report = host_report(&json, &worker.host);
    let wire = report["bytes_uploaded"].as_u64().unwrap();
    assert_eq!(report["objects_uploaded"], 1, "{json}");
    assert_eq!(report["object_bytes"], dag.len() as u64, "{json}");
    assert!(wire <= dag.len() as u64 + 64 * 1024, "{wire} bytes moved for a {}-byte change", dag.len());
    eprintln!(
        "deploy timings: first {first_secs:.2} s, no-op {noop_secs:.2} s, DAG-only change {change_secs:.2} s moving {wire} bytes for a {} byte file",
        dag.len()
    );
    assert_eq!(worker.exec_as_service("cat /srv/airflow/dags/etl_dag.py").stdout, dag);

    // Releases, rollback and roll forward.
    let listed = d.xtask(&["releases", "--target", "workers", "--json"]).success().json();
    let rows = listed[0]["releases"].as_array().unwrap();
    let marks: Vec<(&str, bool, bool)> =
        rows.iter().map(|r| (r["id"].as_str().unwrap(), r["current"] == true, r["previous"] == true)).collect();
    assert_eq!(marks, vec![(one.as_str(), false, true), (two.as_str(), true, false)]);
    d.xtask(&["rollback", "--target", "workers"]).success();
    assert_eq!(serving(worker).as_deref(), Some(one.as_str()));
    assert_eq!(worker.exec_as_service("cat /srv/airflow/dags/etl_dag.py").stdout, base.dag);
    d.xtask(&["rollback", "--target", "workers"]).success();
    assert_eq!(serving(worker).as_deref(), Some(two.as_str()));
    let text = d.xtask(&["rollback", "--target", "workers", "--to", &one]).success().stdout;
    assert!(text.contains(&format!("{two} -> {one}")), "{text}");
    let missing = d.xtask(&["rollback", "--target", "workers", "--to", "nope"]).failure();
    assert!(missing.stdout.contains("there is no release `nope`"), "{}", missing.stdout);
}

#[test]
fn unknown_and_changed_host_keys_are_refused() {
    if !e2e_enabled("unknown_and_changed_host_keys_are_refused") {
        return;
    }
    let set = WorkerSet::start(WorkerOptions::default());
    let worker = &set.workers()[0];
    let d = Deployer::new(&set);
    let package = d.package(&Spec::new("1.0"));
    let known_hosts = d.repo.root.join("known_hosts");
    let toml = set.target_toml("workers").replace(set.known_hosts_file().as_str(), known_hosts.as_str());
    d.repo.write("deploy/workers.toml", &toml);

    // Unknown: refused with the fingerprint and the fix, nothing recorded.
    let run = d.deploy(&package, &[]).failure();
    assert!(run.stdout.contains("is not in") && run.stdout.contains("SHA256:"), "{}", run.stdout);
    assert!(run.stdout.contains("--accept-new-host-key") && run.stdout.contains("ssh-keyscan"), "{}", run.stdout);
    assert!(!known_hosts.exists());
    assert_eq!(serving(worker), None);

    // Changed: another key under the worker's name.
    let other = d.repo.root.join("other_key");
    pad_process::Cmd::new("ssh-keygen", &d.repo.root)
        .args(["-q", "-t", "ed25519", "-N", "", "-f", other.as_str()])
        .run()
        .unwrap();
    let key = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let pattern = if worker.port == 22 { worker.host.clone() } else { format!("[{}]:{}", worker.host, worker.port) };
    let fields: Vec<&str> = key.split_whitespace().collect();
    std::fs::write(&known_hosts, format!("{pattern} {} {}\n", fields[0], fields[1])).unwrap();
    let run = d.deploy(&package, &[]).failure();
    assert!(run.stdout.contains("host key CHANGED") && run.stdout.contains("ssh-keygen -R"), "{}", run.stdout);
    assert_eq!(serving(worker), None);

    // Trust on first use, when asked.
    std::fs::remove_file(&known_hosts).unwrap();
    let (id, _) = deployed(d.deploy(&package, &["--accept-new-host-key"]));
    let recorded = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(recorded.starts_with(&format!("{pattern} ssh-ed25519 ")), "{recorded}");
    let (again, _) = deployed(d.deploy(&package, &[]));
    assert_eq!(id, again);
}

#[test]
fn sudo_refused_changes_nothing() {
    if !e2e_enabled("sudo_refused_changes_nothing") {
        return;
    }
    let set = WorkerSet::start(WorkerOptions { sudo_rule: false, ..WorkerOptions::default() });
    let worker = &set.workers()[0];
    let d = Deployer::new(&set);
    let listing = "find /srv -printf '%p %u %m %s\\n' | sort";
    let before = worker.exec_root(listing).stdout;
    let run = d.deploy(&d.package(&Spec::new("1.0")), &[]).failure();
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(text.contains("`sudo -n -u airflow-svc` was refused for `deployer`, so nothing was changed"), "{text}");
    assert!(text.contains("deployer ALL=(airflow-svc) NOPASSWD: ALL"), "{text}");
    assert_eq!(worker.exec_root(listing).stdout, before);
}

/// An environment built for an interpreter the worker lacks is caught by the smoke test,
/// named, and never switched to.
#[test]
fn an_interpreter_the_worker_lacks_is_named() {
    if !e2e_enabled("an_interpreter_the_worker_lacks_is_named") {
        return;
    }
    let set = WorkerSet::start(WorkerOptions::default());
    let worker = &set.workers()[0];
    let d = Deployer::new(&set);
    let (one, _) = deployed(d.deploy(&d.package(&Spec::new("1.0")), &[]));
    let other = Spec { interpreter: "/usr/bin/python3.12".to_owned(), ..Spec::new("2.0") };
    let run = d.deploy(&d.package(&other), &[]).failure();
    let error = host_report(&run.json(), &worker.host)["error"].as_str().unwrap().to_owned();
    assert!(error.contains("needs the interpreter `/usr/bin/python3.12`"), "{error}");
    assert!(error.contains("not executable by `airflow-svc`"), "{error}");
    assert_eq!(serving(worker).as_deref(), Some(one.as_str()));
}

/// A host that is busy but alive is never taken as lost, however long a step stays
/// silent: `tar` on the worker stalls for longer than `--io-timeout` before each upload
/// and unpack, and the deploy still succeeds (the scripts tick while they work).
#[test]
fn a_slow_but_healthy_host_is_not_taken_as_lost() {
    if !e2e_enabled("a_slow_but_healthy_host_is_not_taken_as_lost") {
        return;
    }
    let set = WorkerSet::start(WorkerOptions::default());
    let worker = &set.workers()[0];
    let d = Deployer::new(&set);
    // sudo's secure_path puts /usr/local/bin before /usr/bin.
    let stall = "#!/bin/sh\necho stalled >> /tmp/pad-slow-tar\nsleep 12\nexec /usr/bin/tar \"$@\"\n";
    let install = format!("printf '{stall}' > /usr/local/bin/tar && chmod 755 /usr/local/bin/tar");
    let installed = worker.exec_root(&install);
    assert!(installed.status.success(), "{}", installed.stderr);
    let (one, json) = deployed(d.deploy(&d.package(&Spec::new("1.0")), &["--io-timeout", "5"]));
    assert_eq!(serving(worker).as_deref(), Some(one.as_str()), "{json}");
    let stalls = worker.exec_root("wc -l < /tmp/pad-slow-tar").stdout;
    assert!(stalls.trim().parse::<u32>().unwrap() >= 2, "the slow tar ran {stalls} time(s)");
}

#[test]
fn a_full_disk_keeps_the_previous_release_serving() {
    if !e2e_enabled("a_full_disk_keeps_the_previous_release_serving") {
        return;
    }
    let set = WorkerSet::start(WorkerOptions { airflow_home_tmpfs: Some("8m"), ..WorkerOptions::default() });
    let worker = &set.workers()[0];
    let d = Deployer::new(&set);
    let (one, _) = deployed(d.deploy(&d.package(&Spec::new("1.0")), &[]));
    let free = || {
        worker
            .exec_root("df -Pk /srv/airflow | tail -n 1")
            .stdout
            .split_whitespace()
            .nth(3)
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let free_before = free();

    let run = d.deploy(&d.package(&Spec { big: 12 << 20, seed: 2, ..Spec::new("2.0") }), &[]).failure();
    let report = host_report(&run.json(), &worker.host).clone();
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("is out of disk space"), "{error}");
    assert_eq!(report["state"], "failed");
    assert_eq!(serving(worker).as_deref(), Some(one.as_str()));
    // The failed run removed what it wrote: the disk has its room back now, not at the
    // next deploy (the history and lock may leave a few KiB).
    assert_eq!(partials(worker), "", "the failed run left its staging or release");
    let free_after = free();
    assert!(free_after + 64 >= free_before, "{free_before} KiB free before, {free_after} KiB after");

    // The next deploy cleans up what the failed one left and fits.
    let (three, _) = deployed(d.deploy(&d.package(&Spec::new("3.0")), &[]));
    assert_eq!(serving(worker).as_deref(), Some(three.as_str()));
    assert_eq!(partials(worker), "");
}

#[test]
fn killing_the_client_or_losing_the_network_mid_deploy_then_redeploying() {
    if !e2e_enabled("killing_the_client_or_losing_the_network_mid_deploy_then_redeploying") {
        return;
    }
    let set = WorkerSet::start(WorkerOptions::default());
    let worker = &set.workers()[0];
    let d = Deployer::new(&set);
    let (one, _) = deployed(d.deploy(&d.package(&Spec::new("1.0")), &[]));

    // SIGKILL during the upload of a large file.
    let big = d.package(&Spec { big: 40 << 20, seed: 2, ..Spec::new("2.0") });
    let mut child = d.spawn_deploy(&big, &[]);
    wait_during(worker, &mut child, "ls -d /srv/airflow/.pad/staging-* 2>/dev/null", Duration::from_secs(60));
    kill(child);
    assert_eq!(serving(worker).as_deref(), Some(one.as_str()));
    let (two, _) = deployed(d.deploy(&big, &["--lock-wait", "30"]));
    assert_eq!(serving(worker).as_deref(), Some(two.as_str()));
    assert_eq!(partials(worker), "");

    // SIGKILL during the unpack of many files.
    let many = d.package(&Spec { many: 4000, seed: 3, ..Spec::new("3.0") });
    let mut child = d.spawn_deploy(&many, &[]);
    wait_during(worker, &mut child, "ls -d /srv/airflow/releases/.tmp-* 2>/dev/null", Duration::from_secs(120));
    kill(child);
    assert_eq!(serving(worker).as_deref(), Some(two.as_str()));
    let (three, _) = deployed(d.deploy(&many, &["--lock-wait", "30"]));
    assert_eq!(serving(worker).as_deref(), Some(three.as_str()));

    // The network goes away mid-upload; the client gives up (or is killed); back on the
    // network, the next deploy succeeds.
    let other = d.package(&Spec { big: 40 << 20, seed: 4, ..Spec::new("4.0") });
    let mut child = d.spawn_deploy(&other, &["--io-timeout", "5"]);
    wait_during(worker, &mut child, "ls -d /srv/airflow/.pad/staging-* 2>/dev/null", Duration::from_secs(60));
    worker.cut_network();
    std::thread::sleep(Duration::from_secs(8));
    let stderr = kill(child);
    assert_eq!(serving(worker).as_deref(), Some(three.as_str()), "{stderr}");
    worker.restore_network();
    let (four, _) = deployed(d.deploy(&other, &["--lock-wait", "300"]));
    assert_eq!(serving(worker).as_deref(), Some(four.as_str()));
    assert_eq!(partials(worker), "");
}

#[test]
fn a_second_concurrent_deploy_names_the_lock_holder_or_waits() {
    if !e2e_enabled("a_second_concurrent_deploy_names_the_lock_holder_or_waits") {
        return;
    }
    let set = WorkerSet::start(WorkerOptions::default());
    let worker = &set.workers()[0];
    let d = Deployer::new(&set);
    let slow = d.package(&Spec { big: 40 << 20, seed: 5, ..Spec::new("1.0") });
    let quick = d.package(&Spec::new("2.0"));
    let mut first = d.spawn_deploy(&slow, &[]);
    wait_during(worker, &mut first, "cat /srv/airflow/.pad/lock/info 2>/dev/null", Duration::from_secs(60));
    let refused = d.deploy(&quick, &[]).failure();
    let text = format!("{}{}", refused.stdout, refused.stderr);
    assert!(text.contains("another deploy holds the lock") && text.contains("owner="), "{text}");
    // One that may wait gets its turn once the first is done.
    let waiting = d.spawn_deploy(&quick, &["--lock-wait", "300"]);
    first.wait().success();
    waiting.wait().success();
    let current = serving(worker).unwrap();
    assert!(current.starts_with("2.0-"), "{current}");
}

#[test]
fn three_hosts_one_cut_off_with_the_failure_limit() {
    if !e2e_enabled("three_hosts_one_cut_off_with_the_failure_limit") {
        return;
    }
    let set = WorkerSet::start(WorkerOptions { count: 3, ..WorkerOptions::default() });
    let [w1, w2, w3] = set.workers() else { panic!("three workers") };
    let d = Deployer::new(&set);
    let (one, json) = deployed(d.deploy(&d.package(&Spec::new("1.0")), &[]));
    assert_eq!(json["hosts"].as_array().unwrap().len(), 3);

    // failure_limit 0: w3 lost mid-upload, so nobody switches.
    let two = d.package(&Spec { big: 30 << 20, seed: 6, ..Spec::new("2.0") });
    let mut child = d.spawn_deploy(&two, &["--io-timeout", "5", "--json"]);
    wait_during(w3, &mut child, "ls -d /srv/airflow/.pad/staging-* 2>/dev/null", Duration::from_secs(60));
    w3.cut_network();
    let out = child.wait();
    w3.restore_network();
    assert_ne!(out.code, Some(0));
    let json = out.json();
    assert_eq!(json["aborted"], true, "{json}");
    assert_eq!(host_report(&json, &w3.host)["state"], "failed", "{json}");
    let error = host_report(&json, &w3.host)["error"].as_str().unwrap_or_default();
    assert!(error.contains("answered nothing for 5s") && error.contains("--io-timeout"), "{error}");
    for w in [w1, w2] {
        assert_eq!(host_report(&json, &w.host)["state"], "not-switched", "{json}");
        assert_eq!(serving(w).as_deref(), Some(one.as_str()));
    }

    // failure_limit 1: the two reachable hosts switch, the lost one is reported.
    let child = d.spawn_deploy(&two, &["--io-timeout", "5", "--json", "--failure-limit", "1", "--lock-wait", "300"]);
    std::thread::sleep(Duration::from_millis(300));
    w3.cut_network();
    let out = child.wait();
    w3.restore_network();
    let json = out.json();
    assert_eq!(json["aborted"], false, "{json}");
    let id = json["release_id"].as_str().unwrap();
    for w in [w1, w2] {
        assert_eq!(host_report(&json, &w.host)["state"], "switched", "{json}");
        assert_eq!(serving(w).as_deref(), Some(id));
    }
    assert_eq!(host_report(&json, &w3.host)["state"], "failed", "{json}");
    assert_eq!(serving(w3).as_deref(), Some(one.as_str()));
    assert_ne!(out.code, Some(0), "a failed host makes the exit status non-zero");

    // Back on the network, w3 catches up; the others are unchanged.
    let (again, json) = deployed(d.deploy(&two, &["--lock-wait", "300"]));
    assert_eq!(again, id);
    assert_eq!(host_report(&json, &w1.host)["state"], "unchanged");
    assert_eq!(host_report(&json, &w3.host)["state"], "switched");

    // failure_limit 0 and w3's switch fails (its `ln` refuses `current.tmp`) after w1 and
    // w2 switched: they are switched back, and all three still serve `two`.
    let refuse = "#!/bin/sh\ncase \"$*\" in *current.tmp*) echo refused >&2; exit 1;; esac\nexec /usr/bin/ln \"$@\"\n";
    let installed = w3.exec_root(&format!("printf '{refuse}' > /usr/local/bin/ln && chmod 755 /usr/local/bin/ln"));
    assert!(installed.status.success(), "{}", installed.stderr);
    let three = d.package(&Spec::new("3.0"));
    let run = d.deploy(&three, &[]).failure();
    let json = run.json();
    assert_eq!(json["aborted"], true, "{json}");
    for w in [w1, w2] {
        assert_eq!(host_report(&json, &w.host)["state"], "rolled-back", "{json}");
    }
    assert_eq!(host_report(&json, &w3.host)["state"], "failed", "{json}");
    let error = host_report(&json, &w3.host)["error"].as_str().unwrap_or_default();
    assert!(error.contains("switch") && error.contains("refused"), "{error}");
    for w in [w1, w2, w3] {
        assert_eq!(serving(w).as_deref(), Some(id), "{}", w.name);
    }
    // With `ln` back, the same package goes everywhere.
    assert!(w3.exec_root("rm /usr/local/bin/ln").status.success());
    let (three_id, json) = deployed(d.deploy(&three, &[]));
    for w in [w1, w2, w3] {
        assert_eq!(host_report(&json, &w.host)["state"], "switched", "{json}");
        assert_eq!(serving(w).as_deref(), Some(three_id.as_str()), "{}", w.name);
    }
    assert_eq!(partials(w3), "");
}

/// The steps of a deploy as the front end prints them (`<host>: <n>/10 <step>`).
const STEPS: [&str; 10] =
    ["connect", "lock", "inspect", "upload", "unpack", "verify", "smoke test", "switch", "prune", "unlock"];

/// The last step `stderr` shows started, as an index into [`STEPS`].
fn last_step(stderr: &str) -> Option<usize> {
    stderr.lines().rev().find_map(|line| {
        let (_, rest) = line.split_once(": ")?;
        let (number, name) = rest.split_once(' ')?;
        let (n, total) = number.split_once('/')?;
        let index = n.parse::<usize>().ok()?.checked_sub(1)?;
        (total == "10" && STEPS.get(index) == Some(&name)).then_some(index)
    })
}

/// The client killed again and again: first as each step of a deploy starts (so every
/// step is a kill point at least once), then at random points. Whatever the point, the
/// host serves a complete release, and the next deploy succeeds.
/// `PAD_DEPLOY_KILL_ROUNDS` (default 20) sets how many rounds; fewer than one per step
/// would leave steps untested and is refused.
#[test]
fn random_kill_points() {
    if !e2e_enabled("random_kill_points") {
        return;
    }
    let rounds: usize = match std::env::var("PAD_DEPLOY_KILL_ROUNDS") {
        Ok(value) => value.parse().unwrap_or_else(|_| panic!("PAD_DEPLOY_KILL_ROUNDS={value:?} is not a number")),
        Err(_) => 20,
    };
    assert!(
        rounds >= STEPS.len(),
        "PAD_DEPLOY_KILL_ROUNDS={rounds} kills fewer times than a deploy has steps ({}): set at least {0}, or unset it",
        STEPS.len()
    );
    let set = WorkerSet::start(WorkerOptions::default());
    let worker = &set.workers()[0];
    let d = Deployer::new(&set);
    let (first, _) = deployed(d.deploy(&d.package(&Spec::new("0")), &[]));
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("random_kill_points: seed {seed}");
    let packages: Vec<Utf8PathBuf> = (0..3)
        .map(|i| d.package(&Spec { big: 6 << 20, many: 300, seed: 10 + i, ..Spec::new(&format!("r{i}")) }))
        .collect();
    // How long a round's deploy takes, to spread the random kill points over it: the
    // rounds deploy these packages again and again, so after the first of each the host
    // has their files and a deploy is a switch between releases.
    for package in &packages {
        deployed(d.deploy(package, &[]));
    }
    let started = Instant::now();
    deployed(d.deploy(&packages[0], &[]));
    let full = started.elapsed().as_millis().max(200) as u64;
    let mut known = vec![first];
    // How often the client was killed in each step (by the last step it had printed).
    let mut killed_in = [0usize; STEPS.len()];
    let mut round = 0;
    // A targeted kill may come too late for a short step; it is tried again, a few times.
    let mut tries = [0usize; STEPS.len()];
    loop {
        let target = (0..STEPS.len()).find(|s| killed_in[*s] == 0 && tries[*s] < 5);
        if target.is_none() && round >= rounds {
            break;
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // A targeted round deploys a package the host has none of, so the upload and
        // the unpack have work to do (the rotating packages' files are all there).
        let fresh;
        let package = match target {
            Some(_) => {
                let seed = 100 + round as u64;
                fresh = d.package(&Spec { big: 6 << 20, many: 300, seed, ..Spec::new(&format!("t{round}")) });
                &fresh
            }
            None => &packages[round % packages.len()],
        };
        let mut child = d.spawn_deploy(package, &["--lock-wait", "60"]);
        let how = match target {
            Some(step) => {
                tries[step] += 1;
                // Kill as soon as the step shows.
                let deadline = Instant::now() + Duration::from_secs(120);
                while last_step(&child.stderr()).is_none_or(|seen| seen < step)
                    && child.try_wait().is_none()
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                format!("as `{}` started", STEPS[step])
            }
            None => {
                let delay = seed % full;
                std::thread::sleep(Duration::from_millis(delay));
                format!("after {delay} ms of ~{full}")
            }
        };
        let finished = child.try_wait();
        let stderr = kill(child);
        let point = last_step(&stderr);
        let current = serving(worker).expect("something serves");
        match (finished, point) {
            (None, Some(step)) => {
                killed_in[step] += 1;
                eprintln!("round {round}: killed {how}, in `{}`; serving {current}", STEPS[step]);
            }
            (None, None) => eprintln!("round {round}: killed {how}, before any step; serving {current}"),
            (Some(status), _) => eprintln!("round {round}: {how}: the deploy had ended ({status}); serving {current}"),
        }
        if !known.contains(&current) {
            known.push(current);
        }
        round += 1;
    }
    let missed: Vec<&str> = (0..STEPS.len()).filter(|s| killed_in[*s] == 0).map(|s| STEPS[s]).collect();
    assert!(missed.is_empty(), "the client was never killed in {missed:?}; kills per step: {killed_in:?}");
    // The kills did something: some round left the host on a release other than the first.
    assert!(known.len() > 1, "every kill left the first release serving: {known:?}");
    let (last, _) = deployed(d.deploy(&packages[1], &["--lock-wait", "60"]));
    assert_eq!(serving(worker).as_deref(), Some(last.as_str()));
    assert_eq!(partials(worker), "");
}
