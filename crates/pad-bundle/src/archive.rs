//! Deterministic tar.gz archives: [`ArchiveBuilder`] adds entries in sorted order with
//! normalised metadata, and [`pack_dir`] packs one directory tree into a file atomically.

use std::fs::{self, File};
use std::io::{self, Read, Write};

use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use tar::{EntryType, Header};
use walkdir::WalkDir;

use crate::BundleError;
use crate::gz::{GzOptions, ParallelGzWriter};
use crate::hash::Sha256Writer;
use crate::manifest::{MANIFEST_PATH, Manifest};

/// What to do with symbolic links found in a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymlinkPolicy {
    /// Store every link as it is, even absolute ones or ones pointing out of the
    /// archive: a virtualenv's `bin/python` links to the system interpreter.
    Keep,
    /// Store a link only when its target, resolved lexically from the link's directory
    /// in the archive, stays inside the archive; refuse the archive otherwise.
    InsideOnly,
}

/// Which permission a regular file gets in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// 0o755 when the source has any execute bit, else 0o644.
    FromSource,
    /// 0o644.
    Regular,
    /// 0o755.
    Executable,
}

/// How to build an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackOptions {
    /// Deflate level, 0 to 9.
    pub level: u32,
    /// Bytes per parallel gzip block (see [`GzOptions::block_size`]).
    pub block_size: usize,
    pub symlinks: SymlinkPolicy,
    /// File and directory names skipped, with everything under them, wherever they
    /// appear in a tree.
    pub exclude_names: Vec<String>,
    /// Skip `*.pyc` files.
    pub exclude_pyc: bool,
    /// Directory inside the archive that [`pack_dir`] puts the tree under; used by
    /// `pack_dir` only.
    pub prefix: Option<Utf8PathBuf>,
}

impl Default for PackOptions {
    fn default() -> Self {
        PackOptions {
            level: GzOptions::DEFAULT_LEVEL,
            block_size: GzOptions::DEFAULT_BLOCK_SIZE,
            symlinks: SymlinkPolicy::InsideOnly,
            exclude_names: vec!["__pycache__".to_owned()],
            exclude_pyc: true,
            prefix: None,
        }
    }
}

/// What an archive holds and its content address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackStats {
    /// Entries in the archive: directories, files and links.
    pub entries: u64,
    /// Bytes of file contents.
    pub input_bytes: u64,
    /// Bytes of the `.tar.gz`.
    pub output_bytes: u64,
    /// Lowercase hex SHA-256 of the `.tar.gz`.
    pub sha256: String,
}

/// Packs the contents of the directory `src` into the tar.gz `dest`, paths relative
/// to `src` (under `options.prefix` if set).
///
/// The archive is written to a temporary file beside `dest`, synced, then renamed, so
/// `dest` is either the complete archive or untouched; on error nothing is left behind.
/// `dest` must not be inside `src`.
pub fn pack_dir(src: &Utf8Path, dest: &Utf8Path, options: &PackOptions) -> Result<PackStats, BundleError> {
    let dir = match dest.parent() {
        Some(parent) if !parent.as_str().is_empty() => parent,
        _ => Utf8Path::new("."),
    };
    // The temporary file would be walked while it is written.
    if let (Ok(src_real), Ok(dir_real)) = (src.canonicalize_utf8(), dir.canonicalize_utf8())
        && dir_real.starts_with(&src_real)
    {
        return Err(BundleError::DestInsideSource { dest: dest.to_owned(), src: src.to_owned() });
    }
    let name = dest.file_name().unwrap_or("archive");
    let tmp_prefix = format!(".{name}.");
    let mut tmp = tempfile::Builder::new();
    tmp.prefix(&tmp_prefix).suffix(".tmp");
    // Readable by whoever unpacks it (a service user), like any new file; the umask
    // still applies. A plain temporary file would be 0o600.
    #[cfg(unix)]
    tmp.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let tmp = tmp.tempfile_in(dir).map_err(|source| BundleError::CreateTemp { dir: dir.to_owned(), source })?;

    let mut builder = ArchiveBuilder::new(tmp.as_file(), options)?;
    let prefix = options.prefix.as_deref().unwrap_or(Utf8Path::new(""));
    builder.add_dir_tree(prefix, src)?;
    let (_, stats) = builder.finish()?;

    tmp.as_file().sync_all().map_err(|source| BundleError::WriteFile { path: dest.to_owned(), source })?;
    tmp.persist(dest).map_err(|err| BundleError::Persist { path: dest.to_owned(), source: err.error })?;
    tracing::debug!(%src, %dest, entries = stats.entries, bytes = stats.output_bytes, "packed");
    Ok(stats)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
}

