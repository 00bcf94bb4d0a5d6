//! The deploy itself: every host in parallel, each through the ten steps, with the
//! failure policy applied between preparing a release and switching to it; and the
//! `releases` and `rollback` operations.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};

use camino::Utf8Path;
use pad_bundle::Manifest;
use pad_layout::Target;

use crate::classify::{self, check};
use crate::clock::{Clock, nonce, stamp, unix_now};
use crate::fault::{self, FailAt};
use crate::host::{Exec, Feed, HostSpec, Resolved, resolve};
use crate::lock::HeldLock;
use crate::plan::Plan;
use crate::scripts::{self, HostContents};
use crate::shell::Shell;
use crate::upload;
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
    let plan = Plan::new(&options.package, manifest, &resolved.env_text, &info)?;

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
            let result = s.prepare(plan, &mut clock, &mut report);
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
        let home = resolved.airflow_home.as_str();
        let text = session.sh(Step::Verify, &scripts::ReadManifest { home, id: &id }.text(), None)?;
        let json = scripts::ReadManifest::parse(&text.output);
        let manifest =
            Manifest::from_json(json.as_bytes(), &format!("{name}:releases/{id}/.pad-release/MANIFEST.json")).map_err(
                |_| DeployError::Protocol { host: name.clone(), step: Step::Verify, output: text.output.clone() },
            )?;
        let envs: Vec<&str> = manifest.projects.iter().map(|p| p.name.as_str()).collect();
        clock.begin(Step::Verify, &mut report)?;
        let quick = session.quick_verify;
        let verify = scripts::Verify { home, release_dir: &id, id: &id, envs: &envs, quick };
        session.sh_ok(Step::Verify, &verify.text(), None)?;
        clock.begin(Step::SmokeTest, &mut report)?;
        session.smoke(&id, &manifest.projects)?;
        clock.begin(Step::Switch, &mut report)?;
        let projects: Vec<&str> = manifest.projects.iter().map(|p| p.name.as_str()).collect();
        let switch = scripts::Switch { home, id: &id, stamp: &stamp(), projects: &projects, fail_midway: false };
        let out = session.sh_ok(Step::Switch, &switch.text(), None)?;
        for line in scripts::Switch::parse(&out.output).moved_aside {
            clock.note(&mut report, &format!("moved aside {line}"));
        }
        clock.begin(Step::Unlock, &mut report)?;
        session.unlock();
        Ok(())
    })();
    clock.end(&mut report);
    RollbackReport { host: name, from, to: chosen, error: result.err() }
}

/// How phase 1 left a host.
#[derive(Debug, Clone)]
struct Prepared {
    /// The new release was already current.
    was_current: bool,
    /// The release `current` pointed at.
    previous: Option<String>,
}

/// What undoing a switch needs.
#[derive(Debug, Clone)]
struct Undo {
    previous: Option<String>,
    asides: Vec<(String, String)>,
}

/// A host under deploy: its shell, the target, and the lock it holds.
struct Session<'a> {
    shell: Shell,
    resolved: &'a Resolved,
    lock: HeldLock,
    nonce: String,
    /// Whether a release checked before may be taken as checked while its stamp matches.
    quick_verify: bool,
}

