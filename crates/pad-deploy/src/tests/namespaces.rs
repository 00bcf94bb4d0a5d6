//! Namespaces through the local transport: side by side with the plain deploy in one
//! `AIRFLOW_HOME`, one `dags` folder showing each one's current DAGs, the shared store,
//! locks per namespace, `namespace list` and `rm`, and the bad input they refuse.

use std::fs;
use std::time::Duration;

use super::{Fixture, Spec, assert_ok, error_of, local_shell};
use crate::{ConnectOptions, DeployError, DeployOptions, HostState, Removal};

impl Fixture {
    fn ns_options(&self, spec: &Spec, namespace: &str) -> DeployOptions {
        let mut options = self.options(&self.package(spec));
        options.connect.namespace = Some(namespace.to_owned());
        options
    }

    fn deploy_ns(&self, spec: &Spec, namespace: &str) -> crate::DeployReport {
        self.deploy_with(&self.target(), &self.ns_options(spec, namespace))
    }

    fn link(&self, path: &str) -> String {
        fs::read_link(self.home.join(path)).unwrap_or_else(|e| panic!("{path}: {e}")).to_str().unwrap().to_owned()
    }

    fn namespaces(&self) -> Vec<(String, Option<String>)> {
        let listed = crate::list_namespaces(&self.target(), &ConnectOptions::new(&self.root)).unwrap();
        assert!(listed[0].error.is_none(), "{:?}", listed[0].error);
        listed[0].namespaces.iter().map(|n| (n.name.clone(), n.release.clone())).collect()
    }

    fn remove(&self, which: Removal) -> Result<Vec<crate::HostRemoval>, DeployError> {
        crate::remove_namespaces(&self.target(), &ConnectOptions::new(&self.root), &which, &())
    }
}

fn edited() -> Spec {
    Spec::new("1.0").with("dags/etl_dag.py", "from airflow import DAG  # edited in review\n")
}

#[test]
fn namespaces_sit_beside_the_plain_deploy_in_one_dags_folder() {
    let f = Fixture::new();
    let plain = f.deploy(&Spec::new("1.0"));
    assert_ok(&plain);
    assert_eq!(f.link("dags"), "current/dags", "no namespace yet: the plain layout");

    // A namespace differing by one DAG moves only that DAG's bytes.
    let review = f.deploy_ns(&edited(), "review-1");
    let host = assert_ok(&review);
    assert_eq!((host.objects_uploaded, host.objects_reused), (1, 3), "only the edited DAG moves");
    assert_eq!(review.namespace.as_deref(), Some("review-1"));
    assert_ne!(review.release_id, plain.release_id, "a release belongs to one namespace");

    // `dags` became a directory of links to each `current`.
    assert!(f.home.join("dags").is_dir() && !f.home.join("dags").is_symlink());
    assert!(f.home.join("dags/.pad-dags").is_file());
    assert_eq!(f.link("dags/prod"), "../current/dags");
    assert_eq!(f.link("dags/review-1"), "../namespaces/review-1/current/dags");
    assert_eq!(f.read("dags/prod/etl_dag.py"), "from airflow import DAG\n");
    assert_eq!(f.read("dags/review-1/etl_dag.py"), "from airflow import DAG  # edited in review\n");
    assert_eq!(f.link("namespaces/review-1/.pad/store"), "../../../.pad/store", "the store is shared");
    assert_eq!(f.link("namespaces/review-1/etl"), "current/projects/etl");
    let runtime = f.read(&format!("namespaces/review-1/releases/{}/.pad-release/runtime.json", review.release_id));
    let runtime: serde_json::Value = serde_json::from_str(&runtime).unwrap();
    assert_eq!(runtime["namespace"], "review-1");
    assert_eq!(runtime["data_root"], format!("{}/data/review-1", f.home));

    // The plain deploy goes on in the new layout: its entry follows `current`.
    let next = f.deploy(&Spec::new("1.1"));
    assert_ok(&next);
    assert_eq!(f.link("dags/prod"), "../current/dags");
    assert_eq!(f.current(), format!("releases/{}", next.release_id));
    assert_eq!(f.read("dags/review-1/etl_dag.py"), "from airflow import DAG  # edited in review\n");

    let listed = f.namespaces();
    assert_eq!(
        listed,
        vec![("prod".to_owned(), Some(next.release_id.clone())), ("review-1".to_owned(), Some(review.release_id))]
    );
}

