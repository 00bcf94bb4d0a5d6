//! Turning how a host script ended (its exit status and output) into a [`DeployError`]:
//! a full disk, a test's fail point, a lock that could not be taken, a project whose
//! interpreter or package does not run, or the plain output.

use pad_bundle::ProjectEntry;

use crate::host::Exec;
use crate::scripts::{self, DiskSpace};
use crate::{DeployError, Step, fault};

/// What tools print when `AIRFLOW_HOME`'s disk or quota is full.
const DISK_FULL: [&str; 3] = ["No space left on device", "Disk quota exceeded", "Wrote only"];

/// Below this much room (KiB), a failed command is taken as a full disk.
const LOW_SPACE_KIB: u64 = 1024;

/// A non-zero exit of a script during `step` on `host` as an error: out of disk space,
/// a test's fail point, or the output.
pub(crate) fn check(host: &str, airflow_home: &str, step: Step, exec: Exec) -> Result<Exec, DeployError> {
    if exec.status == 0 {
        return Ok(exec);
    }
    let output = exec.output.trim().to_owned();
    if let Some(err) = fault::stopped(host, step, exec.status, &output) {
        return Err(err);
    }
    if DISK_FULL.iter().any(|m| output.contains(m)) {
        return Err(DeployError::DiskFull {
            host: host.to_owned(),
            step,
            airflow_home: airflow_home.to_owned(),
            output,
        });
    }
    Err(DeployError::Remote { host: host.to_owned(), step, status: exec.status, output })
}

/// A failed command (`err`) on a host whose `AIRFLOW_HOME` has (almost) no `space` left,
/// as a full disk, whatever the command said.
pub(crate) fn low_space(err: DeployError, space: Option<DiskSpace>, airflow_home: &str) -> DeployError {
    match (err, space) {
        (DeployError::Remote { host, step, output, .. }, Some(space)) if space.available_kib < LOW_SPACE_KIB => {
            DeployError::DiskFull {
                host,
                step,
                airflow_home: airflow_home.to_owned(),
                output: format!("{output}\n(df: {})", space.line),
            }
        }
        (err, _) => err,
    }
}

/// The lock script on `host` ended without taking the lock, and sudo did not refuse it:
/// `AIRFLOW_HOME` is a source checkout, its disk is full, or the output says why.
pub(crate) fn lock_not_taken(host: &str, airflow_home: &str, output: &str) -> DeployError {
    if let Some(marker) = scripts::Lock::not_airflow_home(output) {
        return DeployError::NotAirflowHome {
            host: host.to_owned(),
            airflow_home: airflow_home.to_owned(),
            marker: marker.to_owned(),
        };
    }
    if output.contains("No space left on device") {
        return DeployError::DiskFull {
            host: host.to_owned(),
            step: Step::Lock,
            airflow_home: airflow_home.to_owned(),
            output: output.trim().to_owned(),
        };
    }
    DeployError::Remote { host: host.to_owned(), step: Step::Lock, status: 1, output: output.trim().to_owned() }
}

/// The smoke test of `project` on `host`, run as `user`: its interpreter missing or of
/// another Python version, its package failing to import, or another failure.
pub(crate) fn smoke(
    host: &str,
    airflow_home: &str,
    user: &str,
    project: &ProjectEntry,
    exec: Exec,
) -> Result<(), DeployError> {
    let smoked = scripts::Smoke::parse(exec.status, &exec.output);
    let interpreter = |output: &str| DeployError::Interpreter {
        host: host.to_owned(),
        project: project.name.clone(),
        interpreter: project.interpreter_path.clone(),
        version: project.interpreter_version.clone(),
        user: user.to_owned(),
        output: output.trim().to_owned(),
    };
    if smoked.no_interpreter {
        return Err(interpreter(&exec.output));
    }
    if let Some(found) = &smoked.python
        && scripts::minor(found) != scripts::minor(&project.interpreter_version)
    {
        return Err(interpreter(&format!("the host runs Python {found} there")));
    }
    if smoked.import_failed {
        return Err(DeployError::Import {
            host: host.to_owned(),
            project: project.name.clone(),
            package: project.package.clone().unwrap_or_default(),
            user: user.to_owned(),
            output: exec.output.trim().to_owned(),
        });
    }
    check(host, airflow_home, Step::SmokeTest, exec).map(|_| ())
}
