//! The deploy itself: every host in parallel, each through the ten steps, with the
//! failure policy applied between preparing a release and switching to it; and the
//! `releases` and `rollback` operations.

use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};

use camino::Utf8Path;
use pad_layout::Target;

use crate::classify::check;
use crate::clock::{Clock, unix_now};
use crate::fault::{self, FailAt};
use crate::host::{HostSpec, Resolved, resolve};
use crate::plan::Plan;
use crate::scripts;
use crate::session::Session;
use crate::shell::Shell;
use crate::{
    ConnectOptions, DeployError, DeployOptions, DeployReport, HostReleases, HostReport, HostState, Progress,
    ReleaseInfo, RollbackReport, Step,
};

/// Deploys the package of `options` to every host of `target`, in parallel.
///
/// Each host goes through steps 1 to 7 and ends with its release complete under
/// `releases/<id>`; then, if no more than `failure_limit` hosts failed, every ready host
/// switches (step 8); if the switches push the failures over the limit, the hosts that
/// switched are switched back. Errors that concern the whole deploy (an unreadable
/// package, a target whose variables are unset) are returned; a host's failure is in
/// its [`HostReport`].
pub fn deploy(target: &Target, options: &DeployOptions, progress: &dyn Progress) -> Result<DeployReport, DeployError> {
    deploy_failing_at(target, options, FailAt::default(), progress)
}

