//! The manifest every package carries as its first entry, `MANIFEST.json`: what the
//! archive holds (each file's size, mode and SHA-256, each link's target, each
//! project's environment) and where it came from (version, commit).

use std::fs::File;
use std::io;

use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::archive::{Walked, WalkedKind, normalise, open_regular, walk_tree};
use pad_stdx::hex;

use crate::hash::Sha256Writer;
use crate::{BundleError, FileMode, PackOptions, SymlinkPolicy};

/// Where the manifest lives in an archive. It sorts before every lowercase name, and
/// [`ArchiveBuilder::add_manifest`](crate::ArchiveBuilder::add_manifest) writes it
/// first in any case.
pub const MANIFEST_PATH: &str = "MANIFEST.json";

/// The manifest format this crate writes and reads. A reader refuses other formats
/// rather than guess: a new field, or a changed meaning, raises it.
pub const MANIFEST_FORMAT: u32 = 1;

/// The largest manifest read into memory; one for a million files fits.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

/// What a package holds and where it came from.
///
/// Serialised as pretty JSON with the fields in this order and a trailing newline,
/// so the same manifest always has the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`] when written by this crate.
    pub format: u32,
    /// The package name, e.g. `platform-airflow-dags`.
    pub name: String,
    /// The version from git, e.g. `main-abc1234` or `v1.2.0`.
    pub version: String,
    /// The full git commit the package was built from, when known.
    pub commit: Option<String>,
    /// Whether the working tree had uncommitted changes.
    pub dirty: bool,
    /// See [`Manifest::compute_inputs_sha256`].
    pub inputs_sha256: String,
    /// Sorted by name.
    pub projects: Vec<ProjectEntry>,
    /// Regular files, sorted by path, without `MANIFEST.json` itself.
    pub files: Vec<FileEntry>,
    /// Symbolic links, sorted by path.
    pub links: Vec<LinkEntry>,
}

/// One project's Python environment as the package ships it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectEntry {
    pub name: String,
    /// The environment's content key.
    pub env_key: String,
    /// The interpreter the environment was built with, as the workers must have it.
    pub interpreter_path: String,
    pub interpreter_version: String,
    /// The project's own Python package, when it has one.
    pub package: Option<String>,
    /// SHA-256 of the project's packed environment.
    pub venv_sha256: String,
}

/// A regular file in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: Utf8PathBuf,
    pub size: u64,
    /// 0o644 or 0o755, as the archive stores it (decimal in JSON: 420 or 493).
    pub mode: u32,
    /// Lowercase hex SHA-256 of the contents.
    pub sha256: String,
}

/// A symbolic link in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkEntry {
    pub path: Utf8PathBuf,
    pub target: Utf8PathBuf,
}

/// The part of a manifest its inputs hash covers, gathered while planning a package:
/// add to it what will be added to the [`ArchiveBuilder`](crate::ArchiveBuilder), in
/// any order, then make a [`Manifest`] of it.
///
/// Its `add_*` methods mirror the builder's and store what the builder would store:
/// the same paths, exclusions and normalised modes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contents {
    pub projects: Vec<ProjectEntry>,
    pub files: Vec<FileEntry>,
    pub links: Vec<LinkEntry>,
}

impl Contents {
    /// Lists a file holding `bytes`, like [`ArchiveBuilder::add_bytes`](crate::ArchiveBuilder::add_bytes).
    pub fn add_bytes(&mut self, archive_path: &Utf8Path, bytes: &[u8], executable: bool) -> Result<(), BundleError> {
        let path = normalise(archive_path)?;
        let mode = if executable { 0o755 } else { 0o644 };
        self.files.push(FileEntry { path, size: bytes.len() as u64, mode, sha256: hex(&Sha256::digest(bytes)) });
        Ok(())
    }

