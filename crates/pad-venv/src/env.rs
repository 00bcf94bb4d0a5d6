//! Building one environment: lock, key, reuse, build under a temporary name, smoke test,
//! pack, rename into place.

use std::time::Instant;

use camino::{Utf8Path, Utf8PathBuf};
use pad_bundle::{PackOptions, SymlinkPolicy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::lock::{self, LockSpec};
use crate::python::{self, Interpreter};
use crate::uv::Uv;
use crate::{Progress, VenvError, fsutil};

/// Bumped when the way environments are built changes, so old ones are not reused.
/// 2: `venv.tar.gz` as libdeflate-compressed gzip members, one per MiB.
const FORMAT: u32 = 2;
/// The file inside every environment that says what it is.
pub const ENV_RECORD: &str = "pad-env.json";
/// Environments kept per project besides the current one.
const KEEP_OLD: usize = 2;

/// Where environments are built and what is allowed.
#[derive(Debug, Clone)]
pub struct VenvOptions {
    /// `target/` of the repository: environments go to `venvs/`, tools to `tools/`.
    pub work_dir: Utf8PathBuf,
    /// Fail when a lock is stale instead of updating it (CI).
    pub locked: bool,
    /// Rebuild even when an environment with the same key exists.
    pub force: bool,
}

/// The uv backend and the options, shared by every build of a run.
#[derive(Debug, Clone)]
pub struct Context {
    pub options: VenvOptions,
    pub uv: Uv,
}

impl Context {
    /// Finds (or installs) uv; asks it nothing when its version is known.
    pub fn new(options: VenvOptions) -> Result<Context, VenvError> {
        let uv = Uv::locate(&options.work_dir.join("tools"))?;
        Ok(Context { options, uv })
    }

    pub(crate) fn probes(&self) -> Utf8PathBuf {
        self.options.work_dir.join("tools/probes.json")
    }

    /// `target/venvs/<name>`.
    pub fn env_root(&self, name: &str) -> Utf8PathBuf {
        self.options.work_dir.join("venvs").join(name)
    }
}

/// Where an environment's bytecode is kept: `<env dir>/pycache`, beside `venv/` (Python's
/// `PYTHONPYCACHEPREFIX`), written by its smoke test and its test runs, never shipped.
pub const PYCACHE_DIR: &str = "pycache";

/// What an environment is made from.
pub struct EnvSpec<'a> {
    /// The project (or tool) name: `target/venvs/<name>/`.
    pub name: &'a str,
    /// Where the requirements and the lock live.
    pub dir: &'a Utf8Path,
    /// `dir` as shown in messages (`projects/image-matching`).
    pub shown_dir: &'a Utf8Path,
    /// `requirements.txt` or `pyproject.toml`, relative to `dir`.
    pub requirements: &'a str,
    /// The interpreter request (`"3.11"`, an absolute path, or `None` for `python3`).
    pub python: Option<&'a str>,
    /// Installed into the environment (non-editable) when the project has a `pyproject.toml`.
    pub install_project: bool,
    /// Imported by the smoke test.
    pub package: Option<&'a str>,
    /// Write `venv.tar.gz` (projects) or not (tool environments).
    pub pack: bool,
    /// Compile every module to bytecode at install (`uv pip sync --compile-bytecode`).
    /// For tool environments that Python imports on every run with
    /// `PYTHONDONTWRITEBYTECODE` (Airflow for the DAG check): without it each run compiles
    /// Airflow's thousand modules again, most of its "import time". Not for packed project
    /// environments: compiling all of pandas costs more in a cold build than its first
    /// imports do, and makes `venv.tar.gz` larger.
    pub compile_bytecode: bool,
}

