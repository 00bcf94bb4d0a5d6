//! Deploys: which package a deploy uses (a file, a version built or fetched before, one
//! fetched from a registry now, or the current version's), the options a deploy from a
//! workspace takes, and the deploy itself.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use pad_deploy::{DeployOptions, DeployReport};
use pad_layout::{Repo, Target};

use crate::{FlowError, Progress, Workspace};

/// Which package a deploy uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageChoice {
    /// This package file.
    File(Utf8PathBuf),
    /// The package of this version, built or fetched before into `<target>/dist`.
    Version(String),
    /// The package of this version, fetched now from a registry (the one named, else the
    /// default one of `deploy/registries.toml`) into `<target>/dist`.
    Registry { version: String, registry: Option<String> },
    /// The package of the current version (from git), built before into `<target>/dist`.
    Current,
}

/// The package file `choice` names, fetched first when it is in a registry.
pub fn choose_package(
    ws: &Workspace,
    choice: &PackageChoice,
    progress: &dyn Progress,
) -> Result<Utf8PathBuf, FlowError> {
    match choice {
        PackageChoice::File(file) => Ok(file.clone()),
        PackageChoice::Version(version) => existing_package(ws, version),
        PackageChoice::Registry { version, registry } => {
            let fetched = crate::fetch(&ws.root, registry.as_deref(), version, &ws.dist_dir(), progress)?;
            Ok(fetched.fetched.path)
        }
        PackageChoice::Current => {
            let version = pad_layout::version(&ws.root, &pad_layout::vars::from_process_env);
            existing_package(ws, &version.version)
        }
    }
}

/// The package of `version` built (or fetched) before, in `<target>/dist`.
fn existing_package(ws: &Workspace, version: &str) -> Result<Utf8PathBuf, FlowError> {
    let path = crate::package_path(ws, version);
    if !path.is_file() {
        return Err(FlowError::NoPackageForVersion { version: version.to_owned(), path });
    }
    Ok(path)
}

/// The target `name` of the repository.
pub fn find_target<'a>(repo: &'a Repo, name: &str) -> Result<&'a Target, FlowError> {
    repo.target(name).ok_or_else(|| FlowError::NoTarget {
        name: name.to_owned(),
        known: repo.targets.iter().map(|t| t.name.clone()).collect(),
    })
}

/// The options of a deploy of `package` from the workspace: packed environments that
/// passed the package check are remembered in the target directory, and the runtime
/// helper is told where each project's artifacts are cached ([`artifact_locations`]).
pub fn deploy_options(ws: &Workspace, package: &Utf8Path) -> DeployOptions {
    let mut options = DeployOptions::new(package, &ws.root);
    options.checked_envs = Some(ws.checked_envs());
    options.connect.artifacts = artifact_locations(&ws.root, &pad_layout::vars::from_process_env);
    options
}

/// Where the artifacts of each project's `projects/<p>/artifacts.yaml` are in their
/// caches, for `pad_runtime.artifact(project, name)`: `<base>/<name>` of the artifact's
/// first `fs` cache (a path the workers mount), else of its first cache (`s3://…`,
/// `webhdfs://…`, `https://…`), `${VAR}`s expanded from `lookup` as `cache warm` expands
/// them. What cannot be read or expanded is left out (the repository check reports a
/// broken artifacts.yaml; an unset variable leaves that artifact to the release's files).
pub fn artifact_locations(
    root: &Utf8Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let Ok(entries) = root.join("projects").read_dir_utf8() else { return out };
    for entry in entries.flatten() {
        let file = entry.path().join(pad_layout::ARTIFACTS_FILE);
        if !file.is_file() {
            continue;
        }
        let project = entry.file_name().to_owned();
        let Ok(config) = pad_cache::load(&[pad_cache::ConfigFile::new(root, &file)]) else { continue };
        let expand = |text: &str| pad_layout::vars::expand(text, lookup).ok();
        for artifact in &config.artifacts {
            let caches: Vec<&pad_cache::CacheDef> =
                artifact.caches.iter().filter_map(|name| config.caches.get(name)).collect();
            let fs = caches.iter().find_map(|c| match &c.kind {
                pad_cache::CacheKind::Fs { path } => expand(path).map(|p| {
                    let p = p.strip_prefix("file://").map_or(p.clone(), str::to_owned);
                    if Utf8Path::new(&p).is_absolute() { p } else { c.dir.join(p).to_string() }
                }),
                _ => None,
            });
            let base = fs.or_else(|| {
                caches.first().and_then(|c| match &c.kind {
                    pad_cache::CacheKind::Fs { .. } => None,
                    pad_cache::CacheKind::S3 { base_uri, .. }
                    | pad_cache::CacheKind::Webdav { base_uri, .. }
                    | pad_cache::CacheKind::Webhdfs { base_uri, .. } => expand(base_uri),
                })
            });
            if let Some(base) = base {
                let location = format!("{}/{}", base.trim_end_matches('/'), artifact.name);
                out.entry(project.clone()).or_default().insert(artifact.name.clone(), location);
            }
        }
    }
    out
}

/// Deploys `options.package` to every host of `target`. The report says how each host
/// ended; an error means the deploy could not be tried (no package, a bad target).
pub fn deploy(
    target: &Target,
    options: &DeployOptions,
    progress: &dyn pad_deploy::Progress,
) -> Result<DeployReport, FlowError> {
    let package = &options.package;
    if !package.is_file() {
        return Err(FlowError::MissingPackage { package: package.clone() });
    }
    pad_deploy::deploy(target, options, progress).map_err(|source| FlowError::Deploy {
        package: package.clone(),
        target: target.name.clone(),
        source: Box::new(source),
    })
}