    /// Lists the file `src` (symlinks followed) as `archive_path`, like
    /// [`ArchiveBuilder::add_file`](crate::ArchiveBuilder::add_file).
    pub fn add_file(&mut self, archive_path: &Utf8Path, src: &Utf8Path, mode: FileMode) -> Result<(), BundleError> {
        let path = normalise(archive_path)?;
        self.files.push(describe_file(path, src, mode)?);
        Ok(())
    }

    /// Lists a symbolic link, like [`ArchiveBuilder::add_symlink`](crate::ArchiveBuilder::add_symlink).
    pub fn add_symlink(&mut self, archive_path: &Utf8Path, target: &Utf8Path) -> Result<(), BundleError> {
        let path = normalise(archive_path)?;
        self.links.push(LinkEntry { path, target: target.to_owned() });
        Ok(())
    }

    /// Lists the files and links of the directory `src` under `prefix`, like
    /// [`ArchiveBuilder::add_dir_tree`](crate::ArchiveBuilder::add_dir_tree) with the
    /// same `options`: the same exclusions, symlink policy and refusals. Files are
    /// hashed in parallel on the current rayon pool.
    ///
    /// A file that changes between this and the builder's pass makes a package that
    /// fails [`verify`](crate::verify), so verify what you build from a live tree.
    pub fn add_dir_tree(
        &mut self,
        prefix: &Utf8Path,
        src: &Utf8Path,
        options: &PackOptions,
    ) -> Result<(), BundleError> {
        let prefix = if prefix.as_str().is_empty() { None } else { Some(normalise(prefix)?) };
        let mut files = Vec::new();
        for item in walk_tree(prefix.as_deref(), src, options.exclude_names.clone(), options.exclude_pyc)? {
            let Walked { archive, disk, kind } = item?;
            match kind {
                WalkedKind::Dir => {}
                WalkedKind::File => files.push((archive, disk)),
                WalkedKind::Symlink(target) => {
                    if options.symlinks == SymlinkPolicy::InsideOnly && !crate::archive::stays_inside(&archive, &target)
                    {
                        return Err(BundleError::SymlinkEscapes { path: disk, target });
                    }
                    self.links.push(LinkEntry { path: archive, target });
                }
            }
        }
        let described: Vec<FileEntry> = files
            .into_par_iter()
            .map(|(archive, disk)| describe_file(archive, &disk, FileMode::FromSource))
            .collect::<Result<_, _>>()?;
        self.files.extend(described);
        Ok(())
    }
}

/// Size, normalised mode and SHA-256 of the regular file `src`, read in one pass.
pub(crate) fn describe_file(path: Utf8PathBuf, src: &Utf8Path, mode: FileMode) -> Result<FileEntry, BundleError> {
    let (mut file, _, executable) = open_regular(src, mode)?;
    let mut hashing = Sha256Writer::new(io::sink());
    io::copy(&mut file, &mut hashing).map_err(|source| BundleError::Read { path: src.to_owned(), source })?;
    let (_, sha256, size) = hashing.finish();
    let mode = if executable { 0o755 } else { 0o644 };
    Ok(FileEntry { path, size, mode, sha256 })
}

/// What [`Manifest::compute_inputs_sha256`] hashes, borrowed from a manifest.
#[derive(Serialize)]
struct Inputs<'a> {
    format: u32,
    name: &'a str,
    projects: &'a [ProjectEntry],
    files: &'a [FileEntry],
    links: &'a [LinkEntry],
}

/// Only the format, read first so a newer manifest is refused by its format rather
/// than by a field this version does not know.
#[derive(Deserialize)]
struct FormatOnly {
    format: u32,
}

