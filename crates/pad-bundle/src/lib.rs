//! Deterministic, content-addressed tar.gz archives: the packed Python environments
//! (`venv.tar.gz`) and the release archive, with the manifest a release carries, and
//! their safe extraction.
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
//! - Gzip members with a fixed header (no name, time 0, OS 255), one per block of
//!   [`ParallelGzWriter`] (libdeflate, in parallel), whose boundaries depend only on the
//!   input, the block size and the level changes requested, never on the thread count.
//!   `tar -xzf`, Python's `tarfile.open` and Java's `GZIPInputStream` read them as one
//!   stream; Python's streaming `r|gz` mode does not.
//!
//! A package starts with its [`Manifest`], `MANIFEST.json`, written by
//! [`ArchiveBuilder::add_manifest`] before everything else, so [`read_manifest`] reads
//! it without the rest. It records the format, name, version and commit, each
//! project's environment, and each file's path, size, mode and SHA-256 and each link's
//! target, listed from the same walk the builder makes ([`Contents`]). Its
//! `inputs_sha256` covers all of that but the version, commit and dirty flag, so the
//! same tree has the same inputs hash at any commit. The JSON is pretty-printed with a
//! fixed field order, so a package's bytes stay deterministic.
//!
//! [`verify`] reads a package once and reports every file missing, extra or different
//! from the manifest, every link whose target differs, and every entry extraction
//! would refuse. [`extract`] never writes outside its destination:
//!
//! - It refuses absolute paths, `..`, empty paths and NUL bytes; symlinks leading out
//!   of the archive, judged from the link's directory and through the archive's other
//!   links (absolute ones only when [`ExtractOptions::allow_absolute_symlinks`]);
//!   hard links to anything but a file earlier in the archive; devices, FIFOs and any
//!   other entry type; a path given twice; and anything under a path that is a link or
//!   a file in the archive. Symlinks are created after everything else.
//! - It writes into a temporary directory beside the destination and renames it into
//!   place only when every entry is written and, with
//!   [`ExtractOptions::verify_manifest`], matches the manifest; otherwise the
//!   destination is never created and nothing is left behind.
//! - It applies modes 0o755 or 0o644 only, never ownership, setuid or sticky bits.
//!
//! Any `gzip`/`tar` reads the archives. The crate writes only the archive it is asked
//! for (through a temporary file beside it) or the directory it extracts into (through
//! a temporary directory beside it), runs no programs and does no network I/O.

use std::io;

use camino::Utf8PathBuf;

mod archive;
#[cfg(any(test, feature = "testing"))]
pub mod craft;
mod extract;
mod gz;
mod hash;
mod manifest;
mod package;
mod rules;
mod verify;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use archive::{ArchiveBuilder, FileMode, PackOptions, PackStats, SymlinkPolicy, pack_dir};
pub use extract::{ExtractOptions, ExtractReport, extract};
pub use gz::{GzOptions, ParallelGzWriter};
pub use hash::Sha256Writer;
pub use manifest::{
    Contents, FileEntry, LinkEntry, MANIFEST_FORMAT, MANIFEST_PATH, Manifest, ProjectEntry, read_manifest,
};
pub use package::{
    Package, PackageFile, PackageSpec, PendingPackage, env_archive_path, manifest_of, package_file_name, sha256_of,
    write_package, write_pending,
};
pub use verify::{VerifyOptions, VerifyReport, verify, verify_with};

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("invalid archive options: {message}")]
    InvalidOptions { message: String },
    #[error("invalid package: {message}")]
    InvalidPackage { message: String },
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
    #[error("the manifest must be the first entry of an archive")]
    ManifestNotFirst,
    #[error("`MANIFEST.json` is already in the archive, as its manifest")]
    ManifestTwice,
    #[error("cannot record `{name}` in a manifest: {reason}")]
    ManifestConflict { name: String, reason: &'static str },
    #[error("invalid manifest in `{origin}`")]
    ManifestJson {
        origin: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid manifest in `{origin}`: {reason}")]
    InvalidManifest { origin: String, reason: String },
    #[error("`{archive}` has no manifest: its first entry is {found}, not `MANIFEST.json`")]
    NoManifest { archive: Utf8PathBuf, found: String },
    #[error("failed to read the archive `{archive}`")]
    ReadArchive {
        archive: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to read `{entry}` from the archive `{archive}`")]
    ReadEntry {
        archive: Utf8PathBuf,
        entry: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{archive}` does not match its manifest{}", verify::list_problems(.problems))]
    Verify { archive: Utf8PathBuf, problems: Vec<String> },
    #[error("refusing to extract `{entry}` from `{archive}`: {reason}")]
    UnsafeEntry { archive: Utf8PathBuf, entry: String, reason: String },
    #[error("`{path}` already exists; extract into a new directory")]
    DestExists { path: Utf8PathBuf },
    #[error("failed to extract `{entry}` into `{dest}`")]
    ExtractEntry {
        entry: Utf8PathBuf,
        dest: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to rename `{from}` to `{to}`")]
    Rename {
        from: Utf8PathBuf,
        to: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
}
