//! `cargo xtask test`: pytest per project in its environment and the DAG check in real
//! Airflow, passing on the example repository and failing with named causes.

use pad_layout::EnvVars;

use crate::support::{TestRepo, e2e_enabled, names_in, shared_target};

#[test]
fn passes_on_the_example_repository() {
    if !e2e_enabled("passes_on_the_example_repository") {
        return;
    }
    let repo = TestRepo::example();
    let junit = repo.root.join("junit");
    let json = repo.xtask(&["test", "--json", "--junit", junit.as_str()]).success().json();
    assert_eq!(json["ok"], true, "{json:#}");
    let projects = json["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 2);
    for project in projects {
        assert_eq!(project["passed"], true, "{project:#}");
        assert!(project["summary"].as_str().unwrap().contains(" passed"), "{project:#}");
    }
    let versions: Vec<&str> =
        json["dags"].as_array().unwrap().iter().map(|d| d["airflow_version"].as_str().unwrap()).collect();
    assert!(
        versions.iter().any(|v| v.starts_with("2.10.")) && versions.iter().any(|v| v.starts_with("3.")),
        "{versions:?}"
    );
    for report in json["dags"].as_array().unwrap() {
        let ids: Vec<&str> = report["dags"].as_array().unwrap().iter().map(|d| d["dag_id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["archive_sync", "example_pipelines", "image_matching"], "{report:#}");
        assert_eq!(report["problems"].as_array().unwrap().len(), 0, "{report:#}");
    }
    for file in ["image-matching.xml", "archive-sync.xml", "dags-airflow-2.10.xml", "dags-airflow-3.3.xml"] {
        let xml = std::fs::read_to_string(junit.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(xml.contains("<testsuite") && xml.contains("failures=\"0\""), "{file}:\n{xml}");
    }

    // Unchanged inputs: the project results come from the cache.
    let again = repo.xtask(&["test", "--json", "--no-dags"]).success().json();
    assert!(again["projects"].as_array().unwrap().iter().all(|p| p["cached"] == true), "{again:#}");
}

const BROKEN_DAG: &str =
    "\"\"\"A DAG whose import fails.\"\"\"\nfrom airflow import DAG\nimport nonexistent_module_for_pad_tests\n";

const CYCLIC_DAG: &str = r#""""A DAG whose tasks form a cycle."""
import pendulum
try:
    from airflow.sdk import DAG
except ImportError:
    from airflow import DAG
try:
    from airflow.providers.standard.operators.empty import EmptyOperator
except ImportError:
    from airflow.operators.empty import EmptyOperator

with DAG(dag_id="cyclic", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    a = EmptyOperator(task_id="a")
    b = EmptyOperator(task_id="b")
    a >> b >> a
"#;

const FAILING_TEST: &str = "\n\ndef test_deliberately_failing():\n    assert 1 + 1 == 3, \"arithmetic is broken\"\n";

#[test]
fn fails_with_named_causes() {
    if !e2e_enabled("fails_with_named_causes") {
        return;
    }
    let repo = TestRepo::example();
    repo.write("dags/broken.py", BROKEN_DAG).write("dags/cyclic.py", CYCLIC_DAG);
    let test_file = repo.root.join("projects/archive-sync/tests/test_archive_sync_core.py");
    let mut text = std::fs::read_to_string(&test_file).unwrap();
    text.push_str(FAILING_TEST);
    std::fs::write(&test_file, text).unwrap();

    let run = repo.xtask(&["test", "--airflow", "2.10"]).failure();
    let stderr = &run.stderr;
    for expected in [
        "project archive-sync: FAILED tests/test_archive_sync_core.py::test_deliberately_failing",
        "dags/broken.py: ModuleNotFoundError: No module named 'nonexistent_module_for_pad_tests' (import error)",
        "dags/cyclic.py: AirflowDagCycleException",
        "AssertionError: arithmetic is broken",
    ] {
        assert!(stderr.contains(expected), "`{expected}` missing from:\n{stderr}");
    }
    assert!(run.stdout.contains("image-matching") && run.stdout.contains("passed"), "{}", run.stdout);

    // The same failures as JSON for CI.
    let json = repo.xtask(&["test", "--airflow", "2.10", "--json"]).failure().json();
    assert_eq!(json["ok"], false);
    let kinds: Vec<&str> =
        json["dags"][0]["problems"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["import error", "cycle"], "{json:#}");
}

/// deploy-local-build packages and prepares the deploy while the tests run; a failing
/// test still leaves no package, no release and nothing half-made, and the previous
/// release serves on.
#[test]
fn a_failing_test_ships_nothing_of_what_was_prepared_meanwhile() {
    if !e2e_enabled("a_failing_test_ships_nothing_of_what_was_prepared_meanwhile") {
        return;
    }
    let repo = TestRepo::example();
    let home = repo.root.join("airflow");
    let target = shared_target();
    let version = format!("overlap-{}", std::process::id());
    let deploy = |version: &str| {
        repo.xtask_home(&home, &["deploy-local-build", "--timings"], &[(EnvVars::PAD_VERSION, version)])
    };
    let first = deploy(&format!("{version}-1")).success();
    assert!(first.stderr.contains("local: release prepared; waiting for the tests"), "{}", first.stderr);
    let current = std::fs::read_link(home.join("current")).unwrap();
    let releases = names_in(&home.join("releases"));
    let pad = names_in(&home.join(".pad"));

    repo.write("dags/extra.py", "# a DAG change: the release would differ\n");
    let test_file = repo.root.join("projects/archive-sync/tests/test_archive_sync_core.py");
    let text = std::fs::read_to_string(&test_file).unwrap();
    std::fs::write(&test_file, format!("{text}{FAILING_TEST}")).unwrap();
    let failed = deploy(&format!("{version}-2")).failure();
    let stderr = &failed.stderr;
    for expected in [
        format!("package: assembling platform-airflow-dags-{version}-2.tar.gz while the tests run"),
        "deploy-local-build stopped before packaging: the tests failed".to_owned(),
        "project archive-sync: FAILED tests/test_archive_sync_core.py::test_deliberately_failing".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "`{expected}` missing from:\n{stderr}");
    }
    assert!(!stderr.contains("==> package") && !stderr.contains("8/10 switch"), "{stderr}");
    // Nothing of the second run is visible, not even under a temporary name.
    assert_eq!(std::fs::read_link(home.join("current")).unwrap(), current);
    assert_eq!(names_in(&home.join("releases")), releases);
    assert_eq!(names_in(&home.join(".pad")), pad);
    let second = format!("{version}-2");
    let dist = names_in(&target.join("dist"));
    assert!(!dist.iter().any(|name| name.contains(&second)), "{dist:?}");
    assert!(dist.iter().any(|name| name == &format!("platform-airflow-dags-{version}-1.tar.gz")), "{dist:?}");
}

/// Loaded with Airflow 2.10 only (`--airflow 2.10`), whose import paths it uses.
const VARIABLE_DAG: &str = r#""""A DAG that reads an Airflow Variable and a Connection while it loads."""
import pendulum
from airflow import DAG
from airflow.hooks.base import BaseHook
from airflow.models import Variable

import pad_runtime

TARGET = Variable.get("pad_target_table")
HOST = BaseHook.get_connection("warehouse").host

with DAG(dag_id=pad_runtime.dag_id("reads_a_variable"), schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), tags=[TARGET, HOST]):
    pass
"#;

#[test]
fn variables_and_connections_are_mocked_the_standard_way() {
    if !e2e_enabled("variables_and_connections_are_mocked_the_standard_way") {
        return;
    }
    let repo = TestRepo::example();
    repo.write("dags/reads_a_variable.py", VARIABLE_DAG);
    // The DAG uses Airflow 2 imports on purpose (lint's AIR311): this test is the DAG
    // check's, so lint is left out (tests/it/lint.rs has its own).
    let run = repo.xtask(&["test", "--no-dags", "--no-lint", "archive-sync"]).success();
    assert!(run.stdout.contains("archive-sync"), "{}", run.stdout);

    let missing = repo.xtask(&["test", "--no-lint", "--airflow", "2.10", "archive-sync"]).failure();
    assert!(missing.stderr.contains("dags/reads_a_variable.py:"), "{}", missing.stderr);

    let json = repo
        .xtask(&[
            "test",
            "--no-lint",
            "--airflow",
            "2.10",
            "--var",
            "pad_target_table=events",
            "--conn",
            "warehouse=postgres://u:p@db/x",
            "--json",
            "archive-sync",
        ])
        .success()
        .json();
    let ids: Vec<&str> =
        json["dags"][0]["dags"].as_array().unwrap().iter().map(|d| d["dag_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["archive_sync", "example_pipelines", "image_matching", "reads_a_variable"], "{json:#}");
}