impl<'a> Session<'a> {
    /// Steps 1 and 2: connect, check sudo, take the lock.
    fn open(
        spec: &HostSpec,
        resolved: &'a Resolved,
        options: &ConnectOptions,
        owner: &str,
        clock: &mut Clock<'_>,
        report: &mut HostReport,
    ) -> Result<Session<'a>, DeployError> {
        clock.begin(Step::Connect, report)?;
        // The lock script is the first command and the sudo check: refused, it runs nothing.
        let mut shell = Shell::connect(spec, resolved)?;
        let nonce = nonce();
        clock.begin(Step::Lock, report)?;
        let mut cleared = |stale: &str| clock.note(report, &format!("cleared a stale lock: {stale}"));
        let lock = HeldLock::take(&mut shell, &resolved.airflow_home, owner, options.lock_wait, &mut cleared)?;
        Ok(Session { shell, resolved, lock, nonce, quick_verify: !options.full_verify })
    }

    fn unlock(self) {
        self.lock.release();
    }

    /// Runs `script` as the service user.
    fn sh(&mut self, step: Step, script: &str, feed: Option<&mut Feed<'_>>) -> Result<Exec, DeployError> {
        self.lock.heartbeat();
        let exec = self.shell.run(step, script, feed)?;
        self.lock.heartbeat();
        Ok(exec)
    }

    /// Runs `script` as the service user; a non-zero exit is an error.
    fn sh_ok(&mut self, step: Step, script: &str, feed: Option<&mut Feed<'_>>) -> Result<Exec, DeployError> {
        let exec = self.sh(step, script, feed)?;
        check(self.shell.name(), &self.resolved.airflow_home, step, exec)
    }

    fn inspect(&mut self, clock: &mut Clock<'_>, report: &mut HostReport) -> Result<HostContents, DeployError> {
        clock.begin(Step::Inspect, report)?;
        let exec = self.sh_ok(Step::Inspect, &scripts::Inspect { home: &self.resolved.airflow_home }.text(), None)?;
        let inspected = scripts::Inspect::parse(&exec.output);
        for line in &inspected.cleaned {
            clock.note(report, &format!("removed `{line}` left by an interrupted run"));
        }
        if !inspected.complete {
            return Err(self.protocol(Step::Inspect, &exec.output));
        }
        Ok(inspected.contents)
    }

    /// A failed command on a host whose `AIRFLOW_HOME` has (almost) no space left is
    /// reported as a full disk, whatever the command said.
    fn diagnose(&mut self, err: DeployError) -> DeployError {
        let DeployError::Remote { step, .. } = err else { return err };
        let df = self.sh(step, &scripts::FreeSpace { home: &self.resolved.airflow_home }.text(), None);
        let space = df.ok().and_then(|exec| scripts::FreeSpace::parse(&exec.output));
        classify::low_space(err, space, &self.resolved.airflow_home)
    }

    fn protocol(&self, step: Step, output: &str) -> DeployError {
        DeployError::Protocol { host: self.shell.name().to_owned(), step, output: output.to_owned() }
    }

    /// Steps 3 to 7: the release complete under `releases/<id>`, checked.
    fn prepare(
        &mut self,
        plan: &Plan,
        clock: &mut Clock<'_>,
        report: &mut HostReport,
    ) -> Result<Prepared, DeployError> {
        let id = plan.release_id.as_str();
        let mut state = self.inspect(clock, report)?;
        report.previous = state.current.clone();
        let envs: Vec<&str> = plan.envs.iter().map(|p| p.name.as_str()).collect();

        if state.releases.contains(id) {
            // Already there: check it against the manifest, nothing to upload.
            report.objects_reused = plan.objects.len();
            clock.begin(Step::Upload, report)?;
            clock.begin(Step::Unpack, report)?;
            clock.begin(Step::Verify, report)?;
            match self.verify(plan, id, self.quick_verify) {
                Ok(quick) => {
                    if quick {
                        clock.note(
                            report,
                            "checked by size, mtime and inode against its last full check (full_verify hashes it)",
                        );
                    }
                    let was_current = state.current.as_deref() == Some(id);
                    clock.begin(Step::SmokeTest, report)?;
                    if !was_current {
                        self.smoke(id, &plan.manifest.projects)?;
                    }
                    return Ok(Prepared { was_current, previous: state.current.clone() });
                }
                Err(err) if state.current.as_deref() == Some(id) => return Err(err),
                Err(err) => {
                    clock.note(
                        report,
                        &format!("release `{id}` was damaged and is rebuilt: {}", pad_layout::error_chain(&err)),
                    );
                    let discard = scripts::Discard {
                        home: &self.resolved.airflow_home,
                        keys: &[],
                        release: Some((id, &self.nonce)),
                    };
                    self.sh_ok(Step::Verify, &discard.text(), None)?;
                    state = self.inspect(clock, report)?;
                }
            }
        }

        let staging = self.staging();
        let tmp = self.tmp_release(id);
        clock.begin(Step::Upload, report)?;
        self.upload(plan, &state.store, &staging, clock.midway(Step::Upload), report)?;
        clock.note(
            report,
            &format!(
                "uploaded {} file(s), {} byte(s) ({} on the wire); {} already there",
                report.objects_uploaded, report.object_bytes, report.bytes_uploaded, report.objects_reused
            ),
        );

        clock.begin(Step::Unpack, report)?;
        let home = self.resolved.airflow_home.as_str();
        let unpack = scripts::Unpack {
            home,
            staging: &staging,
            tmp: &tmp,
            envs: &envs,
            fail_midway: clock.midway(Step::Unpack),
        };
        self.sh_ok(Step::Unpack, &unpack.text(), None)?;

        clock.begin(Step::Verify, report)?;
        self.verify(plan, &tmp, false)?;

        clock.begin(Step::SmokeTest, report)?;
        self.smoke(&tmp, &plan.manifest.projects)?;
        self.sh_ok(Step::SmokeTest, &scripts::Finish { home, tmp: &tmp, id }.text(), None)?;
        self.sh_ok(Step::SmokeTest, &scripts::RemoveStaging { home, staging: &staging }.text(), None)?;
        Ok(Prepared { was_current: false, previous: state.current.clone() })
    }

    /// Where this run stages its upload, under `AIRFLOW_HOME`.
    fn staging(&self) -> String {
        format!(".pad/staging-{}", self.nonce)
    }

    /// Where this run builds the release `id`, under `releases/`.
    fn tmp_release(&self, id: &str) -> String {
        format!(".tmp-{id}-{}", self.nonce)
    }

    /// Removes what this run wrote before it failed (see [`scripts::CleanUp`]); returns
    /// what it removed.
    fn clean_up(&mut self, plan: &Plan, drop_unused: bool) -> Result<Vec<String>, DeployError> {
        let (staging, tmp) = (self.staging(), self.tmp_release(&plan.release_id));
        let script = scripts::CleanUp { home: &self.resolved.airflow_home, staging: &staging, tmp: &tmp, drop_unused };
        let exec = self.sh_ok(Step::Unlock, &script.text(), None)?;
        let result = scripts::CleanUp::parse(&exec.output);
        let mut cleaned = result.cleaned;
        if result.objects != 0 {
            cleaned.push(format!("{} store object(s) no release uses", result.objects));
        }
        Ok(cleaned)
    }

    /// Step 4: a gzipped tar of the metadata and the objects the store lacks, streamed
    /// from the package into the host's staging directory.
    fn upload(
        &mut self,
        plan: &Plan,
        store: &BTreeSet<String>,
        staging: &str,
        fail_midway: bool,
        report: &mut HostReport,
    ) -> Result<(), DeployError> {
        let mut stream = upload::Stream::new(plan, store, fail_midway);
        report.objects_uploaded = stream.objects;
        report.object_bytes = stream.object_bytes;
        report.objects_reused = plan.objects.len() - stream.objects;
        let lock = &self.lock;
        let alive = || lock.heartbeat();
        let mut feed = |out: &mut dyn Write| stream.write(out, &alive);
        let script = scripts::Upload { home: &self.resolved.airflow_home, staging }.text();
        let exec = self.shell.run(Step::Upload, &script, Some(&mut feed))?;
        report.bytes_uploaded = stream.wire_bytes();
        if let Some(source) = stream.package_error() {
            return Err(DeployError::PackageIo { path: plan.package.clone(), source });
        }
        if fail_midway && let Some(err) = fault::injected(self.shell.name(), Step::Upload) {
            return Err(err);
        }
        if let Some(err) = exec.feed_error.as_ref().filter(|_| exec.status == 0) {
            return Err(DeployError::Transport {
                host: self.shell.name().to_owned(),
                step: Step::Upload,
                source: io::Error::new(err.kind(), err.to_string()),
            });
        }
        check(self.shell.name(), &self.resolved.airflow_home, Step::Upload, exec)?;
        Ok(())
    }

    /// Step 6 on a release directory under `releases/`.
    /// Step 6: the release in `releases/<dir>` against the plan's checksums; `quick` lets
    /// a matching stamp of an earlier full check stand for hashing.
    /// Returns whether the stamp stood for hashing.
    fn verify(&mut self, plan: &Plan, dir: &str, quick: bool) -> Result<bool, DeployError> {
        let envs: Vec<&str> = plan.envs.iter().map(|p| p.name.as_str()).collect();
        let id = plan.release_id.as_str();
        let script = scripts::Verify { home: &self.resolved.airflow_home, release_dir: dir, id, envs: &envs, quick };
        let exec = self.sh(Step::Verify, &script.text(), None)?;
        let verified = scripts::Verify::parse(&exec.output);
        let mut failed = verified.failed;
        if exec.status == 0 && verified.sums != plan.sums_sha256 {
            failed.push(format!("{}/sha256sums (the release was made from other contents)", crate::plan::RELEASE_META));
        }
        if exec.status != 0 && failed.is_empty() {
            return check(self.shell.name(), &self.resolved.airflow_home, Step::Verify, exec).map(|_| false);
        }
        if failed.is_empty() {
            return Ok(verified.quick);
        }
        let keys: Vec<&str> =
            plan.files.iter().filter(|f| failed.iter().any(|p| p == f.path.as_str())).map(|f| f.key.as_str()).collect();
        let discard = scripts::Discard { home: &self.resolved.airflow_home, keys: &keys, release: None };
        self.sh_ok(Step::Verify, &discard.text(), None)?;
        let count = failed.len();
        failed.truncate(10);
        Err(DeployError::Verify {
            host: self.shell.name().to_owned(),
            release: dir.to_owned(),
            count,
            files: failed.join(", "),
        })
    }

    /// Step 7: each project's interpreter and package, as the service user.
    fn smoke(&mut self, dir: &str, projects: &[pad_bundle::ProjectEntry]) -> Result<(), DeployError> {
        for project in projects {
            let script = scripts::Smoke {
                home: &self.resolved.airflow_home,
                release_dir: dir,
                project: &project.name,
                package: project.package.as_deref(),
            };
            let exec = self.sh(Step::SmokeTest, &script.text(), None)?;
            classify::smoke(self.shell.name(), &self.resolved.airflow_home, self.shell.runs_as(), project, exec)?;
        }
        Ok(())
    }

    /// Step 8. Returns what undoing it needs, or `None` when the release was current.
    fn switch_step(
        &mut self,
        plan: &Plan,
        prepared: &Prepared,
        clock: &mut Clock<'_>,
        report: &mut HostReport,
    ) -> Result<Option<Undo>, DeployError> {
        clock.begin(Step::Switch, report)?;
        if prepared.was_current {
            return Ok(None);
        }
        let projects: Vec<&str> = plan.manifest.projects.iter().map(|p| p.name.as_str()).collect();
        let script = scripts::Switch {
            home: &self.resolved.airflow_home,
            id: &plan.release_id,
            stamp: &stamp(),
            projects: &projects,
            fail_midway: clock.midway(Step::Switch),
        };
        let exec = self.sh_ok(Step::Switch, &script.text(), None)?;
        let switched = scripts::Switch::parse(&exec.output);
        for line in &switched.moved_aside {
            clock.note(
                report,
                &format!("moved aside `{line}` (a plain directory or file stood where the link goes; it is kept)"),
            );
        }
        let asides = switched.asides();
        Ok(Some(Undo { previous: prepared.previous.clone(), asides }))
    }

    fn undo_switch(&mut self, plan: &Plan, undo: &Undo) -> Result<(), DeployError> {
        let projects: Vec<&str> = plan.manifest.projects.iter().map(|p| p.name.as_str()).collect();
        let home = self.resolved.airflow_home.as_str();
        let script = match &undo.previous {
            Some(previous) => {
                scripts::Switch { home, id: previous, stamp: &stamp(), projects: &projects, fail_midway: false }.text()
            }
            None => scripts::Unswitch { home, projects: &projects, asides: &undo.asides }.text(),
        };
        self.sh_ok(Step::Switch, &script, None).map(|_| ())
    }

    /// Step 9: releases beyond `keep` (never the current or previous one), then unused
    /// store objects.
    fn prune_step(
        &mut self,
        plan: &Plan,
        keep: usize,
        clock: &mut Clock<'_>,
        report: &mut HostReport,
    ) -> Result<(), DeployError> {
        clock.begin(Step::Prune, report)?;
        let home = self.resolved.airflow_home.as_str();
        let exec = self.sh_ok(Step::Prune, &scripts::List { home }.text(), None)?;
        let contents = scripts::List::contents(&exec.output);
        let doomed = scripts::prune_list(&contents, keep, &plan.release_id);
        let ids: Vec<&str> = doomed.iter().map(String::as_str).collect();
        let exec = self.sh_ok(Step::Prune, &scripts::Prune { home, ids: &ids, nonce: &self.nonce }.text(), None)?;
        let pruned = scripts::Prune::parse(&exec.output);
        report.pruned_releases = pruned.releases;
        report.pruned_objects = pruned.objects;
        if !report.pruned_releases.is_empty() {
            clock.note(report, &format!("pruned {}", report.pruned_releases.join(", ")));
        }
        Ok(())
    }
}

/// Who deploys: `user@host pid N`, recorded in the lock and the release.
fn owner() -> String {
    let user = pad_process::Cmd::new("id", Utf8Path::new("/")).arg("-un").read().unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    format!("{user}@{host} pid {}", std::process::id())
}
