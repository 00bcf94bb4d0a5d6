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
    name == "tests" || name.starts_with("requirements-test")
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
