//! Deterministic, content-addressed tar.gz archives: the packed Python environments
//! (`venv.tar.gz`) and the release archive.
//!
//! The same tree packed with the same [`PackOptions`] gives the same bytes, on any
//! machine, any day, with any number of threads, so an archive's SHA-256 identifies its
//! contents. What goes in:
//!
//! - Entries in ascending path order, compared component by component (the order of
//!   `tar --sort=name`); every directory is an entry, so empty ones survive.
//! - Modification time 0, uid and gid 0, empty user and group names, no extended
//!   attributes; modes 0o755 for directories, 0o755 for files with any execute bit and
//!   0o644 for other files, 0o777 for symlinks.
//! - Regular files as regular files, also when hard-linked; symlinks as links, kept or
//!   refused by [`SymlinkPolicy`]; devices, sockets and FIFOs refused.
//! - GNU tar headers, with GNU long-name entries for paths and link targets over 100
//!   bytes.
//! - One gzip member with a fixed header (no name, time 0, OS 255), compressed by
//!   [`ParallelGzWriter`] in blocks whose boundaries depend only on the input, the block
//!   size and the level changes requested, never on the thread count.
//!
//! Any `gzip`/`tar` reads the result. The crate writes only the archive it is asked
//! for (through a temporary file beside it), runs no programs and does no network I/O.

use std::io;

use camino::Utf8PathBuf;

mod archive;
mod gz;
mod hash;

#[cfg(test)]
mod tests;

pub use archive::{ArchiveBuilder, FileMode, PackOptions, PackStats, SymlinkPolicy, pack_dir};
pub use gz::{GzOptions, ParallelGzWriter};
pub use hash::Sha256Writer;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("invalid archive options: {message}")]
    InvalidOptions { message: String },
    #[error("failed to read `{path}`")]
    Read {
        path: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to walk `{path}`")]
    Walk {
        path: Utf8PathBuf,
        #[source]
        source: walkdir::Error,
    },
    #[error("`{path}` is not valid UTF-8")]
    NonUtf8Path { path: String },
    #[error("`{path}` is a {kind}; only regular files, directories and symlinks can be archived")]
    Unsupported { path: Utf8PathBuf, kind: &'static str },
    #[error("`{path}` is not a directory")]
    NotADirectory { path: Utf8PathBuf },
    #[error("symlink `{path}` points to `{target}`, outside the archive")]
    SymlinkEscapes { path: Utf8PathBuf, target: Utf8PathBuf },
    #[error("`{path}` changed while it was being archived")]
    Changed { path: Utf8PathBuf },
    #[error("invalid archive path `{path}`: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("archive entry `{path}` added after `{previous}`: entries must be added in sorted order")]
    OutOfOrder { path: Utf8PathBuf, previous: Utf8PathBuf },
    #[error("archive entry `{parent}` is not a directory, so `{path}` cannot go under it")]
    NotADirectoryEntry { parent: Utf8PathBuf, path: Utf8PathBuf },
    #[error("failed to write archive entry `{entry}`")]
    Write {
        entry: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to finish the archive")]
    Finish {
        #[source]
        source: io::Error,
    },
    #[error("cannot write `{dest}` inside `{src}`, the directory being archived")]
    DestInsideSource { dest: Utf8PathBuf, src: Utf8PathBuf },
    #[error("failed to create a temporary file in `{dir}`")]
    CreateTemp {
        dir: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to write `{path}`")]
    WriteFile {
        path: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to move the finished archive to `{path}`")]
    Persist {
        path: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
}
