//! deploy-local-build, the main job: the tests, then the package, then a deploy to the
//! `local` target (`deploy/local.toml`, or the built-in one), stopping at the first stage
//! that fails. The package and the deploy's preparation run while the tests do, and
//! become visible only once they passed. A failed deploy leaves the previous release
//! serving.

use std::collections::BTreeMap;
use std::sync::{Arc, mpsc};
use std::thread;

use pad_bundle::{Package, PendingPackage};
use pad_deploy::DeployReport;
use pad_venv::BuiltEnv;

use crate::package::Prepared;
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
///
/// The package and most of the deploy need only the projects' environments, not the
/// tests' verdict: once the environments are built, the package is written under a
/// temporary name and the deploy prepares the release (upload, unpack, verify, smoke
/// test) while the tests still run. The package gets its name, and the release is made
/// and switched to, only when the tests have passed; when they fail, the package and
/// what the deploy prepared are removed, and the previous release serves on.
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
    let gate = Arc::new(pad_deploy::Gate::new("the tests"));
    let (envs_tx, envs_rx) = mpsc::channel::<Vec<BuiltEnv>>();
    let (pending_tx, pending_rx) = mpsc::channel::<Result<Arc<PendingPackage>, FlowError>>();
    thread::scope(|scope| {
        let ahead = {
            let gate = &gate;
            scope.spawn(move || ahead(ws, options, envs_rx, pending_tx, gate, progress))
        };
        // Whatever ends this early (an error, a panic) refuses the gate first, so the
        // deploy waiting at it removes what it prepared and the scope can end.
        let _refuse = RefuseOnDrop(&gate);
        let tests = crate::test::test_handing_over(ws, &plan, progress, &|envs| {
            let _ = envs_tx.send(envs);
        });
        drop(envs_tx);
        let tests = tests.map_err(stopped)?;
        progress.tested(&tests);
        tests.check().map_err(stopped)?;

        // Once it has the environments, which it has whenever the tests passed, the other
        // thread sends the package or why it could not write it.
        let pending = pending_rx.recv().expect("the tests passed, so the environments were handed over")?;
        progress.stage(Stage::Package);
        let package = pending.commit().map_err(|err| crate::package::explain_write_error(err, &ws.dist_dir()))?;
        progress.packaged(&package);
        progress.stage(Stage::Deploy);
        gate.open();
        let deploy = ahead.join().expect("the package and deploy thread panicked")?;
        let deploy = deploy.expect("a deploy was prepared: its package was handed over");
        Ok(LocalBuild { tests, package, deploy })
    })
}

/// Refuses the gate when dropped (an open gate stays open).
struct RefuseOnDrop<'a>(&'a pad_deploy::Gate);

impl Drop for RefuseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.refuse("the tests did not pass");
    }
}

/// What runs beside the tests: once the environments are handed over, the package under
/// a temporary name (handed back to commit), then the deploy up to the gate and, once it
/// opens, the switch. `None` when no environments came (the tests stop the run).
fn ahead(
    ws: &Workspace,
    options: &LocalBuildOptions,
    envs: mpsc::Receiver<Vec<BuiltEnv>>,
    pending_tx: mpsc::Sender<Result<Arc<PendingPackage>, FlowError>>,
    gate: &Arc<pad_deploy::Gate>,
    progress: &dyn Progress,
) -> Result<Option<DeployReport>, FlowError> {
    let Ok(built) = envs.recv() else { return Ok(None) };
    let pending = crate::discover(&ws.root).map_err(FlowError::from).and_then(|repo| {
        let Prepared { spec, dist } = crate::package::prepare_from(ws, &repo, &built)?;
        let pending = crate::package::write_pending(&spec, &dist, " while the tests run", progress)?;
        Ok((Arc::new(pending), repo))
    });
    let (pending, repo) = match pending {
        Ok(pending) => pending,
        Err(err) => {
            let _ = pending_tx.send(Err(err));
            return Ok(None);
        }
    };
    let _ = pending_tx.send(Ok(pending.clone()));
    let target = repo.target("local").ok_or(FlowError::NoLocalTarget)?;
    let mut deploy_options = crate::deploy_options(ws, pending.path());
    deploy_options.connect.namespace = options.namespace.clone();
    deploy_options.connect.data_profile = options.data_profile.clone();
    deploy_options.gate = Some(gate.clone());
    crate::deploy(target, &deploy_options, progress).map(Some)
}
