//! One relocatable Python environment per project, built with uv from a lock kept in
//! the repository, reused by content key, and packed as a deterministic `venv.tar.gz`.
//!
//! - [`Context::new`] finds uv (or installs a pinned one under `target/tools`).
//! - [`build_project`] resolves the project's interpreter, brings its `requirements.lock`
//!   up to date (or fails with `locked`), computes the key from the lock, the project's
//!   sources, the interpreter, the platform and the backend, and reuses
//!   `target/venvs/<project>/<key>/` when it exists, without starting uv or Python.
//!   Otherwise it builds under `.tmp-<key>`, installs the project non-editable,
//!   smoke-tests the import, packs `venv.tar.gz` and renames the directory into place.
//!
//! - [`lint`] runs the ruff pinned in `deploy/lint/requirements.txt` over `dags/` and
//!   `projects/`, in a tool environment built the same way, into a [`LintReport`].
//!
//! This crate never writes outside the repository's `target/`, except the lock files it
//! keeps beside each project's requirements.

use std::io;

use camino::{Utf8Path, Utf8PathBuf};
use pad_layout::{Project, REQUIREMENTS_FILE};
use pad_process::ProcessError;

mod dag_check;
mod env;
mod fsutil;
mod lint;
mod lock;
mod probe;
mod pytest;
mod python;
mod uv;

#[cfg(test)]
mod tests;

pub use dag_check::{
    AIRFLOW_PINS_DIR, AirflowPin, DagCheckOptions, DagInfo, DagProblem, DagReport, airflow_env, airflow_pins,
    check_dags,
};
pub use env::{
    BuiltEnv, Context, ENV_RECORD, EnvRecord, EnvSpec, PYCACHE_DIR, TarballRecord, VenvOptions, build, site_packages_of,
};
pub use lint::{
    AIRFLOW3_RULES, Finding, LINT_PIN_DIR, LINTED_DIRS, LintOptions, LintReport, extra_rules, lint, lint_pinned,
};
pub use lock::{LOCK_FILE, TEST_LOCK_FILE};
pub use pytest::{TestOptions, TestReport, test_project};
pub use python::{Interpreter, resolve as resolve_interpreter, unreadable_by_others};
pub use uv::{PINNED_UV_VERSION, Uv};

/// The pytest a project's tests run with when it declares no test dependencies.
pub const PINNED_PYTEST: &str = "pytest==8.3.4";

/// Receives the steps of long work, to show progress. Called from several threads.
pub trait Progress: Sync {
    fn step(&self, name: &str, step: &str);
}

/// `()` reports nothing.
impl Progress for () {
    fn step(&self, _name: &str, _step: &str) {}
}

#[derive(Debug, thiserror::Error)]
pub enum VenvError {
    #[error("failed to access `{path}`")]
    Io {
        path: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("path is not UTF-8: {0}")]
    NotUtf8(String),
    #[error(
        "could not install uv {version} with `python3 -m pip`: put uv on PATH, or install it with `python3 -m pip install uv=={version}`"
    )]
    UvInstall {
        version: &'static str,
        #[source]
        source: Box<ProcessError>,
    },
    #[error(
        "{project}: no interpreter for python = \"{request}\" (looked at {}): install it (on Debian: `apt-get install python3`), or set `python` in project.toml to an interpreter this machine has",
        searched.join(", ")
    )]
    InterpreterMissing { project: String, request: String, searched: Vec<String> },
    #[error("{project}: `{file}` is stale ({why}): run `cargo xtask venv {project}` to update it, then commit it")]
    StaleLock { project: String, file: Utf8PathBuf, why: String },
    #[error("{project}: uv could not resolve {input}: check its syntax and that every name and version exists")]
    Resolve {
        project: String,
        /// The input as shown: `` `projects/p/requirements.txt` ``, or with the part of
        /// pyproject.toml: `` `projects/p/pyproject.toml` ([dependency-groups] dev) ``.
        input: String,
        #[source]
        source: Box<ProcessError>,
    },
    #[error("{project}: building the environment failed at `{step}`")]
    Build {
        project: String,
        step: &'static str,
        #[source]
        source: Box<ProcessError>,
    },
    #[error("{project}: packing venv.tar.gz failed")]
    Pack {
        project: String,
        #[source]
        source: pad_bundle::BundleError,
    },
    #[error("{project} has no tests/ directory: add pytest tests under projects/{project}/tests/")]
    NoTests { project: String },
    #[error(
        "{project}: its test dependencies ({input}) do not install pytest, which runs its tests: add `pytest` to them"
    )]
    NoPytest { project: String, input: String },
    #[error(
        "no ruff is pinned: `{file}` is missing; add it with one line such as `ruff==0.17.6` (the toolchain locks and installs it with uv)"
    )]
    NoLintPin { file: Utf8PathBuf },
    #[error(transparent)]
    Process(Box<ProcessError>),
}

impl From<ProcessError> for VenvError {
    fn from(err: ProcessError) -> VenvError {
        VenvError::Process(Box::new(err))
    }
}

impl VenvError {
    pub(crate) fn io(path: &Utf8Path, source: io::Error) -> VenvError {
        VenvError::Io { path: path.to_owned(), source }
    }
}

/// Builds (or reuses) the environments of several projects, two at a time (uv and the
/// packer use every core themselves). Results come in the order of `projects`.
pub fn build_projects(
    ctx: &Context,
    root: &Utf8Path,
    projects: &[Project],
    progress: &dyn Progress,
) -> Vec<Result<BuiltEnv, VenvError>> {
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build();
    let run = || projects.par_iter().map(|p| build_project(ctx, root, p, progress)).collect();
    match pool {
        Ok(pool) => pool.install(run),
        Err(_) => projects.iter().map(|p| build_project(ctx, root, p, progress)).collect(),
    }
}

/// Builds (or reuses) the environment of a project of the repository at `root`.
pub fn build_project(
    ctx: &Context,
    root: &Utf8Path,
    project: &Project,
    progress: &dyn Progress,
) -> Result<BuiltEnv, VenvError> {
    let shown_dir = project.dir.strip_prefix(root).unwrap_or(&project.dir);
    let requirements = if project.requirements.is_some() { REQUIREMENTS_FILE } else { pad_layout::PYPROJECT_FILE };
    build(
        ctx,
        &EnvSpec {
            name: &project.name,
            dir: &project.dir,
            shown_dir,
            requirements,
            python: project.settings.python.as_deref(),
            install_project: project.pyproject.is_some(),
            package: project.package.as_deref(),
            pack: true,
            compile_bytecode: false,
        },
        progress,
    )
}
