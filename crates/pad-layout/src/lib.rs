//! Discovers and validates a platform-airflow-dags repository: its projects, DAG files,
//! `artifacts.yaml` files and deploy targets, and its version from git.
//!
//! The repository mirrors `AIRFLOW_HOME`: `dags/` holds DAG files only, `projects/<name>/`
//! holds each pipeline with its requirements and tests, `deploy/<name>.toml` describes
//! where releases go. [`scan`] reads all of it and collects every problem at once;
//! [`discover`] turns problems into a [`LayoutError`].
//!
//! This crate reads files and asks git for the version; it does no network I/O and
//! writes nothing, except [`new_project`], which scaffolds a project. [`project_files`]
//! and [`dag_files`] say which files ship.

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

mod env_vars;
mod files;
mod namespace;
mod problem;
mod project;
mod scaffold;
mod target;
mod test_deps;
mod toml_file;
pub mod vars;
mod version;

#[cfg(test)]
mod tests;

pub use env_vars::EnvVars;
pub use files::{NOT_SHIPPED, ShippedFile, dag_files, project_files, release_files};
pub use namespace::{
    AUTO_NAMESPACE, NAMESPACE_MAX_LEN, PLAIN_NAMESPACE, check_namespace, resolve_namespace, sanitize_namespace,
};
pub use problem::{LayoutError, Problem, error_chain, line_column};
pub use project::{
    ARTIFACTS_FILE, DEV_REQUIREMENTS_FILE, PROJECT_SETTINGS_FILE, PYPROJECT_FILE, Project, ProjectSettings,
    REQUIREMENTS_FILE, RESERVED_NAMES, TEST_REQUIREMENTS_FILE, check_project_name, default_package,
};
pub use scaffold::{NewProject, RUNTIME_HELPER, RUNTIME_HELPER_PATH, ScaffoldError, new_project};
pub use target::{
    DEFAULT_AIRFLOW_HOME, DEFAULT_KEEP, DEFAULT_LOCAL_DATA_ROOT, DEFAULT_LOCAL_TARGET, DEFAULT_SSH_PORT, Hosts,
    REGISTRIES_FILE, Target,
};
pub use test_deps::{TEST_DEPS_ORDER, TestDeps};
pub use version::{UNVERSIONED, Version, VersionSource, version};

/// Directory names never searched for `artifacts.yaml` files.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", "venv", "__pycache__", "build", "dist"];

/// Everything found in a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repo {
    /// Absolute path of the repository root.
    pub root: Utf8PathBuf,
    pub projects: Vec<Project>,
    pub dags: Vec<DagFile>,
    /// Every `artifacts.yaml`, relative to the root.
    pub artifacts_files: Vec<Utf8PathBuf>,
    pub targets: Vec<Target>,
    /// Things that work but deserve attention.
    pub warnings: Vec<Problem>,
}

/// A DAG file under `dags/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DagFile {
    /// Relative to the repository root, such as `dags/image_matching.py`.
    pub path: Utf8PathBuf,
    /// The projects the file names in a string literal (`"image-matching"`): the
    /// projects whose environments it runs.
    pub projects: Vec<String>,
}

/// A repository as found, with every error in it.
#[derive(Debug, Clone)]
pub struct Scan {
    pub repo: Repo,
    pub errors: Vec<Problem>,
}

impl Repo {
    pub fn project(&self, name: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.name == name)
    }

    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// The DAG files that name `project`.
    pub fn dags_of<'a>(&'a self, project: &'a str) -> impl Iterator<Item = &'a DagFile> + 'a {
        self.dags.iter().filter(move |d| d.projects.iter().any(|p| p == project))
    }
}

/// Reads and validates the repository at `root`, failing with every problem at once.
pub fn discover(root: &Utf8Path) -> Result<Repo, LayoutError> {
    let scan = scan(root);
    if scan.errors.is_empty() { Ok(scan.repo) } else { Err(LayoutError::new(&scan.repo.root, scan.errors)) }
}

/// Reads the repository at `root`, keeping what is valid and collecting every problem.
pub fn scan(root: &Utf8Path) -> Scan {
    let root = std::fs::canonicalize(root)
        .ok()
        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok())
        .unwrap_or_else(|| root.to_owned());
    let mut errors = Vec::new();
    let mut warnings = Vec::new();

    let projects = scan_projects(&root, &mut errors);
    let dags = scan_dags(&root, &projects, &mut errors, &mut warnings);
    for project in &projects {
        if !dags.iter().any(|d| d.projects.contains(&project.name)) {
            warnings.push(Problem::new(
                format!("projects/{}", project.name),
                format!("no DAG names project `{}`", project.name),
                format!("add a DAG in dags/ that runs it and names it as \"{}\"", project.name),
            ));
        }
        if project.tests_dir.is_none() {
            warnings.push(Problem::new(
                format!("projects/{}", project.name),
                format!("project `{}` has no tests/ directory", project.name),
                "add pytest tests under tests/; `cargo xtask test` runs them",
            ));
        }
    }
    let artifacts_files = scan_artifacts_files(&root);
    let targets = target::scan_targets(&root, &mut errors);

    Scan { repo: Repo { root, projects, dags, artifacts_files, targets, warnings }, errors }
}

/// The nearest directory at or above `start` that holds both `dags/` and `projects/`.
pub fn find_root(start: &Utf8Path) -> Option<Utf8PathBuf> {
    start.ancestors().find(|dir| dir.join("dags").is_dir() && dir.join("projects").is_dir()).map(Utf8Path::to_owned)
}