#[test]
fn rm_removes_one_namespace_and_leaves_the_others_and_their_data() {
    let f = Fixture::new();
    assert_ok(&f.deploy(&Spec::new("1.0")));
    let a = f.deploy_ns(&edited(), "a");
    assert_ok(&a);
    let b = f.deploy_ns(&Spec::new("1.0").with("dags/only_b.py", "B = 1\n"), "b");
    assert_ok(&b);
    fs::create_dir_all(f.home.join("data/a")).unwrap();
    fs::write(f.home.join("data/a/out.txt"), "a's data").unwrap();

    // An unknown namespace: a clear error, and nothing removed.
    let err = f.remove(Removal::Named("nope".to_owned())).unwrap_err();
    assert!(matches!(err, DeployError::NoSuchNamespace { .. }), "{err}");
    assert!(err.to_string().contains("`nope`") && err.to_string().contains("a, b"), "{err}");
    assert_eq!(f.namespaces().len(), 3);

    let removed = f.remove(Removal::Named("a".to_owned())).unwrap();
    assert_eq!(removed[0].removed, vec!["a".to_owned()]);
    assert!(removed[0].error.is_none());
    assert!(!f.home.join("namespaces/a").exists() && f.home.join("dags/a").symlink_metadata().is_err());
    assert_eq!(f.read("data/a/out.txt"), "a's data", "a data root is never touched");
    assert_eq!(f.read("dags/b/only_b.py"), "B = 1\n");
    assert_eq!(f.read("dags/prod/etl_dag.py"), "from airflow import DAG\n");
    // The edited DAG's object went with `a`; what `b` and the plain deploy use stays.
    assert_ok(&f.deploy_ns(&Spec::new("1.0").with("dags/only_b.py", "B = 1\n"), "b"));
    let mut full = f.options(&f.package(&Spec::new("1.0")));
    full.connect.full_verify = true;
    assert_eq!(assert_ok(&f.deploy_with(&f.target(), &full)).state, HostState::Unchanged);
    let names: Vec<String> = f.namespaces().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["prod", "b"]);

    // `--older-than`: `b` was deployed just now, so a day keeps it and no age does not.
    let kept = f.remove(Removal::OlderThan(Duration::from_secs(86_400))).unwrap();
    assert!(kept[0].removed.is_empty());
    std::thread::sleep(Duration::from_millis(1100));
    let gone = f.remove(Removal::OlderThan(Duration::ZERO)).unwrap();
    assert_eq!(gone[0].removed, vec!["b".to_owned()]);
    assert_eq!(f.namespaces().into_iter().map(|(n, _)| n).collect::<Vec<_>>(), ["prod"]);
    assert_eq!(f.read("dags/prod/etl_dag.py"), "from airflow import DAG\n");
}

