//! `ci-config`: the repository's `.gitlab-ci.yml`, read by pad-ci and checked against
//! what the repository has (deploy targets, registries, artifacts.yaml files) and the
//! front end's own command-line parser.

use camino::Utf8Path;
use pad_ci::Pipeline;
use pad_ci::check::Facts;
use pad_layout::{EnvVars, Hosts, Problem};
use pad_process::Cmd;
use pad_registry::Registries;

use crate::FlowError;

/// The file, what the check knew of the repository, and every problem it found.
#[derive(Debug)]
pub struct CiConfig {
    pub pipeline: Pipeline,
    pub facts: Facts,
    pub problems: Vec<Problem>,
}

/// Reads and checks `<root>/.gitlab-ci.yml`. `parse` parses the words after
/// `cargo xtask` (the front end's parser); `lookup` reads the environment
/// (`CI_DEFAULT_BRANCH`).
pub fn ci_config(
    root: &Utf8Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    parse: &dyn Fn(&[String]) -> Result<(), String>,
) -> Result<CiConfig, FlowError> {
    let pipeline = pad_ci::load(root)?;
    let facts = facts(root, lookup)?;
    let problems = pad_ci::check(&pipeline, &facts, parse);
    Ok(CiConfig { pipeline, facts, problems })
}

fn facts(root: &Utf8Path, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Facts, FlowError> {
    // A broken layout is `cargo xtask layout`'s to report; what is readable still counts.
    let repo = crate::scan(root).repo;
    let registries_file = root.join("deploy").join(pad_layout::REGISTRIES_FILE);
    let registries = if registries_file.exists() {
        Registries::load(&registries_file)
            .map_err(|e| FlowError::Registry(Box::new(e)))?
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    } else {
        Vec::new()
    };
    let default_branch = lookup(EnvVars::CI_DEFAULT_BRANCH)
        .filter(|b| !b.is_empty())
        .or_else(|| {
            let head =
                Cmd::new("git", root).args(["symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD"]).run().ok()?;
            head.stdout.trim().strip_prefix("origin/").map(str::to_owned)
        })
        .unwrap_or_else(|| "main".to_owned());
    Ok(Facts {
        targets: repo.targets.iter().map(|t| t.name.clone()).collect(),
        remote_targets: repo
            .targets
            .iter()
            .filter(|t| matches!(t.hosts, Hosts::Remote(_)))
            .map(|t| t.name.clone())
            .collect(),
        namespace_targets: repo.targets.iter().filter(|t| t.data_root.is_some()).map(|t| t.name.clone()).collect(),
        registries,
        artifacts_files: repo.artifacts_files.clone(),
        default_branch,
    })
}
