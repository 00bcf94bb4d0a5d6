//! `cargo xtask package`: build or reuse every project's environment, then write (or
//! reuse) `target/dist/platform-airflow-dags-<version>.tar.gz` and its `.sha256`.

use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use pad_bundle::{Package, PackageFile, PackageSpec, ProjectEntry};
use pad_layout::Repo;
use pad_venv::{BuiltEnv, Progress};
use serde::Serialize;

use crate::flags::PackageArgs;
use crate::progress::Steps;

/// The name every package of this repository carries.
pub(crate) const PACKAGE_NAME: &str = "platform-airflow-dags";

#[derive(Serialize)]
struct Report<'a> {
    path: &'a Utf8Path,
    version: &'a str,
    commit: Option<&'a str>,
    dirty: bool,
    size: u64,
    sha256: &'a str,
    inputs_sha256: &'a str,
    reused: bool,
    files: usize,
    projects: Vec<&'a str>,
}

pub(crate) fn run(root: &Utf8Path, args: &PackageArgs) -> Result<ExitCode> {
    let steps = Steps::new();
    let package = build(root, args.locked, args.out_dir.as_deref(), &steps)?;
    print(root, &package, args.json)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints what [`build`] made: a line of text, or JSON.
pub(crate) fn print(root: &Utf8Path, package: &Package, json: bool) -> Result<()> {
    let manifest = &package.manifest;
    if json {
        return crate::print_json(&Report {
            path: &package.path,
            version: &manifest.version,
            commit: manifest.commit.as_deref(),
            dirty: manifest.dirty,
            size: package.size,
            sha256: &package.sha256,
            inputs_sha256: &manifest.inputs_sha256,
            reused: package.reused,
            files: manifest.files.len(),
            projects: manifest.projects.iter().map(|p| p.name.as_str()).collect(),
        });
    }
    let path = package.path.strip_prefix(root).unwrap_or(&package.path);
    let what = if package.reused { "unchanged" } else { "written" };
    println!("{path} ({what})");
    println!("  version {}", manifest.version);
    println!("  size    {} ({} files)", crate::venv::human_size(package.size), manifest.files.len());
    println!("  sha256  {}", package.sha256);
    Ok(())
}

/// Builds or reuses every project's environment and writes or reuses the package in
/// `out_dir` (default: `<target>/dist`).
pub(crate) fn build(root: &Utf8Path, locked: bool, out_dir: Option<&Utf8Path>, steps: &Steps) -> Result<Package> {
    let (spec, dist) = prepare(root, locked, steps)?;
    let dir = out_dir.map_or(dist, Utf8Path::to_owned);
    steps.step("package", &format!("assembling {}", pad_bundle::package_file_name(PACKAGE_NAME, &spec.version)));
    let package = pad_bundle::write_package(&spec, &dir).map_err(|err| explain_write_error(err, &dir));
    steps.done("package", if package.as_ref().is_ok_and(|p| p.reused) { "unchanged" } else { "done" });
    package
}

/// Builds or reuses every project's environment and returns what the package holds,
/// with the default directory for it (`<target>/dist`).
pub(crate) fn prepare(root: &Utf8Path, locked: bool, steps: &Steps) -> Result<(PackageSpec, Utf8PathBuf)> {
    let repo = pad_flow::discover(root)?;
    let ctx = crate::venv::context(&repo, locked, false)?;
    let envs = pad_venv::build_projects(&ctx, &repo.root, &repo.projects, steps);
    let mut built = Vec::new();
    let mut failures = Vec::new();
    for (project, result) in repo.projects.iter().zip(envs) {
        match result {
            Ok(env) => {
                steps.done(&project.name, if env.reused { "env reused" } else { "env built" });
                for warning in &env.warnings {
                    eprintln!("warning: {warning}");
                }
                built.push(env);
            }
            Err(err) => {
                steps.done(&project.name, "failed");
                failures.push(anyhow::Error::new(err).context(format!(
                    "project `{}` has no environment to package (fix it, then rerun; `cargo xtask venv {}` shows the same error)",
                    project.name, project.name
                )));
            }
        }
    }
    crate::venv::report_failures(failures)?;
    let version = pad_layout::version(&repo.root, &pad_layout::vars::from_process_env);
    Ok((spec(&repo, &built, &version)?, ctx.options.work_dir.join("dist")))
}

/// The files and projects of the package: the repository's shipped files and each
/// project's `venv.tar.gz` at `projects/<name>/venv.tar.gz`.
fn spec(repo: &Repo, envs: &[BuiltEnv], version: &pad_layout::Version) -> Result<PackageSpec> {
    let mut files: Vec<PackageFile> = pad_layout::release_files(repo)
        .context("listing the files to package")?
        .into_iter()
        .map(|f| PackageFile { archive_path: f.archive_path, src: f.src, precompressed: false })
        .collect();
    let mut projects = Vec::new();
    for env in envs {
        let project = repo.project(&env.name).expect("envs are built for the repository's projects");
        let (Some(tarball), Some(record)) = (&env.tarball, &env.record.tarball) else {
            bail!(
                "project `{}` has an environment but no venv.tar.gz at {}: run `cargo xtask venv --force {}`",
                env.name,
                env.dir,
                env.name
            );
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
fn explain_write_error(err: pad_bundle::BundleError, dir: &Utf8Path) -> anyhow::Error {
    let io_kind = std::error::Error::source(&err)
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    let hint = match io_kind {
        Some(std::io::ErrorKind::StorageFull) => {
            Some(format!("the disk holding {dir} is full: free space there or pass --out-dir on another disk"))
        }
        Some(std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem) => {
            Some(format!("{dir} is not writable: fix its permissions or pass --out-dir DIR"))
        }
        _ => None,
    };
    let err = anyhow::Error::new(err);
    match hint {
        Some(hint) => err.context(format!("no package written; {hint}")),
        None => err.context("no package written"),
    }
}
