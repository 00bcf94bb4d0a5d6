//! The end-to-end proof with real Airflow: after `cargo xtask deploy-local-build` on this
//! machine, and after `cargo xtask deploy` to a worker container, Airflow (pinned in
//! `deploy/airflow/2.10`) finds no import errors in the deployed DAGs, and
//! `airflow dags test image_matching` runs the project through its shipped environment
//! and writes the expected matches.

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::{Cmd, Finished};

use crate::support::{TestRepo, e2e_enabled, shared_target, xtask_with_env};
use crate::worker::{WorkerOptions, WorkerSet, airflow_env_tarball, host_marker, unproven};

const DAG_ID: &str = "image_matching";
const LOGICAL_DATE: &str = "2024-01-01";
const HEADER: &str =
    "snapshot\twiki\tpage_id\tpage_title\tpage_qid\trank\timage_name\tscore\tconfidence\tsources\tfound_on_count";
/// A row the shipped dataset yields (the article has a Wikidata image).
const ROW: &str =
    "2024-01-01\tarwiki\t63001\tبحيرة تانا\tQ5505\t1\tLake Tana, Ethiopia (2).jpg\t1.100\thigh\twikidata_p18\t2";

/// What `airflow dags test image_matching` must leave behind.
#[track_caller]
fn check_matches(tsv: &str) {
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines.first().copied(), Some(HEADER), "{tsv}");
    assert!(lines.contains(&ROW), "expected row missing:\n{tsv}");
    assert_eq!(lines.len(), 53, "52 matches and a header expected:\n{tsv}");
}

/// `airflow dags list-import-errors -o json`'s verdict: Airflow 2 prints log lines
/// before the JSON, and "No data found" when there is nothing.
#[track_caller]
pub(crate) fn assert_no_import_errors(out: &Finished) {
    assert!(out.status.success(), "list-import-errors failed:\n{}\n{}", out.stdout, out.stderr);
    let clean = out.stdout.contains("No data found")
        || out.stdout.lines().any(|l| l.trim() == "[]")
        || out.stdout.trim_end().ends_with("[]");
    assert!(clean, "import errors reported:\n{}\n{}", out.stdout, out.stderr);
}

fn airflow_env(airflow: &Utf8Path, home: &Utf8Path) -> Vec<(String, String)> {
    vec![
        ("AIRFLOW_HOME".into(), home.to_string()),
        ("AIRFLOW__CORE__LOAD_EXAMPLES".into(), "False".into()),
        ("AIRFLOW__CORE__DAGS_FOLDER".into(), home.join("dags").to_string()),
        ("PATH".into(), format!("{}:/usr/bin:/bin", airflow.parent().unwrap())),
    ]
}

/// The newest Airflow environment under `dir` (`<key>/venv/bin/airflow`).
pub(crate) fn built_airflow(dir: &Utf8Path) -> Utf8PathBuf {
    let mut found: Vec<(std::time::SystemTime, Utf8PathBuf)> = dir
        .read_dir_utf8()
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|entry| {
            let airflow = entry.ok()?.path().join("venv/bin/airflow");
            Some((std::fs::metadata(&airflow).ok()?.modified().ok()?, airflow))
        })
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| panic!("no Airflow environment under {dir}")).1
}

fn run_airflow(airflow: &Utf8Path, home: &Utf8Path, args: &[&str]) -> Finished {
    let mut cmd = Cmd::new(airflow.as_str(), home).args(args);
    for (key, value) in airflow_env(airflow, home) {
        cmd = cmd.env(key, value);
    }
    cmd.run_unchecked().unwrap()
}

