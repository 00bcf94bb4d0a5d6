//! Namespaces end to end: `cargo xtask deploy --namespace`, `namespace list` and
//! `namespace rm` against a worker container, and real Airflow (the DAG check's pinned
//! 2.10) reading one local `AIRFLOW_HOME` that holds the plain deploy and two namespaces
//! of the example repository, one of them run on its test data profile.

use std::time::Duration;

use camino::Utf8Path;
use pad_process::{Cmd, Finished};
use serde_json::Value;

use crate::deploy::{Deployer, Spec, deployed, host_report, wait_during};
use crate::support::{TestRepo, e2e_enabled, shared_target};
use crate::worker::{WorkerOptions, WorkerSet};

const DATA_ROOT_LINE: &str = "data_root = \"/srv/airflow/data/${namespace}\"\n";

#[test]
fn namespaces_side_by_side_on_a_worker() {
    if !e2e_enabled("namespaces_side_by_side_on_a_worker") {
        return;
    }
    let set = WorkerSet::start(WorkerOptions::default());
    let worker = &set.workers()[0];
    let d = Deployer::new(&set);
    let base = Spec { big: 1 << 20, ..Spec::new("1.0") };
    let plain = d.package(&base);

    // A target with no data_root: the plain deploy works, a namespace is refused with the
    // line to add, before the host is touched.
    deployed(d.deploy(&plain, &[]));
    let refused = d.deploy(&plain, &["--namespace", "mr-1"]).failure();
    let text = format!("{}{}", refused.stdout, refused.stderr);
    assert!(text.contains("data_root = \"/srv/data/${namespace}\""), "{text}");
    assert!(text.contains("deploy/workers.toml"), "{text}");
    assert!(worker.exec_root("test -e /srv/airflow/namespaces && echo there").stdout.is_empty());
    let toml = std::fs::read_to_string(d.repo.root.join("deploy/workers.toml")).unwrap();
    d.repo.write("deploy/workers.toml", &format!("{toml}{DATA_ROOT_LINE}"));
    // The data root is part of what a release says about itself: a new plain release.
    let (plain_id, json) = deployed(d.deploy(&plain, &[]));
    assert_eq!(host_report(&json, &worker.host)["state"], "switched", "{json}");
    let runtime = worker.exec_as_service("cat /srv/airflow/current/.pad-release/runtime.json");
    assert!(runtime.stdout.contains("\"data_root\":\"/srv/airflow/data/prod\""), "{}", runtime.stdout);

    // Bad names: a clear error each.
    for (name, why) in [("MR_1", "lowercase letters"), ("prod", "plain deploy"), (&"x".repeat(41)[..], "40")] {
        let bad = d.deploy(&plain, &["--namespace", name]).failure();
        assert!(bad.stderr.contains(why), "{name}: {}", bad.stderr);
    }

    // Two namespaces deployed at the same time, each differing by one DAG.
    let dag_of = |ns: &str| format!("{}# review {ns}\n", base.dag);
    let one = d.package(&Spec { version: "1.0-mr1".into(), dag: dag_of("mr-1"), ..base.clone() });
    let two = d.package(&Spec { version: "1.0-mr2".into(), dag: dag_of("mr-2"), ..base.clone() });
    let first = d.spawn_deploy(&one, &["--namespace", "mr-1", "--json"]);
    let second = d.spawn_deploy(&two, &["--namespace", "mr-2", "--json"]);
    let (first, second) = (first.wait().success().json(), second.wait().success().json());
    for (json, ns) in [(&first, "mr-1"), (&second, "mr-2")] {
        let report = host_report(json, &worker.host);
        assert_eq!(report["state"], "switched", "{json}");
        assert_eq!(json["namespace"], ns, "{json}");
        assert_eq!(report["objects_uploaded"], 1, "only the changed DAG moves: {json}");
    }
    let layout = worker.exec_as_service(
        "cd /srv/airflow && readlink dags/prod dags/mr-1 dags/mr-2 && cat dags/prod/etl_dag.py dags/mr-1/etl_dag.py dags/mr-2/etl_dag.py && readlink namespaces/mr-1/.pad/store",
    );
    let want = format!(
        "../current/dags\n../namespaces/mr-1/current/dags\n../namespaces/mr-2/current/dags\n{}{}{}../../../.pad/store\n",
        base.dag,
        dag_of("mr-1"),
        dag_of("mr-2")
    );
    assert_eq!(layout.stdout, want, "{}", layout.stderr);
    let runtime = worker.exec_as_service("cat /srv/airflow/namespaces/mr-2/current/.pad-release/runtime.json");
    let runtime: Value = serde_json::from_str(&runtime.stdout).unwrap();
    assert_eq!(runtime["data_root"], "/srv/airflow/data/mr-2");

    // The same namespace twice at once: the second is told who holds its lock.
    let slow = d.package(&Spec { version: "1.1-mr1".into(), big: 40 << 20, seed: 9, ..base.clone() });
    let mut holder = d.spawn_deploy(&slow, &["--namespace", "mr-1"]);
    wait_during(
        worker,
        &mut holder,
        "cat /srv/airflow/namespaces/mr-1/.pad/lock/info 2>/dev/null",
        Duration::from_secs(60),
    );
    let refused = d.deploy(&two, &["--namespace", "mr-1"]).failure();
    let text = format!("{}{}", refused.stdout, refused.stderr);
    assert!(text.contains("another deploy holds the lock") && text.contains("namespaces/mr-1/.pad/lock"), "{text}");
    holder.wait().success();

    // Releases and list per namespace.
    let releases = d.xtask(&["releases", "--target", "workers", "--namespace", "mr-2", "--json"]).success().json();
    assert_eq!(releases[0]["releases"].as_array().unwrap().len(), 1, "{releases}");
    let listed = d.xtask(&["namespace", "list", "--target", "workers", "--json"]).success().json();
    let names: Vec<(&str, &str)> = listed[0]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["name"].as_str().unwrap(), n["release"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(names.len(), 3, "{listed}");
    assert_eq!(names[0], ("prod", plain_id.as_str()), "{listed}");
    assert!(listed[0]["namespaces"][1]["size_bytes"].as_u64().unwrap() > 1 << 20, "{listed}");

    // rm: an unknown name removes nothing; `mr-1` goes, `mr-2` and the plain deploy stay.
    worker.exec_as_service("mkdir -p /srv/airflow/data/mr-1 && echo kept > /srv/airflow/data/mr-1/out.txt");
    let unknown = d.xtask(&["namespace", "rm", "mr-9", "--target", "workers"]).failure();
    assert!(
        unknown.stderr.contains("no namespace `mr-9`") && unknown.stderr.contains("mr-1, mr-2"),
        "{}",
        unknown.stderr
    );
    d.xtask(&["namespace", "rm", "mr-1", "--target", "workers"]).success();
    let after = worker.exec_as_service(
        "cd /srv/airflow && ls dags && ls namespaces && cat dags/mr-2/etl_dag.py dags/prod/etl_dag.py data/mr-1/out.txt",
    );
    // The synthetic packages ship no pad_runtime.py, so dags/ holds only the links.
    let want = format!("mr-2\nprod\nmr-2\n{}{}kept\n", dag_of("mr-2"), base.dag);
    assert_eq!(after.stdout, want, "{}", after.stderr);
    // What stays checks out whole, by hash.
    let (_, json) = deployed(d.deploy(&two, &["--namespace", "mr-2", "--full-verify"]));
    assert_eq!(host_report(&json, &worker.host)["state"], "unchanged", "{json}");
    let (_, json) = deployed(d.deploy(&plain, &["--full-verify"]));
    assert_eq!(host_report(&json, &worker.host)["state"], "unchanged", "{json}");
}

fn airflow_cmd(airflow: &Utf8Path, home: &Utf8Path, args: &[&str]) -> Finished {
    Cmd::new(airflow.as_str(), home)
        .args(args)
        .env("AIRFLOW_HOME", home.as_str())
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .env("AIRFLOW__CORE__DAGS_FOLDER", home.join("dags").as_str())
        .env("PATH", format!("{}:/usr/bin:/bin", airflow.parent().unwrap()))
        .run_unchecked()
        .unwrap()
}

/// The example repository deployed locally as the plain deploy and as namespaces `mr-1`
/// and `mr-2` (on the `small` profile) and `mr-3` (on `errors`): real Airflow lists all
/// their DAG ids with no import errors, and each run writes only under its own data root.
#[test]
fn real_airflow_reads_the_plain_deploy_and_namespaces_from_one_dags_folder() {
    if !e2e_enabled("real_airflow_reads_the_plain_deploy_and_namespaces_from_one_dags_folder") {
        return;
    }
    let repo = TestRepo::example();
    let home = repo.root.join("airflow");
    let target = shared_target();
    let xtask = |args: &[&str]| repo.xtask_home(&home, args, &[]);
    // The DAG check (both loads, plain and test namespace) passes, and builds Airflow.
    xtask(&["test", "--airflow", "2.10"]).success();
    let out = repo.root.join("out");
    let package = xtask(&["package", "--json", "--out-dir", out.as_str()]).success().json();
    let file = package["path"].as_str().unwrap();
    xtask(&["deploy", "--target", "local", "--package", file]).success();
    xtask(&["deploy", "--target", "local", "--package", file, "--namespace", "mr-1"]).success();
    xtask(&["deploy", "--target", "local", "--package", file, "--namespace", "mr-2", "--data-profile", "small"])
        .success();
    xtask(&["deploy", "--target", "local", "--package", file, "--namespace", "mr-3", "--data-profile", "errors"])
        .success();

    let airflow = crate::airflow_proof::built_airflow(&target.join("venvs/airflow-2.10"));
    let migrate = airflow_cmd(&airflow, &home, &["db", "migrate"]);
    assert!(migrate.status.success(), "{}\n{}", migrate.stdout, migrate.stderr);
    crate::airflow_proof::assert_no_import_errors(&airflow_cmd(
        &airflow,
        &home,
        &["dags", "list-import-errors", "-o", "json"],
    ));
    let listed = airflow_cmd(&airflow, &home, &["dags", "list", "-o", "plain"]);
    for id in ["image_matching", "archive_sync", "image_matching__mr-1", "archive_sync__mr-1", "image_matching__mr-2"] {
        assert!(
            listed.stdout.lines().any(|l| l.split_whitespace().next() == Some(id)),
            "{id} missing:\n{}\n{}",
            listed.stdout,
            listed.stderr
        );
    }

    // mr-2 runs on its `small` fixtures and writes only under data/mr-2.
    let date = "2024-01-01";
    let run = airflow_cmd(&airflow, &home, &["dags", "test", "image_matching__mr-2", date]);
    assert!(run.status.success(), "{}\n{}", run.stdout, run.stderr);
    let tsv = std::fs::read_to_string(home.join("data/mr-2/image-matching").join(date).join("matches.tsv")).unwrap();
    assert!(tsv.lines().count() > 1 && tsv.lines().count() < 20, "a few matches from the fixtures:\n{tsv}");
    assert!(tsv.contains("Lake Tana"), "{tsv}");
    let data: Vec<String> =
        std::fs::read_dir(home.join("data")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(data, ["mr-2"], "nothing written outside mr-2's data root");

    // mr-3's `errors` profile: the run fails cleanly, and writes nothing.
    let run = airflow_cmd(&airflow, &home, &["dags", "test", "image_matching__mr-3", date]);
    let log = format!("{}\n{}", run.stdout, run.stderr);
    assert!(log.contains("image_matching: error:"), "{log}");
    assert!(!home.join("data/mr-3/image-matching").join(date).join("matches.tsv").exists());
}