/// The entries of `dir` sorted by name, with hidden ones left out.
fn sorted_entries(dir: &Utf8Path) -> std::io::Result<Vec<(String, Utf8PathBuf, bool)>> {
    let mut entries = Vec::new();
    for entry in dir.read_dir_utf8()? {
        let entry = entry?;
        let name = entry.file_name().to_owned();
        if name.starts_with('.') {
            continue;
        }
        let is_dir = entry.path().is_dir();
        entries.push((name, entry.into_path(), is_dir));
    }
    entries.sort();
    Ok(entries)
}

fn missing_dir(root: &Utf8Path, name: &str, errors: &mut Vec<Problem>) -> bool {
    if root.join(name).is_dir() {
        return false;
    }
    errors.push(Problem::new(
        name,
        format!("the repository has no `{name}/` directory"),
        format!(
            "run from a platform-airflow-dags repository (with dags/ and projects/), or create `{name}/`; `cargo xtask new-project NAME` creates both"
        ),
    ));
    true
}

fn scan_projects(root: &Utf8Path, errors: &mut Vec<Problem>) -> Vec<Project> {
    if missing_dir(root, "projects", errors) {
        return Vec::new();
    }
    let entries = match sorted_entries(&root.join("projects")) {
        Ok(entries) => entries,
        Err(err) => {
            errors.push(Problem::new("projects", format!("cannot list the directory: {err}"), "make it readable"));
            return Vec::new();
        }
    };
    entries
        .into_iter()
        .filter(|(_, _, is_dir)| *is_dir)
        .filter_map(|(name, path, _)| {
            project::scan_project(&path, &Utf8PathBuf::from(format!("projects/{name}")), &name, errors)
        })
        .collect()
}

fn scan_dags(
    root: &Utf8Path,
    projects: &[Project],
    errors: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) -> Vec<DagFile> {
    if missing_dir(root, "dags", errors) {
        return Vec::new();
    }
    let mut dags = Vec::new();
    let mut stack = vec![root.join("dags")];
    while let Some(dir) = stack.pop() {
        let entries = match sorted_entries(&dir) {
            Ok(entries) => entries,
            Err(err) => {
                errors.push(Problem::new(
                    rel(root, &dir),
                    format!("cannot list the directory: {err}"),
                    "make it readable",
                ));
                continue;
            }
        };
        for (name, path, is_dir) in entries {
            if is_dir {
                if name != "__pycache__" {
                    stack.push(path);
                }
                continue;
            }
            let rel_path = rel(root, &path);
            // The runtime helper ships beside the DAGs but is a module they import.
            if is_dag_source(&rel_path) || rel_path == RUNTIME_HELPER_PATH {
                continue;
            }
            if path.extension() != Some("py") {
                errors.push(Problem::new(
                    &rel_path,
                    format!("`{name}` is not a DAG file: dags/ holds Python DAG files (.py), YAML DAGs (<name>.dag.yaml) and task templates (templates/<type>.py.j2) only"),
                    "move data, SQL and config into projects/<name>/ and reference them from the DAG",
                ));
                continue;
            }
            let text = std::fs::read(&path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
            let named = projects
                .iter()
                .filter(|p| text.contains(&format!("\"{}\"", p.name)) || text.contains(&format!("'{}'", p.name)))
                .map(|p| p.name.clone())
                .collect();
            dags.push(DagFile { path: rel_path, projects: named });
        }
    }
    dags.sort_by(|a, b| a.path.cmp(&b.path));
    if dags.is_empty() && root.join("dags").is_dir() {
        warnings.push(Problem::new(
            "dags",
            "dags/ has no DAG file",
            "add one per project; `cargo xtask new-project NAME` writes a stub",
        ));
    }
    dags
}

/// A YAML DAG (`dags/<name>.dag.yaml`) or a task type template
/// (`dags/templates/<type>.py.j2`): the sources `cargo xtask render` writes DAG files
/// from, kept beside them.
pub fn is_dag_source(path: &Utf8Path) -> bool {
    let name = path.file_name().unwrap_or_default();
    (path.parent() == Some(Utf8Path::new("dags")) && name.ends_with(".dag.yaml") && name.len() > ".dag.yaml".len())
        || (path.parent() == Some(Utf8Path::new("dags/templates")) && name.ends_with(".py.j2"))
}

fn scan_artifacts_files(root: &Utf8Path) -> Vec<Utf8PathBuf> {
    let options = glob::MatchOptions { require_literal_leading_dot: true, ..glob::MatchOptions::new() };
    let root_pattern = glob::Pattern::escape(root.as_str());
    let mut patterns = vec![format!("{root_pattern}/{ARTIFACTS_FILE}")];
    if let Ok(entries) = sorted_entries(root) {
        for (name, _, is_dir) in entries {
            if is_dir && !SKIPPED_DIRS.contains(&name.as_str()) {
                patterns.push(format!("{root_pattern}/{}/**/{ARTIFACTS_FILE}", glob::Pattern::escape(&name)));
            }
        }
    }
    let mut found: Vec<Utf8PathBuf> = patterns
        .iter()
        .filter_map(|pattern| glob::glob_with(pattern, options).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|p| Utf8PathBuf::from_path_buf(p).ok())
        .map(|p| rel(root, &p))
        .filter(|p| !p.components().any(|c| SKIPPED_DIRS.contains(&c.as_str())))
        .collect();
    found.sort();
    found.dedup();
    found
}

fn rel(root: &Utf8Path, path: &Utf8Path) -> Utf8PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_owned()
}
