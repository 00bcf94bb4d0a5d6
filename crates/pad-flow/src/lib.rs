//! The flows a CI runner or a deployment host runs, each one call over the crates
//! below: pad-layout and pad-cache (the repository), pad-venv (environments, tests),
//! pad-bundle (the package), pad-registry (publish, fetch) and pad-deploy.
//!
//! - [`discover`]: the whole-repository check every flow starts with: the layout, and every
//!   artifacts.yaml read by pad-cache's parser.
//! - [`test()`]: the generated DAG files checked against their YAML (pad-render), ruff
//!   ([`lint()`]), each project's pytest suite in its environment, two at a time, and the
//!   DAG check in every pinned Airflow series, into a [`TestRun`].
//! - [`package()`]: every project's environment built or reused, then the package
//!   written or reused ([`prepare`] stops before writing, for a caller that writes it
//!   elsewhere); [`publish`] and [`fetch`] move it to and from a registry.
//! - [`deploy()`]: a package onto a target's hosts; [`choose_package`] says which
//!   package a deploy uses, fetching it first when it is in a registry.
//! - [`ci_config`]: the repository's `.gitlab-ci.yml` checked against the repository and
//!   the front end's command line (pad-ci).
//! - [`deploy_local_build`]: the main job, test → package → deploy to the local target,
//!   as one call; the package and the deploy's preparation run while the tests do.
//! - [`local_airflow`]: the local Airflow's setup (series, tool environment,
//!   `AIRFLOW_HOME`, state directory) for `pad-airflow`; [`release_differences`] says
//!   whether the working tree still matches the deployed release.
//!
//! A flow works in a [`Workspace`] (the repository and its target directory) and reports
//! what it does to a [`Progress`]. Nothing here prints or reads flags: flows return data
//! and [`FlowError`]s that name the object and the fix.

mod airflow;
mod check;
mod ci_config;
mod deploy;
mod error;
mod junit;
mod lint;
mod local_build;
mod package;
mod progress;
mod registry;
mod test;
mod workspace;

#[cfg(test)]
mod tests;

pub use airflow::{airflow_state_dir, local_airflow, local_airflow_home, release_differences};
pub use check::{discover, scan};
pub use ci_config::{CiConfig, ci_config};
pub use deploy::{PackageChoice, artifact_locations, choose_package, deploy, deploy_options, find_target};
pub use error::FlowError;
pub use lint::{LintPlan, lint};
pub use local_build::{LocalBuild, LocalBuildOptions, Stage, deploy_local_build};
pub use package::{PACKAGE_NAME, Prepared, package, package_path, prepare, spec};
pub use progress::Progress;
pub use registry::{Direction, FetchedPackage, PublishRequest, Published, Transfer, fetch, open_registry, publish};
pub use test::{TestPlan, TestRun, test};
pub use workspace::{Workspace, select_projects};
