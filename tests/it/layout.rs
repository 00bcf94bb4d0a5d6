//! `cargo xtask layout` on the example repository and on broken ones.

use camino::{Utf8Path, Utf8PathBuf};
use pad_layout::EnvVars;
use pad_process::Cmd;

use crate::support::{TestRepo, e2e_enabled, workspace_root, xtask, xtask_with_env};

#[test]
fn lists_the_example_repository_from_any_directory() {
    // Run from `/` as `cargo run` (so `cargo xtask`) starts it: cargo names the workspace
    // in CARGO_MANIFEST_DIR at run time.
    let manifest_dir = workspace_root().join("xtask");
    let cargo_run = [(EnvVars::CARGO_MANIFEST_DIR, manifest_dir.as_str())];
    let run = xtask_with_env("/".into(), &["layout", "--json"], &cargo_run).success();
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
            ("dags/example_pipelines.py".to_owned(), r#"["archive-sync","image-matching"]"#.to_owned()),
            ("dags/image_matching.py".to_owned(), r#"["image-matching"]"#.to_owned()),
        ]
    );
    let targets: Vec<&str> = json["targets"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(targets.contains(&"local"), "{targets:?}");
    assert!(json["version"]["version"].as_str().is_some_and(|v| !v.is_empty()));

    let text = xtask_with_env("/".into(), &["layout"], &cargo_run).success().stdout;
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

#[test]
fn finds_the_repository_from_the_current_directory() {
    // The binary run by path (no cargo, no --repo): the current directory or the nearest
    // parent holding dags/ and projects/.
    let repo = TestRepo::example();
    let root = repo.root.canonicalize_utf8().unwrap();
    for dir in [root.clone(), root.join("projects/image-matching/src")] {
        let json = xtask(&dir, &["layout", "--json"]).success().json();
        assert_eq!(json["root"], root.as_str(), "run in {dir}");
    }
    // PAD_REPO and --repo come first, in that order of strength.
    let other = TestRepo::example();
    let other_root = other.root.canonicalize_utf8().unwrap();
    let env = [(EnvVars::PAD_REPO, other.root.as_str())];
    let json = xtask_with_env(&root, &["layout", "--json"], &env).success().json();
    assert_eq!(json["root"], other_root.as_str());
    let json = xtask_with_env(&root, &["--repo", root.as_str(), "layout", "--json"], &env).success().json();
    assert_eq!(json["root"], root.as_str());

    // Outside any repository, the error says where it looked and what to do.
    let outside = TestRepo::empty();
    let run = xtask(&outside.root, &["layout"]).failure();
    assert!(run.stderr.contains(&format!("no repository at or above `{}`", outside.root)), "{}", run.stderr);
    assert!(run.stderr.contains("--repo"), "{}", run.stderr);
}

/// Copies what `cargo xtask` needs of this workspace, keeping modification times, so
/// cargo finds the copy's build as fresh as the original's.
fn copy_workspace(to: &Utf8Path) {
    let from = workspace_root();
    for name in [".cargo", "Cargo.toml", "Cargo.lock", "crates", "xtask", "tests", "dags", "projects", "deploy"] {
        Cmd::new("cp", &from).args(["-a", "--", name, to.as_str()]).run().unwrap();
    }
}

#[test]
fn two_checkouts_sharing_a_target_directory_each_act_on_their_own() {
    if !e2e_enabled("two_checkouts_sharing_a_target_directory_each_act_on_their_own") {
        return;
    }
    // A global `build.target-dir` (or CARGO_TARGET_DIR) shared by two checkouts of one
    // commit: cargo builds xtask once and runs that binary in both. The shared directory
    // is the one these tests were built in, so at most the xtask binary is linked.
    let exe = Utf8Path::new(env!("CARGO_BIN_EXE_pad-xtask"));
    let target_dir: Utf8PathBuf = exe.parent().and_then(Utf8Path::parent).unwrap().to_owned();
    let checkouts = [TestRepo::empty(), TestRepo::empty()];
    for checkout in &checkouts {
        copy_workspace(&checkout.root);
    }
    for (i, checkout) in checkouts.iter().enumerate() {
        // From a subdirectory, as people run it.
        // As from a shell: without the variables cargo set for this test, which would
        // make cargo rebuild crates whose build scripts watch them.
        let run = pad_testkit::cargo(&checkout.root.join("projects"))
            .args(["xtask", "layout", "--json"])
            .env("CARGO_TARGET_DIR", target_dir.as_str())
            .env_remove(EnvVars::PAD_REPO)
            .env_remove(EnvVars::PAD_TARGET_DIR)
            .run_unchecked()
            .unwrap();
        assert!(run.status.success(), "checkout {i}:\n{}\n{}", run.stdout, run.stderr);
        if i == 1 {
            // The premise: the second checkout ran the binary built for the first.
            assert!(!run.stderr.contains("Compiling xtask"), "cargo rebuilt xtask:\n{}", run.stderr);
        }
        let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let root = checkout.root.canonicalize_utf8().unwrap();
        assert_eq!(json["root"], root.as_str(), "checkout {i} got another checkout's root:\n{}", run.stderr);
    }
}

/// `layout` on a copy of the example with `files` written, and its stderr.
fn layout_with(files: &[(&str, &str)]) -> (TestRepo, crate::support::XtaskRun) {
    let repo = TestRepo::example();
    for (path, text) in files {
        repo.write(path, text);
    }
    let run = repo.xtask(&["layout"]);
    (repo, run)
}

const IM_ARTIFACTS: &str = "projects/image-matching/artifacts.yaml";

#[test]
fn a_broken_artifacts_yaml_fails_the_layout() {
    let original = std::fs::read_to_string(workspace_root().join(IM_ARTIFACTS)).unwrap();
    let cases: [(&str, String, &str); 4] = [
        (
            "bad YAML",
            format!("{original}\n  - [unclosed\n"),
            "projects/image-matching/artifacts.yaml:46:5: invalid YAML",
        ),
        (
            "unknown class",
            original.replace("class_name: maven", "class_name: mavne"),
            "projects/image-matching/artifacts.yaml:12:17: unknown source class `mavne`",
        ),
        (
            "unknown source",
            original.replace("source: maven_central", "source: maven_centrl"),
            "projects/image-matching/artifacts.yaml:40:13: unknown source `maven_centrl`",
        ),
        (
            "an artifact twice in one file",
            original.replace(
                "artifacts:\n",
                "artifacts:\n  image-matching-venv-0.1.0.tgz: {id: other.tgz, source: gitlab_packages}\n",
            ),
            "projects/image-matching/artifacts.yaml:",
        ),
    ];
    for (what, text, expected) in cases {
        let (_repo, run) = layout_with(&[(IM_ARTIFACTS, &text)]);
        let run = run.failure();
        assert!(run.stderr.contains(expected), "{what}: `{expected}` missing from:\n{}", run.stderr);
        assert!(run.stderr.contains("help: "), "{what}: no fix in:\n{}", run.stderr);
    }

    // The same name into the same cache from two files (sources and caches are shared).
    let (repo, run) = layout_with(&[(
        "projects/archive-sync/artifacts.yaml",
        "artifacts:\n  spark-avro_2.12-3.5.1.jar:\n    id: org.apache.spark:spark-avro_2.12:3.5.0\n    source: maven_central\n",
    )]);
    let run = run.failure();
    assert!(
        run.stderr.contains(
            "projects/image-matching/artifacts.yaml:39:5: two artifacts named `spark-avro_2.12-3.5.1.jar` go to cache"
        ) && run.stderr.contains("and the one at projects/archive-sync/artifacts.yaml:3:5"),
        "{}",
        run.stderr
    );
    let json = repo.xtask(&["layout", "--json"]).failure().json();
    let error = &json["errors"][0];
    assert_eq!(
        (error["path"].as_str(), error["line"].as_u64()),
        (Some("projects/image-matching/artifacts.yaml"), Some(39))
    );
    // `test`, `package` and the main job stop on it too, before building anything.
    let home = repo.root.join("airflow-home");
    let env = [(EnvVars::AIRFLOW_HOME, home.as_str())];
    for command in [&["test", "--no-dags"][..], &["package"], &["deploy-local-build"]] {
        let args: Vec<&str> = ["--repo", repo.root.as_str()].into_iter().chain(command.iter().copied()).collect();
        let run = xtask_with_env(&repo.root, &args, &env).failure();
        assert!(run.stderr.contains("two artifacts named"), "{command:?}:\n{}", run.stderr);
    }
    assert!(!home.exists(), "nothing was deployed");
}

#[test]
fn an_unset_variable_in_artifacts_yaml_is_not_a_layout_error() {
    // Credentials and hosts come from the environment when a cache is warmed; `layout`
    // checks only the syntax of `${VAR}`.
    let original = std::fs::read_to_string(workspace_root().join(IM_ARTIFACTS)).unwrap();
    let text = original.replace("${PAD_MAVEN_URL:-https://repo1.maven.org/maven2}", "${PAD_UNSET_MAVEN_URL_FOR_TESTS}");
    let (_repo, run) = layout_with(&[(IM_ARTIFACTS, &text)]);
    run.success();
    let text = original.replace("${PAD_MAVEN_URL:-https://repo1.maven.org/maven2}", "${PAD_MAVEN_URL");
    let (_repo, run) = layout_with(&[(IM_ARTIFACTS, &text)]);
    let run = run.failure();
    assert!(run.stderr.contains("bad `${VAR}` reference"), "{}", run.stderr);
}