/// [`deploy`], stopped at `fail` as if the client were killed there.
pub(crate) fn deploy_failing_at(
    target: &Target,
    options: &DeployOptions,
    fail: FailAt,
    progress: &dyn Progress,
) -> Result<DeployReport, DeployError> {
    let resolved = resolve(target, &options.connect)?;
    // A package is untrusted input: all of it, the packed environments' entries
    // included, must match its manifest and pass the extraction rules before any byte
    // of it reaches a host. The plan is then made from the manifest checked here.
    let verify = pad_bundle::VerifyOptions { checked_envs: options.checked_envs.as_deref() };
    let manifest = pad_bundle::verify_with(&options.package, &verify)
        .map_err(|source| DeployError::Package { path: options.package.clone(), source })?
        .manifest;
    let owner = owner();
    let info = format!(
        "version={}\ncommit={}\ndirty={}\nbuilt_by={owner}\nbuilt_at={}\n",
        manifest.version,
        manifest.commit.as_deref().unwrap_or(""),
        manifest.dirty,
        unix_now()
    );
    let plan = Plan::new(&options.package, manifest, &resolved.env_text, &resolved.runtime_text, &info)?;

    let hosts = resolved.hosts.len();
    let failures = AtomicUsize::new(0);
    let barrier = Barrier::new(hosts);
    let limit = options.failure_limit;
    let reports: Vec<HostReport> = std::thread::scope(|scope| {
        let handles: Vec<_> = resolved
            .hosts
            .iter()
            .map(|spec| {
                let (plan, resolved, failures, barrier, owner) = (&plan, &resolved, &failures, &barrier, &owner);
                scope
                    .spawn(move || deploy_host(spec, resolved, plan, options, fail, owner, progress, failures, barrier))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a host's deploy panicked")).collect()
    });
    let failed = failures.load(Ordering::SeqCst);
    Ok(DeployReport {
        target: resolved.name.clone(),
        namespace: resolved.namespace.clone(),
        release_id: plan.release_id.clone(),
        version: plan.manifest.version.clone(),
        failure_limit: limit,
        aborted: failed > limit,
        hosts: reports,
    })
}

#[allow(clippy::too_many_arguments)]
fn deploy_host(
    spec: &HostSpec,
    resolved: &Resolved,
    plan: &Plan,
    options: &DeployOptions,
    fail: FailAt,
    owner: &str,
    progress: &dyn Progress,
    failures: &AtomicUsize,
    barrier: &Barrier,
) -> HostReport {
    let name = spec.name().to_owned();
    let mut report = HostReport::failed(&name, &plan.release_id);
    let mut clock = Clock::new(&name, progress, fail);

    // Phase 1: steps 1 to 7.
    let mut session = None;
    let prepared = match Session::open(spec, resolved, &options.connect, owner, &mut clock, &mut report) {
        Ok(mut s) => {
            let result = s.prepare(plan, options.gate.as_deref(), &mut clock, &mut report);
            session = Some(s);
            result
        }
        Err(err) => Err(err),
    };
    let prepared = match (prepared, session.as_mut()) {
        (Err(err), Some(s)) => Err(s.diagnose(err)),
        (other, _) => other,
    };
    if let Err(err) = &prepared {
        tracing::debug!(host = %name, "prepare failed: {err}");
        if matches!(err, DeployError::Refused { .. }) {
            report.state = HostState::NotSwitched;
        }
        failures.fetch_add(1, Ordering::SeqCst);
        // A killed client cleans nothing up (the next run does); a failure it sees, it
        // cleans up itself, so a full disk gets its room back now. A host that stopped
        // answering is not asked again: that would cost another I/O timeout.
        if let Some(s) = session.as_mut()
            && !fault::is_injected(err)
            && !matches!(err, DeployError::Transport { .. })
        {
            let full = matches!(err, DeployError::DiskFull { .. });
            match s.clean_up(plan, full) {
                Ok(cleaned) => {
                    for path in cleaned {
                        clock.note(&mut report, &format!("removed `{path}`, which this failed run wrote"));
                    }
                }
                Err(clean_err) => clock.note(
                    &mut report,
                    &format!("could not remove what this run wrote: {}", pad_layout::error_chain(&clean_err)),
                ),
            }
        }
    }
    barrier.wait();

    // Phase 2: step 8, if the failures allow.
    let hosts = resolved.hosts.len();
    let mut switched = None;
    let mut outcome = prepared;
    if outcome.is_ok() {
        let failed = failures.load(Ordering::SeqCst);
        if failed > options.failure_limit {
            report.state = HostState::NotSwitched;
            outcome =
                Err(DeployError::FailureLimit { host: name.clone(), failed, hosts, limit: options.failure_limit });
        }
    }
    if let (Ok(prepared), Some(s)) = (&outcome, session.as_mut()) {
        let prepared = prepared.clone();
        match s.switch_step(plan, &prepared, &mut clock, &mut report) {
            Ok(done) => switched = done,
            Err(err) => {
                failures.fetch_add(1, Ordering::SeqCst);
                outcome = Err(err);
            }
        }
    }
    barrier.wait();

    // Phase 3: undo a switch when others failed past the limit; prune; unlock.
    let failed = failures.load(Ordering::SeqCst);
    if let (Some(undo), Some(s)) = (&switched, session.as_mut())
        && failed > options.failure_limit
        && outcome.is_ok()
    {
        clock.note(
            &mut report,
            &format!(
                "{failed} of {hosts} hosts failed, more than the limit of {}: switching back",
                options.failure_limit
            ),
        );
        let limit_error = DeployError::FailureLimit { host: name.clone(), failed, hosts, limit: options.failure_limit };
        match s.undo_switch(plan, undo) {
            Ok(()) => {
                report.state = HostState::RolledBack;
                outcome = Err(limit_error);
            }
            Err(err) => {
                clock.note(&mut report, &format!("switching back failed: {}", pad_layout::error_chain(&err)));
                outcome = Err(err);
            }
        }
    } else if let (Ok(prepared), Some(s)) = (&outcome, session.as_mut()) {
        report.state =
            if switched.is_some() || !prepared.was_current { HostState::Switched } else { HostState::Unchanged };
        // An unchanged host was pruned when it last switched.
        if report.state == HostState::Unchanged {
            let _ = clock.begin(Step::Prune, &mut report);
        } else if let Err(err) = s.prune_step(plan, resolved.keep, &mut clock, &mut report) {
            // The new release serves; a failed prune is reported and retried next time.
            clock.note(&mut report, &format!("prune failed: {}", pad_layout::error_chain(&err)));
        }
    }
    if let Some(s) = session {
        let _ = clock.begin(Step::Unlock, &mut report);
        s.unlock();
    }
    clock.end(&mut report);
    if let Err(err) = outcome {
        if report.state != HostState::RolledBack && report.state != HostState::NotSwitched {
            report.state = HostState::Failed;
        }
        if report.error.is_none() {
            report.error = Some(err);
        }
    }
    report
}

/// Lists the releases on every host of `target`.
pub fn releases(target: &Target, options: &ConnectOptions) -> Result<Vec<HostReleases>, DeployError> {
    let resolved = resolve(target, options)?;
    Ok(std::thread::scope(|scope| {
        let handles: Vec<_> = resolved
            .hosts
            .iter()
            .map(|spec| {
                let resolved = &resolved;
                scope.spawn(move || {
                    let host = spec.name().to_owned();
                    match list_host(spec, resolved) {
                        Ok(releases) => HostReleases { host, releases, error: None },
                        Err(err) => HostReleases { host, releases: Vec::new(), error: Some(err) },
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("listing panicked")).collect()
    }))
}

fn list_host(spec: &HostSpec, resolved: &Resolved) -> Result<Vec<ReleaseInfo>, DeployError> {
    let mut shell = Shell::connect(spec, resolved)?;
    shell.check_access()?;
    let exec = shell.run(Step::Inspect, &scripts::List { home: &resolved.airflow_home }.text(), None)?;
    let exec = check(shell.name(), &resolved.airflow_home, Step::Inspect, exec)?;
    Ok(scripts::List::parse(&exec.output))
}

/// Switches every host of `target` back to the release before the current one, or to
/// `to`, after checking it (files and environments) as a deploy would.
pub fn rollback(
    target: &Target,
    options: &ConnectOptions,
    to: Option<&str>,
    progress: &dyn Progress,
) -> Result<Vec<RollbackReport>, DeployError> {
    let resolved = resolve(target, options)?;
    let owner = owner();
    Ok(std::thread::scope(|scope| {
        let handles: Vec<_> = resolved
            .hosts
            .iter()
            .map(|spec| {
                let (resolved, owner) = (&resolved, &owner);
                scope.spawn(move || rollback_host(spec, resolved, options, owner, to, progress))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("rollback panicked")).collect()
    }))
}

fn rollback_host(
    spec: &HostSpec,
    resolved: &Resolved,
    options: &ConnectOptions,
    owner: &str,
    to: Option<&str>,
    progress: &dyn Progress,
) -> RollbackReport {
    let name = spec.name().to_owned();
    let mut report = HostReport::failed(&name, "");
    let mut clock = Clock::new(&name, progress, FailAt::default());
    let mut from = None;
    let mut chosen = None;
    let result = (|| {
        if let Some(ns) = &resolved.namespace {
            // Taking the lock would make the namespace: a mistyped name must not.
            let mut shell = Shell::connect(spec, resolved)?;
            shell.check_access()?;
            let exec = shell.run(Step::Inspect, &scripts::List { home: &resolved.airflow_home }.text(), None)?;
            if exec.output.lines().any(|l| l == "pad-no-home") {
                return Err(DeployError::NoNamespace { host: name.clone(), name: ns.clone() });
            }
        }
        let mut session = Session::open(spec, resolved, options, owner, &mut clock, &mut report)?;
        let state = session.inspect(&mut clock, &mut report)?;
        from = state.current.clone();
        let id = match to {
            Some(id) => {
                if !state.releases.contains(id) {
                    return Err(DeployError::NoSuchRelease {
                        host: name.clone(),
                        id: id.to_owned(),
                        available: state.releases.iter().cloned().collect::<Vec<_>>().join(", "),
                    });
                }
                id.to_owned()
            }
            None => state.previous().ok_or_else(|| DeployError::NoPrevious {
                host: name.clone(),
                current: state.current.clone().unwrap_or_else(|| "none".into()),
            })?,
        };
        chosen = Some(id.clone());
        session.roll_back_to(&id, &mut clock, &mut report)?;
        clock.begin(Step::Unlock, &mut report)?;
        session.unlock();
        Ok(())
    })();
    clock.end(&mut report);
    RollbackReport { host: name, from, to: chosen, error: result.err() }
}

/// Who deploys: `user@host pid N`, recorded in the lock and the release.
pub(crate) fn owner() -> String {
    let user = pad_process::Cmd::new("id", Utf8Path::new("/")).arg("-un").read().unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    format!("{user}@{host} pid {}", std::process::id())
}
