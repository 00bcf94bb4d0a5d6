//! The trust boundary, as a user meets it: hostile packages deployed with
//! `cargo xtask deploy --package FILE` to a worker container and to the local target
//! change nothing; the `.env` a deploy writes reads the same in python-dotenv (the
//! version Airflow 3.3 pins) and in `sh`; an empty `AIRFLOW_HOME` is no repository.

use camino::{Utf8Path, Utf8PathBuf};
use pad_bundle::craft::{Base, benign_package, hostile_packages};
use pad_bundle::{PackOptions, SymlinkPolicy};
use pad_process::Cmd;

use pad_testkit::tool_python;

use crate::support::{TestRepo, e2e_enabled, tools_dir, xtask_with_env};
use crate::worker::{Worker, WorkerOptions, WorkerSet};

/// The workers' interpreter, which the shipped environments point at.
const WORKER_PYTHON: &str = "/usr/bin/python3.11";

/// python-dotenv as `deploy/airflow/3.3/requirements.lock` pins it.
const PYTHON_DOTENV: &str = "python-dotenv==1.2.4";

/// A packed environment whose `bin/python` is the workers' interpreter.
fn worker_env(dir: &Utf8Path) -> Vec<u8> {
    let venv = dir.join("venv");
    std::fs::create_dir_all(venv.join("bin")).unwrap();
    std::os::unix::fs::symlink(WORKER_PYTHON, venv.join("bin/python")).unwrap();
    std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\nversion_info = 3.11.2\n").unwrap();
    let tarball = dir.join("venv.tar.gz");
    let options = PackOptions { symlinks: SymlinkPolicy::Keep, ..PackOptions::default() };
    pad_bundle::pack_dir(&venv, &tarball, &options).unwrap();
    std::fs::read(&tarball).unwrap()
}

/// The hostile packages' base, with an environment for the workers' interpreter.
fn worker_base(dir: &Utf8Path) -> Base {
    Base { env: worker_env(dir), interpreter_path: WORKER_PYTHON.to_owned(), interpreter_version: "3.11.2".to_owned() }
}

/// Everything under `/srv/airflow` (kind, path, link target, size), the hash of
/// `/etc/passwd`, and whether `outside` exists: equal before and after means the
/// deploys wrote nothing there.
fn worker_state(worker: &Worker, outside: &str) -> String {
    let out = worker.exec_root(&format!(
        "cd /srv/airflow && find . -printf '%y %p %l %s\\n' | sort; sha256sum /etc/passwd; \
         if [ -e {outside} ]; then echo OUTSIDE EXISTS; fi"
    ));
    assert!(out.status.success(), "{}", out.stderr);
    out.stdout
}

/// The same of a local `AIRFLOW_HOME`.
fn local_state(home: &Utf8Path, outside: &Utf8Path) -> String {
    let out = Cmd::new("sh", home)
        .args(["-c", "find . -printf '%y %p %l %s\\n' | sort; sha256sum /etc/passwd"])
        .read()
        .unwrap();
    format!("{out}\noutside exists: {}", outside.exists())
}

#[test]
fn hostile_packages_change_nothing_on_a_worker_or_locally() {
    if !e2e_enabled("hostile_packages_change_nothing_on_a_worker_or_locally") {
        return;
    }
    let set = WorkerSet::start(WorkerOptions::default());
    let worker = &set.workers()[0];
    let repo = TestRepo::empty();
    repo.write("dags/.keep", "").write("projects/.keep", "");
    repo.write("deploy/workers.toml", &set.target_toml("workers"));
    let work = repo.root.join("work");
    let home = repo.root.join("airflow-home");
    std::fs::create_dir_all(&work).unwrap();
    let env = [("AIRFLOW_HOME", home.as_str())];
    let deploy = |target: &str, package: &Utf8Path| {
        let args = ["--repo", repo.root.as_str(), "deploy", "--target", target, "--package", package.as_str()];
        xtask_with_env(&repo.root, &args, &env)
    };

    let base = worker_base(&work);
    let benign = work.join("benign.tar.gz");
    std::fs::write(&benign, benign_package(&base)).unwrap();
    deploy("workers", &benign).success();
    deploy("local", &benign).success();
    let outside = format!("/tmp/pad-outside-{}", std::process::id());
    let worker_before = worker_state(worker, &outside);
    let local_before = local_state(&home, Utf8Path::new(&outside));
    assert!(worker_before.contains("l ./current releases/hostile-1-"), "{worker_before}");

    let corpus = hostile_packages(&base, Utf8Path::new(&outside));
    assert!(corpus.len() >= 35, "the corpus shrank to {}", corpus.len());
    for (i, hostile) in corpus.iter().enumerate() {
        let package = work.join(format!("hostile-{i}.tar.gz"));
        std::fs::write(&package, &hostile.bytes).unwrap();
        for target in ["workers", "local"] {
            let run = deploy(target, &package);
            assert_eq!(run.code, Some(1), "{}: deployed to {target}:\n{}{}", hostile.name, run.stdout, run.stderr);
            assert!(
                run.stderr.contains("cannot be deployed")
                    || run.stderr.contains("does not match its manifest")
                    || run.stderr.contains("failed to read the package"),
                "{}: refused for another reason on {target}:\n{}",
                hostile.name,
                run.stderr
            );
        }
        assert_eq!(worker_state(worker, &outside), worker_before, "{}: the worker changed", hostile.name);
        assert_eq!(local_state(&home, Utf8Path::new(&outside)), local_before, "{}: AIRFLOW_HOME changed", hostile.name);
    }
}

