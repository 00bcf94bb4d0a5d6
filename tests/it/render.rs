//! `cargo xtask render`: YAML DAGs rendered to checked-in Python, checked for freshness,
//! and loaded by the real pinned Airflow series (2.10 and 3.3) next to a broken YAML.

use crate::support::{TestRepo, e2e_enabled};

#[test]
fn render_then_check_then_a_hand_edit_fails_the_check() {
    let repo = TestRepo::example();
    // The checked-in example is what its YAML renders to.
    let run = repo.xtask(&["render", "--check"]).success();
    assert!(run.stdout.contains("dags/example_pipelines.py") && run.stdout.contains("up to date"), "{}", run.stdout);
    repo.xtask(&["render"]).success();
    repo.xtask(&["render", "--check"]).success();

    let generated = repo.root.join("dags/example_pipelines.py");
    let text = std::fs::read_to_string(&generated).unwrap();
    std::fs::write(&generated, text.replace("max_active_runs=1", "max_active_runs=4")).unwrap();
    let run = repo.xtask(&["render", "--check"]).failure();
    assert!(
        run.stderr.contains(
            "dags/example_pipelines.py: `dags/example_pipelines.py` differs from what `dags/example_pipelines.dag.yaml` renders to: it is stale or was edited by hand"
        ) && run.stderr.contains("run `cargo xtask render`"),
        "{}",
        run.stderr
    );
    // `render --check` wrote nothing; `render` puts the file back.
    assert!(std::fs::read_to_string(&generated).unwrap().contains("max_active_runs=4"));
    repo.xtask(&["render"]).success();
    assert_eq!(std::fs::read_to_string(&generated).unwrap(), text);

    // A changed YAML makes the generated file stale until it is rendered again.
    let yaml = repo.root.join("dags/example_pipelines.dag.yaml");
    let source = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(&yaml, source.replace("retries: 1", "retries: 3")).unwrap();
    repo.xtask(&["render", "--check"]).failure();
    repo.xtask(&["render"]).success();
    assert!(std::fs::read_to_string(&generated).unwrap().contains("\"retries\": 3,"));
}

#[test]
fn schema_names_every_task_type() {
    let repo = TestRepo::example();
    repo.write(
        "dags/templates/notify.py.j2",
        "{#-\ndescription: Say something.\nparams:\n  message:\n    type: string\n    required: true\n-#}\n{{ task.id }} = None\n",
    );
    let schema = repo.xtask(&["render", "--schema"]).success().json();
    let types: Vec<&str> = schema["definitions"]["tasks"]["items"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["properties"]["type"]["const"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["bash", "project", "spark_submit", "notify"]);
}

const BROKEN: &str = "\
schedule: \"@daily\"
start_date: 2024-01-01
tasks:
  - id: extract
    type: bash
    comand: echo hi
";

const NEEDS_VAR: &str = "\
schedule: null
start_date: 2024-01-01
tasks:
  - id: announce
    type: bash
    command: echo \"${PAD_RENDER_TEST_CHANNEL}\"
";

const GOOD: &str = "\
schedule: \"*/30 6-18 * * MON-FRI\"
start_date: 2024-01-01
tags: [rendered]
tasks:
  - id: extract
    type: bash
    command: echo {{ ds }}
  - id: load
    type: project
    project: archive-sync
    args: [verify, --source, /nonexistent, --dest, /nonexistent]
    depends_on: extract
  - id: score
    type: spark_submit
    project: image-matching
    application: src/image_matching/cli.py
    jars: [spark-avro_2.12-3.5.1.jar]
    depends_on: load
";

/// A broken YAML next to good ones: `render` reports it at its line and column and still
/// writes the others; the real Airflow series load the generated files; a `${VAR}` that is
/// not set is an import error naming the variable.
#[test]
fn a_broken_yaml_beside_good_ones_in_real_airflow() {
    if !e2e_enabled("a_broken_yaml_beside_good_ones_in_real_airflow") {
        return;
    }
    let repo = TestRepo::example();
    repo.write("dags/broken.dag.yaml", BROKEN)
        .write("dags/needs_var.dag.yaml", NEEDS_VAR)
        .write("dags/good.dag.yaml", GOOD);
    let run = repo.xtask(&["render"]).failure();
    assert!(
        run.stderr.contains("dags/broken.dag.yaml:6:5: unknown key `comand` in a `bash` task")
            && run.stderr.contains("did you mean `command`?"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("dags/good.py") && run.stdout.contains("dags/needs_var.py"), "{}", run.stdout);
    assert!(!repo.root.join("dags/broken.py").exists());

    let run = repo.xtask(&["test", "--json"]).failure();
    let json = run.json();
    let reports = json["dags"].as_array().unwrap();
    let versions: Vec<&str> = reports.iter().map(|r| r["airflow_version"].as_str().unwrap()).collect();
    assert_eq!(versions, ["2.10.5", "3.3.2"], "{}", run.stdout);
    for report in reports {
        let mut dags: Vec<(&str, u64)> = report["dags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["dag_id"].as_str().unwrap(), d["tasks"].as_u64().unwrap()))
            .collect();
        dags.sort();
        assert_eq!(
            dags,
            [("archive_sync", 3), ("example_pipelines", 2), ("good", 3), ("image_matching", 1)],
            "{report}"
        );
        let problems = report["problems"].as_array().unwrap();
        assert_eq!(problems.len(), 1, "{report}");
        assert_eq!(problems[0]["file"], "dags/needs_var.py", "{report}");
        let message = problems[0]["message"].as_str().unwrap();
        assert!(message.contains("environment variable PAD_RENDER_TEST_CHANNEL is not set"), "{message}");
    }
    // The broken YAML fails the run with its own error.
    assert!(run.stderr.contains("dags/broken.dag.yaml:6:5: unknown key `comand`"), "{}", run.stderr);
}
