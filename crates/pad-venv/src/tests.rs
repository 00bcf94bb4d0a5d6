//! Tests of the parts of environment building that need no uv: interpreters, probes,
//! project sources. Building with uv is covered end to end in `tests/it/venv.rs`.

use std::os::unix::fs::PermissionsExt;

use camino::{Utf8Path, Utf8PathBuf};

use crate::{Interpreter, VenvError, fsutil, lock, probe, pytest, python};

fn tempdir() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
    (dir, path)
}

fn write(path: &Utf8Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn the_default_interpreter_is_the_system_python3() {
    let (_dir, root) = tempdir();
    let found = python::resolve(None, "demo", &root.join("probes.json")).unwrap();
    assert_eq!(found.path, "/usr/bin/python3");
    assert!(found.version.starts_with("3."), "{found:?}");
    let minor = python::resolve(Some(found.minor_version()), "demo", &root.join("probes.json")).unwrap();
    assert_eq!(minor.path, format!("/usr/bin/python{}", found.minor_version()));
    assert_eq!(minor.version, found.version);
    let exact = python::resolve(Some(&found.version), "demo", &root.join("probes.json")).unwrap();
    assert_eq!(exact.version, found.version);
}

#[test]
fn a_missing_interpreter_names_the_project_and_where_it_looked() {
    let (_dir, root) = tempdir();
    let err = python::resolve(Some("3.99"), "demo", &root.join("probes.json")).unwrap_err();
    assert!(matches!(err, VenvError::InterpreterMissing { .. }));
    let message = err.to_string();
    assert!(message.starts_with("demo: no interpreter for python = \"3.99\""), "{message}");
    assert!(message.contains("/usr/bin/python3.99"), "{message}");
    let absent = python::resolve(Some("/nowhere/python3"), "demo", &root.join("probes.json")).unwrap_err();
    assert!(absent.to_string().contains("/nowhere/python3"), "{absent}");
}

#[test]
fn minor_versions() {
    let minor = |v: &str| Interpreter { path: "/x".into(), version: v.to_owned() }.minor_version().to_owned();
    assert_eq!(minor("3.11.2"), "3.11");
    assert_eq!(minor("3.12"), "3.12");
    assert_eq!(minor("3"), "3");
}

#[test]
fn an_interpreter_under_a_private_home_is_flagged() {
    let (_dir, root) = tempdir();
    let python = root.join("home/.pyenv/bin/python3");
    write(&python, "#!/bin/sh\n", 0o755);
    std::fs::set_permissions(root.join("home"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let why = python::unreadable_by_others(&python).expect("flagged");
    assert!(why.contains("/home` is mode 0700"), "{why}");

    std::fs::set_permissions(root.join("home"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o700)).unwrap();
    let why = python::unreadable_by_others(&python).expect("flagged");
    assert!(why.contains("is mode 0700: other users cannot run it"), "{why}");

    assert_eq!(python::unreadable_by_others(Utf8Path::new("/usr/bin/python3")), None);
}

#[test]
fn probes_are_asked_once_while_the_program_is_unchanged() {
    let (_dir, root) = tempdir();
    let counter = root.join("count");
    let program = root.join("tool");
    write(&program, &format!("#!/bin/sh\necho x >> {counter}\necho \"v$1\"\n"), 0o755);
    let cache = root.join("probes.json");
    let runs = || std::fs::read_to_string(&counter).map(|t| t.lines().count()).unwrap_or(0);

    assert_eq!(probe::probe(&cache, &program, &["1"]).unwrap(), "v1");
    assert_eq!(probe::probe(&cache, &program, &["1"]).unwrap(), "v1");
    assert_eq!(runs(), 1, "the second probe should come from the cache");
    assert_eq!(probe::probe(&cache, &program, &["2"]).unwrap(), "v2");
    assert_eq!(runs(), 2, "other arguments are another probe");

    // A changed program is asked again.
    write(&program, &format!("#!/bin/sh\necho x >> {counter}\necho \"new$1\"\n"), 0o755);
    assert_eq!(probe::probe(&cache, &program, &["1"]).unwrap(), "new1");
    assert_eq!(runs(), 3);
}

#[test]
fn a_probe_runs_before_its_cache_directory_exists() {
    // A fresh target directory with uv on PATH: nothing has made `target/tools` yet.
    let (_dir, root) = tempdir();
    let cache = root.join("target/tools/probes.json");
    assert_eq!(probe::probe(&cache, Utf8Path::new("/bin/echo"), &["uv 0.13.9"]).unwrap(), "uv 0.13.9");
    assert!(cache.is_file(), "the answer is kept for the next run");
}

#[test]
fn the_source_hash_sees_content_names_and_the_executable_bit() {
    use sha2::{Digest, Sha256};
    let (_dir, root) = tempdir();
    write(&root.join("bin/run.sh"), "echo hi", 0o644);
    let hash = || {
        let files = fsutil::project_source_files(&root).unwrap();
        let mut hasher = Sha256::new();
        fsutil::hash_files(&mut hasher, &root, &files).unwrap();
        pad_stdx::hex(&hasher.finalize())
    };
    let plain = hash();
    assert_eq!(hash(), plain);
    std::fs::set_permissions(root.join("bin/run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let executable = hash();
    assert_ne!(executable, plain);
    std::fs::write(root.join("bin/run.sh"), "echo ho").unwrap();
    assert_ne!(hash(), executable);
}

const RUNTIME_LOCK: &str = "\
# pad-lock v1: python 3.11; requirements.txt sha256 00
# Made by `cargo xtask venv` with uv from requirements.txt: edit requirements.txt instead, then rerun it.
python-dateutil==2.9.0.post0 \\
    --hash=sha256:aa
    # via -r requirements.txt
six==1.17.0 \\
    --hash=sha256:bb
    # via python-dateutil
";

#[test]
fn a_test_lock_leaves_out_what_the_shipped_environment_pins() {
    // `-r requirements.txt` in requirements-dev.txt, or an extra, brings the runtime
    // dependencies along; at the same versions they come from the shipped environment.
    let test_lock = "\
packaging==26.4 \\
    --hash=sha256:cc
    # via pytest
pytest==8.4.2 \\
    --hash=sha256:dd
    # via -r requirements-dev.txt
python-dateutil==2.9.0.post0 \\
    --hash=sha256:aa
    # via -r requirements.txt
Six==1.16.0 \\
    --hash=sha256:ee
    # via python-dateutil";
    let kept = lock::without_pins_of(test_lock, RUNTIME_LOCK);
    let names: Vec<&str> = kept.lines().filter(|l| !l.starts_with(' ')).collect();
    // six at another version stays: the test environment needs its own.
    assert_eq!(names, ["packaging==26.4 \\", "pytest==8.4.2 \\", "Six==1.16.0 \\"], "{kept}");
    assert!(kept.contains("    --hash=sha256:dd\n    # via -r requirements-dev.txt"), "{kept}");
    assert!(!kept.contains("sha256:aa"), "{kept}");

    assert!(lock::pins(&kept, "pytest") && lock::pins(&kept, "six") && !lock::pins(&kept, "python-dateutil"));
    assert!(lock::pins(RUNTIME_LOCK, "Python_Dateutil"));
    assert!(!lock::pins("pytest-cov==6.0.0 \\\n", "pytest"));
}

#[test]
fn lock_inputs_name_the_part_of_the_file() {
    use lock::LockInput;
    let cases = [
        (LockInput::File("requirements-dev.txt"), "requirements-dev.txt"),
        (LockInput::Group("dev"), "pyproject.toml [dependency-groups] dev"),
        (LockInput::Extra("test"), "pyproject.toml [project.optional-dependencies] test"),
        (LockInput::Pinned(crate::PINNED_PYTEST), "the toolchain's pytest==8.3.4"),
    ];
    for (input, label) in cases {
        assert_eq!(input.label(), label);
    }
}

/// The reuse key of a clean DAG check changes with everything that can change its result:
/// a DAG file, a YAML DAG, a task template, a generated file, the Airflow environment,
/// a `--var` and a `--conn`; and with nothing else.
#[test]
fn the_dag_check_key_covers_every_input() {
    use crate::DagCheckOptions;
    use crate::dag_check::result_key;

    let (_dir, root) = tempdir();
    let dags = root.join("dags");
    for (file, text) in [
        ("a.py", "# a DAG\n"),
        ("b.dag.yaml", "schedule: null\n"),
        ("b.py", "# generated from b.dag.yaml\n"),
        ("templates/t.py.j2", "{# t #}\n"),
    ] {
        write(&dags.join(file), text, 0o644);
    }
    let options = DagCheckOptions::default();
    let key = |env: &str, options: &DagCheckOptions| result_key(env, &root, &dags, options).unwrap();
    let base = key("env-1", &options);
    assert_eq!(key("env-1", &options), base, "the same inputs give the same key");
    assert_ne!(key("env-2", &options), base, "the Airflow environment");

    let mut seen = vec![base.clone()];
    for (file, text) in [
        ("a.py", "# a DAG, edited\n"),
        ("b.dag.yaml", "schedule: \"@daily\"\n"),
        ("b.py", "# generated again\n"),
        ("templates/t.py.j2", "{# t, edited #}\n"),
    ] {
        write(&dags.join(file), text, 0o644);
        let changed = key("env-1", &options);
        assert!(!seen.contains(&changed), "editing {file} left the key as it was");
        seen.push(changed);
    }
    let last = seen.last().unwrap().clone();
    let mut with_var = options.clone();
    with_var.variables.insert("table".into(), "events".into());
    assert_ne!(key("env-1", &with_var), last, "a --var");
    let mut with_conn = options.clone();
    with_conn.connections.insert("warehouse".into(), "postgres://db/x".into());
    assert_ne!(key("env-1", &with_conn), last, "a --conn");
    assert_ne!(key("env-1", &with_var), key("env-1", &with_conn));
}

/// The test overlay finds the shipped environment by a path relative to itself, so it
/// keeps working when the target directory is reached another way (a symlink, a CI
/// cache restored under another path), and one whose `.pth` leads nowhere is rebuilt.
#[test]
fn a_test_overlay_finds_the_shipped_environment_wherever_the_target_is() {
    let (_tmp, root) = tempdir();
    let env_dir = root.join("real/venvs/p/key");
    let site = |env: &str| env_dir.join(env).join("lib/python3.11/site-packages");
    std::fs::create_dir_all(site("venv")).unwrap();
    std::fs::create_dir_all(site("test-k")).unwrap();
    write(&env_dir.join("test-k/bin/python"), "", 0o755);
    let line = pytest::relative_to(&site("venv"), &site("test-k"), &env_dir.join("test-k"), &env_dir).unwrap();
    assert_eq!(line, "../../../../venv/lib/python3.11/site-packages");
    write(&site("test-k").join(pytest::SHIPPED_PTH), &format!("{line}\n"), 0o644);
    assert!(pytest::overlay_is_usable(&env_dir.join("test-k")));
    // The same overlay through a symlinked target directory.
    std::os::unix::fs::symlink(root.join("real"), root.join("via-link")).unwrap();
    assert!(pytest::overlay_is_usable(&root.join("via-link/venvs/p/key/test-k")));
    // An absolute line (as older versions wrote) is not trusted, even when it leads somewhere.
    write(&site("test-k").join(pytest::SHIPPED_PTH), &format!("{}\n", site("venv")), 0o644);
    assert!(!pytest::overlay_is_usable(&env_dir.join("test-k")));
}