/// Writes a deterministic tar.gz from entries added in sorted order.
///
/// Entries must come in ascending order of their archive paths compared component by
/// component (camino's `Ord`, the order `tar --sort=name` and a name-sorted walk give:
/// `a`, `a/x`, `a-b`); an entry out of order is an error, so the archive streams with
/// no entry list kept in memory. Missing parent directories are added automatically,
/// adding the directory just added again does nothing, and nothing may go under a path
/// that is a file or link.
///
/// Every entry gets modification time 0, uid and gid 0, empty user and group names, and
/// a normalised mode: 0o755 for directories and executables, 0o644 for other files,
/// 0o777 for links. Paths too long for a tar header use GNU long-name entries.
///
/// After an error the archive is incomplete: drop the builder and discard the output.
pub struct ArchiveBuilder<W: Write> {
    tar: tar::Builder<ParallelGzWriter<Sha256Writer<W>>>,
    symlinks: SymlinkPolicy,
    exclude_names: Vec<String>,
    exclude_pyc: bool,
    last: Option<(Utf8PathBuf, Kind)>,
    /// Whether [`add_manifest`](Self::add_manifest) wrote the first entry.
    has_manifest: bool,
    entries: u64,
    input_bytes: u64,
}

impl<W: Write> ArchiveBuilder<W> {
    /// A builder writing to `writer` with the level, block size, symlink policy and
    /// exclusions of `options` (its `prefix` is for [`pack_dir`] only).
    pub fn new(writer: W, options: &PackOptions) -> Result<Self, BundleError> {
        let gz_options = GzOptions { level: options.level, block_size: options.block_size };
        let gz = ParallelGzWriter::new(Sha256Writer::new(writer), gz_options)
            .map_err(|err| BundleError::InvalidOptions { message: err.to_string() })?;
        Ok(ArchiveBuilder {
            tar: tar::Builder::new(gz),
            symlinks: options.symlinks,
            exclude_names: options.exclude_names.clone(),
            exclude_pyc: options.exclude_pyc,
            last: None,
            has_manifest: false,
            entries: 0,
            input_bytes: 0,
        })
    }

    /// Compresses what is added next at `level`, from the next gzip block on. Use 0
    /// around members that are already compressed (a nested `.tar.gz`), then set the
    /// level back; the archive stays deterministic for the same sequence of calls.
    pub fn set_level(&mut self, level: u32) -> Result<(), BundleError> {
        self.tar.get_mut().set_level(level).map_err(|err| BundleError::InvalidOptions { message: err.to_string() })
    }

    /// Adds `manifest` as the archive's first entry, [`MANIFEST_PATH`], so readers get
    /// it without reading the rest (see [`read_manifest`](crate::read_manifest)).
    ///
    /// It must be the first call. The manifest stands outside the sorted order: the
    /// entries after it start a sorted sequence of their own, so a tree holding names
    /// that sort before `MANIFEST.json` (`.env`, `AUTHORS`) can still follow it, but
    /// none of them may be `MANIFEST.json` again.
    pub fn add_manifest(&mut self, manifest: &Manifest) -> Result<(), BundleError> {
        if self.entries != 0 {
            return Err(BundleError::ManifestNotFirst);
        }
        let bytes = manifest.to_json_bytes();
        let mut header = header(EntryType::Regular, 0o644, bytes.len() as u64);
        self.tar
            .append_data(&mut header, MANIFEST_PATH, &bytes[..])
            .map_err(|source| BundleError::Write { entry: MANIFEST_PATH.into(), source })?;
        self.has_manifest = true;
        self.input_bytes += bytes.len() as u64;
        self.entries += 1;
        Ok(())
    }

    /// Adds a directory entry.
    pub fn add_dir(&mut self, archive_path: &Utf8Path) -> Result<(), BundleError> {
        let path = normalise(archive_path)?;
        if self.begin(&path, Kind::Dir)? {
            self.write_dir(&path)?;
        }
        Ok(())
    }

    /// Adds the regular file `src` (symlinks followed) as `archive_path`.
    pub fn add_file(&mut self, archive_path: &Utf8Path, src: &Utf8Path, mode: FileMode) -> Result<(), BundleError> {
        let path = normalise(archive_path)?;
        self.copy_file(&path, src, mode)
    }

