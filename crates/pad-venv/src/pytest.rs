//! A project's pytest suite, run against its shipped environment: test-only requirements
//! go into an overlay environment whose `.pth` file adds the shipped environment's
//! `site-packages`, so what is tested is exactly what ships.

use std::time::Instant;

use camino::{Utf8Path, Utf8PathBuf};
use pad_layout::{Project, TestDeps};
use pad_process::Cmd;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::env::{BuiltEnv, Context, with_bytecode_cache};
use crate::lock::{self, LockInput, LockSpec};
use crate::{Progress, VenvError, fsutil};

/// How tests are run.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// Where to write `<project>.xml` JUnit reports.
    pub junit_dir: Option<Utf8PathBuf>,
    /// Run even when the same tests passed on the same environment before.
    pub force: bool,
}

/// The outcome of one project's tests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestReport {
    pub project: String,
    pub passed: bool,
    /// Whether the result came from an earlier run on the same inputs.
    pub cached: bool,
    /// pytest's closing line, such as `5 passed in 0.41s`.
    pub summary: String,
    /// `FAILED tests/test_x.py::test_y - AssertionError: …` lines.
    pub failures: Vec<String>,
    /// The end of pytest's output, when it failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    pub junit: Option<Utf8PathBuf>,
    pub seconds: f64,
    /// Things to know that are no failure, one line each (such as: the toolchain's pytest
    /// was used, as the project declares no test dependencies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Runs the project's tests in its environment `env` (built by [`crate::build_project`]).
pub fn test_project(
    ctx: &Context,
    root: &Utf8Path,
    project: &Project,
    env: &BuiltEnv,
    options: &TestOptions,
    progress: &dyn Progress,
) -> Result<TestReport, VenvError> {
    let started = Instant::now();
    let name = project.name.as_str();
    let Some(tests_dir) = &project.tests_dir else {
        return Err(VenvError::NoTests { project: name.to_owned() });
    };
    let (input, mut notes) = match &project.test_deps {
        TestDeps::File { file } => (LockInput::File(file), Vec::new()),
        TestDeps::Group { group } => (LockInput::Group(group), Vec::new()),
        TestDeps::Extra { extra } => (LockInput::Extra(extra), Vec::new()),
        TestDeps::Toolchain => (
            LockInput::Pinned(crate::PINNED_PYTEST),
            vec![format!(
                "{name} declares no test dependencies, so its tests run with the toolchain's {} (declare them in requirements-test.txt, requirements-dev.txt, or a `test` or `dev` group or extra of pyproject.toml)",
                crate::PINNED_PYTEST
            )],
        ),
    };
    let shown_dir = project.dir.strip_prefix(root).unwrap_or(&project.dir);
    progress.step(name, "lock test requirements");
    let spec = LockSpec {
        project: name,
        dir: &project.dir,
        shown_dir,
        input,
        output: lock::TEST_LOCK_FILE,
        constraints: Some(lock::LOCK_FILE),
    };
    if lock::ensure(&ctx.uv, &spec, &env.record.interpreter, ctx.options.locked)? == lock::LockOutcome::Written {
        notes.push(lock::written_note(&shown_dir.join(lock::TEST_LOCK_FILE), &input.label()));
    }
    let test_lock = project.dir.join(lock::TEST_LOCK_FILE);
    let test_lock_bytes = std::fs::read(&test_lock).map_err(|source| VenvError::io(&test_lock, source))?;
    let runtime_lock = project.dir.join(lock::LOCK_FILE);
    let runtime_lock_text =
        std::fs::read_to_string(&runtime_lock).map_err(|source| VenvError::io(&runtime_lock, source))?;
    // pytest from the test lock, or shipped (a runtime dependency the test lock leaves out).
    if !lock::pins(&String::from_utf8_lossy(&test_lock_bytes), "pytest") && !lock::pins(&runtime_lock_text, "pytest") {
        return Err(VenvError::NoPytest { project: name.to_owned(), input: input.label() });
    }

    let mut hasher = Sha256::new();
    hasher.update(env.record.key.as_bytes());
    hasher.update(&test_lock_bytes);
    let overlay_key = pad_stdx::hex(&hasher.clone().finalize())[..16].to_owned();
    let overlay = ensure_overlay(ctx, env, &test_lock, &overlay_key, progress)?;

    let test_files = test_files(tests_dir)?;
    fsutil::hash_files(&mut hasher, tests_dir, &test_files)?;
    let result_key = pad_stdx::hex(&hasher.finalize())[..16].to_owned();
    let results_dir = ctx.options.work_dir.join("test-results").join(name);
    let cached_result = results_dir.join(format!("{result_key}.json"));
    let junit = options.junit_dir.as_ref().map(|dir| dir.join(format!("{name}.xml")));
    if !options.force
        && junit.is_none()
        && let Some(mut report) =
            std::fs::read(&cached_result).ok().and_then(|b| serde_json::from_slice::<TestReport>(&b).ok())
    {
        report.cached = true;
        // No JUnit file is written for a result taken from an earlier run.
        report.junit = None;
        report.seconds = started.elapsed().as_secs_f64();
        report.notes = notes;
        return Ok(report);
    }

    progress.step(name, "pytest");
    // Bytecode goes to the environment's own cache, beside the venv: never into the venv
    // (packed as it is) nor into the project's sources. Tests that start the project as a
    // subprocess (`python -m <package>`) then import pandas and the like from bytecode
    // the first import wrote, instead of compiling them again in each process.
    let pytest = Cmd::new(overlay.join("bin/python").as_str(), &project.dir)
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", "--color=no"])
        .env("PYTHONNOUSERSITE", "1");
    let mut cmd = with_bytecode_cache(pytest, &env.dir);
    if let Some(junit) = &junit {
        if let Some(dir) = junit.parent() {
            std::fs::create_dir_all(dir).map_err(|source| VenvError::io(dir, source))?;
        }
        cmd = cmd.arg(format!("--junitxml={junit}"));
    }
    cmd = cmd.arg(tests_dir.strip_prefix(&project.dir).unwrap_or(tests_dir).as_str());
    let finished = cmd.run_unchecked()?;
    let output = format!("{}{}", finished.stdout, finished.stderr);
    let summary =
        output.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().trim_matches('=').trim().to_owned();
    let failures: Vec<String> =
        output.lines().filter(|l| l.starts_with("FAILED ") || l.starts_with("ERROR ")).map(str::to_owned).collect();
    let passed = finished.status.success();
    let report = TestReport {
        project: name.to_owned(),
        passed,
        cached: false,
        summary: if finished.status.code() == Some(5) { format!("no tests collected ({summary})") } else { summary },
        failures,
        output: if passed { String::new() } else { tail(&output, 80) },
        junit,
        seconds: started.elapsed().as_secs_f64(),
        notes,
    };
    if passed {
        fsutil::write_atomic(&cached_result, &serde_json::to_vec_pretty(&report).expect("serializable"))?;
    }
    Ok(report)
}

