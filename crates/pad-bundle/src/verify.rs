//! Checking a package against its manifest: [`verify`] reads the archive once, hashes
//! every file and reports every difference and every unsafe entry, also inside the
//! projects' packed environments.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read};

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::manifest::{MANIFEST_PATH, MAX_MANIFEST_BYTES, Manifest};
use crate::package::env_archive_path;
use crate::rules::{Namespace, Raw, Step, shown};
use crate::{BundleError, FileEntry};
use pad_stdx::{hex, is_sha256_hex};

/// What [`verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The manifest, now known to describe the archive exactly.
    pub manifest: Manifest,
    /// Regular files and hard links compared with the manifest (the manifest itself
    /// not counted).
    pub files: u64,
    /// Bytes of those files read from the archive.
    pub bytes: u64,
    /// Packed environments whose own entries were checked.
    pub nested: u64,
    /// Packed environments not read again, because one with the same SHA-256 passed
    /// before (see [`VerifyOptions::checked_envs`]).
    pub nested_known: u64,
}

/// How to verify.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions<'a> {
    /// A directory that remembers, by SHA-256, the packed environments whose entries
    /// passed (an empty file each). An environment found there is hashed but not
    /// unpacked again: the same bytes passed before. Checking an environment costs an
    /// inflate of all of it, many times the cost of hashing it.
    pub checked_envs: Option<&'a Utf8Path>,
}

/// Checks the package `archive` against the manifest in its first entry, reading the
/// archive once: what a package must pass before anything unpacks it.
///
/// Reports, all at once: files missing from the archive or not in the manifest, sizes,
/// modes and SHA-256s that differ, links whose targets differ, entries that
/// [`extract`](crate::extract) would refuse (with absolute symlinks refused), an
/// `inputs_sha256` that is not 64 hex digits or does not match the manifest's own
/// lists, and, inside each project's packed environment
/// ([`env_archive_path`]), every entry `extract` would refuse (absolute symlinks
/// allowed there: a virtualenv's `bin/python` is one) and any setuid, setgid or sticky
/// bit (`tar` on a host would keep them). Directories are not compared: the manifest
/// does not list them.
pub fn verify(archive: &Utf8Path) -> Result<VerifyReport, BundleError> {
    verify_with(archive, &VerifyOptions::default())
}

/// [`verify`] with options.
pub fn verify_with(archive: &Utf8Path, options: &VerifyOptions<'_>) -> Result<VerifyReport, BundleError> {
    verify_package(archive, Some(options))
}

/// [`verify`], with the packed environments' own entries checked only when `nested`
/// is given: the package writer checks what it wrote against the manifest, not the
/// environments it was handed.
pub(crate) fn verify_package(
    archive: &Utf8Path,
    nested: Option<&VerifyOptions<'_>>,
) -> Result<VerifyReport, BundleError> {
    let file = File::open(archive).map_err(|source| BundleError::Read { path: archive.to_owned(), source })?;
    let mut tar = open_archive(file);
    let read_err = |source| BundleError::ReadArchive { archive: archive.to_owned(), source };
    let mut entries = tar.entries().map_err(read_err)?;
    let (manifest, _) = take_manifest(archive, &mut entries)?;
    let mut check = ManifestCheck::new(&manifest);
    let mut namespace = Namespace::new(false);
    namespace.plan(&manifest_raw()).expect("the first entry is always allowed");
    let envs: HashSet<Utf8PathBuf> = match nested {
        Some(_) => manifest.projects.iter().map(|p| env_archive_path(&p.name)).collect(),
        None => HashSet::new(),
    };
    let known_dir = nested.and_then(|options| options.checked_envs);

    let mut files = 0;
    let mut bytes = 0;
    let mut checked_envs = 0;
    let mut known_envs = 0;
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
                let entry_err =
                    |source| BundleError::ReadEntry { archive: archive.to_owned(), entry: path.clone(), source };
                let mut reader = HashingReader::new(&mut entry);
                // An environment is hashed in any case: a remembered one counts only if
                // these are the bytes that passed.
                let is_env = envs.contains(&path);
                let claimed = if is_env {
                    manifest.files.iter().find(|f| f.path == path).map(|f| f.sha256.as_str())
                } else {
                    None
                };
                let known = is_env && known_dir.zip(claimed).is_some_and(|(dir, sha256)| is_known(dir, sha256));
                let mut passed = false;
                if is_env && !known {
                    let problems = nested_problems(&mut reader);
                    passed = problems.is_empty();
                    for problem in problems {
                        check.problems.push(format!("`{path}`: {problem}"));
                    }
                    checked_envs += 1;
                }
                // The rest of the entry (all of it, for a plain file) is hashed too.
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                        Err(source) => return Err(entry_err(source)),
                    }
                }
                let (size, sha256) = reader.finish().map_err(entry_err)?;
                // Other bytes than the remembered ones are reported as a SHA-256
                // difference below.
                if known && claimed == Some(sha256.as_str()) {
                    known_envs += 1;
                }
                if let (true, Some(dir)) = (passed, known_dir) {
                    remember(dir, &sha256);
                }
                check.file(&path, size, mode, &sha256);
                namespace.file_written(&path, size, Some(sha256));
                files += 1;
                bytes += size;
            }
            Step::HardLink { path, target, .. } => {
                let info = namespace.file(&target).expect("a hard link's target is a file").clone();
                check.file(&path, info.size, info.mode, info.sha256.as_deref().unwrap_or_default());
                files += 1;
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
    tracing::debug!(%archive, files, bytes, nested = checked_envs, nested_known = known_envs, "verified");
    Ok(VerifyReport { manifest, files, bytes, nested: checked_envs, nested_known: known_envs })
}

