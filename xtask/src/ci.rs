//! `cargo xtask ci`: provision what the tests need, then format, lint and test, exactly as
//! CI does.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use camino::Utf8Path;
use pad_layout::EnvVars;
use pad_testkit::cargo;

use crate::flags::CiArgs;

mod provision;

pub(crate) fn run(root: &Utf8Path, args: &CiArgs) -> Result<ExitCode> {
    provision::ensure(root, !args.no_provision)?;
    // PAD_E2E runs the slow tests too: the ones that build environments and start
    // real services. CI never skips them.
    let mut test = cargo(root).args(["test", "--workspace"]).env(EnvVars::PAD_E2E, "1");
    // The worker tests prove isolation only in containers: with an engine they must use
    // it; under CI, a missing engine is a failure, not a quieter test run.
    let in_ci = std::env::var(EnvVars::CI).is_ok_and(|v| !v.is_empty() && v != "false");
    match provision::docker_engine(root) {
        Some(version) => {
            eprintln!(
                "==> Docker engine {version}: the worker tests run in containers ({}=1)",
                EnvVars::PAD_REQUIRE_DOCKER
            );
            test = test.env(EnvVars::PAD_REQUIRE_DOCKER, "1");
        }
        None if in_ci => bail!(
            "{} is set and no Docker engine answers (`docker version`): the worker tests would fall back to sshd workers, which {}; start the engine (`systemctl start docker`)",
            EnvVars::CI,
            pad_testkit::worker::SSHD_UNPROVEN.trim_start_matches("the sshd fallback ")
        ),
        None => eprintln!(
            "==> WARNING: no Docker engine answers; the worker tests run on the sshd fallback: {}",
            pad_testkit::worker::SSHD_UNPROVEN
        ),
    }
    let steps = [
        cargo(root).args(["fmt", "--all", "--", "--check"]),
        cargo(root).args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]),
        test,
    ];
    let started = Instant::now();
    for step in &steps {
        eprintln!("==> {step}");
        let step_started = Instant::now();
        step.run_inherit().with_context(|| format!("CI step `{step}` failed"))?;
        eprintln!("==> ok in {:.1}s", step_started.elapsed().as_secs_f64());
    }
    eprintln!("ci: all {} steps passed in {:.1}s", steps.len(), started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
