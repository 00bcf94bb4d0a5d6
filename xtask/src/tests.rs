//! Unit tests of the front end's own logic: where the repository is found, and the ages
//! `namespace rm --older-than` takes.

use camino::Utf8PathBuf;

use crate::find_repo;

/// A directory tree with two repositories (`a` and `b`, each holding dags/ and projects/)
/// and a directory that is in neither.
fn tree() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
    for path in ["a/dags", "a/projects/p/src", "a/xtask", "b/dags", "b/projects", "b/xtask", "elsewhere"] {
        std::fs::create_dir_all(root.join(path)).unwrap();
    }
    (dir, root)
}

#[track_caller]
fn check(explicit: Option<&str>, manifest_dir: Option<&str>, cwd: Option<&str>, expected: Result<&str, &str>) {
    let (_dir, root) = tree();
    let at = |p: Option<&str>| p.map(|p| if p.starts_with('/') { Utf8PathBuf::from(p) } else { root.join(p) });
    let (explicit, manifest_dir, cwd) = (at(explicit), at(manifest_dir), at(cwd));
    let found = find_repo(explicit.as_deref(), manifest_dir.as_deref(), cwd.as_deref());
    match (found, expected) {
        (Ok(found), Ok(expected)) => assert_eq!(found, root.join(expected)),
        (Err(err), Err(expected)) => {
            let message = format!("{err:#}").replace(root.as_str(), "ROOT");
            assert!(message.contains(expected), "{message}");
        }
        (found, expected) => panic!("found {found:?}, expected {expected:?}"),
    }
}

#[test]
fn where_the_repository_is_found() {
    // --repo (or PAD_REPO) first, as given.
    check(Some("b"), Some("a/xtask"), Some("a"), Ok("b"));
    check(Some("elsewhere"), None, None, Ok("elsewhere"));
    check(Some("/nonexistent/pad"), None, None, Err("repository `/nonexistent/pad` is not a directory"));
    // Then the workspace cargo runs us in, whatever the current directory.
    check(None, Some("a/xtask"), Some("b"), Ok("a"));
    check(None, Some("b/xtask"), Some("elsewhere"), Ok("b"));
    // A CARGO_MANIFEST_DIR that is no checkout of ours (inherited from another cargo) is
    // passed over.
    check(None, Some("elsewhere"), Some("b"), Ok("b"));
    // Then the current directory, or the nearest parent holding dags/ and projects/.
    check(None, None, Some("a"), Ok("a"));
    check(None, None, Some("a/projects/p/src"), Ok("a"));
    check(None, None, Some("elsewhere"), Err("no repository at or above `ROOT/elsewhere`"));
    check(None, None, None, Err("cannot read the current directory"));
}

#[test]
fn ages_for_older_than() {
    use crate::flags::parse_age;
    assert_eq!(parse_age("12h"), Ok(std::time::Duration::from_secs(12 * 3600)));
    assert_eq!(parse_age("7d"), Ok(std::time::Duration::from_secs(7 * 86_400)));
    assert_eq!(parse_age("90m"), Ok(std::time::Duration::from_secs(90 * 60)));
    assert_eq!(parse_age("2w"), Ok(std::time::Duration::from_secs(14 * 86_400)));
    for bad in ["", "7", "d", "7x", "-1d", "1.5h", "99999999999999999999w"] {
        let err = parse_age(bad).unwrap_err();
        assert!(err.contains("12h or 7d"), "{bad}: {err}");
    }
}

/// `--timings` as deploy-local-build prints it, and as `bench flow` reads it back: each
/// step of an item ends where its next step, its end or the next stage begins.
#[test]
fn timings_table_reads_back_as_steps() {
    use pad_flow::Progress as _;
    let steps = crate::progress::Steps::new().timed(true);
    let venv = |name: &str, step: &str| pad_venv::Progress::step(&steps, name, step);
    steps.stage(pad_flow::Stage::Test);
    venv("image-matching", "create venv");
    venv("airflow-3.3", "load DAGs");
    venv("image-matching", "pytest");
    steps.done("image-matching", "passed");
    steps.stage(pad_flow::Stage::Package);
    venv("package", "assembling p.tar.gz");
    let table = steps.timings_table().unwrap();
    let read: Vec<String> = crate::bench::flow::longest_steps(&table, 0.0).into_iter().map(|(step, _)| step).collect();
    assert_eq!(
        read,
        ["image-matching create venv", "airflow-3.3 load DAGs", "image-matching pytest", "package assembling p.tar.gz"],
        "{table}"
    );
    assert!(crate::progress::Steps::new().timings_table().is_none());
}
