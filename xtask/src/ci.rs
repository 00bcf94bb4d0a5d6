//! `cargo xtask ci`: provision what the tests need, then format, lint and test, exactly as
//! CI does.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use camino::Utf8Path;
use pad_layout::EnvVars;
use pad_testkit::cargo;

use crate::flags::CiArgs;

mod provision;

pub(crate) fn run(root: &Utf8Path, args: &CiArgs) -> Result<ExitCode> {
    provision::ensure(root, !args.no_provision)?;
    let steps = [
        cargo(root).args(["fmt", "--all", "--", "--check"]),
        cargo(root).args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]),
        // PAD_E2E runs the slow tests too: the ones that build environments and start
        // real services. CI never skips them.
        cargo(root).args(["test", "--workspace"]).env(EnvVars::PAD_E2E, "1"),
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
