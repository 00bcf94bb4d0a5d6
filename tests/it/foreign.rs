//! Adopting a repository not written for this toolchain, as a new user would: its `dags/`
//! and `projects/` (`tests/fixtures/foreign`) copied over a clone's, then the main job.

use camino::Utf8Path;
use pad_process::Cmd;

use crate::support::{TestRepo, XtaskRun, copy_tree, e2e_enabled, workspace_root};

/// A clone whose `dags/` and `projects/` are the foreign repository's.
fn adopted() -> TestRepo {
    let repo = TestRepo::example();
    let foreign = workspace_root().join("tests/fixtures/foreign");
    for dir in ["dags", "projects"] {
        std::fs::remove_dir_all(repo.root.join(dir)).unwrap();
        copy_tree(&foreign.join(dir), &repo.root.join(dir));
    }
    // The example's staging and production targets belong to its pipeline; the adopted
    // repository starts with the local target only, and no namespaces.
    for target in ["deploy/staging.toml", "deploy/prod.toml"] {
        std::fs::remove_file(repo.root.join(target)).unwrap();
    }
    repo
}

fn xtask(repo: &TestRepo, home: &Utf8Path, args: &[&str]) -> XtaskRun {
    repo.xtask_home(home, args, &[])
}

fn read(repo: &TestRepo, path: &str) -> String {
    std::fs::read_to_string(repo.root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn a_foreign_repository_deploys() {
    if !e2e_enabled("a_foreign_repository_deploys") {
        return;
    }
    let repo = adopted();
    let home = repo.root.join("airflow home");

    // The one rule of ours it breaks: SQL beside the DAGs. The error says what to do.
    let run = xtask(&repo, &home, &["layout"]).failure();
    assert!(run.stderr.contains("dags/sql/daily_sales.sql: `daily_sales.sql` is not a DAG file"), "{}", run.stderr);
    assert!(run.stderr.contains("move data, SQL and config into projects/<name>/"), "{}", run.stderr);
    std::fs::create_dir_all(repo.root.join("projects/sales-report/sql")).unwrap();
    std::fs::rename(
        repo.root.join("dags/sql/daily_sales.sql"),
        repo.root.join("projects/sales-report/sql/daily_sales.sql"),
    )
    .unwrap();
    std::fs::remove_dir(repo.root.join("dags/sql")).unwrap();
    let dag = read(&repo, "dags/sales_report.py").replace(
        "template_searchpath=[\"sql\"]",
        "template_searchpath=[os.path.join(airflow_home(), \"sales-report\", \"sql\")]",
    );
    let dag = dag.replace(
        "from common.defaults import DEFAULT_ARGS, project_python",
        "import os\n\nfrom common.defaults import DEFAULT_ARGS, airflow_home, project_python",
    );
    repo.write("dags/sales_report.py", &dag);

    // Where each project's test dependencies are read from.
    let layout = xtask(&repo, &home, &["layout"]).success().stdout;
    for expected in [
        "inventory-sync  package inventory_sync; python 3 (default); tests (dependencies: requirements-dev.txt)",
        "sales-report    package sales_report; python 3 (default); tests (dependencies: pyproject.toml [dependency-groups] dev)",
        "weather         package weather; python 3 (default); tests (dependencies: the toolchain's pytest)",
    ] {
        assert!(layout.contains(expected), "`{expected}` missing from:\n{layout}");
    }

    let run = xtask(&repo, &home, &["deploy-local-build"]).success();
    for expected in [
        "inventory-sync           passed  1 passed",
        "sales-report             passed  1 passed",
        "weather                  passed  1 passed",
        "dags (Airflow 2.10.5)    passed  3 DAGs loaded, 0 problems",
        "switched",
    ] {
        assert!(run.stdout.contains(expected), "`{expected}` missing from:\n{}\n{}", run.stdout, run.stderr);
    }
    assert!(run.stdout.contains("3 DAGs loaded, 0 problems") && !run.stdout.contains("FAILED"), "{}", run.stdout);
    // Its DAG ids are not namespaced: a note with the fix, no failure, while no remote
    // target sets data_root.
    assert!(
        run.stdout.contains("note: dags/weather.py: namespace collision (no failure: no remote target sets data_root)")
            && run.stdout.contains("write dag_id=pad_runtime.dag_id('weather')"),
        "{}",
        run.stdout
    );
    // Said once, and no failure: no test dependencies, so the toolchain's pytest.
    let note = "note: weather declares no test dependencies, so its tests run with the toolchain's pytest==8.3.4";
    assert_eq!(run.stderr.matches(note).count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "note: wrote projects/weather/requirements-test.lock from the toolchain's pytest==8.3.4: commit it"
        ),
        "{}",
        run.stderr
    );

    // Each test lock says what it was made from, and leaves out what ships.
    let inventory = read(&repo, "projects/inventory-sync/requirements-test.lock");
    assert!(inventory.starts_with("# pad-lock v1: python 3.11; requirements-dev.txt sha256 "), "{inventory}");
    assert!(inventory.contains("\npytest==") && !inventory.contains("python-dateutil"), "{inventory}");
    let sales = read(&repo, "projects/sales-report/requirements-test.lock");
    assert!(sales.starts_with("# pad-lock v1: python 3.11; pyproject.toml [dependency-groups] dev sha256 "), "{sales}");
    assert!(sales.contains("\npyflakes=="), "the included `lint` group is there:\n{sales}");
    let weather = read(&repo, "projects/weather/requirements-test.lock");
    assert!(weather.starts_with("# pad-lock v1: python 3.11; the toolchain's pytest==8.3.4; "), "{weather}");
    assert!(weather.contains("\npytest==8.3.4 \\\n    --hash=sha256:"), "{weather}");

    // The deployed projects run as their DAGs run them.
    let python = |project: &str| home.join(project).join("venv/bin/python");
    let said = Cmd::new(python("inventory-sync").as_str(), &home.join("inventory-sync"))
        .args(["-m", "inventory_sync"])
        .read()
        .unwrap();
    assert_eq!(said, "['bolts']");
    let said = Cmd::new(python("sales-report").as_str(), &home).args(["-m", "sales_report"]).read().unwrap();
    assert_eq!(said, "{}");

    // The locks it wrote are what CI checks against: `--locked` finds them current.
    let run = xtask(&repo, &home, &["test", "--locked", "--no-dags"]).success();
    assert!(!run.stderr.contains("note: wrote"), "{}", run.stderr);
}

#[test]
fn test_dependencies_that_cannot_run_the_tests_are_named() {
    if !e2e_enabled("test_dependencies_that_cannot_run_the_tests_are_named") {
        return;
    }
    let repo = adopted();
    let home = repo.root.join("airflow home");
    std::fs::remove_dir_all(repo.root.join("dags/sql")).unwrap();

    // An include-group naming no group: uv refuses the whole file (the runtime lock
    // first), and its reason is shown.
    let pyproject = read(&repo, "projects/sales-report/pyproject.toml");
    repo.write("projects/sales-report/pyproject.toml", &pyproject.replace("lint = [", "linters = ["));
    let run = xtask(&repo, &home, &["test", "sales-report", "--no-dags"]).failure();
    assert!(
        run.stderr.contains("sales-report: uv could not resolve `projects/sales-report/pyproject.toml`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Failed to find group `lint` included by `dev`"), "{}", run.stderr);

    // Development requirements without pytest.
    repo.write("projects/inventory-sync/requirements-dev.txt", "-r requirements.txt\npyflakes>=3\n");
    let run = xtask(&repo, &home, &["test", "inventory-sync", "--no-dags"]).failure();
    assert!(
        run.stderr.contains(
            "inventory-sync: its test dependencies (requirements-dev.txt) do not install pytest, which runs its tests: add `pytest` to them"
        ),
        "{}",
        run.stderr
    );
}
