//! Failures the unit tests inject: a deploy stopped at a chosen point as if its client
//! were killed there, with no clean-up of its own. Only test builds can choose a point;
//! in any other build a [`FailAt`] is empty and never fires, and [`DeployError`] has no
//! variant for it; the script marker (`pad-injected`) is not compiled in either
//! (`tests/it/cli.rs` checks the front end's binary for all of them).

use crate::{DeployError, Step};

/// The exit status of a script stopped by a fail point.
#[cfg(test)]
const STATUS: i32 = 86;

/// Where a test stops a deploy.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FailPoint {
    pub(crate) step: Step,
    /// Part way through the step (upload: after half the bytes; unpack: after the files
    /// are linked, before the environments are unpacked) rather than before it.
    pub(crate) midway: bool,
}

/// The fail point of one deploy, if a test chose one.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FailAt {
    #[cfg(test)]
    point: Option<FailPoint>,
}

impl FailAt {
    #[cfg(test)]
    pub(crate) fn at(point: FailPoint) -> FailAt {
        FailAt { point: Some(point) }
    }

    #[cfg(test)]
    fn is(self, step: Step, midway: bool) -> bool {
        self.point == Some(FailPoint { step, midway })
    }

    #[cfg(not(test))]
    fn is(self, _step: Step, _midway: bool) -> bool {
        false
    }

    /// The failure of `host` as `step` begins, when the point is there.
    pub(crate) fn before(self, host: &str, step: Step) -> Result<(), DeployError> {
        if self.is(step, false)
            && let Some(err) = injected(host, step)
        {
            return Err(err);
        }
        Ok(())
    }

    /// Whether `step` stops part way.
    pub(crate) fn midway(self, step: Step) -> bool {
        self.is(step, true)
    }
}

/// The error of a fail point that fired on `host`; none outside tests.
#[cfg(test)]
pub(crate) fn injected(host: &str, step: Step) -> Option<DeployError> {
    Some(DeployError::Injected { host: host.to_owned(), step })
}

#[cfg(not(test))]
pub(crate) fn injected(_host: &str, _step: Step) -> Option<DeployError> {
    None
}

/// Whether `err` is a fail point that fired.
#[cfg(test)]
pub(crate) fn is_injected(err: &DeployError) -> bool {
    matches!(err, DeployError::Injected { .. })
}

#[cfg(not(test))]
pub(crate) fn is_injected(_err: &DeployError) -> bool {
    false
}

/// The lines that stop a host's script where it stands (`label` names the place).
#[cfg(test)]
pub(crate) fn stop_script(label: &str) -> String {
    format!("echo {}; exit {STATUS}\n", pad_process::shell_quote(&format!("pad-injected {label}")))
}

/// Nothing: outside tests no script is ever stopped (and the marker is not in the build).
#[cfg(not(test))]
pub(crate) fn stop_script(_label: &str) -> String {
    String::new()
}

/// A script that [`stop_script`] stopped, as the error of `host` at `step`.
#[cfg(test)]
pub(crate) fn stopped(host: &str, step: Step, status: i32, output: &str) -> Option<DeployError> {
    if status == STATUS && output.contains("pad-injected") { injected(host, step) } else { None }
}

#[cfg(not(test))]
pub(crate) fn stopped(_host: &str, _step: Step, _status: i32, _output: &str) -> Option<DeployError> {
    None
}