    /// Adds a regular file holding `bytes`.
    pub fn add_bytes(&mut self, archive_path: &Utf8Path, bytes: &[u8], executable: bool) -> Result<(), BundleError> {
        let path = normalise(archive_path)?;
        self.begin(&path, Kind::File)?;
        let mut header = header(EntryType::Regular, if executable { 0o755 } else { 0o644 }, bytes.len() as u64);
        self.tar
            .append_data(&mut header, path.as_str(), bytes)
            .map_err(|source| BundleError::Write { entry: path, source })?;
        self.input_bytes += bytes.len() as u64;
        self.entries += 1;
        Ok(())
    }

    /// Adds a symbolic link to `target`, checked against the symlink policy.
    pub fn add_symlink(&mut self, archive_path: &Utf8Path, target: &Utf8Path) -> Result<(), BundleError> {
        let path = normalise(archive_path)?;
        self.check_link(&path, target, archive_path)?;
        self.write_link(&path, target)
    }

    /// Adds the contents of the directory `src` under `prefix` (the archive root when
    /// empty, else `prefix` itself becomes a directory entry), walking it sorted by
    /// name, without following symlinks, skipping excluded names and `*.pyc` files.
    ///
    /// Regular files are stored as files even when hard-linked; devices, sockets and
    /// FIFOs are an error naming the path.
    pub fn add_dir_tree(&mut self, prefix: &Utf8Path, src: &Utf8Path) -> Result<(), BundleError> {
        let prefix = if prefix.as_str().is_empty() { None } else { Some(normalise(prefix)?) };
        let walk = walk_tree(prefix.as_deref(), src, self.exclude_names.clone(), self.exclude_pyc)?;
        if let Some(prefix) = &prefix {
            self.add_dir(prefix)?;
        }
        for item in walk {
            let Walked { archive, disk, kind } = item?;
            match kind {
                WalkedKind::Dir => self.add_dir(&archive)?,
                WalkedKind::File => self.copy_file(&archive, &disk, FileMode::FromSource)?,
                WalkedKind::Symlink(target) => {
                    self.check_link(&archive, &target, &disk)?;
                    self.write_link(&archive, &target)?;
                }
            }
        }
        Ok(())
    }

    /// Ends the archive and returns the writer and what was written.
    pub fn finish(self) -> Result<(W, PackStats), BundleError> {
        let gz = self.tar.into_inner().map_err(|source| BundleError::Finish { source })?;
        let hashing = gz.finish().map_err(|source| BundleError::Finish { source })?;
        let (writer, sha256, output_bytes) = hashing.finish();
        let stats = PackStats { entries: self.entries, input_bytes: self.input_bytes, output_bytes, sha256 };
        Ok((writer, stats))
    }

    /// Checks that `path` may come next and adds its missing parent directories.
    /// Returns false when `path` is the directory added last, which needs no new entry.
    fn begin(&mut self, path: &Utf8Path, kind: Kind) -> Result<bool, BundleError> {
        // Also refuses paths under it, which would need a directory of that name.
        if self.has_manifest && path.starts_with(MANIFEST_PATH) {
            return Err(BundleError::ManifestTwice);
        }
        if let Some((last, last_kind)) = &self.last {
            if kind == Kind::Dir && *last_kind == Kind::Dir && path == last {
                return Ok(false);
            }
            if path <= last.as_path() {
                return Err(BundleError::OutOfOrder { path: path.to_owned(), previous: last.clone() });
            }
        }
        // Sorted order makes this cheap: an ancestor of `path` at or before the last
        // entry is that entry or one of its ancestors, so it exists already; one after
        // it does not exist yet.
        let mut ancestors: Vec<&Utf8Path> = path.ancestors().skip(1).filter(|a| !a.as_str().is_empty()).collect();
        ancestors.reverse();
        for ancestor in ancestors {
            match &self.last {
                Some((last, last_kind)) if ancestor == last => {
                    if *last_kind != Kind::Dir {
                        return Err(BundleError::NotADirectoryEntry { parent: last.clone(), path: path.to_owned() });
                    }
                }
                Some((last, _)) if ancestor < last.as_path() => {}
                _ => self.write_dir(ancestor)?,
            }
        }
        self.last = Some((path.to_owned(), kind));
        Ok(true)
    }

