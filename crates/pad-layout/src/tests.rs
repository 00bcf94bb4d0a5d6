//! Tests of repository discovery, on small repositories built in temporary directories.

use std::fmt::Write as _;

use camino::{Utf8Path, Utf8PathBuf};
use expect_test::{Expect, expect};

use crate::{Hosts, VersionSource, scan, vars};

/// A repository in a temporary directory, from a fixture: `//- path` lines start files.
struct Fixture {
    _dir: tempfile::TempDir,
    root: Utf8PathBuf,
}

fn fixture(text: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
    for chunk in text.split("//- ").skip(1) {
        let (path, body) = chunk.split_once('\n').unwrap_or((chunk, ""));
        let path = root.join(path.trim());
        if path.as_str().ends_with('/') {
            std::fs::create_dir_all(&path).unwrap();
            continue;
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body).unwrap();
    }
    Fixture { _dir: dir, root }
}

/// The repository's contents and problems, one line each, paths relative to the root.
fn render(root: &Utf8Path) -> String {
    let scan = scan(root);
    let repo = &scan.repo;
    let rel = |p: &Utf8Path| p.strip_prefix(&repo.root).unwrap().to_string();
    let mut out = String::new();
    for p in &repo.projects {
        let mut facts = vec![format!("package={}", p.package.as_deref().unwrap_or("-"))];
        if let Some(python) = &p.settings.python {
            facts.push(format!("python={python}"));
        }
        if p.test_deps != crate::TestDeps::Toolchain {
            facts.push(format!("test-deps={}", p.test_deps));
        }
        for (label, path) in [
            ("req", &p.requirements),
            ("pyproject", &p.pyproject),
            ("tests", &p.tests_dir),
            ("artifacts", &p.artifacts),
        ] {
            if let Some(path) = path {
                facts.push(format!("{label}={}", rel(path)));
            }
        }
        writeln!(out, "project {}: {}", p.name, facts.join(" ")).unwrap();
    }
    for d in &repo.dags {
        writeln!(out, "dag {} -> [{}]", d.path, d.projects.join(", ")).unwrap();
    }
    for a in &repo.artifacts_files {
        writeln!(out, "artifacts {a}").unwrap();
    }
    for t in &repo.targets {
        let hosts = match &t.hosts {
            Hosts::Local => "local".to_owned(),
            Hosts::Remote(h) => h.join(","),
        };
        let file = t.file.as_ref().map_or("built-in".to_owned(), |f| f.to_string());
        writeln!(out, "target {} ({file}): hosts={hosts} home={} keep={}", t.name, t.airflow_home, t.keep).unwrap();
    }
    for e in &scan.errors {
        writeln!(out, "error {}", e.to_string().replace("\n  help:", " | help:")).unwrap();
    }
    for w in &repo.warnings {
        writeln!(out, "warning {}", w.to_string().replace("\n  help:", " | help:")).unwrap();
    }
    out
}

#[track_caller]
fn check(text: &str, expected: Expect) {
    let fixture = fixture(text);
    expected.assert_eq(&render(&fixture.root));
}

const GOOD_PROJECT: &str = r#"
//- projects/alpha/requirements.txt
pandas==2.2.3
//- projects/alpha/requirements-test.txt
pytest==8.3.4
//- projects/alpha/project.toml
python = "3.11"
//- projects/alpha/src/alpha/__init__.py
//- projects/alpha/tests/test_alpha.py
//- dags/alpha.py
PROJECT = "alpha"
"#;

