//! One host's steps: a [`Session`] connects, takes the lock, prepares a release (steps
//! 3 to 7), switches to it, undoes the switch, prunes and cleans up; and, for a
//! rollback, checks an existing release and switches back to it.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::time::Duration;

use pad_bundle::Manifest;

use crate::classify::{self, check};
use crate::clock::{Clock, nonce, stamp};
use crate::fault;
use crate::gate::Gate;
use crate::host::{Exec, Feed, HostSpec, Resolved};
use crate::lock::HeldLock;
use crate::plan::{EnvKey, Plan};
use crate::scripts::{self, HostContents};
use crate::shell::Shell;
use crate::upload;
use crate::{ConnectOptions, DeployError, HostReport, Step};

/// How phase 1 left a host.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// The new release was already current.
    pub(crate) was_current: bool,
    /// The release `current` pointed at.
    pub(crate) previous: Option<String>,
}

/// What undoing a switch needs.
#[derive(Debug, Clone)]
pub(crate) struct Undo {
    previous: Option<String>,
    asides: Vec<(String, String)>,
}

/// A host under deploy: its shell, the target, and the lock it holds.
pub(crate) struct Session<'a> {
    shell: Shell,
    resolved: &'a Resolved,
    lock: HeldLock,
    nonce: String,
    /// Whether a release checked before may be taken as checked while its stamp matches.
    quick_verify: bool,
}

impl<'a> Session<'a> {
    /// Steps 1 and 2: connect, check sudo, take the lock.
    pub(crate) fn open(
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
        let lock =
            HeldLock::take(&mut shell, &resolved.airflow_home, &resolved.root, owner, options.lock_wait, &mut cleared)?;
        Ok(Session { shell, resolved, lock, nonce, quick_verify: !options.full_verify })
    }