    fn write_dir(&mut self, path: &Utf8Path) -> Result<(), BundleError> {
        let mut header = header(EntryType::Directory, 0o755, 0);
        // A trailing slash marks directories, as GNU tar writes them.
        let name = format!("{path}/");
        self.tar
            .append_data(&mut header, &name, io::empty())
            .map_err(|source| BundleError::Write { entry: path.to_owned(), source })?;
        self.last = Some((path.to_owned(), Kind::Dir));
        self.entries += 1;
        Ok(())
    }

    fn copy_file(&mut self, path: &Utf8Path, src: &Utf8Path, mode: FileMode) -> Result<(), BundleError> {
        let read_err = |source| BundleError::Read { path: src.to_owned(), source };
        let (mut file, size, executable) = open_regular(src, mode)?;
        self.begin(path, Kind::File)?;
        let mut header = header(EntryType::Regular, if executable { 0o755 } else { 0o644 }, size);
        let mut reader = SourceReader { file: &mut file, remaining: size, error: None };
        let written = self.tar.append_data(&mut header, path.as_str(), &mut reader);
        if let Some(error) = reader.error {
            return Err(match error {
                SourceError::Shrank => BundleError::Changed { path: src.to_owned() },
                SourceError::Io(source) => BundleError::Read { path: src.to_owned(), source },
            });
        }
        written.map_err(|source| BundleError::Write { entry: path.to_owned(), source })?;
        // The header promised `size` bytes; a file that grew meanwhile would be
        // archived cut short, so refuse it.
        let mut probe = [0u8; 1];
        if file.read(&mut probe).map_err(read_err)? != 0 {
            return Err(BundleError::Changed { path: src.to_owned() });
        }
        self.input_bytes += size;
        self.entries += 1;
        Ok(())
    }

    fn check_link(&self, path: &Utf8Path, target: &Utf8Path, shown: &Utf8Path) -> Result<(), BundleError> {
        if target.as_str().is_empty() {
            return Err(BundleError::InvalidPath {
                path: shown.to_string(),
                reason: "a symlink target must not be empty",
            });
        }
        if self.symlinks == SymlinkPolicy::InsideOnly && !stays_inside(path, target) {
            return Err(BundleError::SymlinkEscapes { path: shown.to_owned(), target: target.to_owned() });
        }
        Ok(())
    }

    fn write_link(&mut self, path: &Utf8Path, target: &Utf8Path) -> Result<(), BundleError> {
        self.begin(path, Kind::Symlink)?;
        let mut header = header(EntryType::Symlink, 0o777, 0);
        self.tar
            .append_link(&mut header, path.as_str(), target.as_str())
            .map_err(|source| BundleError::Write { entry: path.to_owned(), source })?;
        self.entries += 1;
        Ok(())
    }
}

/// What [`walk_tree`] found at one path.
pub(crate) enum WalkedKind {
    Dir,
    File,
    Symlink(Utf8PathBuf),
}

/// One entry of a tree as an archive stores it.
pub(crate) struct Walked {
    /// The path inside the archive.
    pub(crate) archive: Utf8PathBuf,
    /// The path on disk.
    pub(crate) disk: Utf8PathBuf,
    pub(crate) kind: WalkedKind,
}

/// The entries of the directory `src` under `prefix`, in archive order, without
/// following symlinks and without the excluded names and `*.pyc` files: what
/// [`ArchiveBuilder::add_dir_tree`] stores, so a manifest can list exactly that.
///
/// Devices, sockets and FIFOs are an error naming the path.
pub(crate) fn walk_tree<'a>(
    prefix: Option<&'a Utf8Path>,
    src: &'a Utf8Path,
    exclude_names: Vec<String>,
    exclude_pyc: bool,
) -> Result<impl Iterator<Item = Result<Walked, BundleError>> + 'a, BundleError> {
    let meta = fs::metadata(src).map_err(|source| BundleError::Read { path: src.to_owned(), source })?;
    if !meta.is_dir() {
        return Err(BundleError::NotADirectory { path: src.to_owned() });
    }
    let walk = WalkDir::new(src)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
        .into_iter()
        .filter_entry(move |e| e.depth() == 0 || !exclude_names.iter().any(|n| e.file_name() == n.as_str()));
    let items = walk.filter_map(move |entry| {
        let walked = (|| {
            let entry = entry.map_err(|source| {
                let path = source.path().and_then(Utf8Path::from_path).unwrap_or(src).to_owned();
                BundleError::Walk { path, source }
            })?;
            let disk = utf8(entry.path())?;
            let rel = disk.strip_prefix(src).expect("walked paths are under the root");
            let archive = match prefix {
                Some(prefix) => prefix.join(rel),
                None => rel.to_owned(),
            };
            let file_type = entry.file_type();
            let kind = if file_type.is_dir() {
                WalkedKind::Dir
            } else if exclude_pyc && disk.as_str().ends_with(".pyc") {
                return Ok(None);
            } else if file_type.is_file() {
                WalkedKind::File
            } else if file_type.is_symlink() {
                let target =
                    fs::read_link(disk).map_err(|source| BundleError::Read { path: disk.to_owned(), source })?;
                WalkedKind::Symlink(utf8(&target)?.to_owned())
            } else {
                return Err(BundleError::Unsupported { path: disk.to_owned(), kind: kind_name(&file_type) });
            };
            Ok(Some(Walked { archive, disk: disk.to_owned(), kind }))
        })();
        walked.transpose()
    });
    Ok(items)
}