/// An environment that is ready.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltEnv {
    pub name: String,
    pub key: String,
    /// Whether it was reused as it was, without running uv.
    pub reused: bool,
    pub seconds: f64,
    /// `target/venvs/<name>/<key>`.
    pub dir: Utf8PathBuf,
    pub venv: Utf8PathBuf,
    /// `venv.tar.gz`, when packed.
    pub tarball: Option<Utf8PathBuf>,
    pub record: EnvRecord,
    /// Whether the lock file was rewritten.
    pub lock_updated: bool,
    pub warnings: Vec<String>,
    /// Things to know that are no problem (such as: the lock was written, commit it).
    pub notes: Vec<String>,
}

/// What an environment is: written as `pad-env.json` inside it and beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvRecord {
    pub format: u32,
    pub name: String,
    pub key: String,
    pub interpreter: Interpreter,
    pub platform: String,
    pub backend: String,
    pub lock_sha256: String,
    pub package: Option<String>,
    /// `name==version` of every installed distribution, sorted.
    pub packages: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tarball: Option<TarballRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TarballRecord {
    pub size: u64,
    pub sha256: String,
}

/// Builds the environment of `spec`, or reuses the one with the same key.
pub fn build(ctx: &Context, spec: &EnvSpec<'_>, progress: &dyn Progress) -> Result<BuiltEnv, VenvError> {
    let started = Instant::now();
    let name = spec.name;
    let interpreter = python::resolve(spec.python, name, &ctx.probes())?;
    let mut warnings = Vec::new();
    if let Some(why) = python::unreadable_by_others(&interpreter.path) {
        warnings.push(format!(
            "{name}: the base interpreter `{}` cannot be run by other users ({why}); a service user running the deployed environment will get \"command not found\". Use a system interpreter such as /usr/bin/python3.11.",
            interpreter.path
        ));
    }

    progress.step(name, "lock");
    let lock_spec = LockSpec {
        project: name,
        dir: spec.dir,
        shown_dir: spec.shown_dir,
        input: lock::LockInput::File(spec.requirements),
        output: lock::LOCK_FILE,
        constraints: None,
    };
    let lock_updated =
        lock::ensure(&ctx.uv, &lock_spec, &interpreter, ctx.options.locked)? == lock::LockOutcome::Written;
    let lock_path = spec.dir.join(lock::LOCK_FILE);
    let lock_bytes = std::fs::read(&lock_path).map_err(|source| VenvError::io(&lock_path, source))?;

    let sources = if spec.install_project { fsutil::project_source_files(spec.dir)? } else { Vec::new() };
    let (key, full_key) = compute_key(ctx, spec, &interpreter, &lock_bytes, &sources)?;
    let root = ctx.env_root(name);
    let dir = root.join(&key);
    let record_path = dir.join(ENV_RECORD);

    if !ctx.options.force
        && let Some(record) = read_record(&record_path).filter(|r| r.key == full_key)
    {
        touch(&record_path);
        progress.step(name, "reused");
        return Ok(finish(spec, dir, record, true, started, lock_updated, warnings));
    }

    let _lock = fsutil::FileLock::acquire(&root.join(".lock"))?;
    // Another build of the same key may have finished while we waited for the lock.
    if !ctx.options.force
        && let Some(record) = read_record(&record_path).filter(|r| r.key == full_key)
    {
        return Ok(finish(spec, dir, record, true, started, lock_updated, warnings));
    }
    clean_staging(&root)?;
    let staging = root.join(format!(".tmp-{key}"));
    let result = build_into(ctx, spec, &interpreter, &staging, &lock_path, &sources, &full_key, progress);
    let record = match result {
        Ok(record) => record,
        Err(err) => {
            let _ = fsutil::remove_dir_if_exists(&staging);
            return Err(err);
        }
    };
    fsutil::remove_dir_if_exists(&dir)?;
    std::fs::rename(&staging, &dir).map_err(|source| VenvError::io(&dir, source))?;
    rehome_bytecode(&staging, &dir);
    prune(&root, &key);
    progress.step(name, "built");
    Ok(finish(spec, dir, record, false, started, lock_updated, warnings))
}