/// The overlay environment with the test requirements, built once per (environment,
/// test lock) under the environment's directory.
fn ensure_overlay(
    ctx: &Context,
    env: &BuiltEnv,
    test_lock: &Utf8Path,
    key: &str,
    progress: &dyn Progress,
) -> Result<Utf8PathBuf, VenvError> {
    let overlay = env.dir.join(format!("test-{key}"));
    if overlay_is_usable(&overlay) {
        return Ok(overlay);
    }
    let name = env.name.as_str();
    let _lock = fsutil::FileLock::acquire(&ctx.env_root(name).join(".lock"))?;
    if overlay_is_usable(&overlay) {
        return Ok(overlay);
    }
    // One an earlier version wrote, whose `.pth` named the shipped environment by an
    // absolute path that no longer leads there (the target directory was reached another
    // way, or restored elsewhere from a CI cache).
    fsutil::remove_dir_if_exists(&overlay)?;
    progress.step(name, "test environment");
    let staging = env.dir.join(format!(".tmp-test-{key}"));
    fsutil::remove_dir_if_exists(&staging)?;
    let step_err = |step: &'static str| {
        move |source| VenvError::Build { project: name.to_owned(), step, source: Box::new(source) }
    };
    let python = staging.join("bin/python");
    ctx.uv
        .cmd(&env.dir)
        .args(["venv", "--quiet", "--python", env.record.interpreter.path.as_str(), staging.as_str()])
        .run()
        .map_err(step_err("uv venv (tests)"))?;
    ctx.uv
        .cmd(&env.dir)
        .args(["pip", "sync", "--quiet", "--python", python.as_str(), test_lock.as_str()])
        .run()
        .map_err(step_err("uv pip sync (tests)"))?;
    let overlay_site = crate::env::site_packages_of(&staging)?;
    let shipped = crate::env::site_packages_of(&env.venv)?;
    // Relative to the overlay's site-packages (Python's `site` joins a relative `.pth`
    // line to the directory holding the file), so the pair still works wherever the
    // target directory is reached from: a symlink, another checkout, a CI cache restored
    // under another path.
    let line = relative_to(&shipped, &overlay_site, &staging, &env.dir)?;
    fsutil::write_atomic(&overlay_site.join(SHIPPED_PTH), format!("{line}\n").as_bytes())?;
    std::fs::rename(&staging, &overlay).map_err(|source| VenvError::io(&overlay, source))?;
    Ok(overlay)
}

/// The `.pth` file in an overlay's site-packages that adds the shipped environment's.
pub(crate) const SHIPPED_PTH: &str = "_pad_shipped_env.pth";

/// Whether `overlay` is complete and its `.pth` leads to a shipped environment.
pub(crate) fn overlay_is_usable(overlay: &Utf8Path) -> bool {
    if !overlay.join("bin/python").exists() {
        return false;
    }
    let Ok(site) = crate::env::site_packages_of(overlay) else {
        return false;
    };
    match std::fs::read_to_string(site.join(SHIPPED_PTH)) {
        Ok(line) => {
            let line = line.trim();
            !Utf8Path::new(line).is_absolute() && site.join(line).is_dir()
        }
        Err(_) => false,
    }
}

/// `shipped` (under `env_dir`) as seen from `site` (under `staging`, itself directly in
/// `env_dir`): `../../../../venv/lib/python3.11/site-packages`.
pub(crate) fn relative_to(
    shipped: &Utf8Path,
    site: &Utf8Path,
    staging: &Utf8Path,
    env_dir: &Utf8Path,
) -> Result<String, VenvError> {
    let outside =
        |path: &Utf8Path| VenvError::io(path, std::io::Error::other("not inside the environment's directory"));
    let up = site.strip_prefix(staging).map_err(|_| outside(site))?.components().count() + 1;
    let down = shipped.strip_prefix(env_dir).map_err(|_| outside(shipped))?;
    Ok(format!("{}{down}", "../".repeat(up)))
}

fn test_files(dir: &Utf8Path) -> Result<Vec<Utf8PathBuf>, VenvError> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|err| VenvError::io(dir, err.into()))?;
        let path =
            Utf8Path::from_path(entry.path()).ok_or_else(|| VenvError::NotUtf8(entry.path().display().to_string()))?;
        if entry.file_type().is_file() && !path.components().any(|c| c.as_str() == "__pycache__") {
            files.push(path.strip_prefix(dir).expect("walked from dir").to_owned());
        }
    }
    Ok(files)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