#[test]
fn airflow_runs_the_dag_after_deploy_local_build() {
    if !e2e_enabled("airflow_runs_the_dag_after_deploy_local_build") {
        return;
    }
    let repo = TestRepo::example();
    let home = repo.root.join("airflow home");
    let target = shared_target();
    let env = [("PAD_TARGET_DIR", target.as_str()), ("AIRFLOW_HOME", home.as_str())];
    let args = ["--repo", repo.root.as_str(), "deploy-local-build"];
    let first = xtask_with_env(&repo.root, &args, &env).success();
    assert!(first.stdout.contains("switched"), "{}", first.stdout);
    // The main command on an unchanged tree: nothing to do.
    let again = xtask_with_env(&repo.root, &args, &env).success();
    assert!(again.stdout.contains("unchanged"), "{}", again.stdout);
    assert!(again.stdout.contains("uploaded nothing"), "{}", again.stdout);

    // The Airflow the DAG check pinned and built (deploy/airflow/2.10).
    let airflow = built_airflow(&target.join("venvs/airflow-2.10"));
    let migrate = run_airflow(&airflow, &home, &["db", "migrate"]);
    assert!(migrate.status.success(), "{}\n{}", migrate.stdout, migrate.stderr);
    assert_no_import_errors(&run_airflow(&airflow, &home, &["dags", "list-import-errors", "-o", "json"]));
    let listed = run_airflow(&airflow, &home, &["dags", "list", "-o", "plain"]);
    assert!(listed.stdout.contains(DAG_ID), "{}\n{}", listed.stdout, listed.stderr);

    let test = run_airflow(&airflow, &home, &["dags", "test", DAG_ID, LOGICAL_DATE]);
    assert!(test.status.success(), "dags test failed:\n{}\n{}", test.stdout, test.stderr);
    // The plain deploy's data root: the local target's default, <AIRFLOW_HOME>/data/prod.
    let output = home.join("data/prod/image-matching").join(LOGICAL_DATE).join("matches.tsv");
    check_matches(&std::fs::read_to_string(&output).unwrap_or_else(|e| panic!("{output}: {e}")));
    // It ran the shipped environment of the current release, not a copy from the build.
    let log = format!("{}\n{}", test.stdout, test.stderr);
    let current = std::fs::read_link(home.join("current")).unwrap();
    let python = format!("{home}/{}/projects/image-matching/venv/bin/python", current.display());
    assert!(log.contains(&python), "{python} not in {log}");
}

#[test]
fn airflow_on_a_worker_runs_the_dag_after_a_remote_deploy() {
    if !e2e_enabled("airflow_on_a_worker_runs_the_dag_after_a_remote_deploy") {
        return;
    }
    let workers = WorkerSet::start(WorkerOptions::default());
    let worker = &workers.workers()[0];
    let repo = TestRepo::example();
    repo.write("deploy/workers.toml", &workers.target_toml("workers"));
    let target = shared_target();
    let env = [("PAD_TARGET_DIR", target.as_str())];
    let out = repo.root.join("out");
    let package = xtask_with_env(
        &repo.root,
        &["--repo", repo.root.as_str(), "package", "--json", "--out-dir", out.as_str()],
        &env,
    )
    .success()
    .json();
    let file = package["path"].as_str().unwrap();
    let deploy = ["--repo", repo.root.as_str(), "deploy", "--target", "workers", "--package", file];
    let report = xtask_with_env(&repo.root, &deploy, &env).success();
    assert!(report.stdout.contains("switched"), "{}", report.stdout);

    // Nothing of this machine is visible there (in a container; the sshd fallback shares
    // this machine's filesystem and says so): Airflow is shipped in, built here with the
    // worker's interpreter path.
    if workers.is_docker() {
        let marker = host_marker();
        let path = marker.path().to_str().unwrap();
        let seen = worker.exec_root(&format!("test -e {path} && echo visible || echo absent"));
        assert_eq!(seen.stdout, "absent\n", "the worker sees {path} of this machine");
    } else {
        unproven(
            "airflow_on_a_worker_runs_the_dag_after_a_remote_deploy",
            "that Airflow runs on a host that has nothing of this machine",
        );
    }
    worker.install_airflow(&airflow_env_tarball("2.10"));
    let home = &worker.airflow_home;
    let airflow = |args: &str| {
        worker.exec_as_service(&format!(
            "cd {home} && AIRFLOW_HOME={home} AIRFLOW__CORE__LOAD_EXAMPLES=False /opt/airflow-venv/bin/airflow {args}"
        ))
    };
    let migrate = airflow("db migrate");
    assert!(migrate.status.success(), "{}\n{}", migrate.stdout, migrate.stderr);
    assert_no_import_errors(&airflow("dags list-import-errors -o json"));
    let test = airflow(&format!("dags test {DAG_ID} {LOGICAL_DATE}"));
    assert!(test.status.success(), "dags test on the worker failed:\n{}\n{}", test.stdout, test.stderr);
    // A target without data_root: the plain deploy's data go to <AIRFLOW_HOME>/data/prod.
    let tsv = worker.exec_as_service(&format!("cat {home}/data/prod/image-matching/{LOGICAL_DATE}/matches.tsv"));
    assert!(tsv.status.success(), "{}", tsv.stderr);
    check_matches(&tsv.stdout);
}