#[test]
fn each_namespace_has_its_own_lock_and_pruning_spares_other_namespaces() {
    let f = Fixture::new();
    assert_ok(&f.deploy(&Spec::new("1.0")));
    assert_ok(&f.deploy_ns(&edited(), "held"));

    // A deploy holds `held`'s lock: another to `held` is refused clearly, one to another
    // namespace (and the plain one) goes ahead.
    let mut shell = local_shell();
    let ns_home = f.home.join("namespaces/held");
    let lock =
        crate::lock::HeldLock::take(&mut shell, ns_home.as_str(), f.home.as_str(), "test", Duration::ZERO, &mut |_| {})
            .unwrap();
    let same = f.deploy_ns(&Spec::new("1.1"), "held");
    let err = error_of(&same);
    assert!(matches!(err, DeployError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("namespaces/held/.pad/lock"), "{err}");
    assert_ok(&f.deploy_ns(&Spec::new("1.1"), "other"));
    // While `held` is locked, nobody drops the shared store's objects.
    for version in ["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"] {
        let version: &'static str = version;
        assert_ok(&f.deploy(&Spec::new(version).with("dags/v.py", version)));
    }
    lock.release();
    // Pruning the plain deploy (keep 5) now collects the store, but never the objects of
    // a namespace's releases: `held` still checks out whole, by hash.
    for version in ["1.8", "1.9"] {
        assert_ok(&f.deploy(&Spec::new(version).with("dags/v.py", version)));
    }
    let mut full = f.ns_options(&edited(), "held");
    full.connect.full_verify = true;
    assert_eq!(assert_ok(&f.deploy_with(&f.target(), &full)).state, HostState::Unchanged);
    assert!(!f.home.join(".pad/gc").exists());
}

/// First deploys of the plain deploy and two namespaces at once on a fresh home: all
/// succeed, and `dags` ends as the namespaced directory showing all three (repeated,
/// since who turns `dags` into a directory is a race the lock in the switch settles).
#[test]
fn concurrent_deploys_to_two_namespaces_both_succeed() {
    for _ in 0..3 {
        let f = Fixture::new();
        let a = f.ns_options(&edited(), "one");
        let b = f.ns_options(&Spec::new("1.0").with("dags/b.py", "B\n"), "two");
        let plain = f.options(&f.package(&Spec::new("1.0")));
        let target = f.target();
        let reports = std::thread::scope(|s| {
            let runs: Vec<_> =
                [&a, &b, &plain].into_iter().map(|o| s.spawn(|| crate::deploy(&target, o, &()).unwrap())).collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect::<Vec<_>>()
        });
        for report in &reports {
            assert_ok(report);
        }
        assert_eq!(f.read("dags/one/etl_dag.py"), "from airflow import DAG  # edited in review\n");
        assert_eq!(f.read("dags/two/b.py"), "B\n");
        assert_eq!(f.read("dags/prod/etl_dag.py"), "from airflow import DAG\n");
        assert!(f.home.join("dags/.pad-dags").is_file());
        assert!(!f.home.join(".pad/dags.lock").exists());
        let aside = fs::read_dir(&f.home)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_str().unwrap().starts_with("dags."))
            .count();
        assert_eq!(aside, 0, "nothing moved aside");
    }
}