/// A header with everything but the path fixed: no time, owner or device.
fn header(entry_type: EntryType, mode: u32, size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(entry_type);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}

/// The archive path as plain `a/b/c`: relative, no `.` or `..`, not empty.
pub(crate) fn normalise(path: &Utf8Path) -> Result<Utf8PathBuf, BundleError> {
    let invalid = |reason| BundleError::InvalidPath { path: path.to_string(), reason };
    let mut out = Utf8PathBuf::new();
    for component in path.components() {
        match component {
            Utf8Component::Normal(name) => out.push(name),
            Utf8Component::CurDir => {}
            Utf8Component::ParentDir => return Err(invalid("archive paths must not contain `..`")),
            Utf8Component::RootDir | Utf8Component::Prefix(_) => {
                return Err(invalid("archive paths must be relative"));
            }
        }
    }
    if out.as_str().is_empty() {
        return Err(invalid("archive paths must not be empty"));
    }
    Ok(out)
}

/// Whether `target`, read from the directory of the link `link`, stays inside the
/// archive root, judging by the path alone.
pub(crate) fn stays_inside(link: &Utf8Path, target: &Utf8Path) -> bool {
    let mut depth = link.parent().map_or(0, |dir| dir.components().count());
    for component in target.components() {
        match component {
            Utf8Component::Normal(_) => depth += 1,
            Utf8Component::CurDir => {}
            Utf8Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Utf8Component::RootDir | Utf8Component::Prefix(_) => return false,
        }
    }
    true
}

fn utf8(path: &std::path::Path) -> Result<&Utf8Path, BundleError> {
    Utf8Path::from_path(path).ok_or_else(|| BundleError::NonUtf8Path { path: path.to_string_lossy().into_owned() })
}

#[cfg(unix)]
pub(crate) fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
pub(crate) fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}

#[cfg(unix)]
pub(crate) fn kind_name(file_type: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        "FIFO"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_block_device() {
        "block device"
    } else if file_type.is_char_device() {
        "character device"
    } else if file_type.is_dir() {
        "directory"
    } else if file_type.is_symlink() {
        "symbolic link"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
pub(crate) fn kind_name(file_type: &fs::FileType) -> &'static str {
    if file_type.is_dir() { "directory" } else { "special file" }
}

enum SourceError {
    Shrank,
    Io(io::Error),
}

/// Reads exactly the size a file had when its header was written, and remembers a
/// failure so it can be reported against the file rather than the archive.
struct SourceReader<'a> {
    file: &'a mut File,
    remaining: u64,
    error: Option<SourceError>,
}

impl Read for SourceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let max = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        match self.file.read(&mut buf[..max]) {
            Ok(0) => {
                self.error = Some(SourceError::Shrank);
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while being archived"))
            }
            Ok(n) => {
                self.remaining -= n as u64;
                Ok(n)
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => Err(err),
            Err(err) => {
                let message = err.to_string();
                self.error = Some(SourceError::Io(err));
                Err(io::Error::other(message))
            }
        }
    }
}

/// Opens `src`, refusing anything but a regular file, and says its size and whether it
/// is stored executable under `mode`. Shared by the archive writer and the manifest.
pub(crate) fn open_regular(src: &Utf8Path, mode: FileMode) -> Result<(File, u64, bool), BundleError> {
    let read_err = |source| BundleError::Read { path: src.to_owned(), source };
    let file = File::open(src).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(BundleError::Unsupported { path: src.to_owned(), kind: kind_name(&meta.file_type()) });
    }
    let executable = match mode {
        FileMode::FromSource => is_executable(&meta),
        FileMode::Regular => false,
        FileMode::Executable => true,
    };
    Ok((file, meta.len(), executable))
}
