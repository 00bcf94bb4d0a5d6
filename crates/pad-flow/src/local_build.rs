//! deploy-local-build, the main job: the tests, then the package, then a deploy to the
//! `local` target (`deploy/local.toml`, or the built-in one), stopping at the first stage
//! that fails. A failed deploy leaves the previous release serving.

use std::collections::BTreeMap;

use pad_bundle::Package;
use pad_deploy::DeployReport;

use crate::{FlowError, Progress, TestPlan, TestRun, Workspace};

/// A stage of deploy-local-build, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Test,
    Package,
    Deploy,
}

/// How to run deploy-local-build.
#[derive(Debug, Clone, Default)]
pub struct LocalBuildOptions {
    /// Fail on a stale lock instead of updating it.
    pub locked: bool,
    /// Airflow Variables and Connections the DAGs read while loading in the test stage.
    pub variables: BTreeMap<String, String>,
    pub connections: BTreeMap<String, String>,
    /// Deploy into this namespace (already checked) instead of the plain deploy.
    pub namespace: Option<String>,
    /// The test data profile the runtime helper reports.
    pub data_profile: Option<String>,
}

/// What each stage of deploy-local-build gave.
#[derive(Debug)]
pub struct LocalBuild {
    pub tests: TestRun,
    pub package: Package,
    /// How each host of the local target ended; [`DeployReport::success`] says whether
    /// the new release serves.
    pub deploy: DeployReport,
}

/// Runs the tests (every project, the DAG check in every pinned Airflow), builds the
/// package, and deploys it to the `local` target. Each stage is announced to
/// `progress`, and the tests' and the package's results are reported as they end, also
/// when the tests fail and the run stops there.
pub fn deploy_local_build(
    ws: &Workspace,
    options: &LocalBuildOptions,
    progress: &dyn Progress,
) -> Result<LocalBuild, FlowError> {
    let stopped = |err: FlowError| FlowError::StoppedBeforePackaging(Box::new(err));
    progress.stage(Stage::Test);
    let plan = TestPlan {
        locked: options.locked,
        variables: options.variables.clone(),
        connections: options.connections.clone(),
        namespaces: options.namespace.is_some(),
        ..TestPlan::default()
    };
    let tests = crate::test(ws, &plan, progress).map_err(stopped)?;
    progress.tested(&tests);
    tests.check().map_err(stopped)?;

    progress.stage(Stage::Package);
    let package = crate::package(ws, options.locked, None, progress)?;
    progress.packaged(&package);

    progress.stage(Stage::Deploy);
    let repo = crate::discover(&ws.root)?;
    let target = repo.target("local").ok_or(FlowError::NoLocalTarget)?;
    let mut deploy_options = crate::deploy_options(ws, &package.path);
    deploy_options.connect.namespace = options.namespace.clone();
    deploy_options.connect.data_profile = options.data_profile.clone();
    let deploy = crate::deploy(target, &deploy_options, progress)?;
    Ok(LocalBuild { tests, package, deploy })
}