#[test]
fn bad_namespaces_and_a_target_without_data_root_are_refused_before_any_host() {
    let f = Fixture::new();
    let package = f.package(&Spec::new("1.0"));
    for (name, expected) in [
        ("Review", "lowercase letters, digits and `-`"),
        ("a_b", "lowercase letters, digits and `-`"),
        ("-a", "starts or ends with `-`"),
        ("prod", "plain deploy"),
        (&"x".repeat(41), "more than the 40 allowed"),
    ] {
        let mut options = f.options(&package);
        options.connect.namespace = Some(name.to_owned());
        let err = crate::deploy(&f.target(), &options, &()).unwrap_err();
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
    assert!(!f.home.exists(), "nothing was written");

    let mut remote = f.target();
    remote.hosts = pad_layout::Hosts::Remote(vec!["worker1.invalid".to_owned()]);
    remote.ssh_user = Some("deployer".to_owned());
    remote.file = Some("deploy/staging.toml".into());
    let mut options = f.options(&package);
    options.connect.namespace = Some("review-1".to_owned());
    let err = crate::deploy(&remote, &options, &()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("data_root = \"/srv/data/${namespace}\"") && text.contains("deploy/staging.toml"), "{text}");
    // The plain deploy needs no data root.
    options.connect.namespace = None;
    let err = crate::deploy(&remote, &options, &()).map(|r| r.hosts[0].error.is_some());
    assert!(!matches!(err, Err(DeployError::Config { .. })), "{err:?}");
}

/// A DAG-only change, in the same namespace or a new one, links the environment that
/// was unpacked and smoke-tested on the host before, and runs no smoke test; a change
/// to the project's files (same environment) is smoke-tested again, and an environment
/// that changed is unpacked.
#[test]
fn a_dag_only_change_links_the_tested_environment_and_skips_unpack_and_smoke_test() {
    let f = Fixture::new();
    let linked = |host: &crate::HostReport| host.notes.iter().any(|n| n.contains("not smoke-tested again"));
    let first = f.deploy(&Spec::new("1.0"));
    assert!(!linked(assert_ok(&first)), "the first deploy unpacks and tests");
    let marker = fs::read_dir(f.home.join(".pad/envs")).unwrap().count();
    assert_eq!(marker, 1, "one tested environment kept");

    let dag_only = f.deploy(&Spec::new("1.1").with("dags/etl_dag.py", "from airflow import DAG  # 1.1\n"));
    assert!(linked(assert_ok(&dag_only)), "{:?}", dag_only.hosts[0].notes);
    let review = f.deploy_ns(&edited(), "review");
    assert!(linked(assert_ok(&review)), "{:?}", review.hosts[0].notes);
    let ino = |path: &str| std::os::unix::fs::MetadataExt::ino(&fs::metadata(f.home.join(path)).unwrap());
    assert_eq!(ino("current/projects/etl/venv/note.txt"), ino("namespaces/review/current/projects/etl/venv/note.txt"));

    // The project's code changed: the environment is linked, the import tested again.
    let code = f.deploy(&Spec::new("1.2").with("projects/etl/etl/__init__.py", "VALUE = 2\n"));
    let host = assert_ok(&code);
    assert!(!linked(host) && host.notes.iter().any(|n| n.contains("smoke-tested)")), "{:?}", host.notes);
    // A changed environment is unpacked from its own archive.
    let other = Spec { venv_note: "another environment", ..Spec::new("1.3") };
    let host = assert_ok(&f.deploy(&other)).notes.clone();
    assert!(!host.iter().any(|n| n.contains("byte-identical")), "{host:?}");
    assert_eq!(f.read("current/projects/etl/venv/note.txt"), "another environment");
}

/// What stands at `dags` and is not the plain deploy's link (a directory of the user's,
/// or a link elsewhere) is moved aside, never deleted, when `dags` becomes the
/// namespaced directory.
#[test]
fn a_foreign_dags_is_moved_aside_by_the_first_namespace() {
    for foreign_link in [false, true] {
        let f = Fixture::new();
        fs::create_dir_all(&f.home).unwrap();
        if foreign_link {
            fs::create_dir_all(f.root.join("elsewhere")).unwrap();
            std::os::unix::fs::symlink(f.root.join("elsewhere"), f.home.join("dags")).unwrap();
        } else {
            fs::create_dir_all(f.home.join("dags")).unwrap();
            fs::write(f.home.join("dags/mine.py"), "# the user's\n").unwrap();
        }
        let report = f.deploy_ns(&edited(), "review");
        let host = assert_ok(&report);
        let note = host.notes.iter().find(|n| n.contains("moved aside")).unwrap_or_else(|| panic!("{:?}", host.notes));
        assert!(note.contains("dags -> dags.pre-pad-"), "{note}");
        let aside: Vec<String> = fs::read_dir(&f.home)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("dags.pre-pad-"))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
        if foreign_link {
            assert_eq!(fs::read_link(f.home.join(&aside[0])).unwrap(), f.root.join("elsewhere"));
        } else {
            assert_eq!(f.read(&format!("{}/mine.py", aside[0])), "# the user's\n");
        }
        assert!(f.home.join("dags/.pad-dags").is_file());
        assert_eq!(f.link("dags/review"), "../namespaces/review/current/dags");
        assert!(f.home.join("dags/prod").symlink_metadata().is_err(), "no plain deploy to show");
    }
}

/// A rollback in a namespace that is not there says so and makes nothing.
#[test]
fn a_rollback_in_an_unknown_namespace_makes_nothing() {
    let f = Fixture::new();
    assert_ok(&f.deploy(&Spec::new("1.0")));
    let mut options = ConnectOptions::new(&f.root);
    options.namespace = Some("typo".to_owned());
    let reports = crate::rollback(&f.target(), &options, None, &()).unwrap();
    let err = reports[0].error.as_ref().expect("an error");
    assert!(err.to_string().contains("no namespace `typo`"), "{err}");
    assert!(!f.home.join("namespaces/typo").exists());
}
