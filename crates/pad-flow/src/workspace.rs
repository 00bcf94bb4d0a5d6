//! `Workspace`: the repository a flow works on and the directory its build output goes
//! to, and the projects a flow is asked for.

use camino::{Utf8Path, Utf8PathBuf};
use pad_layout::{Project, Repo};
use pad_venv::{Context, VenvOptions};

use crate::FlowError;

/// The repository and where build output goes.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The repository's root (holding `dags/` and `projects/`).
    pub root: Utf8PathBuf,
    /// Environments, tools, test results and packages: `<root>/target` unless the
    /// caller chose another (several repositories may share one: keys are content
    /// hashes).
    pub target_dir: Utf8PathBuf,
}

impl Workspace {
    /// The repository at `root`, its output in `<root>/target`.
    pub fn new(root: &Utf8Path) -> Workspace {
        Workspace { root: root.to_owned(), target_dir: root.join("target") }
    }

    /// The same repository, its output in `target_dir`.
    pub fn with_target_dir(self, target_dir: &Utf8Path) -> Workspace {
        Workspace { target_dir: target_dir.to_owned(), ..self }
    }

    /// `<target>/dist`: where packages are written and fetched to.
    pub fn dist_dir(&self) -> Utf8PathBuf {
        self.target_dir.join("dist")
    }

    /// `<target>/checked-envs`: the packed environments a deploy's package check passed.
    pub fn checked_envs(&self) -> Utf8PathBuf {
        self.target_dir.join("checked-envs")
    }

    /// pad-venv's context for this workspace: environments under the target directory.
    pub fn venv_context(&self, locked: bool, force: bool) -> Result<Context, FlowError> {
        Ok(Context::new(VenvOptions { work_dir: self.target_dir.clone(), locked, force })?)
    }
}

/// The projects named, or all of them when none is.
pub fn select_projects(repo: &Repo, names: &[String]) -> Result<Vec<Project>, FlowError> {
    if names.is_empty() {
        return Ok(repo.projects.clone());
    }
    names
        .iter()
        .map(|name| {
            repo.project(name).cloned().ok_or_else(|| FlowError::NoProject {
                name: name.clone(),
                root: repo.root.clone(),
                known: repo.projects.iter().map(|p| p.name.clone()).collect(),
            })
        })
        .collect()
}
