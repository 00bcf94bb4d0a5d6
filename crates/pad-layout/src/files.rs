//! Which files of the repository ship: a project's sources (not its tests, test
//! requirements or build output) and the DAG files, minus what the repository's ignore
//! rules (`.gitignore`) leave out. Environments hash exactly these files and packages
//! carry exactly these files.

use std::io;

use camino::{Utf8Path, Utf8PathBuf};

/// Names that are build or cache output, never shipped, at any depth.
pub const NOT_SHIPPED: &[&str] = &[
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".git",
    ".venv",
    "venv",
    "build",
    "dist",
    ".DS_Store",
];

/// Top-level entries of a project that are for testing it, never shipped.
fn is_test_only(name: &str) -> bool {
    name == "tests" || name.starts_with("requirements-test") || name.starts_with("requirements-dev")
}

/// The files of a project that ship, relative to its directory, sorted. Follows the
/// `.gitignore` rules of the project and of the repository above it.
pub fn project_files(dir: &Utf8Path) -> io::Result<Vec<Utf8PathBuf>> {
    shipped_files(dir, true)
}

/// The files of `dags/` that ship, relative to it, sorted.
pub fn dag_files(dags_dir: &Utf8Path) -> io::Result<Vec<Utf8PathBuf>> {
    shipped_files(dags_dir, false)
}

fn shipped_files(dir: &Utf8Path, project: bool) -> io::Result<Vec<Utf8PathBuf>> {
    let walker = ignore::WalkBuilder::new(dir)
        // Hidden files may matter (`.airflowignore`); build output is left out by name.
        .hidden(false)
        .require_git(false)
        .git_global(false)
        .parents(true)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |entry| {
            let name = entry.file_name().to_string_lossy();
            !(NOT_SHIPPED.contains(&name.as_ref())
                || name.ends_with(".egg-info")
                || name.ends_with(".pyc")
                || (project && entry.depth() == 1 && is_test_only(&name)))
        })
        .build();
    let mut files = Vec::new();
    for entry in walker {
        let entry = entry.map_err(|err| io::Error::other(format!("walking `{dir}`: {err}")))?;
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let path = Utf8Path::from_path(entry.path())
            .ok_or_else(|| io::Error::other(format!("`{}` is not UTF-8", entry.path().display())))?;
        files.push(path.strip_prefix(dir).expect("walked from dir").to_owned());
    }
    files.sort();
    Ok(files)
}

/// A file a release carries: its path in the package and where it is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedFile {
    /// `dags/<file>` or `projects/<name>/<file>`.
    pub archive_path: Utf8PathBuf,
    pub src: Utf8PathBuf,
}

/// Every file a release of `repo` carries: the DAG files under `dags/` and each
/// project's shipped files under `projects/<name>/`, sorted by package path. The
/// environments are not among them: they are built, not found in the tree.
pub fn release_files(repo: &crate::Repo) -> io::Result<Vec<ShippedFile>> {
    let mut shipped = Vec::new();
    let dags = repo.root.join("dags");
    if dags.is_dir() {
        for file in dag_files(&dags)? {
            shipped.push(ShippedFile { archive_path: Utf8Path::new("dags").join(&file), src: dags.join(&file) });
        }
    }
    for project in &repo.projects {
        let prefix = Utf8Path::new("projects").join(&project.name);
        for file in project_files(&project.dir)? {
            shipped.push(ShippedFile { archive_path: prefix.join(&file), src: project.dir.join(&file) });
        }
    }
    shipped.sort_by(|a, b| a.archive_path.cmp(&b.archive_path));
    Ok(shipped)
}
