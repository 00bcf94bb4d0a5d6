//! `new_project`: scaffolds a project that passes validation, with a package, a test,
//! requirements and a DAG stub.

use std::io;

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::project::{
    PROJECT_SETTINGS_FILE, REQUIREMENTS_FILE, TEST_REQUIREMENTS_FILE, check_project_name, default_package,
};

/// What [`new_project`] wrote, relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewProject {
    pub name: String,
    pub package: String,
    pub dir: Utf8PathBuf,
    pub dag: Utf8PathBuf,
    pub files: Vec<Utf8PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("{0}")]
    InvalidName(String),
    #[error("`{path}` already exists: choose another name, or remove it first")]
    Exists { path: Utf8PathBuf },
    #[error("failed to write `{path}`")]
    Write {
        path: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
}

const FILES: &[(&str, &str)] = &[
    ("README.md", include_str!("templates/README.md")),
    (PROJECT_SETTINGS_FILE, include_str!("templates/project.toml")),
    (REQUIREMENTS_FILE, include_str!("templates/requirements.txt")),
    (TEST_REQUIREMENTS_FILE, include_str!("templates/requirements-test.txt")),
    ("pyproject.toml", include_str!("templates/pyproject.toml")),
    ("src/{{package}}/__init__.py", include_str!("templates/__init__.py")),
    ("src/{{package}}/__main__.py", include_str!("templates/__main__.py")),
    ("tests/test_{{package}}.py", include_str!("templates/test_package.py")),
];
const DAG: &str = include_str!("templates/dag.py");

/// The runtime helper DAG files import (`import pad_runtime`): shipped in every release
/// at [`RUNTIME_HELPER_PATH`], from the repository's copy or, when it has none, this one.
pub const RUNTIME_HELPER: &str = include_str!("templates/pad_runtime.py");
/// Where the runtime helper sits in the repository and in a release.
pub const RUNTIME_HELPER_PATH: &str = "dags/pad_runtime.py";

/// Scaffolds `projects/<name>/` and `dags/<package>.py` in the repository at `root`.
///
/// It refuses an invalid name and any name whose directory or DAG file exists. The
/// project is written under a temporary name and renamed into place, so a failure
/// leaves nothing half-written.
pub fn new_project(root: &Utf8Path, name: &str) -> Result<NewProject, ScaffoldError> {
    check_project_name(name).map_err(ScaffoldError::InvalidName)?;
    let package = default_package(name);
    let render = |text: &str| text.replace("{{name}}", name).replace("{{package}}", &package);

    let dir = Utf8PathBuf::from(format!("projects/{name}"));
    let dag = Utf8PathBuf::from(format!("dags/{package}.py"));
    for path in [&dir, &dag] {
        if root.join(path).symlink_metadata().is_ok() {
            return Err(ScaffoldError::Exists { path: path.clone() });
        }
    }

    let write_err = |path: &Utf8Path| {
        let path = path.to_owned();
        move |source| ScaffoldError::Write { path, source }
    };
    let projects = root.join("projects");
    let dags = root.join("dags");
    for parent in [&projects, &dags] {
        std::fs::create_dir_all(parent).map_err(write_err(parent))?;
    }

    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.new-"))
        .tempdir_in(&projects)
        .map_err(write_err(&projects))?;
    let staging_dir = Utf8Path::from_path(staging.path()).expect("made from a UTF-8 path");
    let mut files = Vec::new();
    for (template_path, text) in FILES {
        let rel = Utf8PathBuf::from(render(template_path));
        let path = staging_dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write_err(parent))?;
        }
        std::fs::write(&path, render(text)).map_err(write_err(&path))?;
        files.push(dir.join(rel));
    }

    let mut dag_file =
        tempfile::Builder::new().prefix(&format!(".{package}.py.new-")).tempfile_in(&dags).map_err(write_err(&dags))?;
    io::Write::write_all(&mut dag_file, render(DAG).as_bytes()).map_err(write_err(&dag))?;

    // The project directory appears whole, then its DAG: a DAG never points at a project
    // that is not there.
    let staging_dir = staging.keep();
    std::fs::rename(&staging_dir, root.join(&dir)).map_err(|source| {
        let _ = std::fs::remove_dir_all(&staging_dir);
        ScaffoldError::Write { path: dir.clone(), source }
    })?;
    if let Err(err) = dag_file.persist_noclobber(root.join(&dag)) {
        let _ = std::fs::remove_dir_all(root.join(&dir));
        return Err(ScaffoldError::Write { path: dag, source: err.error });
    }
    files.push(dag.clone());
    // The scaffolded DAG imports the runtime helper; a repository without it gets it.
    let helper = root.join(RUNTIME_HELPER_PATH);
    if helper.symlink_metadata().is_err() {
        pad_stdx::write_atomic(&helper, RUNTIME_HELPER.as_bytes(), 0o644).map_err(write_err(&helper))?;
        files.push(Utf8PathBuf::from(RUNTIME_HELPER_PATH));
    }
    Ok(NewProject { name: name.to_owned(), package, dir, dag, files })
}
