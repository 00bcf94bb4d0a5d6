//! The example projects, and a freshly scaffolded one, pass their own pytest suites in a
//! plain venv made with Debian's Python, installed non-editable as on a worker.

use camino::Utf8Path;
use pad_process::Cmd;

use crate::support::{TestRepo, copy_tree, e2e_enabled};

/// Installs a project and its test requirements into a new venv, then runs its tests
/// from outside the project directory, so only the installed package is importable.
fn pytest_in_plain_venv(project: &Utf8Path, scratch: &Utf8Path) -> String {
    let venv = scratch.join("venv");
    Cmd::new("/usr/bin/python3", scratch).args(["-m", "venv", venv.as_str()]).run().unwrap();
    let python = venv.join("bin/python");
    // A copy, because pip builds in the source tree and would leave build/ behind.
    let source = scratch.join("source");
    copy_tree(project, &source);
    let mut install = Cmd::new(&python, scratch).args(["-m", "pip", "install", "-q", "--disable-pip-version-check"]);
    for requirements in ["requirements.txt", "requirements-test.txt"] {
        install = install.args(["-r", source.join(requirements).as_str()]);
    }
    install.arg(source.as_str()).run().unwrap();
    let out = Cmd::new(&python, scratch)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", source.join("tests").as_str()])
        .run()
        .unwrap_or_else(|e| panic!("{e}"));
    out.stdout
}

#[test]
fn example_projects_pass_their_tests() {
    if !e2e_enabled("example_projects_pass_their_tests") {
        return;
    }
    let repo = TestRepo::example();
    for project in ["image-matching", "archive-sync"] {
        let scratch = TestRepo::empty();
        let summary = pytest_in_plain_venv(&repo.root.join("projects").join(project), &scratch.root);
        assert!(summary.contains(" passed") && !summary.contains("failed"), "{project}:\n{summary}");
    }
}

#[test]
fn a_scaffolded_project_passes_its_tests() {
    if !e2e_enabled("a_scaffolded_project_passes_its_tests") {
        return;
    }
    let repo = TestRepo::example();
    repo.xtask(&["new-project", "fresh-job"]).success();
    let scratch = TestRepo::empty();
    let summary = pytest_in_plain_venv(&repo.root.join("projects/fresh-job"), &scratch.root);
    assert!(summary.contains("2 passed"), "{summary}");
}
