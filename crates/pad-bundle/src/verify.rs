//! Checking a package against its manifest: [`verify`] reads the archive once, hashes
//! every file and reports every difference and every unsafe entry.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;

use camino::Utf8Path;
use sha2::{Digest, Sha256};

use crate::hash::hex;
use crate::manifest::{MANIFEST_PATH, MAX_MANIFEST_BYTES, Manifest};
use crate::rules::{Namespace, Raw, Step, shown};
use crate::{BundleError, FileEntry};

/// What [`verify`] checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Regular files and hard links compared with the manifest (the manifest itself
    /// not counted).
    pub files: u64,
    /// Bytes of those files read from the archive.
    pub bytes: u64,
    /// Empty when `verify` returns the report: any problem makes it return
    /// [`BundleError::Verify`], which lists them all.
    pub problems: Vec<String>,
}

/// Checks the package `archive` against the manifest in its first entry, reading the
/// archive once.
///
/// Reports, all at once: files missing from the archive or not in the manifest, sizes,
/// modes and SHA-256s that differ, links whose targets differ, entries that
/// [`extract`](crate::extract) would refuse (with absolute symlinks refused), and an
/// `inputs_sha256` that does not match the manifest's own lists. Directories are not
/// compared: the manifest does not list them.
pub fn verify(archive: &Utf8Path) -> Result<VerifyReport, BundleError> {
    let file = File::open(archive).map_err(|source| BundleError::Read { path: archive.to_owned(), source })?;
    let mut tar = open_archive(file);
    let read_err = |source| BundleError::ReadArchive { archive: archive.to_owned(), source };
    let mut entries = tar.entries().map_err(read_err)?;
    let (manifest, _) = take_manifest(archive, &mut entries)?;
    let mut check = ManifestCheck::new(&manifest);
    let mut namespace = Namespace::new(false);
    namespace.plan(&manifest_raw()).expect("the first entry is always allowed");

    let mut report = VerifyReport::default();
    let mut buf = vec![0u8; 64 * 1024];
    for entry in entries {
        let mut entry = entry.map_err(read_err)?;
        let step = match namespace.plan(&Raw::of(&entry)) {
            Ok(step) => step,
            Err(refusal) => {
                check.problems.push(format!("`{}`: unsafe entry: {}", refusal.entry, refusal.reason));
                continue;
            }
        };
        match step {
            Step::File { path, mode, .. } => {
                let mut hasher = Sha256::new();
                let mut size = 0u64;
                loop {
                    let n = entry.read(&mut buf).map_err(|source| BundleError::ReadEntry {
                        archive: archive.to_owned(),
                        entry: path.clone(),
                        source,
                    })?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                    size += n as u64;
                }
                let sha256 = hex(&hasher.finalize());
                check.file(&path, size, mode, &sha256);
                namespace.file_written(&path, size, Some(sha256));
                report.files += 1;
                report.bytes += size;
            }
            Step::HardLink { path, target, .. } => {
                let info = namespace.file(&target).expect("a hard link's target is a file").clone();
                check.file(&path, info.size, info.mode, info.sha256.as_deref().unwrap_or_default());
                report.files += 1;
            }
            Step::Symlink { path, target, .. } => check.link(&path, &target),
            Step::Dir { .. } | Step::Skip => {}
        }
    }
    for refusal in namespace.check_symlinks() {
        check.problems.push(format!("`{}`: unsafe entry: {}", refusal.entry, refusal.reason));
    }
    let problems = check.finish();
    if !problems.is_empty() {
        return Err(BundleError::Verify { archive: archive.to_owned(), problems });
    }
    tracing::debug!(%archive, files = report.files, bytes = report.bytes, "verified");
    Ok(report)
}

pub(crate) type ArchiveReader = tar::Archive<flate2::read::MultiGzDecoder<File>>;

/// A tar reader over the gzip file `file`, read as a stream. Several gzip members are
/// read as one stream, as `gzip -d` does.
pub(crate) fn open_archive(file: File) -> ArchiveReader {
    tar::Archive::new(flate2::read::MultiGzDecoder::new(file))
}

/// The header fields of the manifest entry, for [`Namespace::plan`].
pub(crate) fn manifest_raw() -> Raw<'static> {
    Raw { path: MANIFEST_PATH.as_bytes().into(), entry_type: tar::EntryType::Regular, link: None, mode: Some(0o644) }
}

