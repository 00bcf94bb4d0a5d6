//! `Progress`: where a flow reports what it does while it runs. It extends the traits of
//! the crates a flow calls, so one renderer implements each of them directly and a flow
//! hands itself to each crate.

use pad_bundle::Package;
use pad_registry::TransferProgress;

use crate::{Stage, TestRun, Transfer};

/// Where a flow reports what it does. Called from several threads.
pub trait Progress: pad_venv::Progress + pad_deploy::Progress {
    /// `name` (a project, an Airflow series, the package) finished: `outcome` in a word
    /// or two, such as `env reused`, `passed` or `FAILED`.
    fn done(&self, name: &str, outcome: &str);
    /// Something a person should see now, while the flow goes on: a warning of an
    /// environment.
    fn warning(&self, message: &str);
    /// A package starts moving to or from a registry; its bytes are reported to what
    /// this returns, which is dropped when the transfer ends.
    fn transfer(&self, transfer: &Transfer<'_>) -> Box<dyn TransferProgress + '_>;

    /// deploy-local-build starts a stage.
    fn stage(&self, _stage: Stage) {}
    /// deploy-local-build's tests ended, passed or not, before it goes on or stops.
    fn tested(&self, _run: &TestRun) {}
    /// deploy-local-build's package is written (or was there already).
    fn packaged(&self, _package: &Package) {}
}
