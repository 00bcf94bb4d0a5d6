//! The package of the repository: every project's environment built or reused, then
//! `platform-airflow-dags-<version>.tar.gz` (and its `.sha256`) written or reused.

use camino::{Utf8Path, Utf8PathBuf};
use pad_bundle::{BundleError, Package, PackageFile, PackageSpec, PendingPackage, ProjectEntry};
use pad_layout::{Repo, Version};
use pad_venv::BuiltEnv;

use crate::{FlowError, Progress, Workspace};

/// The name every package of this repository carries.
pub const PACKAGE_NAME: &str = "platform-airflow-dags";

/// What a package of the workspace holds, ready to be written.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub spec: PackageSpec,
    /// Where packages go by default: `<target>/dist`.
    pub dist: Utf8PathBuf,
}

/// `<target>/dist/platform-airflow-dags-<version>.tar.gz`.
pub fn package_path(ws: &Workspace, version: &str) -> Utf8PathBuf {
    ws.dist_dir().join(pad_bundle::package_file_name(PACKAGE_NAME, version))
}

/// Builds or reuses every project's environment and writes or reuses the package in
/// `out_dir` (default: `<target>/dist`).
pub fn package(
    ws: &Workspace,
    locked: bool,
    out_dir: Option<&Utf8Path>,
    progress: &dyn Progress,
) -> Result<Package, FlowError> {
    let Prepared { spec, dist } = prepare(ws, locked, progress)?;
    let dir = out_dir.map_or(dist, Utf8Path::to_owned);
    write_pending(&spec, &dir, "", progress)?.commit().map_err(|err| explain_write_error(err, &dir))
}

/// Writes (or reuses) the package of `spec` in `dir`, under a temporary name until it is
/// committed ([`pad_bundle::write_pending`]), shown as `package: assembling <file><when>`
/// and its outcome.
pub(crate) fn write_pending(
    spec: &PackageSpec,
    dir: &Utf8Path,
    when: &str,
    progress: &dyn Progress,
) -> Result<PendingPackage, FlowError> {
    let file_name = pad_bundle::package_file_name(PACKAGE_NAME, &spec.version);
    pad_venv::Progress::step(progress, "package", &format!("assembling {file_name}{when}"));
    let pending = pad_bundle::write_pending(spec, dir).map_err(|err| explain_write_error(err, dir));
    progress.done("package", if pending.as_ref().is_ok_and(|p| p.package().reused) { "unchanged" } else { "done" });
    pending
}

/// Builds or reuses every project's environment and returns what the package holds, with
/// the default directory for it.
pub fn prepare(ws: &Workspace, locked: bool, progress: &dyn Progress) -> Result<Prepared, FlowError> {
    let repo = crate::discover(&ws.root)?;
    let ctx = ws.venv_context(locked, false)?;
    let envs = pad_venv::build_projects(&ctx, &repo.root, &repo.projects, progress);
    let mut built = Vec::new();
    let mut failures = Vec::new();
    for (project, result) in repo.projects.iter().zip(envs) {
        match result {
            Ok(env) => {
                progress.done(&project.name, if env.reused { "env reused" } else { "env built" });
                for warning in &env.warnings {
                    progress.warning(warning);
                }
                built.push(env);
            }
            Err(source) => {
                progress.done(&project.name, "failed");
                failures.push(FlowError::NoEnvironment { project: project.name.clone(), source: Box::new(source) });
            }
        }
    }
    FlowError::from_failures(failures)?;
    prepare_from(ws, &repo, &built)
}

/// What the package of `repo` holds with the environments `built`, with the default
/// directory for it.
pub(crate) fn prepare_from(ws: &Workspace, repo: &Repo, built: &[BuiltEnv]) -> Result<Prepared, FlowError> {
    let version = pad_layout::version(&repo.root, &pad_layout::vars::from_process_env);
    let mut spec = spec(repo, built, &version)?;
    add_runtime_helper(ws, &mut spec)?;
    Ok(Prepared { spec, dist: ws.dist_dir() })
}

/// Every release ships the runtime helper at `dags/pad_runtime.py`: the repository's own
/// copy, or, when it has none, the toolchain's (written once under the target directory).
pub(crate) fn add_runtime_helper(ws: &Workspace, spec: &mut PackageSpec) -> Result<(), FlowError> {
    if spec.files.iter().any(|f| f.archive_path.as_str() == pad_layout::RUNTIME_HELPER_PATH) {
        return Ok(());
    }
    let path = runtime_helper_dir(ws).join("pad_runtime.py");
    if std::fs::read(&path).ok().as_deref() != Some(pad_layout::RUNTIME_HELPER.as_bytes()) {
        pad_stdx::write_atomic(&path, pad_layout::RUNTIME_HELPER.as_bytes(), 0o644)
            .map_err(|source| FlowError::Io { action: "write the runtime helper", path: path.clone(), source })?;
    }
    spec.files.push(PackageFile {
        archive_path: Utf8PathBuf::from(pad_layout::RUNTIME_HELPER_PATH),
        src: path,
        precompressed: false,
    });
    spec.files.sort_by(|a, b| a.archive_path.cmp(&b.archive_path));
    Ok(())
}

/// Where the toolchain's copy of the runtime helper is written for a repository that has
/// none: `<target>/pad-runtime/` (the DAG check puts it on `PYTHONPATH`).
pub(crate) fn runtime_helper_dir(ws: &Workspace) -> Utf8PathBuf {
    ws.target_dir.join("pad-runtime")
}

/// The files and projects of the package: the repository's shipped files and each
/// project's `venv.tar.gz` at `projects/<name>/venv.tar.gz`.
pub fn spec(repo: &Repo, envs: &[BuiltEnv], version: &Version) -> Result<PackageSpec, FlowError> {
    let mut files: Vec<PackageFile> = pad_layout::release_files(repo)
        .map_err(FlowError::ReleaseFiles)?
        .into_iter()
        .map(|f| PackageFile { archive_path: f.archive_path, src: f.src, precompressed: false })
        .collect();
    let mut projects = Vec::new();
    for env in envs {
        let project = repo.project(&env.name).expect("envs are built for the repository's projects");
        let (Some(tarball), Some(record)) = (&env.tarball, &env.record.tarball) else {
            return Err(FlowError::NoTarball { project: env.name.clone(), dir: env.dir.clone() });
        };
        files.push(PackageFile {
            archive_path: Utf8PathBuf::from(format!("projects/{}/venv.tar.gz", env.name)),
            src: tarball.clone(),
            precompressed: true,
        });
        projects.push(ProjectEntry {
            name: env.name.clone(),
            env_key: env.key.clone(),
            interpreter_path: env.record.interpreter.path.to_string(),
            interpreter_version: env.record.interpreter.version.clone(),
            package: project.package.clone(),
            venv_sha256: record.sha256.clone(),
        });
    }
    Ok(PackageSpec {
        name: PACKAGE_NAME.to_owned(),
        version: version.version.clone(),
        commit: version.commit.clone(),
        dirty: version.dirty,
        files,
        projects,
    })
}

/// Adds the fix to the write errors a user can do something about.
pub(crate) fn explain_write_error(source: BundleError, dir: &Utf8Path) -> FlowError {
    let io_kind = std::error::Error::source(&source)
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    let hint = match io_kind {
        Some(std::io::ErrorKind::StorageFull) => {
            format!("; the disk holding {dir} is full: free space there or pass --out-dir on another disk")
        }
        Some(std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem) => {
            format!("; {dir} is not writable: fix its permissions or pass --out-dir DIR")
        }
        _ => String::new(),
    };
    FlowError::NoPackageWritten { hint, source }
}
