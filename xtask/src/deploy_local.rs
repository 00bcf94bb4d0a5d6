//! `cargo xtask deploy-local-build`: the main job, `pad_flow::deploy_local_build`. Tests,
//! environments, package, then a deploy to the `local` target (`deploy/local.toml`, or
//! the built-in default: `AIRFLOW_HOME`, else `target/airflow`), with no configuration on
//! a fresh clone. Each stage and its report is shown as it ends.

use std::process::ExitCode;

use anyhow::Result;
use camino::Utf8Path;
use pad_flow::LocalBuildOptions;

use crate::flags::DeployLocalBuildArgs;
use crate::progress::Steps;

pub(crate) fn run(root: &Utf8Path, args: &DeployLocalBuildArgs) -> Result<ExitCode> {
    let options = LocalBuildOptions {
        locked: args.locked,
        variables: crate::test::pairs(&args.var, "--var")?,
        connections: crate::test::pairs(&args.conn, "--conn")?,
        namespace: crate::deploy::namespace(root, args.namespace.as_deref())?,
        data_profile: args.data_profile.clone(),
    };
    let steps = Steps::with_stage_reports(root).timed(args.timings);
    let build = pad_flow::deploy_local_build(&crate::workspace(root), &options, &steps);
    steps.print_timings();
    crate::deploy::render_deploy(&steps, &build?.deploy, false)
}
