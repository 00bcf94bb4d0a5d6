//! The packing probe: builds one project of `--repo` into `PAD_TARGET_DIR` with
//! pad-venv and times its `pack venv.tar.gz` step, which is `pad_bundle::pack_dir` with
//! the options pad-venv packs environments with.
//!
//! It runs as a child of `cargo xtask bench venv` so that uv gets the benchmark's
//! `UV_CACHE_DIR` through the environment of a process, not through a change to ours.

use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

/// The step pad-venv reports just before it calls `pad_bundle::pack_dir`.
const PACK_STEP: &str = "pack venv.tar.gz";

/// What the probe prints as JSON.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ProbeResult {
    /// From the pack step to the next step: `pack_dir` and writing `pad-env.json`.
    pub(super) pack_seconds: f64,
    pub(super) build_seconds: f64,
    pub(super) size: u64,
    pub(super) sha256: String,
    pub(super) venv: Utf8PathBuf,
    /// Every step pad-venv reported, with the seconds until the next one.
    pub(super) steps: Vec<StepTime>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StepTime {
    pub(super) step: String,
    pub(super) seconds: f64,
}

/// Records when each step of a build started.
#[derive(Default)]
struct StepClock {
    steps: Mutex<Vec<(String, Instant)>>,
}

impl pad_venv::Progress for StepClock {
    fn step(&self, _name: &str, step: &str) {
        self.steps.lock().unwrap_or_else(|e| e.into_inner()).push((step.to_owned(), Instant::now()));
    }
}

impl StepClock {
    /// Each step but the last, with the seconds until the next one.
    fn durations(&self) -> Vec<StepTime> {
        let steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        steps
            .windows(2)
            .map(|pair| StepTime {
                step: pair[0].0.clone(),
                seconds: pair[1].1.duration_since(pair[0].1).as_secs_f64(),
            })
            .collect()
    }

    /// Seconds from `step` to the step after it.
    fn duration_of(&self, step: &str) -> Result<f64> {
        let steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        let at = steps.iter().position(|(name, _)| name == step);
        match at.and_then(|i| Some((steps[i].1, steps.get(i + 1)?.1))) {
            Some((start, end)) => Ok(end.duration_since(start).as_secs_f64()),
            None => {
                let seen: Vec<&str> = steps.iter().map(|(name, _)| name.as_str()).collect();
                bail!("pad-venv reported no `{step}` step followed by another (steps: {})", seen.join(", "))
            }
        }
    }
}

pub(super) fn run(root: &Utf8Path, name: &str) -> Result<ExitCode> {
    let repo = pad_layout::discover(root)?;
    let Some(project) = repo.project(name) else { bail!("no project `{name}` in {}/projects", repo.root) };
    let ctx = crate::workspace(&repo.root).venv_context(false, true)?;
    let clock = StepClock::default();
    let started = Instant::now();
    let env = pad_venv::build_project(&ctx, &repo.root, project, &clock)
        .with_context(|| format!("{name}: building the environment to time its packing"))?;
    let build_seconds = started.elapsed().as_secs_f64();
    let pack_seconds = clock.duration_of(PACK_STEP)?;
    let Some(tarball) = env.record.tarball else { bail!("{name}: pad-venv built no venv.tar.gz") };
    crate::print_json(&ProbeResult {
        pack_seconds,
        build_seconds,
        size: tarball.size,
        sha256: tarball.sha256,
        venv: env.venv,
        steps: clock.durations(),
    })?;
    Ok(ExitCode::SUCCESS)
}