fn finish(
    spec: &EnvSpec<'_>,
    dir: Utf8PathBuf,
    record: EnvRecord,
    reused: bool,
    started: Instant,
    lock_updated: bool,
    warnings: Vec<String>,
) -> BuiltEnv {
    let mut notes = Vec::new();
    if lock_updated {
        notes.push(lock::written_note(&spec.shown_dir.join(lock::LOCK_FILE), spec.requirements));
    }
    BuiltEnv {
        name: spec.name.to_owned(),
        key: record.key.clone(),
        reused,
        seconds: started.elapsed().as_secs_f64(),
        venv: dir.join("venv"),
        tarball: spec.pack.then(|| dir.join("venv.tar.gz")),
        dir,
        record,
        lock_updated,
        warnings,
        notes,
    }
}

/// The content key: lock, sources, interpreter, platform and backend. Returns the short
/// form used as a directory name and the full hash.
fn compute_key(
    ctx: &Context,
    spec: &EnvSpec<'_>,
    interpreter: &Interpreter,
    lock_bytes: &[u8],
    sources: &[Utf8PathBuf],
) -> Result<(String, String), VenvError> {
    let mut hasher = Sha256::new();
    for part in [
        format!("pad-venv format {FORMAT}"),
        format!("python {} {}", interpreter.path, interpreter.version),
        format!("platform {}", platform()),
        format!("backend uv {}", ctx.uv.version),
        format!("package {:?} pack {} compile {}", spec.package, spec.pack, spec.compile_bytecode),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.update(lock_bytes);
    hasher.update([0]);
    fsutil::hash_files(&mut hasher, spec.dir, sources)?;
    let full = pad_stdx::hex(&hasher.finalize());
    Ok((full[..16].to_owned(), full))
}

fn platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

fn read_record(path: &Utf8Path) -> Option<EnvRecord> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Marks an environment as recently used, so pruning keeps it.
fn touch(path: &Utf8Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}

/// Removes what interrupted builds left behind. Called with the build lock held.
fn clean_staging(root: &Utf8Path) -> Result<(), VenvError> {
    let Ok(entries) = root.read_dir_utf8() else { return Ok(()) };
    for entry in entries.flatten() {
        if entry.file_name().starts_with(".tmp-") {
            tracing::info!("removing {} left by an interrupted build", entry.path());
            fsutil::remove_dir_if_exists(entry.path())?;
        }
    }
    Ok(())
}

/// Keeps the newest few environments besides `current`.
fn prune(root: &Utf8Path, current: &str) {
    let Ok(entries) = root.read_dir_utf8() else { return };
    let mut old: Vec<(std::time::SystemTime, Utf8PathBuf)> = entries
        .flatten()
        .filter(|e| !e.file_name().starts_with('.') && e.file_name() != current && e.path().is_dir())
        .map(|e| {
            let used = std::fs::metadata(e.path().join(ENV_RECORD))
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (used, e.into_path())
        })
        .collect();
    old.sort();
    let excess = old.len().saturating_sub(KEEP_OLD);
    for (_, dir) in old.into_iter().take(excess) {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[allow(clippy::too_many_arguments)]
fn build_into(
    ctx: &Context,
    spec: &EnvSpec<'_>,
    interpreter: &Interpreter,
    staging: &Utf8Path,
    lock_path: &Utf8Path,
    sources: &[Utf8PathBuf],
    full_key: &str,
    progress: &dyn Progress,
) -> Result<EnvRecord, VenvError> {
    let name = spec.name;
    let step_err = |step: &'static str| {
        move |source| VenvError::Build { project: name.to_owned(), step, source: Box::new(source) }
    };
    std::fs::create_dir_all(staging).map_err(|source| VenvError::io(staging, source))?;
    let venv = staging.join("venv");
    let python = venv.join("bin/python");

    progress.step(name, "create venv");
    ctx.uv
        .cmd(staging)
        .args(["venv", "--relocatable", "--quiet", "--python", interpreter.path.as_str(), venv.as_str()])
        .run()
        .map_err(step_err("uv venv"))?;

    progress.step(name, "install requirements");
    ctx.uv
        .cmd(spec.dir)
        .args(["pip", "sync", "--quiet", "--python", python.as_str(), lock_path.as_str()])
        .args(spec.compile_bytecode.then_some("--compile-bytecode"))
        .run()
        .map_err(step_err("uv pip sync"))?;

    if spec.install_project {
        progress.step(name, "install project");
        // From a copy of its sources: the build backend writes build/ and *.egg-info into
        // the tree it builds, and the copy is exactly what the key hashed.
        let source = staging.join("source");
        fsutil::copy_files(spec.dir, &source, sources)?;
        ctx.uv
            .cmd(staging)
            .args(["pip", "install", "--quiet", "--no-deps", "--python", python.as_str(), source.as_str()])
            .run()
            .map_err(step_err("uv pip install (the project)"))?;
        fsutil::remove_dir_if_exists(&source)?;
        forget_install_source(&venv)?;
    }

    let packages = installed_distributions(&venv)?;
    let mut record = EnvRecord {
        format: FORMAT,
        name: name.to_owned(),
        key: full_key.to_owned(),
        interpreter: interpreter.clone(),
        platform: platform(),
        backend: format!("uv {}", ctx.uv.version),
        lock_sha256: pad_stdx::sha256_hex(
            &std::fs::read(lock_path).map_err(|source| VenvError::io(lock_path, source))?,
        ),
        package: spec.package.map(str::to_owned),
        packages,
        tarball: None,
    };
    fsutil::write_atomic(&venv.join(ENV_RECORD), &serde_json::to_vec_pretty(&record).expect("serializable"))?;

    if let Some(package) = spec.package {
        progress.step(name, "smoke test");
        // As a deploy imports it: an installed package from the environment (so not from
        // the sources beside it); a package a project without pyproject.toml keeps in its
        // directory from there, where its DAG runs it (`cd $AIRFLOW_HOME/<project> &&
        // venv/bin/python -m <package>`).
        let dir = if !spec.install_project && spec.dir.join(package).is_dir() { spec.dir } else { staging };
        let smoke = pad_process::Cmd::new(python.as_str(), dir)
            .args(["-c", &format!("import {package}")])
            .env("PYTHONNOUSERSITE", "1");
        // Uncompiled, its bytecode goes to the environment's cache beside the venv (never
        // into the venv, packed as it is), where `test` reuses it once the build is renamed
        // into place: the tests' first import of pandas and the like is not compiled again.
        let smoke = if spec.compile_bytecode {
            smoke.env("PYTHONDONTWRITEBYTECODE", "1")
        } else {
            with_bytecode_cache(smoke, staging)
        };
        smoke.run().map_err(step_err("import the package"))?;
    }

    if spec.pack {
        progress.step(name, "pack venv.tar.gz");
        let options = PackOptions { symlinks: SymlinkPolicy::Keep, ..PackOptions::default() };
        let stats = pad_bundle::pack_dir(&venv, &staging.join("venv.tar.gz"), &options)
            .map_err(|source| VenvError::Pack { project: name.to_owned(), source })?;
        record.tarball = Some(TarballRecord { size: stats.output_bytes, sha256: stats.sha256 });
    }
    fsutil::write_atomic(&staging.join(ENV_RECORD), &serde_json::to_vec_pretty(&record).expect("serializable"))?;
    Ok(record)
}

/// `cmd` writing its bytecode to the [`PYCACHE_DIR`] of the environment in `env_dir`,
/// and reading it from there.
pub(crate) fn with_bytecode_cache(cmd: pad_process::Cmd, env_dir: &Utf8Path) -> pad_process::Cmd {
    cmd.env_remove("PYTHONDONTWRITEBYTECODE").env("PYTHONPYCACHEPREFIX", env_dir.join(PYCACHE_DIR).as_str())
}

/// Moves the bytecode the smoke test wrote for the files under `staging` to where Python
/// looks for those files now that they are under `dir`: the cache mirrors each source's
/// absolute path (`PYTHONPYCACHEPREFIX`). A bytecode file is checked against its
/// source's size and modification time, which the rename keeps, and Python sets the code's
/// file name from the path it imports. Only a cache: when the move cannot be made, the
/// first test run compiles again.
fn rehome_bytecode(staging: &Utf8Path, dir: &Utf8Path) {
    let (Some(from), Some(to)) = (staging.as_str().strip_prefix('/'), dir.as_str().strip_prefix('/')) else {
        return;
    };
    let cache = dir.join(PYCACHE_DIR);
    let (from, to) = (cache.join(from), cache.join(to));
    if from.is_dir()
        && let Some(parent) = to.parent()
        && std::fs::create_dir_all(parent).is_ok()
    {
        let _ = std::fs::rename(&from, &to);
    }
}

/// Files a local-path install leaves in its `.dist-info` that describe the build rather
/// than the package: `direct_url.json` (the build's temporary directory) and uv's
/// `uv_cache.json` (timestamps). Both would make two builds of the same inputs differ.
const BUILD_RECORDS: &[&str] = &["direct_url.json", "uv_cache.json"];

/// Removes [`BUILD_RECORDS`] (and their RECORD lines) from distributions installed from
/// a local path.
fn forget_install_source(venv: &Utf8Path) -> Result<(), VenvError> {
    for dist_info in dist_infos(venv)? {
        let direct_url = dist_info.join("direct_url.json");
        let from_path = std::fs::read_to_string(&direct_url).is_ok_and(|text| text.contains("file://"));
        if !from_path {
            continue;
        }
        for name in BUILD_RECORDS {
            let path = dist_info.join(name);
            if path.exists() {
                std::fs::remove_file(&path).map_err(|source| VenvError::io(&path, source))?;
            }
        }
        let record = dist_info.join("RECORD");
        if let Ok(lines) = std::fs::read_to_string(&record) {
            let kept: String = lines
                .lines()
                .filter(|line| !BUILD_RECORDS.iter().any(|name| line.contains(&format!("/{name},"))))
                .map(|line| format!("{line}\n"))
                .collect();
            std::fs::write(&record, kept).map_err(|source| VenvError::io(&record, source))?;
        }
    }
    Ok(())
}

fn site_packages(venv: &Utf8Path) -> Result<Utf8PathBuf, VenvError> {
    let lib = venv.join("lib");
    let entries = lib.read_dir_utf8().map_err(|source| VenvError::io(&lib, source))?;
    entries
        .flatten()
        .find(|e| e.file_name().starts_with("python"))
        .map(|e| e.path().join("site-packages"))
        .ok_or_else(|| VenvError::io(&lib, std::io::Error::other("no lib/python*/site-packages")))
}

fn dist_infos(venv: &Utf8Path) -> Result<Vec<Utf8PathBuf>, VenvError> {
    let site = site_packages(venv)?;
    let entries = site.read_dir_utf8().map_err(|source| VenvError::io(&site, source))?;
    let mut dirs: Vec<Utf8PathBuf> =
        entries.flatten().filter(|e| e.file_name().ends_with(".dist-info")).map(|e| e.into_path()).collect();
    dirs.sort();
    Ok(dirs)
}

/// `name==version` of each installed distribution, read from its METADATA.
fn installed_distributions(venv: &Utf8Path) -> Result<Vec<String>, VenvError> {
    let mut out = Vec::new();
    for dir in dist_infos(venv)? {
        let metadata = dir.join("METADATA");
        let text = std::fs::read_to_string(&metadata).map_err(|source| VenvError::io(&metadata, source))?;
        let field = |key: &str| text.lines().find_map(|l| l.strip_prefix(key)).map(str::trim).unwrap_or("?").to_owned();
        out.push(format!("{}=={}", field("Name:"), field("Version:")));
    }
    out.sort_by_key(|s| s.to_lowercase());
    Ok(out)
}

/// The `site-packages` directory of an environment.
pub fn site_packages_of(venv: &Utf8Path) -> Result<Utf8PathBuf, VenvError> {
    site_packages(venv)
}