impl Manifest {
    /// A manifest of `contents`, its lists sorted and its inputs hash computed.
    ///
    /// Refuses a path listed twice (as files, links or both), `MANIFEST.json` itself,
    /// and a project listed twice.
    pub fn new(
        name: &str,
        version: &str,
        commit: Option<&str>,
        dirty: bool,
        contents: Contents,
    ) -> Result<Manifest, BundleError> {
        let Contents { mut projects, mut files, mut links } = contents;
        projects.sort_by(|a, b| a.name.cmp(&b.name));
        files.sort_by(|a, b| a.path.cmp(&b.path));
        links.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(pair) = projects.windows(2).find(|pair| pair[0].name == pair[1].name) {
            return Err(BundleError::ManifestConflict { name: pair[0].name.clone(), reason: "project listed twice" });
        }
        let mut paths: Vec<&Utf8Path> =
            files.iter().map(|f| f.path.as_path()).chain(links.iter().map(|l| l.path.as_path())).collect();
        paths.sort();
        if let Some(pair) = paths.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(BundleError::ManifestConflict { name: pair[0].to_string(), reason: "path listed twice" });
        }
        if paths.binary_search(&Utf8Path::new(MANIFEST_PATH)).is_ok() {
            return Err(BundleError::ManifestConflict {
                name: MANIFEST_PATH.to_owned(),
                reason: "the path is reserved for the manifest itself",
            });
        }
        let mut manifest = Manifest {
            format: MANIFEST_FORMAT,
            name: name.to_owned(),
            version: version.to_owned(),
            commit: commit.map(str::to_owned),
            dirty,
            inputs_sha256: String::new(),
            projects,
            files,
            links,
        };
        manifest.inputs_sha256 = manifest.compute_inputs_sha256();
        Ok(manifest)
    }

    /// The content hash of the package: lowercase hex SHA-256 of the compact JSON of
    /// `{format, name, projects, files, links}`, in that order, with the lists as they
    /// stand (sorted, in a manifest from [`Manifest::new`]).
    ///
    /// It covers every file's path, size, mode and SHA-256, every link's target and
    /// every project's environment, but not `version`, `commit` or `dirty`: the same
    /// tree built at another commit or under another tag has the same inputs hash, so
    /// it says "same contents" where the archive's own hash cannot.
    pub fn compute_inputs_sha256(&self) -> String {
        let inputs = Inputs {
            format: self.format,
            name: &self.name,
            projects: &self.projects,
            files: &self.files,
            links: &self.links,
        };
        let json = serde_json::to_vec(&inputs).expect("a manifest always serialises");
        hex(&Sha256::digest(json))
    }

    /// The manifest as pretty JSON with a trailing newline: the bytes of
    /// `MANIFEST.json`.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut json = serde_json::to_vec_pretty(self).expect("a manifest always serialises");
        json.push(b'\n');
        json
    }

    /// Parses a manifest; `origin` names where it came from in errors (a file, or an
    /// archive). Refuses another [`MANIFEST_FORMAT`] and unknown fields.
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Manifest, BundleError> {
        let json_err = |source| BundleError::ManifestJson { origin: origin.to_owned(), source };
        let FormatOnly { format } = serde_json::from_slice(bytes).map_err(json_err)?;
        if format != MANIFEST_FORMAT {
            return Err(BundleError::InvalidManifest {
                origin: origin.to_owned(),
                reason: format!("it has format {format}, and this version reads format {MANIFEST_FORMAT} only"),
            });
        }
        serde_json::from_slice(bytes).map_err(json_err)
    }
}

/// Reads the manifest of the package `archive` from its first entry, without reading
/// the rest of the archive. An archive whose first entry is not `MANIFEST.json` is an
/// error.
pub fn read_manifest(archive: &Utf8Path) -> Result<Manifest, BundleError> {
    let file = File::open(archive).map_err(|source| BundleError::Read { path: archive.to_owned(), source })?;
    let mut tar = crate::verify::open_archive(file);
    let mut entries =
        tar.entries().map_err(|source| BundleError::ReadArchive { archive: archive.to_owned(), source })?;
    let (manifest, _) = crate::verify::take_manifest(archive, &mut entries)?;
    Ok(manifest)
}

#[cfg(test)]
mod tests;