/// The YAML DAG of the example (`dags/example_pipelines.dag.yaml`, rendered to
/// `dags/example_pipelines.py`): after `deploy-local-build`, `airflow dags test` in each
/// pinned series runs its two `project` tasks (image-matching, then archive-sync's plan
/// of the matches) with the environments deploy installed.
#[test]
fn the_example_yaml_dag_runs_both_projects_in_both_series() {
    if !e2e_enabled("the_example_yaml_dag_runs_both_projects_in_both_series") {
        return;
    }
    let repo = TestRepo::example();
    let home = repo.root.join("airflow home");
    let target = shared_target();
    let env = [("PAD_TARGET_DIR", target.as_str()), ("AIRFLOW_HOME", home.as_str())];
    xtask_with_env(&repo.root, &["--repo", repo.root.as_str(), "deploy-local-build"], &env).success();

    // The plain deploy's data root (`${DATA_ROOT}` in the YAML).
    let data = home.join("data/prod/example-pipelines");
    let current = std::fs::read_link(home.join("current")).unwrap();
    for series in ["2.10", "3.3"] {
        let airflow = built_airflow(&target.join(format!("venvs/airflow-{series}")));
        // Each series its own database.
        let db = format!("sqlite:///{}/airflow-{series}.db", repo.root);
        let run = |args: &[&str]| {
            let mut cmd = Cmd::new(airflow.as_str(), &home).args(args).env("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", &db);
            for (key, value) in airflow_env(&airflow, &home) {
                cmd = cmd.env(key, value);
            }
            cmd.run_unchecked().unwrap()
        };
        let migrate = run(&["db", "migrate"]);
        assert!(migrate.status.success(), "{series}: {}\n{}", migrate.stdout, migrate.stderr);
        let _ = std::fs::remove_dir_all(&data);
        let test = run(&["dags", "test", "example_pipelines", LOGICAL_DATE]);
        let log = format!("{}\n{}", test.stdout, test.stderr);
        assert!(test.status.success(), "{series}: dags test failed:\n{log}");
        // Both tasks ran the shipped environments of the current release.
        for project in ["image-matching", "archive-sync"] {
            let python = format!("{home}/{}/projects/{project}/venv/bin/python", current.display());
            assert!(log.contains(&python), "{series}: {project} not run with {python}:\n{log}");
        }
        let matches = data.join("matches").join(LOGICAL_DATE).join("matches.tsv");
        check_matches(&std::fs::read_to_string(&matches).unwrap_or_else(|e| panic!("{series}: {matches}: {e}\n{log}")));
        // archive-sync planned the copy of that one file to the mirror.
        let manifest = data.join("manifests").join(format!("{LOGICAL_DATE}.txt"));
        let planned = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{series}: {manifest}: {e}\n{log}"));
        assert_eq!(planned.lines().collect::<Vec<_>>(), ["matches.tsv"], "{series}: {planned}");
    }
}
