//! Small file-system helpers: atomic writes, locks, hashing trees.

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::VenvError;

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
/// so readers see the old content or the new, never a part.
pub(crate) fn write_atomic(path: &Utf8Path, bytes: &[u8]) -> Result<(), VenvError> {
    // 0644 like any file a person writes (the umask still applies), not a temporary
    // file's 0600: locks are committed and environments are read by other users.
    pad_stdx::write_atomic(path, bytes, 0o644).map_err(|source| VenvError::io(path, source))
}

/// An exclusive lock on a file, held until dropped. Other builders of the same
/// environment wait for it.
pub(crate) struct FileLock {
    _file: std::fs::File,
}

impl FileLock {
    pub(crate) fn acquire(path: &Utf8Path) -> Result<FileLock, VenvError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| VenvError::io(dir, source))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|source| VenvError::io(path, source))?;
        file.lock().map_err(|source| VenvError::io(path, source))?;
        Ok(FileLock { _file: file })
    }
}

/// The files of a project that go into its environment: the ones that ship
/// ([`pad_layout::project_files`]).
pub(crate) fn project_source_files(dir: &Utf8Path) -> Result<Vec<Utf8PathBuf>, VenvError> {
    pad_layout::project_files(dir).map_err(|source| VenvError::io(dir, source))
}

/// Hashes files (path, executable bit, content) into `hasher`, in the given order.
pub(crate) fn hash_files(hasher: &mut Sha256, dir: &Utf8Path, files: &[Utf8PathBuf]) -> Result<(), VenvError> {
    use std::os::unix::fs::PermissionsExt;
    for rel in files {
        let path = dir.join(rel);
        let bytes = std::fs::read(&path).map_err(|source| VenvError::io(&path, source))?;
        let exec = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o111 != 0).unwrap_or(false);
        hasher.update(rel.as_str().as_bytes());
        hasher.update([0, u8::from(exec)]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(())
}

/// Copies the listed files from `from` to `to`, creating directories.
pub(crate) fn copy_files(from: &Utf8Path, to: &Utf8Path, files: &[Utf8PathBuf]) -> Result<(), VenvError> {
    for rel in files {
        let target = to.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|source| VenvError::io(parent, source))?;
        }
        std::fs::copy(from.join(rel), &target).map_err(|source| VenvError::io(&target, source))?;
    }
    Ok(())
}

/// Removes a directory tree if it exists.
pub(crate) fn remove_dir_if_exists(path: &Utf8Path) -> Result<(), VenvError> {
    match std::fs::remove_dir_all(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(VenvError::io(path, err)),
        _ => Ok(()),
    }
}
