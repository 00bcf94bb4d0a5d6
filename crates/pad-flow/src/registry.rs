//! The package in and out of the registries of `deploy/registries.toml`: `publish` (the
//! package of the current version, built or reused, or a file) and `fetch`.

use camino::{Utf8Path, Utf8PathBuf};
use pad_registry::{Fetched, PublishOutcome, Registries, Registry};

use crate::{FlowError, PACKAGE_NAME, Progress, Workspace};

/// Which way a package moves, for a progress that shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Upload,
    Download,
}

/// A package file moving to or from a registry.
#[derive(Debug, Clone, Copy)]
pub struct Transfer<'a> {
    pub direction: Direction,
    /// The package's file name.
    pub file: &'a str,
    /// The registry's name in `deploy/registries.toml`.
    pub registry: &'a str,
}

/// Opens a registry of `<root>/deploy/registries.toml`: the one named, or the default one
/// (the only one, or the one named `default`).
pub fn open_registry(root: &Utf8Path, name: Option<&str>) -> Result<Registry, FlowError> {
    let registries = Registries::load(&root.join("deploy").join(pad_layout::REGISTRIES_FILE))?;
    let name = match name {
        Some(name) => name,
        None => registries.default_name()?,
    };
    Ok(registries.open(name, &pad_layout::vars::from_process_env)?)
}

/// A package fetched from a registry.
#[derive(Debug)]
pub struct FetchedPackage {
    /// The registry's name.
    pub registry: String,
    pub fetched: Fetched,
}

/// Downloads the package of `version` from a registry (the one named, or the default
/// one) into `dir`, its SHA-256 checked.
pub fn fetch(
    root: &Utf8Path,
    registry: Option<&str>,
    version: &str,
    dir: &Utf8Path,
    progress: &dyn Progress,
) -> Result<FetchedPackage, FlowError> {
    let registry = open_registry(root, registry)?;
    let file_name = pad_bundle::package_file_name(PACKAGE_NAME, version);
    std::fs::create_dir_all(dir).map_err(|source| FlowError::Io { action: "create", path: dir.to_owned(), source })?;
    let transfer =
        progress.transfer(&Transfer { direction: Direction::Download, file: &file_name, registry: registry.name() });
    let fetched = registry.fetch(PACKAGE_NAME, version, &file_name, dir, &*transfer);
    drop(transfer);
    Ok(FetchedPackage { registry: registry.name().to_owned(), fetched: fetched? })
}

/// What to publish, and where.
#[derive(Debug, Clone, Default)]
pub struct PublishRequest {
    /// The registry's name (default: the default one).
    pub registry: Option<String>,
    /// A package file; without one, the package of the current version is built or
    /// reused first.
    pub file: Option<Utf8PathBuf>,
    /// Fail on a stale lock instead of updating it (when building).
    pub locked: bool,
    /// Replace the same version when it is there with a different SHA-256.
    pub force: bool,
}

/// What `publish` did.
#[derive(Debug)]
pub struct Published {
    pub registry: String,
    /// `gitlab`, `webdav`, `s3` or `fs`.
    pub kind: &'static str,
    pub version: String,
    pub file_name: String,
    pub outcome: PublishOutcome,
}

/// Uploads a package to a registry. The registry is opened first, so a bad name or
/// missing credentials fail before anything is built.
pub fn publish(ws: &Workspace, request: &PublishRequest, progress: &dyn Progress) -> Result<Published, FlowError> {
    let registry = open_registry(&ws.root, request.registry.as_deref())?;
    let (file, version) = match &request.file {
        Some(file) => {
            let manifest = pad_bundle::read_manifest(file)
                .map_err(|source| FlowError::NotAPackage { file: file.clone(), source: Box::new(source) })?;
            (file.clone(), manifest.version)
        }
        None => {
            let package = crate::package(ws, request.locked, None, progress)?;
            (package.path, package.manifest.version)
        }
    };
    let file_name = file.file_name().map_or_else(|| file.to_string(), str::to_owned);
    let transfer =
        progress.transfer(&Transfer { direction: Direction::Upload, file: &file_name, registry: registry.name() });
    let outcome = registry.publish(&file, PACKAGE_NAME, &version, request.force, &*transfer);
    drop(transfer);
    Ok(Published { registry: registry.name().to_owned(), kind: registry.kind(), version, file_name, outcome: outcome? })
}
