//! The deploy lock of a host, held by a live process: [`HeldLock`] is the running lock
//! script ([`scripts::Lock`]), whose input the client keeps open and writes to now and
//! then so the lock never looks stale. The lock ends with the client, with its
//! connection, or with [`HeldLock::release`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::host::Running;
use crate::scripts::{self, LockLine};
use crate::shell::Shell;
use crate::{DeployError, LOCK_STALE_SECS, Step, classify};

/// How often a live client renews its lock.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// The lock holder on a host: a running `sh` that keeps `.pad/lock/` while its input is
/// open. Every line written renews it.
pub(crate) struct HeldLock {
    running: Mutex<Box<dyn Running>>,
    last: Mutex<Instant>,
}

impl HeldLock {
    /// Takes the lock of `airflow_home` (a namespace's home under `root`, or `root`
    /// itself) for `owner`, waiting up to `wait` while another
    /// deploy holds it; `cleared` is told of each stale lock cleared on the way.
    pub(crate) fn take(
        shell: &mut Shell,
        airflow_home: &str,
        root: &str,
        owner: &str,
        wait: Duration,
        cleared: &mut dyn FnMut(&str),
    ) -> Result<HeldLock, DeployError> {
        let deadline = Instant::now() + wait;
        loop {
            match try_take(shell, airflow_home, root, owner, cleared) {
                Err(DeployError::Locked { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_secs(1).min(wait));
                }
                other => return other,
            }
        }
    }

    /// Renews the lock, if it was not renewed for a while.
    pub(crate) fn heartbeat(&self) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= HEARTBEAT {
            *last = Instant::now();
            let _ = self.running.lock().unwrap_or_else(|e| e.into_inner()).write_all(b"\n");
        }
    }

    /// Closes the holder's input: it removes the lock and ends.
    pub(crate) fn release(self) {
        let running = self.running.into_inner().unwrap_or_else(|e| e.into_inner());
        let _ = running.close();
    }
}

/// One attempt: the lock, or who holds it, or why the script could not take it.
fn try_take(
    shell: &mut Shell,
    airflow_home: &str,
    root: &str,
    owner: &str,
    cleared: &mut dyn FnMut(&str),
) -> Result<HeldLock, DeployError> {
    let host = shell.name().to_owned();
    let script = scripts::Lock { home: airflow_home, root, owner, stale_secs: LOCK_STALE_SECS }.text();
    let mut running = shell.spawn(Step::Lock, &script)?;
    let mut seen = String::new();
    loop {
        let Some(line) = running.read_line().map_err(|source| shell.transport(Step::Lock, source))? else {
            let rest = running.close().unwrap_or_default();
            seen.push_str(&rest);
            if let Some(err) = shell.refusal(&seen) {
                return Err(err);
            }
            return Err(classify::lock_not_taken(&host, airflow_home, &seen));
        };
        match scripts::Lock::parse_line(&line) {
            LockLine::Stale(stale) => cleared(stale),
            LockLine::Taken => {
                return Ok(HeldLock { running: Mutex::new(running), last: Mutex::new(Instant::now()) });
            }
            LockLine::Held(holder) => {
                let _ = running.close();
                return Err(DeployError::Locked {
                    host,
                    lock: format!("{airflow_home}/.pad/lock"),
                    holder: holder.to_owned(),
                });
            }
            LockLine::Other => {
                seen.push_str(&line);
                seen.push('\n');
            }
        }
    }
}
