//! Unit tests of the flows' own logic, on small repositories built in temporary
//! directories. The flows end to end (with uv, Airflow, registries and hosts) are
//! covered by `tests/`.

use camino::Utf8PathBuf;

/// A repository in a temporary directory: `(path, text)` files; a path ending in `/`
/// is an empty directory.
pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub(crate) root: Utf8PathBuf,
}

pub(crate) fn fixture(files: &[(&str, &str)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
    for (path, text) in files {
        let path = root.join(path);
        if path.as_str().ends_with('/') {
            std::fs::create_dir_all(&path).unwrap();
        } else {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
    }
    Fixture { _dir: dir, root }
}

/// A repository with one project, `etl`, and no DAGs.
pub(crate) fn one_project(extra: &[(&str, &str)]) -> Fixture {
    let mut files = vec![("dags/", ""), ("projects/etl/requirements.txt", "")];
    files.extend_from_slice(extra);
    fixture(&files)
}

#[test]
fn the_check_reads_every_artifacts_yaml_with_the_layout() {
    let good = one_project(&[]);
    assert!(crate::scan(&good.root).errors.is_empty());
    assert_eq!(crate::discover(&good.root).unwrap().projects.len(), 1);

    let broken = one_project(&[("projects/etl/artifacts.yaml", "artifacts:\n  a.jar: {id: x, source: nowhere}\n")]);
    let err = crate::discover(&broken.root).unwrap_err().to_string();
    assert!(err.contains("projects/etl/artifacts.yaml") && err.contains("nowhere"), "{err}");
}
