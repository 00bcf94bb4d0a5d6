//! Safe extraction: [`extract`] unpacks a tar.gz into a new directory through a
//! temporary one beside it, refusing every entry that could write outside it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::BundleError;
use crate::manifest::{MANIFEST_PATH, Manifest};
use crate::rules::{Namespace, Raw, Step};
use crate::verify::{ManifestCheck, manifest_raw, open_archive, take_manifest};
use pad_stdx::hex;

/// How to extract.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Allow symlinks to absolute paths, as a virtualenv's `bin/python ->
    /// /usr/bin/python3.11`. Relative links must stay inside the archive either way.
    pub allow_absolute_symlinks: bool,
    /// Require `MANIFEST.json` as the first entry and check every file and link
    /// against it while extracting (see [`verify`](crate::verify)).
    pub verify_manifest: bool,
}

/// What [`extract`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractReport {
    /// Regular files and hard links written, the manifest included.
    pub files: u64,
    /// Bytes of file contents written.
    pub bytes: u64,
    /// The manifest checked, when `verify_manifest` was set.
    pub manifest: Option<Manifest>,
}

/// Extracts the tar.gz `archive` into the directory `dest`, which must not exist.
///
/// Everything is written into a temporary directory beside `dest`
/// (`.<name>.tmp-XXXXXX`), which is renamed to `dest` only once every entry is written
/// and checked; on any error it is removed and `dest` is not created. The archive is
/// read once, as a stream, and no file is held in memory.
///
/// Refused, with an error naming the entry: absolute paths, `..` components, empty
/// paths and paths with a NUL byte; symlinks to absolute paths (unless
/// `allow_absolute_symlinks`) and symlinks that lead outside the archive, judged from
/// the link's directory and through the archive's other links; hard links to anything
/// but a regular file earlier in the archive; devices, FIFOs and every other entry
/// type; a path given twice; and any entry under a path that is a symlink or file in
/// the archive. Symlinks are created last, so nothing is ever written through one.
///
/// Directories get mode 0o755, files 0o755 when the archive gives them any execute
/// bit and 0o644 otherwise (never setuid, setgid, sticky or writable by others),
/// whatever the umask. Ownership and times are not restored.
pub fn extract(archive: &Utf8Path, dest: &Utf8Path, options: &ExtractOptions) -> Result<ExtractReport, BundleError> {
    let Some(name) = dest.file_name() else {
        return Err(BundleError::InvalidPath {
            path: dest.to_string(),
            reason: "an extraction destination must end in a directory name",
        });
    };
    let parent = match dest.parent() {
        Some(parent) if !parent.as_str().is_empty() => parent,
        _ => Utf8Path::new("."),
    };
    check_absent(dest)?;
    let file = File::open(archive).map_err(|source| BundleError::Read { path: archive.to_owned(), source })?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempdir_in(parent)
        .map_err(|source| BundleError::CreateTemp { dir: parent.to_owned(), source })?;
    let root = Utf8Path::from_path(tmp.path())
        .ok_or_else(|| BundleError::NonUtf8Path { path: tmp.path().to_string_lossy().into_owned() })?
        .to_owned();

    // On any error from here on, dropping `tmp` removes the temporary directory.
    let mut unpacker = Unpacker { archive, dest, root: &root, buf: vec![0u8; 64 * 1024], files: 0, bytes: 0 };
    let manifest = unpacker.unpack(file, options)?;
    set_mode(&root, 0o755).map_err(|source| BundleError::WriteFile { path: root.clone(), source })?;
    check_absent(dest)?;
    fs::rename(&root, dest).map_err(|source| BundleError::Rename {
        from: root.clone(),
        to: dest.to_owned(),
        source,
    })?;
    // Renamed: there is nothing left to clean up.
    let _ = tmp.keep();
    tracing::debug!(%archive, %dest, files = unpacker.files, bytes = unpacker.bytes, "extracted");
    Ok(ExtractReport { files: unpacker.files, bytes: unpacker.bytes, manifest })
}

fn check_absent(dest: &Utf8Path) -> Result<(), BundleError> {
    match fs::symlink_metadata(dest) {
        Ok(_) => Err(BundleError::DestExists { path: dest.to_owned() }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BundleError::Read { path: dest.to_owned(), source }),
    }
}

/// Writes entries under `root`, the temporary directory.
struct Unpacker<'a> {
    archive: &'a Utf8Path,
    dest: &'a Utf8Path,
    root: &'a Utf8Path,
    buf: Vec<u8>,
    files: u64,
    bytes: u64,
}