    pub(crate) fn unlock(self) {
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

    pub(crate) fn inspect(
        &mut self,
        clock: &mut Clock<'_>,
        report: &mut HostReport,
    ) -> Result<HostContents, DeployError> {
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
    pub(crate) fn diagnose(&mut self, err: DeployError) -> DeployError {
        let DeployError::Remote { step, .. } = err else { return err };
        let df = self.sh(step, &scripts::FreeSpace { home: &self.resolved.airflow_home }.text(), None);
        let space = df.ok().and_then(|exec| scripts::FreeSpace::parse(&exec.output));
        classify::low_space(err, space, &self.resolved.airflow_home)
    }

    fn protocol(&self, step: Step, output: &str) -> DeployError {
        DeployError::Protocol { host: self.shell.name().to_owned(), step, output: output.to_owned() }
    }

    /// Steps 3 to 7: the release complete under `releases/<id>`, checked.
    ///
    /// With a `gate`, the release is complete but still under its temporary name when the
    /// gate is awaited; it is made (renamed into `releases/`) only once the gate opens.
    /// Refused, the error makes the caller remove what was prepared.
    pub(crate) fn prepare(
        &mut self,
        plan: &Plan,
        gate: Option<&Gate>,
        clock: &mut Clock<'_>,
        report: &mut HostReport,
    ) -> Result<Prepared, DeployError> {
        let id = plan.release_id.as_str();
        let mut state = self.inspect(clock, report)?;
        report.previous = state.current.clone();

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
                    self.hold(gate, clock, report)?;
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
        self.refused(gate)?;
        clock.begin(Step::Upload, report)?;
        self.upload(plan, &state.store, &staging, clock.midway(Step::Upload), report)?;
        clock.note(
            report,
            &format!(
                "uploaded {} file(s), {} byte(s) ({} on the wire); {} already there",
                report.objects_uploaded, report.object_bytes, report.bytes_uploaded, report.objects_reused
            ),
        );

        self.refused(gate)?;
        clock.begin(Step::Unpack, report)?;
        let home = self.resolved.airflow_home.as_str();
        let root = self.resolved.root.as_str();
        let env_keys = plan.env_keys();
        let unpack = scripts::Unpack {
            home,
            root,
            staging: &staging,
            tmp: &tmp,
            envs: &env_keys,
            fail_midway: clock.midway(Step::Unpack),
        };
        let unpacked = self.sh_ok(Step::Unpack, &unpack.text(), None)?;
        let (linked, tested) = scripts::verified_envs(&unpacked.output);
        for project in &linked {
            let why = if tested.contains(project) {
                "linked, not unpacked, and not smoke-tested again (its project files are unchanged too)"
            } else {
                "linked, not unpacked (its project files changed: smoke-tested)"
            };
            clock.note(
                report,
                &format!(
                    "environment `{project}` is byte-identical to one unpacked and smoke-tested on this host: {why}"
                ),
            );
        }

        clock.begin(Step::Verify, report)?;
        self.verify(plan, &tmp, false)?;

        clock.begin(Step::SmokeTest, report)?;
        let untested: Vec<pad_bundle::ProjectEntry> =
            plan.manifest.projects.iter().filter(|p| !tested.contains(&p.name)).cloned().collect();
        self.smoke(&tmp, &untested)?;
        let fresh: Vec<EnvKey<'_>> =
            env_keys.iter().filter(|e| !tested.iter().any(|t| t == e.project)).cloned().collect();
        if !fresh.is_empty() {
            // Only now, after the smoke test passed: the marker of a verified environment.
            let record = scripts::RecordEnvs { home, root, tmp: &tmp, envs: &fresh };
            if let Err(err) = self.sh_ok(Step::SmokeTest, &record.text(), None) {
                clock.note(
                    report,
                    &format!("could not keep the tested environments: {}", pad_layout::error_chain(&err)),
                );
            }
        }
        self.hold(gate, clock, report)?;
        self.sh_ok(Step::SmokeTest, &scripts::Finish { home, tmp: &tmp, id }.text(), None)?;
        self.sh_ok(Step::SmokeTest, &scripts::RemoveStaging { home, staging: &staging }.text(), None)?;
        Ok(Prepared { was_current: false, previous: state.current.clone() })
    }

    /// Waits for `gate`, if there is one, renewing the lock meanwhile.
    fn hold(&mut self, gate: Option<&Gate>, clock: &mut Clock<'_>, report: &mut HostReport) -> Result<(), DeployError> {
        let Some(gate) = gate else { return Ok(()) };
        clock.wait_for(report, gate.what());
        let lock = &self.lock;
        gate.wait(Duration::from_secs(1), || lock.heartbeat())
            .map_err(|reason| DeployError::Refused { host: self.shell.name().to_owned(), reason })
    }

    /// Stops early when `gate` was already refused: nothing more is uploaded or unpacked.
    fn refused(&self, gate: Option<&Gate>) -> Result<(), DeployError> {
        match gate.and_then(Gate::refused) {
            Some(reason) => Err(DeployError::Refused { host: self.shell.name().to_owned(), reason }),
            None => Ok(()),
        }
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
    pub(crate) fn clean_up(&mut self, plan: &Plan, drop_unused: bool) -> Result<Vec<String>, DeployError> {
        let (staging, tmp) = (self.staging(), self.tmp_release(&plan.release_id));
        let script = scripts::CleanUp {
            home: &self.resolved.airflow_home,
            root: &self.resolved.root,
            staging: &staging,
            tmp: &tmp,
            drop_unused,
        };
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
            return Err(self.shell.transport(Step::Upload, io::Error::new(err.kind(), err.to_string())));
        }
        check(self.shell.name(), &self.resolved.airflow_home, Step::Upload, exec)?;
        Ok(())
    }

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
    pub(crate) fn switch_step(
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
            root: &self.resolved.root,
            namespace: self.resolved.namespace.as_deref(),
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

    pub(crate) fn undo_switch(&mut self, plan: &Plan, undo: &Undo) -> Result<(), DeployError> {
        let projects: Vec<&str> = plan.manifest.projects.iter().map(|p| p.name.as_str()).collect();
        let home = self.resolved.airflow_home.as_str();
        let script = match &undo.previous {
            Some(previous) => {
                let (root, namespace) = (self.resolved.root.as_str(), self.resolved.namespace.as_deref());
                let fail_midway = false;
                scripts::Switch {
                    home,
                    root,
                    namespace,
                    id: previous,
                    stamp: &stamp(),
                    projects: &projects,
                    fail_midway,
                }
                .text()
            }
            None => {
                let (root, namespace) = (self.resolved.root.as_str(), self.resolved.namespace.as_deref());
                scripts::Unswitch { home, root, namespace, projects: &projects, asides: &undo.asides }.text()
            }
        };
        self.sh_ok(Step::Switch, &script, None).map(|_| ())
    }

    /// Step 9: releases beyond `keep` (never the current or previous one), then unused
    /// store objects.
    pub(crate) fn prune_step(
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
        if doomed.is_empty() {
            // Store objects fall out of use when a release goes (pruned, or a removed
            // namespace, whose `rm` collects them itself): with no release to remove, the
            // collection waits for the next prune that removes one (so do the objects a
            // failed run uploaded, unless it filled the disk and removed them at once).
            return Ok(());
        }
        let ids: Vec<&str> = doomed.iter().map(String::as_str).collect();
        let exec = self.sh_ok(
            Step::Prune,
            &scripts::Prune { home, root: &self.resolved.root, ids: &ids, nonce: &self.nonce }.text(),
            None,
        )?;
        let pruned = scripts::Prune::parse(&exec.output);
        report.pruned_releases = pruned.releases;
        report.pruned_objects = pruned.objects;
        if !report.pruned_releases.is_empty() {
            clock.note(report, &format!("pruned {}", report.pruned_releases.join(", ")));
        }
        Ok(())
    }

    /// Steps 6 to 8 of a rollback to the release `id`: its manifest read back, the
    /// release checked as a deploy would, then switched to.
    pub(crate) fn roll_back_to(
        &mut self,
        id: &str,
        clock: &mut Clock<'_>,
        report: &mut HostReport,
    ) -> Result<(), DeployError> {
        let home = self.resolved.airflow_home.as_str();
        let name = self.shell.name().to_owned();
        let text = self.sh(Step::Verify, &scripts::ReadManifest { home, id }.text(), None)?;
        let json = scripts::ReadManifest::parse(&text.output);
        let manifest =
            Manifest::from_json(json.as_bytes(), &format!("{name}:releases/{id}/.pad-release/MANIFEST.json")).map_err(
                |_| DeployError::Protocol { host: name.clone(), step: Step::Verify, output: text.output.clone() },
            )?;
        let envs: Vec<&str> = manifest.projects.iter().map(|p| p.name.as_str()).collect();
        clock.begin(Step::Verify, report)?;
        let quick = self.quick_verify;
        let verify = scripts::Verify { home, release_dir: id, id, envs: &envs, quick };
        self.sh_ok(Step::Verify, &verify.text(), None)?;
        clock.begin(Step::SmokeTest, report)?;
        self.smoke(id, &manifest.projects)?;
        clock.begin(Step::Switch, report)?;
        let projects: Vec<&str> = manifest.projects.iter().map(|p| p.name.as_str()).collect();
        let (root, namespace) = (self.resolved.root.as_str(), self.resolved.namespace.as_deref());
        let switch =
            scripts::Switch { home, root, namespace, id, stamp: &stamp(), projects: &projects, fail_midway: false };
        let out = self.sh_ok(Step::Switch, &switch.text(), None)?;
        for line in scripts::Switch::parse(&out.output).moved_aside {
            clock.note(report, &format!("moved aside {line}"));
        }
        Ok(())
    }
}
