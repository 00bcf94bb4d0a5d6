//! `cargo xtask lint` and the lint inside `cargo xtask test`: the real ruff pinned in
//! deploy/lint/, installed with uv, over a copy of the example repository.

use crate::support::{TestRepo, e2e_enabled};

/// An Airflow 2 DAG: removed and moved imports, a task variable not named like its
/// task_id, no schedule, an unused import.
const OLD_DAG: &str = "\
import os
from datetime import datetime

from airflow import DAG
from airflow.contrib.hooks.ssh_hook import SSHHook
from airflow.operators.bash_operator import BashOperator

with DAG(dag_id=\"old\", start_date=datetime(2024, 1, 1)) as dag:
    run = BashOperator(task_id=\"other\", bash_command=\"echo\")
    SSHHook
";

fn codes(json: &serde_json::Value) -> Vec<String> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}:{} {}", f["file"].as_str().unwrap(), f["line"], f["code"].as_str().unwrap()))
        .collect()
}

#[test]
fn lint_flags_removed_airflow_2_imports_while_a_3x_series_is_pinned() {
    if !e2e_enabled("lint_flags_removed_airflow_2_imports_while_a_3x_series_is_pinned") {
        return;
    }
    let repo = TestRepo::example();
    // The example, its generated YAML DAG included, is clean.
    let run = repo.xtask(&["lint"]).success();
    assert!(
        run.stdout
            .contains("lint                     passed  0 findings (ruff 0.17.6, with AIR301, AIR302, AIR311, AIR312)"),
        "{}",
        run.stdout
    );

    repo.write("dags/old.py", OLD_DAG);
    let junit = repo.root.join("junit");
    let run = repo.xtask(&["lint", "--json", "--junit", junit.as_str()]).failure();
    assert_eq!(
        codes(&run.json()),
        [
            "dags/old.py:1 F401",
            "dags/old.py:8 AIR002",
            "dags/old.py:8 AIR311",
            "dags/old.py:9 AIR001",
            "dags/old.py:9 AIR302",
            "dags/old.py:10 AIR301",
        ],
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("`cargo xtask lint --fix` fixes 1 of them safely"), "{}", run.stderr);
    let xml = std::fs::read_to_string(junit.join("lint.xml")).unwrap();
    assert!(
        xml.contains(r#"tests="6" failures="6""#)
            && xml.contains(r#"<testcase classname="dags/old.py" name="10:5 AIR301">"#),
        "{xml}"
    );

    // Without a 3.x series pinned, the migration rules are off.
    std::fs::remove_dir_all(repo.root.join("deploy/airflow/3.3")).unwrap();
    let run = repo.xtask(&["lint", "--json"]).failure();
    assert_eq!(codes(&run.json()), ["dags/old.py:1 F401", "dags/old.py:8 AIR002", "dags/old.py:9 AIR001"]);

    // --fix applies the safe fix only: the unused import goes, the rest is reported.
    let run = repo.xtask(&["lint", "--fix", "--json"]).failure();
    assert_eq!(codes(&run.json()), ["dags/old.py:7 AIR002", "dags/old.py:8 AIR001"]);
    assert!(!std::fs::read_to_string(repo.root.join("dags/old.py")).unwrap().contains("import os"));
}

#[test]
fn test_runs_lint_and_writes_lint_xml() {
    if !e2e_enabled("test_runs_lint_and_writes_lint_xml") {
        return;
    }
    let repo = TestRepo::example();
    repo.write("dags/old.py", OLD_DAG);
    let junit = repo.root.join("junit");
    let run = repo.xtask(&["test", "--no-dags", "--junit", junit.as_str()]).failure();
    assert!(
        run.stdout.contains(
            "    dags/old.py:10:5: AIR301 `airflow.contrib.hooks.ssh_hook.SSHHook` is removed in Airflow 3.0"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("lint: dags/old.py:9:11: AIR302"), "{}", run.stderr);
    assert!(junit.join("lint.xml").is_file());
    // The projects' tests ran and passed all the same.
    assert!(run.stdout.contains("archive-sync             passed"), "{}", run.stdout);
}
