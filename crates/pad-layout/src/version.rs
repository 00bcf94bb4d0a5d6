//! The release version, from git: the tag when HEAD is tagged, else
//! `<branch>-<short sha>`, with `-dirty` when the work tree has uncommitted changes.

use camino::Utf8Path;
use pad_process::{Cmd, ProcessError};
use serde::Serialize;

use crate::EnvVars;

/// Where a version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionSource {
    /// `PAD_VERSION` was set.
    Override,
    /// HEAD carries a tag.
    Tag,
    /// The branch (or CI's ref name when HEAD is detached) and the short commit.
    Branch,
    /// Not a git checkout, git is missing, or there is no commit yet.
    NoGit,
}

/// A release version and the commit it was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    /// The version string used in package names: safe in file names and URLs.
    pub version: String,
    pub source: VersionSource,
    /// The full commit hash, when there is one.
    pub commit: Option<String>,
    /// Whether the work tree had changes that are not committed.
    pub dirty: bool,
    /// Why git could not be asked, when `source` is `NoGit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The version used when there is no git history to read.
pub const UNVERSIONED: &str = "0.0.0-unversioned";

/// Computes the version of the repository at `root`. `lookup` reads environment
/// variables (`PAD_VERSION`, and CI's ref names when HEAD is detached).
///
/// Outside a git checkout (an exported tarball, git not installed) it falls back to
/// [`UNVERSIONED`] and says why in `note`, rather than failing.
pub fn version(root: &Utf8Path, lookup: &dyn Fn(&str) -> Option<String>) -> Version {
    let git = |args: &[&str]| Cmd::new("git", root).args(args).env("GIT_OPTIONAL_LOCKS", "0").read();
    let commit = git(&["rev-parse", "--verify", "-q", "HEAD^{commit}"]);
    let dirty = git(&["status", "--porcelain", "--untracked-files=normal"]).is_ok_and(|s| !s.is_empty());

    if let Some(version) = lookup(EnvVars::PAD_VERSION).filter(|v| !v.is_empty()) {
        return Version {
            version: pad_stdx::safe_token(&version),
            source: VersionSource::Override,
            commit: commit.ok(),
            dirty,
            note: None,
        };
    }

    let commit = match commit {
        Ok(commit) => commit,
        Err(err) => {
            let note = match err {
                ProcessError::NotFound { .. } => "git is not installed".to_owned(),
                _ if git(&["rev-parse", "--git-dir"]).is_err() => format!("`{root}` is not a git checkout"),
                _ => "the git repository has no commit yet".to_owned(),
            };
            return Version {
                version: UNVERSIONED.to_owned(),
                source: VersionSource::NoGit,
                commit: None,
                dirty: false,
                note: Some(format!("{note}; set {} to choose a version", EnvVars::PAD_VERSION)),
            };
        }
    };

    let suffix = if dirty { "-dirty" } else { "" };
    if let Ok(tag) = git(&["describe", "--tags", "--exact-match", "HEAD"]) {
        return Version {
            version: format!("{}{suffix}", pad_stdx::safe_token(&tag)),
            source: VersionSource::Tag,
            commit: Some(commit),
            dirty,
            note: None,
        };
    }
    let branch = git(&["symbolic-ref", "--short", "-q", "HEAD"])
        .ok()
        .or_else(|| lookup(EnvVars::CI_COMMIT_REF_NAME))
        .or_else(|| lookup(EnvVars::GITHUB_REF_NAME))
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "detached".to_owned());
    Version {
        version: format!("{}-{}{suffix}", pad_stdx::safe_token(&branch), &commit[..7.min(commit.len())]),
        source: VersionSource::Branch,
        commit: Some(commit),
        dirty,
        note: None,
    }
}