/// Whether the packed environment `sha256` passed before, as `dir` remembers.
fn is_known(dir: &Utf8Path, sha256: &str) -> bool {
    is_sha256_hex(sha256) && dir.join(sha256).is_file()
}

/// Remembers that the packed environment `sha256` passed. A failure to write only
/// costs a check next time.
fn remember(dir: &Utf8Path, sha256: &str) {
    if let Err(err) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(dir.join(sha256), b"")) {
        tracing::debug!(%dir, "cannot remember a checked environment: {err}");
    }
}

/// Reads the gzipped tar `data` and returns why [`extract`](crate::extract) would
/// refuse each of its entries (absolute symlinks allowed), or why it cannot be read as
/// a tar.gz at all. Stops at the tar's end; the caller reads what follows.
fn nested_problems(data: &mut dyn Read) -> Vec<String> {
    let mut tar = tar::Archive::new(flate2::read::MultiGzDecoder::new(data));
    let mut namespace = Namespace::new(true).refusing_special_modes();
    let mut problems = Vec::new();
    let entries = match tar.entries() {
        Ok(entries) => entries,
        Err(err) => return vec![format!("not a readable tar.gz: {err}")],
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                problems.push(format!("not a readable tar.gz: {err}"));
                break;
            }
        };
        if let Err(refusal) = namespace.plan(&Raw::of(&entry)) {
            problems.push(format!("unsafe entry `{}` inside it: {}", refusal.entry, refusal.reason));
        }
    }
    for refusal in namespace.check_symlinks() {
        problems.push(format!("unsafe entry `{}` inside it: {}", refusal.entry, refusal.reason));
    }
    problems
}

/// Hashes and counts what is read through it, and remembers the first read error of
/// the archive underneath, so a nested archive that fails to decode because the outer
/// one broke is reported as the outer one's failure.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
    failed: Option<io::Error>,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader { inner, hasher: Sha256::new(), size: 0, failed: None }
    }

    /// The size and lowercase hex SHA-256 of everything read, or the first read error.
    fn finish(self) -> io::Result<(u64, String)> {
        match self.failed {
            Some(err) => Err(err),
            None => Ok((self.size, hex(&self.hasher.finalize()))),
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(err) = &self.failed {
            return Err(io::Error::new(err.kind(), err.to_string()));
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.hasher.update(&buf[..n]);
                self.size += n as u64;
                Ok(n)
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => Err(err),
            Err(err) => {
                let copy = io::Error::new(err.kind(), err.to_string());
                self.failed = Some(err);
                Err(copy)
            }
        }
    }
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
        if !is_sha256_hex(&manifest.inputs_sha256) {
            problems.push(format!(
                "`{MANIFEST_PATH}`: its inputs_sha256 `{}` is not 64 lowercase hex digits",
                shown(manifest.inputs_sha256.as_bytes())
            ));
        } else if manifest.inputs_sha256 != computed {
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