/// `[env]` values and what every reader of `.env` must get back.
const ENV_VALUES: &[(&str, &str)] = &[
    ("PLAIN", "plain"),
    ("SPACES", "with spaces and \"double\" quotes"),
    ("APOSTROPHE", "it's"),
    ("BACKSLASH", "back\\slash, \"quotes\" and it's"),
    ("DOLLAR", "$HOME, $(touch /tmp/pad-env-pwned) and `id`"),
    ("ESCAPE_LOOKALIKE", "\\n is no line break"),
    ("EMPTY", ""),
];

#[test]
fn the_env_file_reads_alike_in_python_dotenv_and_sh() {
    if !e2e_enabled("the_env_file_reads_alike_in_python_dotenv_and_sh") {
        return;
    }
    let repo = TestRepo::empty();
    repo.write("dags/etl_dag.py", "PROJECT = None\n").write("projects/.keep", "");
    let mut local = String::from("hosts = \"local\"\nairflow_home = \"target/airflow\"\n[env]\n");
    for (key, value) in ENV_VALUES {
        // TOML's literal strings take the value as it is, `$` aside (`$$` in targets).
        local.push_str(&format!("{key} = '''{}'''\n", value.replace('$', "$$")));
    }
    repo.write("deploy/local.toml", &local);
    let package = repo.root.join("p.tar.gz");
    let work = repo.root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let base = worker_base(&work);
    std::fs::write(&package, benign_package(&base)).unwrap();
    let args = ["--repo", repo.root.as_str(), "deploy", "--target", "local", "--package", package.as_str()];
    xtask_with_env(&repo.root, &args, &[]).success();
    let dotenv = repo.root.join("target/airflow/current/.env");
    let text = std::fs::read_to_string(&dotenv).unwrap();

    let python = tool_python(&tools_dir(), PYTHON_DOTENV).unwrap();
    let script = "import json, sys\nfrom dotenv import dotenv_values\nprint(json.dumps(dotenv_values(sys.argv[1])))";
    let read = Cmd::new(python.as_str(), &repo.root).args(["-c", script, dotenv.as_str()]).read().unwrap();
    let values: serde_json::Value = serde_json::from_str(&read).unwrap();
    for (key, value) in ENV_VALUES {
        assert_eq!(values[key], *value, "python-dotenv reads {key} from:\n{text}");
        let sh =
            Cmd::new("sh", &repo.root).args(["-c", &format!(". {dotenv}; printf %s \"${key}\"")]).run().unwrap().stdout;
        assert_eq!(sh, *value, "sh reads {key} from:\n{text}");
    }
    assert!(!Utf8Path::new("/tmp/pad-env-pwned").exists());
}

#[test]
fn an_empty_airflow_home_is_the_default_and_the_repository_is_refused() {
    if !e2e_enabled("an_empty_airflow_home_is_the_default_and_the_repository_is_refused") {
        return;
    }
    let repo = TestRepo::empty();
    repo.write("dags/etl_dag.py", "PROJECT = None\n").write("projects/.keep", "");
    let work = repo.root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let base = worker_base(&work);
    let package: Utf8PathBuf = work.join("p.tar.gz");
    std::fs::write(&package, benign_package(&base)).unwrap();
    let args = ["--repo", repo.root.as_str(), "deploy", "--target", "local", "--package", package.as_str()];

    // `AIRFLOW_HOME=` is unset, as in a shell: the built-in target's default.
    xtask_with_env(&repo.root, &args, &[("AIRFLOW_HOME", "")]).success();
    assert!(repo.root.join("target/airflow/current/dags/p_dag.py").is_file());
    for name in ["releases", ".pad", "current"] {
        assert!(!repo.root.join(name).exists(), "`{name}` was written into the repository");
    }

    let run = xtask_with_env(&repo.root, &args, &[("AIRFLOW_HOME", repo.root.as_str())]).failure();
    assert!(run.stderr.contains("is the repository"), "{}", run.stderr);
    assert!(repo.root.join("dags/etl_dag.py").is_file(), "the repository's dags/ was moved");
}
