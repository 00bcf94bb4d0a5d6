//! Deploys through the local transport into temporary `AIRFLOW_HOME`s: first deploy,
//! no-op redeploy, incremental upload, rollback, moving a plain `dags/` aside, an
//! interruption at every step, locks, damaged content, pruning and shell quoting.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use camino::{Utf8Path, Utf8PathBuf};
use pad_bundle::{PackOptions, PackageFile, PackageSpec, ProjectEntry, SymlinkPolicy};
use pad_layout::{Hosts, Target};

use crate::fault::{FailAt, FailPoint};
use crate::scripts::{HostContents, minor, prune_list};

mod namespaces;
mod scripts;
mod trust;
use crate::{ConnectOptions, DeployError, DeployOptions, DeployReport, HostState, Progress, Step};

/// A temporary directory with an `AIRFLOW_HOME` and room for packages.
struct Fixture {
    _dir: tempfile::TempDir,
    root: Utf8PathBuf,
    home: Utf8PathBuf,
    python: String,
    python_version: String,
}

/// One package's contents: DAG and project files (path, text), and whether the project
/// `etl` ships an environment importing `package`.
#[derive(Clone)]
struct Spec {
    version: &'static str,
    files: Vec<(String, String)>,
    package: Option<String>,
    interpreter: Option<String>,
    /// Written into the environment as `venv/note.txt`: another environment.
    venv_note: &'static str,
}

impl Spec {
    fn new(version: &'static str) -> Spec {
        let files = vec![
            ("dags/etl_dag.py".to_owned(), "from airflow import DAG\n".to_owned()),
            ("projects/etl/etl/__init__.py".to_owned(), "VALUE = 1\n".to_owned()),
            ("projects/etl/config.yaml".to_owned(), "name: etl\n".to_owned()),
        ];
        Spec { version, files, package: Some("etl".to_owned()), interpreter: None, venv_note: "" }
    }