#[test]
fn good_repository() {
    check(
        &format!(
            "{GOOD_PROJECT}
//- projects/beta/pyproject.toml
//- projects/beta/beta/__init__.py
//- projects/beta/tests/
//- projects/beta/artifacts.yaml
//- projects/README.md
//- dags/sub/beta_dag.py
run('beta')
//- dags/.airflowignore
//- dags/__pycache__/alpha.cpython-311.pyc
//- deploy/prod.toml
hosts = [\"w1.example.org\", \"10.0.0.2\"]
ssh_user = \"deployer\"
service_user = \"airflow-svc\"
airflow_home = \"/srv/airflow\"
keep = 3
[env]
SPARK_HOME = \"${{SPARK_HOME:-/opt/spark}}\"
//- artifacts/shared/artifacts.yaml
//- target/debug/artifacts.yaml
"
        ),
        expect![[r#"
            project alpha: package=alpha python=3.11 test-deps=requirements-test.txt req=projects/alpha/requirements.txt tests=projects/alpha/tests
            project beta: package=beta pyproject=projects/beta/pyproject.toml tests=projects/beta/tests artifacts=projects/beta/artifacts.yaml
            dag dags/alpha.py -> [alpha]
            dag dags/sub/beta_dag.py -> [beta]
            artifacts artifacts/shared/artifacts.yaml
            artifacts projects/beta/artifacts.yaml
            target local (built-in): hosts=local home=${AIRFLOW_HOME:-target/airflow} keep=5
            target prod (deploy/prod.toml): hosts=w1.example.org,10.0.0.2 home=/srv/airflow keep=3
        "#]],
    );
}

#[test]
fn broken_repository_reports_every_error_at_once() {
    check(
        r#"
//- projects/Bad_Name/requirements.txt
//- projects/dags/requirements.txt
//- projects/empty/src/empty/__init__.py
//- projects/settings/requirements.txt
//- projects/settings/project.toml
python = "py3"
package = "not-an-identifier"
//- projects/unknown-key/requirements.txt
//- projects/unknown-key/project.toml
python = "3.11"
interpreter = "3.11"
//- projects/syntax/requirements.txt
//- projects/syntax/project.toml
python = "3.11
//- projects/missing-package/requirements.txt
//- projects/missing-package/project.toml
package = "nowhere"
//- dags/notes.txt
//- dags/query.sql
//- deploy/broken.toml
hosts = ["w1"]
ssh_user = "deployer"
airflow_home = "/srv/airflow"
colour = "blue"
//- deploy/half.toml
hosts = []
keep = 1
airflow_home = "relative/path"
[env]
"1BAD" = "x"
TOKEN = "$TOKEN"
//- deploy/localish.toml
hosts = "local"
ssh_user = "me"
//- deploy/Prod.toml
hosts = "local"
//- deploy/syntax.toml
hosts = [
"#,
        expect![[r#"
            project empty: package=empty
            project missing-package: package=- req=projects/missing-package/requirements.txt
            project settings: package=- python=py3 req=projects/settings/requirements.txt
            project syntax: package=- req=projects/syntax/requirements.txt
            project unknown-key: package=- req=projects/unknown-key/requirements.txt
            target local (built-in): hosts=local home=${AIRFLOW_HOME:-target/airflow} keep=5
            error projects/Bad_Name: invalid project name `Bad_Name`: use lowercase letters, digits and single `-`, starting with a letter (for example `bad-name`) | help: rename the directory; the name becomes `$AIRFLOW_HOME/<name>` on the workers
            error projects/dags: `dags` is reserved: `$AIRFLOW_HOME/dags` is used by Airflow or by releases; choose another name | help: rename the directory; the name becomes `$AIRFLOW_HOME/<name>` on the workers
            error projects/empty: project `empty` has neither requirements.txt nor pyproject.toml | help: add projects/empty/requirements.txt listing its runtime dependencies, exact or ranges (requirements.lock pins them; a comment line is enough when it has none)
            error projects/missing-package/project.toml: package `nowhere` is named in project.toml but neither src/nowhere/__init__.py nor nowhere/__init__.py exists | help: fix `package` in project.toml, or move the package to src/<package>/
            error projects/settings/project.toml:1:1: `python = "py3"` is neither a Python 3 version nor an absolute path | help: write a version such as `python = "3.11"`, or the interpreter's absolute path
            error projects/settings/project.toml:2:1: `package = "not-an-identifier"` is not a Python import name | help: use letters, digits and `_`, not starting with a digit
            error projects/syntax/project.toml:1:15: invalid basic string, expected `"` | help: the keys of project.toml are `python` ("3.11" or an absolute interpreter path) and `package` (the import name)
            error projects/unknown-key/project.toml:2:1: unknown field `interpreter`, expected `python` or `package` | help: the keys of project.toml are `python` ("3.11" or an absolute interpreter path) and `package` (the import name)
            error dags/notes.txt: `notes.txt` is not a DAG file: dags/ holds Python DAG files (.py), YAML DAGs (<name>.dag.yaml) and task templates (templates/<type>.py.j2) only | help: move data, SQL and config into projects/<name>/ and reference them from the DAG
            error dags/query.sql: `query.sql` is not a DAG file: dags/ holds Python DAG files (.py), YAML DAGs (<name>.dag.yaml) and task templates (templates/<type>.py.j2) only | help: move data, SQL and config into projects/<name>/ and reference them from the DAG
            error deploy/Prod.toml: invalid target name `Prod`: use lowercase letters, digits and single `-`, starting with a letter (for example `prod`) | help: rename the file: the target's name is the file name without `.toml`
            error deploy/broken.toml:4:1: unknown field `colour`, expected one of `hosts`, `ssh_user`, `port`, `identity`, `known_hosts`, `service_user`, `airflow_home`, `keep`, `registry`, `data_root`, `env` | help: a target file holds `hosts`, `ssh_user`, `port`, `identity`, `known_hosts`, `service_user`, `airflow_home`, `keep`, `registry`, `data_root` and an `[env]` table (see README.md, "Deploy targets")
            error deploy/half.toml:1:1: `hosts` is an empty list | help: list at least one host, or write `hosts = "local"`
            error deploy/half.toml:1:1: a remote target needs `ssh_user` | help: add `ssh_user = "deployer"` (the account that logs in over SSH)
            error deploy/half.toml:3:1: `airflow_home = "relative/path"` is not an absolute path | help: a remote target's `airflow_home` is an absolute path on the workers
            error deploy/half.toml:2:1: `keep = 1` is too small | help: keep at least 2 releases: the current one and the previous one, for rollback
            error deploy/half.toml:5:1: `[env]` key `1BAD` is not an environment variable name | help: use letters, digits and `_`, not starting with a digit
            error deploy/half.toml:6:1: `[env]` value of `TOKEN`: write variables as `${NAME}` (braces required), or `$$` for a literal `$` at byte 0 of `$TOKEN` | help: fix the `${VAR}` reference
            error deploy/localish.toml:2:1: `ssh_user` has no meaning for a local target | help: remove `ssh_user`, or list remote `hosts`
            error deploy/syntax.toml:1:10: unclosed array, expected `]` | help: a target file holds `hosts`, `ssh_user`, `port`, `identity`, `known_hosts`, `service_user`, `airflow_home`, `keep`, `registry`, `data_root` and an `[env]` table (see README.md, "Deploy targets")
            warning dags: dags/ has no DAG file | help: add one per project; `cargo xtask new-project NAME` writes a stub
            warning projects/empty: no DAG names project `empty` | help: add a DAG in dags/ that runs it and names it as "empty"
            warning projects/empty: project `empty` has no tests/ directory | help: add pytest tests under tests/; `cargo xtask test` runs them
            warning projects/missing-package: no DAG names project `missing-package` | help: add a DAG in dags/ that runs it and names it as "missing-package"
            warning projects/missing-package: project `missing-package` has no tests/ directory | help: add pytest tests under tests/; `cargo xtask test` runs them
            warning projects/settings: no DAG names project `settings` | help: add a DAG in dags/ that runs it and names it as "settings"
            warning projects/settings: project `settings` has no tests/ directory | help: add pytest tests under tests/; `cargo xtask test` runs them
            warning projects/syntax: no DAG names project `syntax` | help: add a DAG in dags/ that runs it and names it as "syntax"
            warning projects/syntax: project `syntax` has no tests/ directory | help: add pytest tests under tests/; `cargo xtask test` runs them
            warning projects/unknown-key: no DAG names project `unknown-key` | help: add a DAG in dags/ that runs it and names it as "unknown-key"
            warning projects/unknown-key: project `unknown-key` has no tests/ directory | help: add pytest tests under tests/; `cargo xtask test` runs them
        "#]],
    );
}

#[test]
fn missing_top_level_directories() {
    check(
        "//- README.md\n",
        expect![[r#"
            target local (built-in): hosts=local home=${AIRFLOW_HOME:-target/airflow} keep=5
            error projects: the repository has no `projects/` directory | help: run from a platform-airflow-dags repository (with dags/ and projects/), or create `projects/`; `cargo xtask new-project NAME` creates both
            error dags: the repository has no `dags/` directory | help: run from a platform-airflow-dags repository (with dags/ and projects/), or create `dags/`; `cargo xtask new-project NAME` creates both
        "#]],
    );
}

#[test]
fn warnings_do_not_fail() {
    check(
        "//- projects/lonely/requirements.txt\n//- dags/\n",
        expect![[r#"
            project lonely: package=- req=projects/lonely/requirements.txt
            target local (built-in): hosts=local home=${AIRFLOW_HOME:-target/airflow} keep=5
            warning dags: dags/ has no DAG file | help: add one per project; `cargo xtask new-project NAME` writes a stub
            warning projects/lonely: no DAG names project `lonely` | help: add a DAG in dags/ that runs it and names it as "lonely"
            warning projects/lonely: project `lonely` has no tests/ directory | help: add pytest tests under tests/; `cargo xtask test` runs them
        "#]],
    );
}

#[test]
fn hosts_must_be_local_or_a_list() {
    check(
        "//- projects/\n//- dags/\n//- deploy/odd.toml\nhosts = \"worker1\"\n",
        expect![[r#"
            target local (built-in): hosts=local home=${AIRFLOW_HOME:-target/airflow} keep=5
            error deploy/odd.toml:1:9: invalid value: string "worker1", expected "local" or a list of host names, such as ["worker1.example.org"] | help: a target file holds `hosts`, `ssh_user`, `port`, `identity`, `known_hosts`, `service_user`, `airflow_home`, `keep`, `registry`, `data_root` and an `[env]` table (see README.md, "Deploy targets")
            warning dags: dags/ has no DAG file | help: add one per project; `cargo xtask new-project NAME` writes a stub
        "#]],
    );
}

#[test]
fn yaml_dags_and_task_templates_are_dag_sources() {
    check(
        "//- projects/\n//- dags/a.dag.yaml\n//- dags/a.py\n//- dags/templates/echo.py.j2\n//- dags/b.yaml\n",
        expect![[r#"
            dag dags/a.py -> []
            target local (built-in): hosts=local home=${AIRFLOW_HOME:-target/airflow} keep=5
            error dags/b.yaml: `b.yaml` is not a DAG file: dags/ holds Python DAG files (.py), YAML DAGs (<name>.dag.yaml) and task templates (templates/<type>.py.j2) only | help: move data, SQL and config into projects/<name>/ and reference them from the DAG
        "#]],
    );
    assert!(crate::is_dag_source(Utf8Path::new("dags/a.dag.yaml")));
    assert!(!crate::is_dag_source(Utf8Path::new("dags/sub/a.dag.yaml")));
    assert!(!crate::is_dag_source(Utf8Path::new("dags/templates/sub/x.py.j2")));
}

#[test]
fn discover_fails_with_all_problems() {
    let fixture = fixture("//- projects/A/requirements.txt\n//- dags/x.txt\n");
    let err = crate::discover(&fixture.root).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    let message = err.to_string();
    assert!(message.contains("has 2 layout problems:"), "{message}");
    assert!(message.contains("projects/A: invalid project name"), "{message}");
    assert!(message.contains("dags/x.txt: `x.txt` is not a DAG file"), "{message}");
}

#[test]
fn the_repository_local_target_is_the_built_in_one() {
    let root = Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("deploy/local.toml")).unwrap();
    assert_eq!(text, crate::DEFAULT_LOCAL_TARGET, "deploy/local.toml and DEFAULT_LOCAL_TARGET must stay the same");
}

#[test]
fn local_airflow_home_defaults_under_target_unless_set() {
    let fixture = fixture("//- projects/\n//- dags/\n");
    let repo = crate::discover(&fixture.root).unwrap();
    let local = repo.target("local").unwrap();
    let unset = local.resolve_airflow_home(&repo.root, &|_| None).unwrap();
    assert_eq!(unset, repo.root.join("target/airflow"));
    let set = local
        .resolve_airflow_home(&repo.root, &|name| (name == "AIRFLOW_HOME").then(|| "/opt/airflow".to_owned()))
        .unwrap();
    assert_eq!(set, "/opt/airflow");
}

#[track_caller]
fn check_expand(text: &str, expected: Result<&str, &str>) {
    let lookup = |name: &str| match name {
        "HOME" => Some("/home/me".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    let actual = vars::expand(text, &lookup).map_err(|e| e.to_string());
    assert_eq!(actual.as_deref(), expected.map_err(str::to_owned).as_deref());
}

#[test]
fn variable_expansion() {
    check_expand("plain", Ok("plain"));
    check_expand("${HOME}/airflow", Ok("/home/me/airflow"));
    check_expand("${EMPTY}", Ok(""));
    check_expand("${NOPE:-/srv/airflow}", Ok("/srv/airflow"));
    check_expand("${HOME:-/srv}", Ok("/home/me"));
    // Set but empty takes the default, as in POSIX shells: `AIRFLOW_HOME=` is not "here".
    check_expand("${EMPTY:-target/airflow}", Ok("target/airflow"));
    check_expand("cost: $$5 and $ alone", Ok("cost: $5 and $ alone"));
    check_expand(
        "${NOPE}",
        Err(
            "environment variable `NOPE` is not set, and a missing variable is never read as empty: export NOPE=…, or give a default with ${NOPE:-value}",
        ),
    );
    check_expand("${HOME", Err("unterminated `${`: add the closing `}` at byte 0 of `${HOME`"));
    check_expand(
        "x${1A}",
        Err("a variable name is letters, digits and `_`, not starting with a digit at byte 1 of `x${1A}`"),
    );
    check_expand(
        "$HOME",
        Err("write variables as `${NAME}` (braces required), or `$$` for a literal `$` at byte 0 of `$HOME`"),
    );
}

#[test]
fn target_env_resolution_reports_the_missing_variable() {
    let fixture = fixture(
        "//- projects/\n//- dags/\n//- deploy/prod.toml\nhosts = [\"w1\"]\nssh_user = \"d\"\nairflow_home = \"/srv/a\"\n[env]\nTOKEN = \"${PAD_TEST_SURELY_UNSET}\"\nMODE = \"${MODE:-batch}\"\n",
    );
    let repo = crate::discover(&fixture.root).unwrap();
    let prod = repo.target("prod").unwrap();
    let err = prod.resolve_env(&|_| None).unwrap_err();
    assert!(err.to_string().contains("`PAD_TEST_SURELY_UNSET` is not set"), "{err}");
    let env = prod.resolve_env(&|name| (name == "PAD_TEST_SURELY_UNSET").then(|| "t0k".to_owned())).unwrap();
    assert_eq!(env.get("TOKEN").map(String::as_str), Some("t0k"));
    assert_eq!(env.get("MODE").map(String::as_str), Some("batch"));
}

/// A git repository with one commit, for version tests.
fn git_repo() -> Fixture {
    let fixture = fixture("//- projects/\n//- dags/x.py\n");
    let git = |args: &[&str]| {
        pad_process::Cmd::new("git", &fixture.root)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.org")
            .read()
            .unwrap()
    };
    git(&["init", "-q", "-b", "feature/Thing"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "first"]);
    fixture
}

fn git(root: &Utf8Path, args: &[&str]) -> String {
    pad_process::Cmd::new("git", root)
        .args(args)
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .read()
        .unwrap()
}

#[test]
fn version_from_branch_tag_dirty_and_detached() {
    let repo = git_repo();
    let root = &repo.root;
    let none = |_: &str| None;
    let short = git(root, &["rev-parse", "--short=7", "HEAD"]);

    let v = crate::version(root, &none);
    assert_eq!(v.version, format!("feature-Thing-{short}"));
    assert_eq!(v.source, VersionSource::Branch);
    assert_eq!(v.commit.as_deref(), Some(git(root, &["rev-parse", "HEAD"]).as_str()));
    assert!(!v.dirty);

    std::fs::write(root.join("dags/x.py"), "changed").unwrap();
    let v = crate::version(root, &none);
    assert_eq!(v.version, format!("feature-Thing-{short}-dirty"));
    assert!(v.dirty);
    git(root, &["checkout", "-q", "--", "dags/x.py"]);

    git(root, &["tag", "-a", "v1.2.0", "-m", "release"]);
    let v = crate::version(root, &none);
    assert_eq!((v.version.as_str(), v.source), ("v1.2.0", VersionSource::Tag));

    git(root, &["tag", "-d", "v1.2.0"]);
    git(root, &["checkout", "-q", "--detach"]);
    assert_eq!(crate::version(root, &none).version, format!("detached-{short}"));
    let ci = |name: &str| (name == "CI_COMMIT_REF_NAME").then(|| "main".to_owned());
    assert_eq!(crate::version(root, &ci).version, format!("main-{short}"));

    let pinned = |name: &str| (name == "PAD_VERSION").then(|| "2.0.0/rc 1".to_owned());
    let v = crate::version(root, &pinned);
    assert_eq!((v.version.as_str(), v.source), ("2.0.0-rc-1", VersionSource::Override));
}

#[test]
fn version_outside_git_falls_back_with_a_note() {
    let fixture = fixture("//- projects/\n//- dags/\n");
    let v = crate::version(&fixture.root, &|_| None);
    assert_eq!((v.version.as_str(), v.source), (crate::UNVERSIONED, VersionSource::NoGit));
    let note = v.note.unwrap();
    assert!(note.contains("is not a git checkout") && note.contains("PAD_VERSION"), "{note}");
}

#[test]
fn new_project_passes_validation_and_refuses_bad_names() {
    let fixture = fixture("//- projects/\n//- dags/\n");
    let root = &fixture.root;
    let created = crate::new_project(root, "demo-job").unwrap();
    assert_eq!(created.package, "demo_job");
    assert_eq!(created.dag, "dags/demo_job.py");
    let repo = crate::discover(root).unwrap();
    let project = repo.project("demo-job").unwrap();
    assert_eq!(project.package.as_deref(), Some("demo_job"));
    assert!(project.tests_dir.is_some());
    assert_eq!(project.test_deps, crate::TestDeps::File { file: "requirements-test.txt".to_owned() });
    assert_eq!(repo.dags_of("demo-job").count(), 1);
    assert!(repo.warnings.is_empty(), "{:?}", repo.warnings);
    // The scaffolded DAG uses the runtime helper, written beside it.
    let dag = std::fs::read_to_string(root.join("dags/demo_job.py")).unwrap();
    assert!(dag.contains("import pad_runtime as pad") && dag.contains("dag_id=pad.dag_id(\"demo_job\")"), "{dag}");
    assert_eq!(std::fs::read_to_string(root.join(crate::RUNTIME_HELPER_PATH)).unwrap(), crate::RUNTIME_HELPER);
    assert!(created.files.iter().any(|f| f == crate::RUNTIME_HELPER_PATH));

    let exists = crate::new_project(root, "demo-job").unwrap_err().to_string();
    assert_eq!(exists, "`projects/demo-job` already exists: choose another name, or remove it first");
    std::fs::write(root.join("dags/other.py"), "").unwrap();
    let dag_exists = crate::new_project(root, "other").unwrap_err().to_string();
    assert_eq!(dag_exists, "`dags/other.py` already exists: choose another name, or remove it first");
    assert!(!root.join("projects/other").exists());

    for (name, message) in [
        ("Demo", "invalid project name `Demo`"),
        ("9lives", "invalid project name `9lives`"),
        ("a_b", "invalid project name `a_b`"),
        ("../escape", "invalid project name `../escape`"),
        ("releases", "`releases` is reserved"),
    ] {
        let err = crate::new_project(root, name).unwrap_err().to_string();
        assert!(err.starts_with(message), "{name}: {err}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(root.join("projects"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(leftovers, ["demo-job"]);
}

#[test]
fn shipped_files_leave_out_tests_build_output_and_ignored_files() {
    let fixture = fixture(
        "//- .gitignore\n*.secret\n/projects/p/scratch/\n\
         //- projects/p/pyproject.toml\n//- projects/p/project.toml\n//- projects/p/requirements.txt\n\
         //- projects/p/requirements.lock\n//- projects/p/requirements-test.txt\n//- projects/p/requirements-test.lock\n\
         //- projects/p/requirements-dev.txt\n\
         //- projects/p/README.md\n//- projects/p/src/p/__init__.py\n//- projects/p/src/p/__pycache__/x.cpython-311.pyc\n\
         //- projects/p/src/p/data/table.tsv\n//- projects/p/src/p/tests/test_inner.py\n//- projects/p/tests/test_p.py\n\
         //- projects/p/build/lib/p/__init__.py\n//- projects/p/src/p.egg-info/PKG-INFO\n//- projects/p/.pytest_cache/README.md\n\
         //- projects/p/bin/run.sh\n//- projects/p/api.secret\n//- projects/p/scratch/notes.txt\n\
         //- dags/.airflowignore\n//- dags/p.py\n//- dags/__pycache__/p.cpython-311.pyc\n//- dags/local.secret\n",
    );
    let project: Vec<String> =
        crate::project_files(&fixture.root.join("projects/p")).unwrap().iter().map(|p| p.to_string()).collect();
    assert_eq!(
        project,
        [
            "README.md",
            "bin/run.sh",
            "project.toml",
            "pyproject.toml",
            "requirements.lock",
            "requirements.txt",
            "src/p/__init__.py",
            "src/p/data/table.tsv",
            "src/p/tests/test_inner.py",
        ]
    );
    let dags: Vec<String> =
        crate::dag_files(&fixture.root.join("dags")).unwrap().iter().map(|p| p.to_string()).collect();
    assert_eq!(dags, [".airflowignore", "p.py"]);
}

#[test]
fn registries_toml_is_not_a_target() {
    let fixture =
        fixture("//- projects/\n//- dags/\n//- deploy/registries.toml\n[local]\nkind = \"fs\"\npath = \"/srv\"\n");
    let repo = crate::discover(&fixture.root).unwrap();
    let names: Vec<&str> = repo.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["local"]);
}

#[test]
fn test_dependencies_come_from_the_first_standard_place() {
    // Each case: the project's files, and where its test dependencies are read from.
    #[track_caller]
    fn case(files: &str, expected: &str) {
        let fixture = fixture(&format!("//- dags/\n//- projects/p/tests/\n{files}"));
        let scan = scan(&fixture.root);
        assert!(scan.errors.is_empty(), "{:?}", scan.errors);
        assert_eq!(scan.repo.projects[0].test_deps.to_string(), expected, "{files}");
    }
    const GROUPS: &str = "[dependency-groups]\nlint = [\"ruff\"]\ndev = [\"pytest\", {include-group = \"lint\"}]\n";
    case("//- projects/p/requirements.txt\n", "the toolchain's pytest");
    case("//- projects/p/requirements.txt\n//- projects/p/requirements-dev.txt\n", "requirements-dev.txt");
    case(
        "//- projects/p/requirements-dev.txt\n//- projects/p/requirements-test.txt\n//- projects/p/requirements.txt\n",
        "requirements-test.txt",
    );
    case(&format!("//- projects/p/pyproject.toml\n{GROUPS}"), "pyproject.toml [dependency-groups] dev");
    case(
        &format!("//- projects/p/pyproject.toml\n{GROUPS}Tests = [\"pytest\"]\n"),
        "pyproject.toml [dependency-groups] tests",
    );
    case(
        "//- projects/p/pyproject.toml\n[project]\nname = \"p\"\n[project.optional-dependencies]\ntest = [\"pytest\"]\n",
        "pyproject.toml [project.optional-dependencies] test",
    );
    // A test-specific place wins over a development one, whatever its format.
    case(
        &format!(
            "//- projects/p/requirements-dev.txt\n//- projects/p/pyproject.toml\n{GROUPS}[project.optional-dependencies]\ntest = [\"pytest\"]\n"
        ),
        "pyproject.toml [project.optional-dependencies] test",
    );
    case(
        &format!("//- projects/p/requirements-dev.txt\n//- projects/p/pyproject.toml\n{GROUPS}"),
        "requirements-dev.txt",
    );
}

#[test]
fn a_pyproject_toml_whose_groups_are_not_lists_is_a_layout_error() {
    check(
        "//- dags/\n//- projects/p/pyproject.toml\n[project]\nname = \"p\"\n[dependency-groups]\ndev = \"pytest\"\n",
        expect![[r#"
            project p: package=- pyproject=projects/p/pyproject.toml
            target local (built-in): hosts=local home=${AIRFLOW_HOME:-target/airflow} keep=5
            error projects/p/pyproject.toml:4:7: invalid type: string "pytest", expected a sequence | help: fix pyproject.toml: `[dependency-groups]` maps names to lists (PEP 735), `[project.optional-dependencies]` maps extras to lists of requirements
            warning dags: dags/ has no DAG file | help: add one per project; `cargo xtask new-project NAME` writes a stub
            warning projects/p: no DAG names project `p` | help: add a DAG in dags/ that runs it and names it as "p"
            warning projects/p: project `p` has no tests/ directory | help: add pytest tests under tests/; `cargo xtask test` runs them
        "#]],
    );
}

#[test]
fn namespace_names_are_checked_and_sanitized() {
    for good in ["review-1", "mr-42", "abc1234", "a"] {
        assert_eq!(crate::check_namespace(good), Ok(()), "{good}");
    }
    for (bad, why) in [
        ("", "empty"),
        ("Review", "lowercase"),
        ("a_b", "lowercase"),
        ("a/b", "lowercase"),
        ("-a", "starts or ends"),
        ("a-", "starts or ends"),
        ("prod", "plain deploy"),
        ("auto", "chooses a name"),
    ] {
        let err = crate::check_namespace(bad).unwrap_err();
        assert!(err.contains(why), "{bad}: {err}");
    }
    assert!(crate::check_namespace(&"a".repeat(41)).unwrap_err().contains("40"));
    assert_eq!(crate::sanitize_namespace("Feature/ADD_thing--x").as_deref(), Some("feature-add-thing-x"));
    assert_eq!(crate::sanitize_namespace("prod").as_deref(), Some("ns-prod"));
    assert_eq!(crate::sanitize_namespace("///"), None);
    let long = crate::sanitize_namespace(&format!("{}-{}", "a".repeat(39), "b".repeat(10))).unwrap();
    assert_eq!(long, "a".repeat(39), "trimmed to 40, then of its trailing `-`");
    let slug = |name: &str| (name == "CI_COMMIT_REF_SLUG").then(|| "mr-7-fix".to_owned());
    assert_eq!(crate::resolve_namespace(Utf8Path::new("/"), "auto", &slug).as_deref(), Ok("mr-7-fix"));
    assert!(crate::resolve_namespace(Utf8Path::new("/"), "Bad", &slug).is_err());
}

#[test]
fn data_root_expands_the_namespace_and_a_local_target_has_a_default() {
    let mut errors = Vec::new();
    let remote = crate::target::parse_target(
        "staging",
        "hosts = [\"w1\"]\nssh_user = \"d\"\nairflow_home = \"/srv/airflow\"\ndata_root = \"/srv/data/${namespace}\"\n"
            .to_owned(),
        Some(Utf8Path::new("deploy/staging.toml")),
        &mut errors,
    )
    .unwrap();
    let none = |_: &str| None;
    let home = Utf8Path::new("/srv/airflow");
    assert_eq!(remote.resolve_data_root(home, "mr-1", &none).unwrap().unwrap(), "/srv/data/mr-1");
    assert_eq!(remote.resolve_data_root(home, "prod", &none).unwrap().unwrap(), "/srv/data/prod");
    let local =
        crate::target::parse_target("local", crate::DEFAULT_LOCAL_TARGET.to_owned(), None, &mut errors).unwrap();
    assert_eq!(local.resolve_data_root(Utf8Path::new("/a"), "x", &none).unwrap().unwrap(), "/a/data/x");
    let bare = crate::target::parse_target("t", "hosts = \"local\"\n".to_owned(), None, &mut errors).unwrap();
    assert_eq!(bare.resolve_data_root(Utf8Path::new("/a"), "x", &none).unwrap().unwrap(), "/a/data/x");
    assert!(errors.is_empty(), "{errors:?}");

    // A data root every namespace would share, or a relative one on workers, is refused.
    for (text, why) in [
        ("data_root = \"/srv/data\"\n", "does not hold `${namespace}`"),
        ("data_root = \"data/${namespace}\"\n", "not an absolute path"),
    ] {
        let mut errors = Vec::new();
        let file = format!("hosts = [\"w1\"]\nssh_user = \"d\"\nairflow_home = \"/srv/airflow\"\n{text}");
        assert!(crate::target::parse_target("t", file, Some(Utf8Path::new("deploy/t.toml")), &mut errors).is_none());
        assert!(errors[0].to_string().contains(why), "{}", errors[0]);
        assert!(errors[0].to_string().contains("deploy/t.toml:4"), "{}", errors[0]);
    }
}

/// The repository's `dags/pad_runtime.py` is the toolchain's helper, not a drifting copy.
#[test]
fn the_repository_ships_the_toolchains_runtime_helper() {
    let root = Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ours = std::fs::read_to_string(root.join(crate::RUNTIME_HELPER_PATH)).unwrap();
    assert!(
        ours == crate::RUNTIME_HELPER,
        "dags/pad_runtime.py differs from crates/pad-layout/src/templates/pad_runtime.py: copy one over the other"
    );
}

#[test]
fn namespace_auto_without_a_ref_slug_is_the_short_sha_of_head() {
    let repo = git_repo();
    let sha = git(&repo.root, &["rev-parse", "--short=8", "HEAD"]);
    let ns = crate::resolve_namespace(&repo.root, "auto", &|_| None).unwrap();
    assert_eq!(ns, sha.trim());
    assert_eq!(crate::check_namespace(&ns), Ok(()));
    let empty = fixture("//- projects/\n//- dags/\n");
    let err = crate::resolve_namespace(&empty.root, "auto", &|_| None).unwrap_err();
    assert!(err.contains("CI_COMMIT_REF_SLUG is not set") && err.contains("--namespace NAME"), "{err}");
}
