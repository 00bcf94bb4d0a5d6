//! `cargo xtask layout` on the example repository and on broken ones.

use crate::support::{TestRepo, workspace_root, xtask};

#[test]
fn lists_the_example_repository_from_any_directory() {
    // Run from `/`: the repository is found from the workspace, not the current directory.
    let run = xtask("/".into(), &["layout", "--json"]).success();
    let json = run.json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["root"], workspace_root().canonicalize_utf8().unwrap().as_str());
    let names: Vec<&str> = json["projects"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["archive-sync", "image-matching"]);
    let dags: Vec<(String, String)> = json["dags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["path"].as_str().unwrap().to_owned(), d["projects"].to_string()))
        .collect();
    assert_eq!(
        dags,
        [
            ("dags/archive_sync.py".to_owned(), r#"["archive-sync"]"#.to_owned()),
            ("dags/image_matching.py".to_owned(), r#"["image-matching"]"#.to_owned()),
        ]
    );
    let targets: Vec<&str> = json["targets"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(targets.contains(&"local"), "{targets:?}");
    assert!(json["version"]["version"].as_str().is_some_and(|v| !v.is_empty()));

    let text = xtask("/".into(), &["layout"]).success().stdout;
    for expected in ["projects (2)", "image-matching", "archive-sync", "dags/image_matching.py", "targets", "local"] {
        assert!(text.contains(expected), "`{expected}` missing from:\n{text}");
    }
}

#[test]
fn a_broken_repository_yields_every_error_at_once() {
    let repo = TestRepo::example();
    repo.write("projects/Bad_Name/requirements.txt", "")
        .write("projects/no-reqs/src/no_reqs/__init__.py", "")
        .write("dags/readme.txt", "not a DAG")
        .write(
            "deploy/prod.toml",
            "hosts = [\"w1\"]\nssh_user = \"deployer\"\nairflow_home = \"/srv/airflow\"\ncolor = 1\n",
        )
        .write(
            "projects/image-matching/project.toml",
            "python = \"3.11\"\npackage = \"image_matching\"\nextra = true\n",
        );

    let run = repo.xtask(&["layout"]).failure();
    let stderr = &run.stderr;
    assert!(stderr.contains("has 5 layout problems"), "{stderr}");
    for expected in [
        "projects/Bad_Name: invalid project name `Bad_Name`",
        "projects/no-reqs: project `no-reqs` has neither requirements.txt nor pyproject.toml",
        "dags/readme.txt: `readme.txt` is not a DAG file",
        "deploy/prod.toml:4:1: unknown field `color`",
        "projects/image-matching/project.toml:3:1: unknown field `extra`",
        "help: ",
    ] {
        assert!(stderr.contains(expected), "`{expected}` missing from:\n{stderr}");
    }

    let json = repo.xtask(&["layout", "--json"]).failure().json();
    assert_eq!(json["ok"], false);
    let errors = json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 5, "{errors:#?}");
    let prod = errors.iter().find(|e| e["path"] == "deploy/prod.toml").unwrap();
    assert_eq!((prod["line"].as_u64(), prod["column"].as_u64()), (Some(4), Some(1)));
}

#[test]
fn a_directory_that_is_not_a_repository_is_named() {
    let repo = TestRepo::empty();
    let run = repo.xtask(&["layout"]).failure();
    assert!(run.stderr.contains("the repository has no `projects/` directory"), "{}", run.stderr);
    assert!(run.stderr.contains("the repository has no `dags/` directory"), "{}", run.stderr);

    let run = xtask("/".into(), &["--repo", "/nonexistent/pad", "layout"]).failure();
    assert!(run.stderr.contains("repository `/nonexistent/pad` is not a directory"), "{}", run.stderr);
}