    fn with(mut self, path: &str, text: &str) -> Spec {
        self.files.retain(|(p, _)| p != path);
        self.files.push((path.to_owned(), text.to_owned()));
        self
    }
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_home("airflow")
    }

    fn with_home(name: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        let home = root.join(name);
        let python = fs::canonicalize("/usr/bin/python3").unwrap().to_str().unwrap().to_owned();
        let python_version = pad_process::Cmd::new(&python, &root)
            .args(["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"])
            .read()
            .unwrap();
        Fixture { _dir: dir, root, home, python, python_version }
    }

    fn target(&self) -> Target {
        Target {
            name: "local".to_owned(),
            file: None,
            hosts: Hosts::Local,
            ssh_user: None,
            port: 22,
            identity: None,
            known_hosts: None,
            service_user: None,
            airflow_home: self.home.to_string(),
            keep: 5,
            registry: None,
            data_root: None,
            env: BTreeMap::from([("PAD_TEST_VALUE".to_owned(), "a b \"c\" $(touch /pad-pwned)".to_owned())]),
        }
    }

    /// Writes the package of `spec` and returns its path.
    fn package(&self, spec: &Spec) -> Utf8PathBuf {
        static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let build = BUILDS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let work = self.root.join(format!("work-{build}"));
        let venv = work.join("venv");
        fs::create_dir_all(venv.join("bin")).unwrap();
        let interpreter = spec.interpreter.clone().unwrap_or_else(|| self.python.clone());
        std::os::unix::fs::symlink(&interpreter, venv.join("bin/python")).unwrap();
        let home = Utf8Path::new(&interpreter).parent().unwrap();
        fs::write(venv.join("pyvenv.cfg"), format!("home = {home}\nversion_info = {}\n", self.python_version)).unwrap();
        fs::write(venv.join("note.txt"), spec.venv_note).unwrap();
        let venv_tgz = work.join("venv.tar.gz");
        let options = PackOptions { symlinks: SymlinkPolicy::Keep, ..PackOptions::default() };
        let stats = pad_bundle::pack_dir(&venv, &venv_tgz, &options).unwrap();

        let mut files =
            vec![PackageFile { archive_path: "projects/etl/venv.tar.gz".into(), src: venv_tgz, precompressed: true }];
        for (path, text) in &spec.files {
            let src = work.join("tree").join(path);
            fs::create_dir_all(src.parent().unwrap()).unwrap();
            fs::write(&src, text).unwrap();
            files.push(PackageFile { archive_path: path.into(), src, precompressed: false });
        }
        let project = ProjectEntry {
            name: "etl".to_owned(),
            env_key: "key".to_owned(),
            interpreter_path: interpreter.clone(),
            interpreter_version: self.python_version.clone(),
            package: spec.package.clone(),
            venv_sha256: stats.sha256,
        };
        let package = PackageSpec {
            name: "platform-airflow-dags".to_owned(),
            version: spec.version.to_owned(),
            commit: Some("abc".to_owned()),
            dirty: false,
            files,
            projects: vec![project],
        };
        pad_bundle::write_package(&package, &work).unwrap().path
    }

    fn options(&self, package: &Utf8Path) -> DeployOptions {
        DeployOptions::new(package, &self.root)
    }

    fn deploy(&self, spec: &Spec) -> DeployReport {
        self.deploy_with(&self.target(), &self.options(&self.package(spec)))
    }

    fn deploy_with(&self, target: &Target, options: &DeployOptions) -> DeployReport {
        crate::deploy(target, options, &()).unwrap()
    }

    fn current(&self) -> String {
        fs::read_link(self.home.join("current")).unwrap().to_str().unwrap().to_owned()
    }

    fn read(&self, path: &str) -> String {
        fs::read_to_string(self.home.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Partial directories an interrupted run may leave.
    fn leftovers(&self) -> Vec<String> {
        let mut found = Vec::new();
        for dir in ["releases", ".pad"] {
            for entry in fs::read_dir(self.home.join(dir)).into_iter().flatten() {
                let name = entry.unwrap().file_name().to_str().unwrap().to_owned();
                if name.starts_with(".tmp-") || name.starts_with("staging-") || name.ends_with(".tmp") {
                    found.push(format!("{dir}/{name}"));
                }
            }
        }
        found
    }
}

/// Commands on this machine as the current user, as a local target without a service
/// user runs them.
fn local_shell() -> crate::shell::Shell {
    crate::shell::Shell::new(Box::new(crate::local::LocalHost::new().unwrap()), None)
}

#[track_caller]
fn assert_ok(report: &DeployReport) -> &crate::HostReport {
    let host = &report.hosts[0];
    assert!(report.success(), "deploy failed: {:?}", host.error.as_ref().map(|e| pad_layout::error_chain(e)));
    host
}

#[track_caller]
fn error_of(report: &DeployReport) -> &DeployError {
    report.hosts[0].error.as_ref().unwrap_or_else(|| panic!("expected an error: {report:?}"))
}

#[test]
fn first_deploy_lays_out_the_release() {
    let f = Fixture::new();
    let report = f.deploy(&Spec::new("1.0"));
    let host = assert_ok(&report);
    assert_eq!(host.state, HostState::Switched);
    let id = &report.release_id;
    assert!(id.starts_with("1.0-") && id.len() == "1.0-".len() + 12, "{id}");
    assert_eq!(f.current(), format!("releases/{id}"));
    assert_eq!(fs::read_link(f.home.join("dags")).unwrap().to_str().unwrap(), "current/dags");
    assert_eq!(fs::read_link(f.home.join("etl")).unwrap().to_str().unwrap(), "current/projects/etl");
    assert_eq!(f.read("dags/etl_dag.py"), "from airflow import DAG\n");
    assert_eq!(f.read("etl/etl/__init__.py"), "VALUE = 1\n");
    assert!(f.home.join("etl/venv.tar.gz").is_file(), "the tarball stays for Spark --archives");
    assert!(f.home.join("etl/venv/bin/python").exists(), "the environment is unpacked");
    assert_eq!(f.read("current/.env"), "PAD_TEST_VALUE='a b \"c\" $(touch /pad-pwned)'\n");
    let mode = fs::metadata(f.home.join("current/.env")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(!Utf8Path::new("/pad-pwned").exists());
    assert_eq!(host.objects_uploaded, 4);
    assert_eq!(host.objects_reused, 0);
    let steps: Vec<Step> = host.steps.iter().map(|s| s.step).collect();
    assert_eq!(steps, Step::ALL.to_vec());
    assert!(f.leftovers().is_empty(), "{:?}", f.leftovers());
    assert!(!f.home.join(".pad/lock").exists(), "the lock is released");
}

#[test]
fn unchanged_redeploy_uploads_nothing() {
    let f = Fixture::new();
    let spec = Spec::new("1.0");
    assert_ok(&f.deploy(&spec));
    let report = f.deploy(&spec);
    let host = assert_ok(&report);
    assert_eq!(host.state, HostState::Unchanged);
    assert_eq!((host.bytes_uploaded, host.objects_uploaded, host.object_bytes), (0, 0, 0));
    assert_eq!(host.objects_reused, 4);
}

/// An unchanged release is checked by the stamp of its last full check; an edit that
/// changes a file's mtime sends it through the full check, and only `full_verify`
/// hashes a same-size edit whose mtime was put back (the stamp's documented limit).
#[test]
fn an_unchanged_release_is_checked_by_its_stamp_and_full_verify_hashes() {
    let f = Fixture::new();
    let spec = Spec::new("1.0");
    let package = f.package(&spec);
    assert_ok(&f.deploy_with(&f.target(), &f.options(&package)));
    let stamp = |host: &crate::HostReport| host.notes.iter().any(|n| n.contains("against its last full check"));
    let report = f.deploy_with(&f.target(), &f.options(&package));
    assert!(stamp(assert_ok(&report)), "{:?}", report.hosts[0].notes);

    let dag = f.home.join("current/dags/etl_dag.py");
    let mtime = fs::metadata(&dag).unwrap().modified().unwrap();
    fs::write(&dag, "from airflow import XYZ\n").unwrap();
    fs::File::options().write(true).open(&dag).unwrap().set_modified(mtime).unwrap();
    let report = f.deploy_with(&f.target(), &f.options(&package));
    assert!(stamp(assert_ok(&report)), "the stamp cannot see this edit");

    let mut full = f.options(&package);
    full.connect.full_verify = true;
    let report = f.deploy_with(&f.target(), &full);
    let err = error_of(&report);
    assert!(matches!(err, DeployError::Verify { .. }) && err.to_string().contains("dags/etl_dag.py"), "{err}");

    // A fresh edit changes the mtime: the quick path falls back to hashing and finds it.
    let report = f.deploy(&Spec::new("1.1"));
    assert_ok(&report);
    let dag = f.home.join("current/dags/etl_dag.py");
    fs::write(&dag, "from airflow import XYZ\n").unwrap();
    let report = f.deploy(&Spec::new("1.1"));
    let err = error_of(&report);
    assert!(matches!(err, DeployError::Verify { .. }) && err.to_string().contains("dags/etl_dag.py"), "{err}");
}

#[test]
fn a_dag_change_uploads_about_the_changed_bytes() {
    let f = Fixture::new();
    let first = f.deploy(&Spec::new("1.0"));
    assert_ok(&first);
    let dag = format!("from airflow import DAG\n# {}\n", "x".repeat(20_000));
    let second = f.deploy(&Spec::new("1.1").with("dags/etl_dag.py", &dag));
    let host = assert_ok(&second);
    assert_eq!(host.state, HostState::Switched);
    assert_eq!(host.objects_uploaded, 1);
    assert_eq!(host.object_bytes, dag.len() as u64);
    assert_eq!(host.objects_reused, 3);
    assert!(host.bytes_uploaded < dag.len() as u64 + 64 * 1024, "{} bytes on the wire", host.bytes_uploaded);
    assert_eq!(host.previous.as_deref(), Some(first.release_id.as_str()));
    assert_eq!(f.read("dags/etl_dag.py"), dag);
    assert!(f.home.join("releases").join(&first.release_id).is_dir(), "the previous release stays");
    // The unchanged environment is linked from the previous release, not unpacked again.
    let inode = |release: &str| {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(f.home.join("releases").join(release).join("projects/etl/venv/pyvenv.cfg")).unwrap().ino()
    };
    assert_eq!(inode(&first.release_id), inode(&second.release_id));
    assert!(f.home.join("etl/venv/bin/python").exists());

    // A changed environment is unpacked afresh.
    let third = f.deploy(&Spec { venv_note: "rebuilt", ..Spec::new("1.2") });
    assert_ok(&third);
    assert_ne!(inode(&third.release_id), inode(&second.release_id));
    assert_eq!(f.read("etl/venv/note.txt"), "rebuilt");
}

#[test]
fn rollback_then_roll_forward() {
    let f = Fixture::new();
    let one = f.deploy(&Spec::new("1.0")).release_id;
    let two = f.deploy(&Spec::new("2.0").with("dags/etl_dag.py", "two\n")).release_id;
    let options = ConnectOptions::new(&f.root);
    let target = f.target();

    let listed = crate::releases(&target, &options).unwrap();
    let ids: Vec<(&str, bool, bool)> =
        listed[0].releases.iter().map(|r| (r.id.as_str(), r.current, r.previous)).collect();
    assert_eq!(ids, vec![(one.as_str(), false, true), (two.as_str(), true, false)]);
    assert_eq!(listed[0].releases[0].version.as_deref(), Some("1.0"));

    let back = crate::rollback(&target, &options, None, &()).unwrap();
    assert!(back[0].error.is_none(), "{:?}", back[0].error);
    assert_eq!((back[0].from.as_deref(), back[0].to.as_deref()), (Some(two.as_str()), Some(one.as_str())));
    assert_eq!(f.current(), format!("releases/{one}"));
    assert_eq!(f.read("dags/etl_dag.py"), "from airflow import DAG\n");

    // The previous release is now the one rolled back from: rolling back again goes forward.
    let forward = crate::rollback(&target, &options, None, &()).unwrap();
    assert_eq!(forward[0].to.as_deref(), Some(two.as_str()));
    assert_eq!(f.read("dags/etl_dag.py"), "two\n");

    let explicit = crate::rollback(&target, &options, Some(&one), &()).unwrap();
    assert!(explicit[0].error.is_none());
    assert_eq!(f.current(), format!("releases/{one}"));

    let missing = crate::rollback(&target, &options, Some("nope"), &()).unwrap();
    let err = missing[0].error.as_ref().unwrap().to_string();
    assert!(err.contains("there is no release `nope`") && err.contains(&two), "{err}");

    // Deploying 2.0 again switches to its existing release without uploading.
    let again = f.deploy(&Spec::new("2.0").with("dags/etl_dag.py", "two\n"));
    let host = assert_ok(&again);
    assert_eq!((host.state, host.bytes_uploaded), (HostState::Switched, 0));
    assert_eq!(f.current(), format!("releases/{two}"));
}

#[test]
fn a_plain_dags_directory_is_moved_aside() {
    let f = Fixture::new();
    fs::create_dir_all(f.home.join("dags")).unwrap();
    fs::write(f.home.join("dags/old_dag.py"), "old\n").unwrap();
    let report = f.deploy(&Spec::new("1.0"));
    let host = assert_ok(&report);
    let note = host.notes.iter().find(|n| n.contains("moved aside")).unwrap_or_else(|| panic!("{:?}", host.notes));
    assert!(note.contains("dags -> dags.pre-pad-"), "{note}");
    let aside: Vec<_> = fs::read_dir(&f.home)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("dags.pre-pad-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(f.read(&format!("{}/old_dag.py", aside[0])), "old\n");
    assert_eq!(f.read("dags/etl_dag.py"), "from airflow import DAG\n");
}

/// Every fail point: the previous release keeps serving (until the switch), the next run
/// cleans up and succeeds.
#[test]
fn an_interruption_at_any_step_leaves_the_previous_release_serving() {
    let mut points: Vec<FailPoint> = Step::ALL.iter().map(|&step| FailPoint { step, midway: false }).collect();
    for step in [Step::Upload, Step::Unpack, Step::Switch] {
        points.push(FailPoint { step, midway: true });
    }
    for point in points {
        let f = Fixture::new();
        let one = f.deploy(&Spec::new("1.0")).release_id;
        let spec = Spec::new("2.0").with("dags/etl_dag.py", "two\n").with("projects/etl/extra.py", "extra\n");
        let package = f.package(&spec);
        let options = f.options(&package);
        let report = crate::run::deploy_failing_at(&f.target(), &options, FailAt::at(point), &()).unwrap();
        let switched = point.step > Step::Switch || (point.step == Step::Switch && point.midway);
        if point.step >= Step::Prune {
            // After the switch: the deploy has done its job; what remains is retried later.
            assert_ok(&report);
        } else {
            let err = error_of(&report);
            assert!(matches!(err, DeployError::Injected { .. }), "{point:?}: {err}");
        }
        let serving = if switched { &report.release_id } else { &one };
        assert_eq!(f.current(), format!("releases/{serving}"), "{point:?}");
        assert!(f.home.join("dags/etl_dag.py").is_file(), "{point:?}: dags still resolve");
        assert!(!f.home.join(".pad/lock").exists(), "{point:?}: the lock died with its holder");

        let report = f.deploy_with(&f.target(), &options);
        assert_ok(&report);
        assert_eq!(f.current(), format!("releases/{}", report.release_id), "{point:?}");
        assert_eq!(f.read("dags/etl_dag.py"), "two\n", "{point:?}");
        assert_eq!(f.read("etl/extra.py"), "extra\n", "{point:?}");
        assert!(f.leftovers().is_empty(), "{point:?}: {:?}", f.leftovers());
    }
}

#[test]
fn a_held_lock_names_its_holder_and_a_dead_one_is_cleared() {
    let f = Fixture::new();
    let spec = Spec::new("1.0");
    assert_ok(&f.deploy(&spec));

    // Another deploy holds the lock: a live holder process.
    let mut shell = local_shell();
    let script = crate::scripts::Lock {
        home: f.home.as_str(),
        root: f.home.as_str(),
        owner: "alice@laptop pid 42",
        stale_secs: crate::LOCK_STALE_SECS,
    }
    .text();
    let mut holder = shell.spawn(Step::Lock, &script).unwrap();
    let line = holder.read_line().unwrap().unwrap();
    assert!(line.starts_with("pad-lock-taken owner=alice@laptop pid 42"), "{line}");
    let report = f.deploy(&spec);
    let err = error_of(&report).to_string();
    assert!(err.contains("another deploy holds the lock") && err.contains("owner=alice@laptop pid 42"), "{err}");
    holder.close().unwrap();
    assert!(!f.home.join(".pad/lock").exists());

    // A lock whose process is gone is reported and cleared.
    let mut dead =
        pad_process::Cmd::new("true", &f.root).spawn(pad_process::Sink::Null, pad_process::Sink::Null).unwrap();
    let pid = dead.id();
    dead.wait().unwrap();
    fs::create_dir_all(f.home.join(".pad/lock")).unwrap();
    fs::write(f.home.join(".pad/lock/info"), format!("owner=bob@ci pid {pid}\npid={pid}\nsince=1\n")).unwrap();
    let report = f.deploy(&spec);
    let host = assert_ok(&report);
    let note = host.notes.iter().find(|n| n.contains("stale lock")).unwrap_or_else(|| panic!("{:?}", host.notes));
    assert!(note.contains("owner=bob@ci") && note.contains("is gone"), "{note}");
}

#[test]
fn a_lock_wait_outlasts_a_short_holder() {
    let f = Fixture::new();
    let mut shell = local_shell();
    let script = crate::scripts::Lock {
        home: f.home.as_str(),
        root: f.home.as_str(),
        owner: "carol",
        stale_secs: crate::LOCK_STALE_SECS,
    }
    .text();
    let mut holder = shell.spawn(Step::Lock, &script).unwrap();
    holder.read_line().unwrap().unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        holder.close().unwrap();
    });
    let mut options = f.options(&f.package(&Spec::new("1.0")));
    options.connect.lock_wait = std::time::Duration::from_secs(30);
    assert_ok(&f.deploy_with(&f.target(), &options));
    release.join().unwrap();
}

#[test]
fn a_missing_interpreter_is_named() {
    let f = Fixture::new();
    let one = f.deploy(&Spec::new("1.0")).release_id;
    let mut spec = Spec::new("2.0");
    spec.interpreter = Some("/opt/python-nowhere/bin/python3.11".to_owned());
    let report = f.deploy(&spec);
    let err = error_of(&report);
    assert!(matches!(err, DeployError::Interpreter { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("needs the interpreter `/opt/python-nowhere/bin/python3.11`"), "{text}");
    assert!(text.contains("/opt/python-nowhere/bin/python3.11"), "{text}");
    assert_eq!(f.current(), format!("releases/{one}"));
}

#[test]
fn a_failing_import_is_reported_and_nothing_switches() {
    let f = Fixture::new();
    let one = f.deploy(&Spec::new("1.0")).release_id;
    let report =
        f.deploy(&Spec::new("2.0").with("projects/etl/etl/__init__.py", "raise SystemExit('broken package')\n"));
    let err = error_of(&report);
    assert!(matches!(err, DeployError::Import { .. }), "{err}");
    assert!(err.to_string().contains("broken package"), "{err}");
    assert_eq!(f.current(), format!("releases/{one}"));
}

#[test]
fn damaged_store_content_is_caught_and_replaced() {
    let f = Fixture::new();
    let first = f.deploy(&Spec::new("1.0"));
    assert_ok(&first);
    // Corrupt the DAG in the store (and so in the hard-linked release).
    let store = f.home.join(".pad/store");
    let dag_key = fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| fs::read_to_string(p).is_ok_and(|t| t == "from airflow import DAG\n"))
        .unwrap();
    fs::write(&dag_key, "tampered\n").unwrap();

    // The unchanged redeploy checks the current release and says what is wrong.
    let report = f.deploy(&Spec::new("1.0"));
    let err = error_of(&report);
    assert!(matches!(err, DeployError::Verify { .. }), "{err}");
    assert!(err.to_string().contains("dags/etl_dag.py"), "{err}");
    assert!(!dag_key.exists(), "the bad object is removed so the next upload replaces it");

    // A new release using the same content uploads it again.
    let report = f.deploy(&Spec::new("1.1").with("dags/other.py", "other\n"));
    let host = assert_ok(&report);
    assert_eq!(host.objects_uploaded, 2);
    assert_eq!(f.read("dags/etl_dag.py"), "from airflow import DAG\n");
}

#[test]
fn pruning_keeps_current_and_previous_and_unused_objects_go() {
    let f = Fixture::new();
    let mut target = f.target();
    target.keep = 2;
    let mut ids = Vec::new();
    for (n, version) in ["1", "2", "3", "4"].into_iter().enumerate() {
        let spec = Spec::new(version).with("dags/etl_dag.py", &format!("dag {n}\n"));
        let report = f.deploy_with(&target, &f.options(&f.package(&spec)));
        assert_ok(&report);
        ids.push(report.release_id.clone());
    }
    let mut left: Vec<String> =
        fs::read_dir(f.home.join("releases")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    let mut want = vec![ids[2].clone(), ids[3].clone()];
    want.sort();
    assert_eq!(left, want);
    // DAG objects of pruned releases are gone; the shared ones stay.
    let store = fs::read_dir(f.home.join(".pad/store")).unwrap().count();
    assert_eq!(store, 5, "two DAG versions and three shared files");
}

/// Spaces, quotes, `$(…)` and backquotes in `AIRFLOW_HOME` and in file names reach the
/// host as data, never as commands.
#[test]
fn hostile_paths_and_names_are_quoted() {
    let f = Fixture::with_home("air flow 'q' \"dq\" $(mkdir pad-pwned) `mkdir pad-pwned2` ; x");
    let spec = Spec::new("1.0")
        .with("dags/a dag's \"$(mkdir pad-pwned3)\" `x`.py", "weird\n")
        .with("projects/etl/sp ace/$HOME;rm -rf x.txt", "data\n");
    let report = f.deploy(&spec);
    assert_ok(&report);
    assert_eq!(f.read("dags/a dag's \"$(mkdir pad-pwned3)\" `x`.py"), "weird\n");
    assert_eq!(f.read("etl/sp ace/$HOME;rm -rf x.txt"), "data\n");
    for root in [Utf8Path::new("/"), &f.root, &f.home] {
        for marker in ["pad-pwned", "pad-pwned2", "pad-pwned3"] {
            assert!(!root.join(marker).exists(), "{root}/{marker} was created: a command ran");
        }
    }
    assert!(!Utf8Path::new("/pad-pwned").exists());
    let listed = crate::releases(&f.target(), &ConnectOptions::new(&f.root)).unwrap();
    assert_eq!(listed[0].releases.len(), 1);
    assert_ok(&f.deploy(&spec));
}

#[test]
fn a_relative_local_airflow_home_comes_from_the_repository_root() {
    let f = Fixture::new();
    let mut target = f.target();
    target.airflow_home = "${PAD_TEST_HOME:-target/airflow}".to_owned();
    let mut options = f.options(&f.package(&Spec::new("1.0")));
    options.connect.vars = Some(BTreeMap::new());
    assert_ok(&f.deploy_with(&target, &options));
    assert!(f.root.join("target/airflow/current/dags/etl_dag.py").is_file());

    target.env = BTreeMap::from([("X".to_owned(), "${PAD_TEST_UNSET}".to_owned())]);
    let err = crate::deploy(&target, &options, &()).unwrap_err().to_string();
    assert!(err.contains("`[env]`"), "{err}");
}

/// Progress that records each host's steps and waits, as `host: step`.
#[derive(Default)]
struct Record(std::sync::Mutex<Vec<String>>);

impl Progress for Record {
    fn step(&self, host: &str, step: Step) {
        self.0.lock().unwrap().push(format!("{host}: {step}"));
    }
    fn note(&self, _host: &str, _message: &str) {}
    fn waiting(&self, host: &str, what: &str) {
        self.0.lock().unwrap().push(format!("{host}: waiting for {what}"));
    }
}

#[test]
fn progress_sees_every_step_in_order() {
    let f = Fixture::new();
    let record = Record::default();
    crate::deploy(&f.target(), &f.options(&f.package(&Spec::new("1.0"))), &record).unwrap();
    let steps = record.0.into_inner().unwrap();
    expect_test::expect![[r#"
        local: 1/10 connect
        local: 2/10 lock
        local: 3/10 inspect
        local: 4/10 upload
        local: 5/10 unpack
        local: 6/10 verify
        local: 7/10 smoke test
        local: 8/10 switch
        local: 9/10 prune
        local: 10/10 unlock"#]]
    .assert_eq(&steps.join("\n"));
}

/// With a gate, a host prepares its release and waits: nothing under `releases/` is new
/// and the previous release serves until the gate opens. Refused, what was prepared goes
/// and the host is not switched; opened, the release is made and switched to.
#[test]
fn a_gated_deploy_waits_and_a_refusal_leaves_the_host_as_it_was() {
    let f = Fixture::new();
    let one = f.deploy(&Spec::new("1.0")).release_id;
    let releases = || {
        // What `releases` lists: not the hidden temporary names a release is built under.
        let mut names: Vec<String> = fs::read_dir(f.home.join("releases"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| !name.starts_with('.'))
            .collect();
        names.sort();
        names
    };
    let before = releases();
    let spec = Spec::new("2.0").with("dags/etl_dag.py", "two\n");
    let mut options = f.options(&f.package(&spec));

    for (refuse, what) in [(true, "refused"), (false, "opened")] {
        let gate = std::sync::Arc::new(crate::Gate::new("the tests"));
        options.gate = Some(gate.clone());
        let progress = Record::default();
        struct RefuseOnDrop<'a>(&'a crate::Gate);
        impl Drop for RefuseOnDrop<'_> {
            fn drop(&mut self) {
                self.0.refuse("the test failed");
            }
        }
        let report = std::thread::scope(|scope| {
            let deploy = scope.spawn(|| crate::deploy(&f.target(), &options, &progress).unwrap());
            // A failed assertion below must not leave the host waiting forever.
            let _unblock = RefuseOnDrop(&gate);
            // The host gets to the gate; meanwhile nothing it prepared is a release.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while !progress.0.lock().unwrap().iter().any(|l| l.ends_with("waiting for the tests")) {
                assert!(std::time::Instant::now() < deadline, "{what}: the host never reached the gate");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            assert_eq!(releases(), before, "{what}");
            assert_eq!(f.current(), format!("releases/{one}"), "{what}");
            assert!(f.home.join(".pad/lock").exists(), "{what}: the lock is held while it waits");
            if refuse {
                gate.refuse("2 tests failed")
            } else {
                gate.open()
            }
            deploy.join().unwrap()
        });
        let steps = progress.0.into_inner().unwrap();
        if refuse {
            let err = error_of(&report);
            assert_eq!(err.to_string(), "local: the release was prepared, then removed unmade: 2 tests failed");
            assert_eq!(report.hosts[0].state, HostState::NotSwitched);
            assert_eq!(f.current(), format!("releases/{one}"));
            assert_eq!(releases(), before);
            assert_eq!(steps.last().map(String::as_str), Some("local: 10/10 unlock"), "{steps:?}");
        } else {
            let host = assert_ok(&report);
            assert_eq!(host.state, HostState::Switched);
            assert_eq!(f.current(), format!("releases/{}", report.release_id));
            assert_eq!(f.read("dags/etl_dag.py"), "two\n");
            let at = steps.iter().position(|l| l == "local: waiting for the tests").unwrap();
            assert_eq!(
                steps[at - 1..at + 2],
                ["local: 7/10 smoke test", "local: waiting for the tests", "local: 8/10 switch"]
            );
        }
        assert!(f.leftovers().is_empty(), "{what}: {:?}", f.leftovers());
        assert!(!f.home.join(".pad/lock").exists(), "{what}: the lock is released");
    }
}

#[test]
fn release_ids_follow_the_inputs_and_the_env() {
    // A version no package file could carry in its name, as another tool might write it.
    let manifest = pad_bundle::Manifest::new(
        "platform-airflow-dags",
        "main/feature x",
        None,
        false,
        pad_bundle::Contents::default(),
    )
    .unwrap();
    let plain = crate::plan::release_id(&manifest, "");
    // The one rule for versions in paths (pad_stdx::safe_token), as git refs get it.
    assert_eq!(plain, format!("main-feature-x-{}", &manifest.inputs_sha256[..12]));
    let with_env = crate::plan::release_id(&manifest, "A='1'\n");
    assert_ne!(plain, with_env);
    assert_eq!(with_env, crate::plan::release_id(&manifest, "A='1'\n"));
}

#[test]
fn prune_never_takes_current_or_previous() {
    let state = HostContents {
        releases: ["a", "b", "c", "d", "e"].iter().map(|s| s.to_string()).collect(),
        current: Some("a".into()),
        history: vec![(1, "a".into()), (2, "b".into()), (3, "c".into()), (4, "d".into()), (5, "a".into())],
        ..HostContents::default()
    };
    // Oldest first by last use: e (never current), b, c; d is the previous one.
    assert_eq!(prune_list(&state, 2, "a"), vec!["e".to_owned(), "b".to_owned(), "c".to_owned()]);
    assert_eq!(prune_list(&state, 5, "a"), Vec::<String>::new());
    assert_eq!(state.previous().as_deref(), Some("d"));
}

#[test]
fn listing_parses_markers() {
    let out =
        "C releases/b\nH 10 a\nH 20 b\nR a\nI a version=1\nI a built_by=me@x pid 1\nR b\nI b version=2\npad-listed\n";
    let listed = crate::scripts::List::parse(out);
    let rows: Vec<_> =
        listed.iter().map(|r| (r.id.as_str(), r.version.as_deref(), r.deployed_at, r.current, r.previous)).collect();
    assert_eq!(rows, vec![("a", Some("1"), Some(10), false, true), ("b", Some("2"), Some(20), true, false)]);
    assert_eq!(listed[0].deployed_by.as_deref(), Some("me@x pid 1"));
    assert_eq!(minor("3.11.2"), "3.11");
    assert_eq!(minor("3.12"), "3.12");
}

#[test]
fn ssh_helpers() {
    assert_eq!(crate::ssh::fingerprint(&[0u8; 32]), "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(crate::ssh::known_hosts_line_pattern("w1", 22), "w1");
    assert_eq!(crate::ssh::known_hosts_line_pattern("w1", 2222), "[w1]:2222");
    let dir = tempfile::tempdir().unwrap();
    let file = Utf8PathBuf::from_path_buf(dir.path().join("known_hosts")).unwrap();
    fs::write(&file, "[w1]:2222 ecdsa-sha2-nistp256 AAAA\nother ssh-ed25519 AAAA\n").unwrap();
    let offered = crate::ssh::offered_methods(&file, "w1", 2222);
    assert!(offered.starts_with("ecdsa-sha2-nistp256,ssh-ed25519,"), "{offered}");
}

#[test]
fn commands_run_as_the_service_user_through_sudo() {
    assert_eq!(crate::shell::as_service(None, "deployer", "echo 'hi'"), r#"sh -c 'echo '\''hi'\'''"#);
    assert_eq!(crate::shell::as_service(Some("deployer"), "deployer", "true"), "sh -c true");
    assert_eq!(
        crate::shell::as_service(Some("airflow-svc"), "deployer", "cd \"$AH\""),
        r#"sudo -n -u airflow-svc -- sh -c 'cd "$AH"'"#
    );
}
