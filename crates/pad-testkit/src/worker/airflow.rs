//! Real Airflow on a worker: workers reach no package registry, so the Airflow pinned in
//! `deploy/airflow/<series>/` is built here into a relocatable environment with the
//! worker's interpreter path (Debian's `/usr/bin/python3.11`), packed as `venv.tar.gz`,
//! copied onto the worker and unpacked at `/opt/airflow-venv`, readable by everyone.

use std::time::Instant;

use camino::{Utf8Path, Utf8PathBuf};
use pad_venv::{Context, EnvSpec, VenvOptions};
use serde::Serialize;

use super::{AIRFLOW_HOME, Worker};
use crate::KitError;
use crate::error::{Context as _, failed};

/// The interpreter every worker has, at the same path as on this machine.
pub const WORKER_PYTHON: &str = "/usr/bin/python3.11";
/// Where [`Worker::install_airflow`] puts the environment on a worker.
pub const AIRFLOW_VENV: &str = "/opt/airflow-venv";

/// An Airflow environment built for the workers.
#[derive(Debug, Clone, Serialize)]
pub struct AirflowEnv {
    pub series: String,
    /// `venv.tar.gz`: unpack it anywhere; `bin/python` points at `/usr/bin/python3.11`.
    pub tarball: Utf8PathBuf,
    /// The unpacked environment on this machine.
    pub venv: Utf8PathBuf,
    /// `apache-airflow==…` as installed.
    pub airflow: String,
    pub reused: bool,
    pub seconds: f64,
}

/// Builds (or reuses, keyed by its lock and interpreter) the Airflow of
/// `root/deploy/airflow/<series>` in `work_dir/venvs/airflow-<series>-worker`. The lock
/// must be current: it is never rewritten here.
pub fn airflow_env(root: &Utf8Path, work_dir: &Utf8Path, series: &str) -> Result<AirflowEnv, KitError> {
    let started = Instant::now();
    let pin = pad_venv::airflow_pins(root)
        .into_iter()
        .find(|p| p.series == series)
        .ok_or_else(|| failed(format!("no Airflow series `{series}` pinned under {root}/deploy/airflow")))?;
    let ctx = Context::new(VenvOptions { work_dir: work_dir.to_owned(), locked: true, force: false })
        .context("finding uv to build the workers' Airflow")?;
    let name = format!("airflow-{series}-worker");
    let shown = pin.dir.strip_prefix(root).unwrap_or(&pin.dir).to_owned();
    let env = pad_venv::build(
        &ctx,
        &EnvSpec {
            name: &name,
            dir: &pin.dir,
            shown_dir: &shown,
            requirements: "requirements.txt",
            python: Some(WORKER_PYTHON),
            install_project: false,
            package: Some("airflow"),
            pack: true,
            compile_bytecode: false,
        },
        &(),
    )
    .with_context(|| format!("building the Airflow {series} environment for the workers"))?;
    let Some(tarball) = env.tarball.clone() else {
        return Err(failed(format!("the Airflow environment {} was not packed", env.dir)));
    };
    let airflow = env
        .record
        .packages
        .iter()
        .find(|p| p.to_lowercase().starts_with("apache-airflow=="))
        .cloned()
        .unwrap_or_default();
    Ok(AirflowEnv {
        series: series.to_owned(),
        tarball,
        venv: env.venv,
        airflow,
        reused: env.reused,
        seconds: started.elapsed().as_secs_f64(),
    })
}

impl Worker {
    /// Copies `tarball` (a `venv.tar.gz`) onto the worker and unpacks it at
    /// `/opt/airflow-venv`, owned by root and readable by every user; unchanged when the
    /// same tarball is there already.
    pub fn install_airflow(&self, tarball: &Utf8Path) -> Result<(), KitError> {
        let meta = std::fs::metadata(tarball).with_context(|| format!("reading {tarball}"))?;
        let stamp = format!("{tarball} {}", meta.len());
        let upload = format!("/tmp/pad-airflow-{}.tar.gz", self.name);
        self.copy_in(tarball, &upload)?;
        // flock: sshd-fallback workers share /opt, and so may two sets installing at once.
        let script = format!(
            r#"set -e
exec 9>/opt/.airflow-venv.lock
flock 9
if [ "$(cat {AIRFLOW_VENV}/.pad-tarball 2>/dev/null)" != '{stamp}' ]; then
    rm -rf {AIRFLOW_VENV}.tmp
    mkdir -p {AIRFLOW_VENV}.tmp
    tar -xzf '{upload}' -C {AIRFLOW_VENV}.tmp
    chmod -R a+rX {AIRFLOW_VENV}.tmp
    printf '%s\n' '{stamp}' > {AIRFLOW_VENV}.tmp/.pad-tarball
    rm -rf {AIRFLOW_VENV}
    mv {AIRFLOW_VENV}.tmp {AIRFLOW_VENV}
fi
rm -f '{upload}'
"#
        );
        let out = self.exec_root(&script)?;
        if !out.status.success() {
            return Err(failed(format!(
                "unpacking {tarball} at {AIRFLOW_VENV} on worker {} failed:\n{}{}",
                self.name, out.stdout, out.stderr
            )));
        }
        Ok(())
    }

    /// Runs `airflow ARGS…` (a shell command line) from `/opt/airflow-venv` as the service
    /// user with `AIRFLOW_HOME` set to the worker's.
    pub fn airflow(&self, args: &str) -> Result<pad_process::Finished, KitError> {
        self.exec_as_service(&format!(
            "cd {AIRFLOW_HOME} && AIRFLOW_HOME={AIRFLOW_HOME} {AIRFLOW_VENV}/bin/airflow {args}"
        ))
    }
}
