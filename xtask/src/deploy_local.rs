//! `cargo xtask deploy-local-build`: the main job. Tests, environments, package, then a
//! deploy to the `local` target (`deploy/local.toml`, or the built-in default:
//! `AIRFLOW_HOME`, else `target/airflow`), with no configuration on a fresh clone.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use camino::Utf8Path;

use crate::flags::{DeployLocalBuildArgs, TestArgs};
use crate::progress::Steps;

pub(crate) fn run(root: &Utf8Path, args: &DeployLocalBuildArgs) -> Result<ExitCode> {
    eprintln!("==> test");
    let tests = TestArgs {
        projects: Vec::new(),
        junit: None,
        force: false,
        locked: args.locked,
        airflow: Vec::new(),
        var: args.var.clone(),
        conn: args.conn.clone(),
        no_dags: false,
        json: false,
    };
    crate::test::run(root, &tests).context("deploy-local-build stopped before packaging: the tests failed")?;

    eprintln!("==> package");
    let package = pad_flow::package(&crate::workspace(root), args.locked, None, &Steps::new())?;
    crate::package::print(root, &package, false)?;

    eprintln!("==> deploy to the local target");
    let repo = pad_flow::discover(root)?;
    let target = repo.target("local").context("the layout has no `local` target")?;
    let steps = Steps::new();
    let options = pad_flow::deploy_options(&crate::workspace(root), &package.path);
    let report = pad_flow::deploy(target, &options, &steps)?;
    crate::deploy::render_deploy(&steps, &report, false)
}
