//! Time on one host's deploy: [`Clock`] starts each step (progress, timings, the test
//! fail point) and records notes; [`unix_now`], [`stamp`] and [`nonce`] are the times
//! and names a run writes on a host.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::fault::FailAt;
use crate::{DeployError, HostReport, Progress, Step, StepTime};

/// Step bookkeeping for one host: progress, timings and the test fail point.
pub(crate) struct Clock<'a> {
    host: String,
    progress: &'a dyn Progress,
    fail: FailAt,
    current: Option<(Step, Instant)>,
}

impl<'a> Clock<'a> {
    pub(crate) fn new(host: &str, progress: &'a dyn Progress, fail: FailAt) -> Clock<'a> {
        Clock { host: host.to_owned(), progress, fail, current: None }
    }

    /// Ends the step under way and starts `step`; a test's fail point there stops it.
    pub(crate) fn begin(&mut self, step: Step, report: &mut HostReport) -> Result<(), DeployError> {
        self.end(report);
        self.progress.step(&self.host, step);
        self.current = Some((step, Instant::now()));
        self.fail.before(&self.host, step)
    }

    /// Whether a test's fail point stops `step` part way.
    pub(crate) fn midway(&self, step: Step) -> bool {
        self.fail.midway(step)
    }

    /// Records how long the step under way took.
    pub(crate) fn end(&mut self, report: &mut HostReport) {
        if let Some((step, start)) = self.current.take() {
            report.steps.push(StepTime { step, seconds: start.elapsed().as_secs_f64() });
        }
    }

    /// Ends the step under way: the host now waits for `what` (a [`Gate`](crate::Gate)).
    pub(crate) fn wait_for(&mut self, report: &mut HostReport, what: &str) {
        self.end(report);
        self.progress.waiting(&self.host, what);
    }

    /// Something a person should know, reported as it happens and kept in the report.
    pub(crate) fn note(&self, report: &mut HostReport, message: &str) {
        self.progress.note(&self.host, message);
        report.notes.push(message.to_owned());
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A time stamp for history lines and moved-aside names: seconds since the epoch.
pub(crate) fn stamp() -> String {
    unix_now().to_string()
}

/// A name part no other run uses.
pub(crate) fn nonce() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{}-{:x}{:08x}", std::process::id(), unix_now(), nanos)
}
