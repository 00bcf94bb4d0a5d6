//! Projects: each directory under `projects/` with its requirements, tests, optional
//! `artifacts.yaml` and optional `project.toml` settings.

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::Problem;
use crate::test_deps::{self, PyProject, TestDeps};
use crate::toml_file::TomlFile;

/// The per-project settings file, optional, beside `requirements.txt`.
pub const PROJECT_SETTINGS_FILE: &str = "project.toml";
/// Runtime requirements, shipped in the project's environment.
pub const REQUIREMENTS_FILE: &str = "requirements.txt";
/// Test-only requirements, kept out of the shipped environment.
pub const TEST_REQUIREMENTS_FILE: &str = "requirements-test.txt";
/// Development requirements, as many existing projects name them: read for tests when
/// there is no `requirements-test.txt`, never shipped.
pub const DEV_REQUIREMENTS_FILE: &str = "requirements-dev.txt";
pub const PYPROJECT_FILE: &str = "pyproject.toml";
pub const ARTIFACTS_FILE: &str = "artifacts.yaml";

/// Names a project cannot take, because `$AIRFLOW_HOME/<project>` would clash with what
/// Airflow or a release keeps there.
pub const RESERVED_NAMES: &[&str] =
    &["dags", "plugins", "logs", "config", "data", "releases", "current", "store", "airflow", "namespaces"];

/// A pipeline project under `projects/<name>/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    pub name: String,
    /// Absolute path of `projects/<name>`.
    pub dir: Utf8PathBuf,
    /// `requirements.txt`, when present.
    pub requirements: Option<Utf8PathBuf>,
    /// Where its test-only dependencies are declared (or that none are).
    pub test_deps: TestDeps,
    /// `pyproject.toml`, when present: the project is then installed into its environment.
    pub pyproject: Option<Utf8PathBuf>,
    /// `tests/`, when present.
    pub tests_dir: Option<Utf8PathBuf>,
    /// `artifacts.yaml`, when present.
    pub artifacts: Option<Utf8PathBuf>,
    /// `project.toml`, when present.
    pub settings_file: Option<Utf8PathBuf>,
    pub settings: ProjectSettings,
    /// The importable Python package, when the project has one (`src/<package>` or
    /// `<package>` holding `__init__.py`).
    pub package: Option<String>,
}

/// The contents of `project.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettings {
    /// The interpreter: a version such as `"3.11"`, or an absolute path. `None` means the
    /// machine's `python3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// The importable package name, when it is not the project name with `-` as `_`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// Checks a project name: lowercase ASCII letters, digits and single `-`, starting with a
/// letter, and not one of [`RESERVED_NAMES`]. Returns what is wrong.
pub fn check_project_name(name: &str) -> Result<(), String> {
    check_name(name, "project")?;
    if RESERVED_NAMES.contains(&name) {
        return Err(format!(
            "`{name}` is reserved: `$AIRFLOW_HOME/{name}` is used by Airflow or by releases; choose another name"
        ));
    }
    Ok(())
}

/// Checks the shape of a project or target name (`what`).
pub(crate) fn check_name(name: &str, what: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("a {what} name cannot be empty"));
    }
    let valid_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_chars || !name.starts_with(|c: char| c.is_ascii_lowercase()) || name.ends_with('-') || name.contains("--")
    {
        return Err(format!(
            "invalid {what} name `{name}`: use lowercase letters, digits and single `-`, starting with a letter (for example `{}`)",
            suggest_name(name)
        ));
    }
    Ok(())
}

/// A valid name close to `name`, for error messages.
fn suggest_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-').trim_end_matches('-');
    if out.is_empty() { "my-project".to_owned() } else { out.to_owned() }
}

/// The default Python package name of a project: its name with `-` as `_`.
pub fn default_package(name: &str) -> String {
    name.replace('-', "_")
}

fn is_python_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_python_request(value: &str) -> bool {
    if value.starts_with('/') {
        return true;
    }
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() <= 3 && parts[0] == "3" && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads one project directory. `rel` is its path relative to the repository root.
pub(crate) fn scan_project(dir: &Utf8Path, rel: &Utf8Path, name: &str, errors: &mut Vec<Problem>) -> Option<Project> {
    if let Err(message) = check_project_name(name) {
        errors.push(Problem::new(
            rel,
            message,
            "rename the directory; the name becomes `$AIRFLOW_HOME/<name>` on the workers",
        ));
        return None;
    }
    let file = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
    let requirements = file(REQUIREMENTS_FILE);
    let pyproject = file(PYPROJECT_FILE);
    if requirements.is_none() && pyproject.is_none() {
        errors.push(Problem::new(
            rel,
            format!("project `{name}` has neither {REQUIREMENTS_FILE} nor {PYPROJECT_FILE}"),
            format!(
                "add {rel}/{REQUIREMENTS_FILE} listing its runtime dependencies, exact or ranges (requirements.lock pins them; a comment line is enough when it has none)"
            ),
        ));
    }

    let settings_file = file(PROJECT_SETTINGS_FILE);
    let settings = match &settings_file {
        Some(path) => read_settings(path, &rel.join(PROJECT_SETTINGS_FILE), errors).unwrap_or_default(),
        None => ProjectSettings::default(),
    };

    let pyproject_table = pyproject.as_ref().and_then(|path| PyProject::read(path, &rel.join(PYPROJECT_FILE), errors));
    let package = find_package(dir, rel, name, &settings, errors);
    Some(Project {
        name: name.to_owned(),
        dir: dir.to_owned(),
        requirements,
        test_deps: test_deps::find(dir, pyproject_table.as_ref()),
        pyproject,
        tests_dir: Some(dir.join("tests")).filter(|p| p.is_dir()),
        artifacts: file(ARTIFACTS_FILE),
        settings_file,
        settings,
        package,
    })
}

fn read_settings(path: &Utf8Path, rel: &Utf8Path, errors: &mut Vec<Problem>) -> Option<ProjectSettings> {
    let file = TomlFile::read(path, rel, errors)?;
    let settings: ProjectSettings = file.parse(
        errors,
        "the keys of project.toml are `python` (\"3.11\" or an absolute interpreter path) and `package` (the import name)",
    )?;
    if let Some(python) = &settings.python
        && !is_python_request(python)
    {
        errors.push(file.problem_at_key(
            "python",
            format!("`python = \"{python}\"` is neither a Python 3 version nor an absolute path"),
            "write a version such as `python = \"3.11\"`, or the interpreter's absolute path",
        ));
    }
    if let Some(package) = &settings.package
        && !is_python_identifier(package)
    {
        errors.push(file.problem_at_key(
            "package",
            format!("`package = \"{package}\"` is not a Python import name"),
            "use letters, digits and `_`, not starting with a digit",
        ));
    }
    Some(settings)
}

fn find_package(
    dir: &Utf8Path,
    rel: &Utf8Path,
    name: &str,
    settings: &ProjectSettings,
    errors: &mut Vec<Problem>,
) -> Option<String> {
    let package = settings.package.clone().unwrap_or_else(|| default_package(name));
    let found = ["src", ""].iter().any(|base| dir.join(base).join(&package).join("__init__.py").is_file());
    if found {
        return Some(package);
    }
    // An explicit name that is not an identifier was reported when the settings were read.
    if settings.package.is_some() && is_python_identifier(&package) {
        errors.push(Problem::new(
            rel.join(PROJECT_SETTINGS_FILE),
            format!("package `{package}` is named in project.toml but neither src/{package}/__init__.py nor {package}/__init__.py exists"),
            "fix `package` in project.toml, or move the package to src/<package>/",
        ));
    }
    None
}
