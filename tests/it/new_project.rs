//! `cargo xtask new-project`: scaffolds a project the layout accepts, refuses bad names.

use crate::support::TestRepo;

#[test]
fn scaffolds_a_project_that_passes_layout() {
    let repo = TestRepo::example();
    let run = repo.xtask(&["new-project", "demo"]).success();
    assert!(run.stdout.contains("created project `demo` (package demo)"), "{}", run.stdout);
    for file in [
        "projects/demo/requirements.txt",
        "projects/demo/requirements-test.txt",
        "projects/demo/project.toml",
        "projects/demo/src/demo/__init__.py",
        "projects/demo/tests/test_demo.py",
        "dags/demo.py",
    ] {
        assert!(repo.root.join(file).is_file(), "{file} was not written");
        assert!(run.stdout.contains(file), "{file} not listed:\n{}", run.stdout);
    }

    let json = repo.xtask(&["layout", "--json"]).success().json();
    let demo = json["projects"].as_array().unwrap().iter().find(|p| p["name"] == "demo").unwrap();
    assert_eq!(demo["package"], "demo");
    assert!(json["dags"].as_array().unwrap().iter().any(|d| d["path"] == "dags/demo.py" && d["projects"][0] == "demo"));
}

#[test]
fn refuses_an_existing_or_invalid_name() {
    let repo = TestRepo::example();
    let run = repo.xtask(&["new-project", "image-matching"]).failure();
    assert!(run.stderr.contains("`projects/image-matching` already exists"), "{}", run.stderr);

    for (name, message) in
        [("Demo", "invalid project name `Demo`"), ("dags", "`dags` is reserved"), ("a/b", "invalid project name `a/b`")]
    {
        let run = repo.xtask(&["new-project", name]).failure();
        assert!(run.stderr.contains(message), "{name}: {}", run.stderr);
    }
    // Nothing half-written is left behind.
    let names: Vec<String> =
        repo.root.join("projects").read_dir_utf8().unwrap().map(|e| e.unwrap().file_name().to_owned()).collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["archive-sync", "image-matching"]);
}