impl Unpacker<'_> {
    /// Writes every entry of the archive `file` and returns the manifest checked.
    fn unpack(&mut self, file: File, options: &ExtractOptions) -> Result<Option<Manifest>, BundleError> {
        let archive = self.archive;
        let read_err = |source| BundleError::ReadArchive { archive: archive.to_owned(), source };
        let mut tar = open_archive(file);
        let mut entries = tar.entries().map_err(read_err)?;
        let mut namespace = Namespace::new(options.allow_absolute_symlinks);

        let manifest = if options.verify_manifest {
            let (manifest, bytes) = take_manifest(archive, &mut entries)?;
            namespace.plan(&manifest_raw()).expect("the first entry is always allowed");
            let path = Utf8Path::new(MANIFEST_PATH);
            let (size, sha256) = self.write_file(path, 0o644, &mut &bytes[..], false)?;
            namespace.file_written(path, size, sha256);
            Some(manifest)
        } else {
            None
        };
        let mut check = manifest.as_ref().map(ManifestCheck::new);
        let hashing = check.is_some();

        let mut symlinks = Vec::new();
        for entry in entries {
            let mut entry = entry.map_err(read_err)?;
            let step = namespace.plan(&Raw::of(&entry)).map_err(|refusal| BundleError::UnsafeEntry {
                archive: archive.to_owned(),
                entry: refusal.entry,
                reason: refusal.reason,
            })?;
            match step {
                Step::Skip => {}
                Step::Dir { path, new_dirs } => {
                    self.make_dirs(&new_dirs)?;
                    self.make_dirs(&[path])?;
                }
                Step::File { path, mode, new_dirs } => {
                    self.make_dirs(&new_dirs)?;
                    let (size, sha256) = self.write_file(&path, mode, &mut entry, hashing)?;
                    if let (Some(check), Some(sha256)) = (&mut check, &sha256) {
                        check.file(&path, size, mode, sha256);
                    }
                    namespace.file_written(&path, size, sha256);
                }
                Step::HardLink { path, target, new_dirs } => {
                    self.make_dirs(&new_dirs)?;
                    fs::hard_link(self.root.join(&target), self.root.join(&path))
                        .map_err(|source| self.extract_err(&path, source))?;
                    let info = namespace.file(&target).expect("a hard link's target is a file");
                    if let Some(check) = &mut check {
                        check.file(&path, info.size, info.mode, info.sha256.as_deref().unwrap_or_default());
                    }
                    self.files += 1;
                }
                Step::Symlink { path, target, new_dirs } => {
                    self.make_dirs(&new_dirs)?;
                    if let Some(check) = &mut check {
                        check.link(&path, &target);
                    }
                    symlinks.push((path, target));
                }
            }
        }

        if let Some(refusal) = namespace.check_symlinks().into_iter().next() {
            return Err(BundleError::UnsafeEntry {
                archive: archive.to_owned(),
                entry: refusal.entry,
                reason: refusal.reason,
            });
        }
        if let Some(check) = check {
            let problems = check.finish();
            if !problems.is_empty() {
                return Err(BundleError::Verify { archive: archive.to_owned(), problems });
            }
        }
        // Last, so that no entry is ever written through a link.
        for (path, target) in symlinks {
            symlink(&target, &self.root.join(&path)).map_err(|source| self.extract_err(&path, source))?;
        }
        Ok(manifest)
    }

    fn make_dirs(&self, dirs: &[Utf8PathBuf]) -> Result<(), BundleError> {
        for dir in dirs {
            let disk = self.root.join(dir);
            fs::create_dir(&disk)
                .and_then(|()| set_mode(&disk, 0o755))
                .map_err(|source| self.extract_err(dir, source))?;
        }
        Ok(())
    }

    /// Writes `data` to the new file `path`, hashing it when `hash`.
    fn write_file(
        &mut self,
        path: &Utf8Path,
        mode: u32,
        data: &mut dyn Read,
        hash: bool,
    ) -> Result<(u64, Option<String>), BundleError> {
        // `create_new` also refuses to follow a symlink already at the path.
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.root.join(path))
            .map_err(|source| self.extract_err(path, source))?;
        let mut hasher = hash.then(Sha256::new);
        let mut size = 0u64;
        loop {
            let n = match data.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(BundleError::ReadEntry {
                        archive: self.archive.to_owned(),
                        entry: path.to_owned(),
                        source,
                    });
                }
            };
            let chunk = &self.buf[..n];
            if let Some(hasher) = &mut hasher {
                hasher.update(chunk);
            }
            out.write_all(chunk).map_err(|source| extract_err(self.dest, path, source))?;
            size += n as u64;
        }
        set_file_mode(&out, mode).map_err(|source| self.extract_err(path, source))?;
        self.files += 1;
        self.bytes += size;
        Ok((size, hasher.map(|h| hex(&h.finalize()))))
    }

    fn extract_err(&self, entry: &Utf8Path, source: io::Error) -> BundleError {
        extract_err(self.dest, entry, source)
    }
}

fn extract_err(dest: &Utf8Path, entry: &Utf8Path, source: io::Error) -> BundleError {
    BundleError::ExtractEntry { entry: entry.to_owned(), dest: dest.to_owned(), source }
}

#[cfg(unix)]
fn set_mode(path: &Utf8Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Utf8Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn set_file_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_file_mode(_file: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &Utf8Path, link: &Utf8Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(_target: &Utf8Path, _link: &Utf8Path) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "symbolic links are extracted on Unix only"))
}

#[cfg(test)]
mod tests;