/// Reads the first entry of `entries`, which must be the manifest, and returns it
/// parsed and as bytes.
pub(crate) fn take_manifest<R: Read>(
    archive: &Utf8Path,
    entries: &mut tar::Entries<'_, R>,
) -> Result<(Manifest, Vec<u8>), BundleError> {
    let no_manifest = |found: String| BundleError::NoManifest { archive: archive.to_owned(), found };
    let mut entry = match entries.next() {
        None => return Err(no_manifest("nothing: the archive is empty".to_owned())),
        Some(entry) => entry.map_err(|source| BundleError::ReadArchive { archive: archive.to_owned(), source })?,
    };
    let path = entry.path_bytes();
    if &*path != MANIFEST_PATH.as_bytes() || entry.header().entry_type() != tar::EntryType::Regular {
        return Err(no_manifest(format!("`{}`", shown(&path))));
    }
    drop(path);
    let size = entry.size();
    if size > MAX_MANIFEST_BYTES {
        return Err(BundleError::InvalidManifest {
            origin: archive.to_string(),
            reason: format!("it is {size} bytes, more than the {MAX_MANIFEST_BYTES} a manifest may have"),
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or_default());
    entry.read_to_end(&mut bytes).map_err(|source| BundleError::ReadEntry {
        archive: archive.to_owned(),
        entry: MANIFEST_PATH.into(),
        source,
    })?;
    let manifest = Manifest::from_json(&bytes, archive.as_str())?;
    Ok((manifest, bytes))
}

/// Compares what an archive holds with its manifest, entry by entry, collecting every
/// difference.
pub(crate) struct ManifestCheck<'m> {
    files: HashMap<&'m Utf8Path, &'m FileEntry>,
    links: HashMap<&'m Utf8Path, &'m Utf8Path>,
    pub(crate) problems: Vec<String>,
}

impl<'m> ManifestCheck<'m> {
    /// Starts with the manifest's own consistency: sorted lists without duplicates
    /// and an inputs hash that matches them.
    pub(crate) fn new(manifest: &'m Manifest) -> Self {
        let mut problems = Vec::new();
        let computed = manifest.compute_inputs_sha256();
        if manifest.inputs_sha256 != computed {
            problems.push(format!(
                "`{MANIFEST_PATH}`: its inputs_sha256 is {}, but its lists hash to {computed}",
                manifest.inputs_sha256
            ));
        }
        if !manifest.files.is_sorted_by(|a, b| a.path < b.path) {
            problems.push(format!("`{MANIFEST_PATH}`: its files are not sorted by path, or listed twice"));
        }
        if !manifest.links.is_sorted_by(|a, b| a.path < b.path) {
            problems.push(format!("`{MANIFEST_PATH}`: its links are not sorted by path, or listed twice"));
        }
        let files: HashMap<_, _> = manifest.files.iter().map(|f| (f.path.as_path(), f)).collect();
        let mut links = HashMap::new();
        for link in &manifest.links {
            if files.contains_key(link.path.as_path()) {
                problems.push(format!("`{MANIFEST_PATH}`: it lists `{}` as a file and as a link", link.path));
            }
            links.insert(link.path.as_path(), link.target.as_path());
        }
        if files.contains_key(Utf8Path::new(MANIFEST_PATH)) {
            problems.push(format!("`{MANIFEST_PATH}`: it lists itself"));
        }
        ManifestCheck { files, links, problems }
    }

    /// A regular file (or hard link to one) in the archive.
    pub(crate) fn file(&mut self, path: &Utf8Path, size: u64, mode: u32, sha256: &str) {
        let Some(expected) = self.files.remove(path) else {
            if self.links.remove(path).is_some() {
                self.problems.push(format!("`{path}`: a file in the archive, a symlink in the manifest"));
            } else {
                self.problems.push(format!("`{path}`: not in the manifest"));
            }
            return;
        };
        if size != expected.size {
            self.problems.push(format!("`{path}`: {size} bytes, the manifest says {}", expected.size));
        }
        if sha256 != expected.sha256 {
            self.problems.push(format!("`{path}`: sha256 {sha256}, the manifest says {}", expected.sha256));
        }
        if mode != expected.mode {
            self.problems.push(format!("`{path}`: mode {mode:o}, the manifest says {:o}", expected.mode));
        }
    }

    /// A symbolic link in the archive.
    pub(crate) fn link(&mut self, path: &Utf8Path, target: &Utf8Path) {
        let Some(expected) = self.links.remove(path) else {
            if self.files.remove(path).is_some() {
                self.problems.push(format!("`{path}`: a symlink in the archive, a file in the manifest"));
            } else {
                self.problems.push(format!("`{path}`: not in the manifest"));
            }
            return;
        };
        if target.as_str() != expected.as_str() {
            self.problems.push(format!("`{path}`: a symlink to `{target}`, the manifest says `{expected}`"));
        }
    }

    /// Every problem, with what the manifest lists and the archive lacks at the end.
    pub(crate) fn finish(mut self) -> Vec<String> {
        let mut missing: Vec<&Utf8Path> = self.files.keys().chain(self.links.keys()).copied().collect();
        missing.sort();
        for path in missing {
            self.problems.push(format!("`{path}`: in the manifest, missing from the archive"));
        }
        self.problems
    }
}

/// The end of [`BundleError::Verify`]'s message: how many problems, then the first
/// of them, one a line.
pub(crate) fn list_problems(problems: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut out = match problems.len() {
        1 => " (1 problem):".to_owned(),
        n => format!(" ({n} problems):"),
    };
    for problem in problems.iter().take(SHOWN) {
        out.push_str("\n  ");
        out.push_str(problem);
    }
    if problems.len() > SHOWN {
        out.push_str(&format!("\n  ... and {} more", problems.len() - SHOWN));
    }
    out
}

#[cfg(test)]
mod tests;
