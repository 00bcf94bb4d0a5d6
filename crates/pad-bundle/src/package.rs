//! Release packages: [`write_package`] turns a list of files and the projects'
//! environments into `<name>-<version>.tar.gz` with its manifest first and a
//! `sha256sum`-style `.sha256` beside it, or reuses the package already there when its
//! manifest is the one it would write.

use std::fs::{self, File};
use std::io::{self, BufWriter};

use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;

use crate::archive::{ArchiveBuilder, FileMode, PackOptions, SymlinkPolicy, normalise};
use crate::manifest::{Contents, FileEntry, Manifest, ProjectEntry, describe_file};
use crate::{BundleError, GzOptions, Sha256Writer};

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    /// Its path in the package, e.g. `dags/etl.py` or `projects/etl/venv.tar.gz`.
    pub archive_path: Utf8PathBuf,
    /// Where it is read from.
    pub src: Utf8PathBuf,
    /// Stored without a second deflate pass (level 0), for members that are already
    /// compressed, such as a `venv.tar.gz`: deflating them again costs a full pass
    /// and saves nothing.
    pub precompressed: bool,
}

/// What goes into a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSpec {
    /// The package name, e.g. `platform-airflow-dags`; the file is `<name>-<version>.tar.gz`.
    pub name: String,
    pub version: String,
    pub commit: Option<String>,
    pub dirty: bool,
    pub files: Vec<PackageFile>,
    pub projects: Vec<ProjectEntry>,
}

/// A package on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub path: Utf8PathBuf,
    /// The `.sha256` file beside it.
    pub sha256_path: Utf8PathBuf,
    /// Lowercase hex SHA-256 of the package file.
    pub sha256: String,
    pub size: u64,
    pub manifest: Manifest,
    /// Whether the package already there was kept as it was.
    pub reused: bool,
}

/// Where a package keeps a project's packed environment: `projects/<name>/venv.tar.gz`.
/// [`verify`](crate::verify) checks the entries inside these too, as whatever installs
/// the package unpacks them.
pub fn env_archive_path(project: &str) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("projects/{project}/venv.tar.gz"))
}

/// The file name of a package: `<name>-<version>.tar.gz`.
pub fn package_file_name(name: &str, version: &str) -> String {
    format!("{name}-{version}.tar.gz")
}

/// Writes the package of `spec` into `dir` (created if missing), or reuses it.
///
/// Every file is hashed first (in parallel) to make the manifest. When `dir` already
/// holds the package with that exact manifest and a `.sha256` that matches its bytes,
/// it is kept. Otherwise the archive is written to a temporary file in `dir`, checked
/// against its manifest with [`verify`](crate::verify), synced and renamed into place;
/// then the `.sha256` is written the same way. On any error (a missing input, a full
/// disk, an unwritable directory) nothing new is left under the final names and no
/// temporary file stays behind. The same spec gives the same bytes.
pub fn write_package(spec: &PackageSpec, dir: &Utf8Path) -> Result<Package, BundleError> {
    write_pending(spec, dir)?.commit()
}

/// A package written and checked under a temporary name in its directory, not yet under
/// its own: what [`write_pending`] gives. [`commit`](PendingPackage::commit) gives it
/// its name; dropped uncommitted, it is removed and the directory is as it was.
#[derive(Debug)]
pub struct PendingPackage {
    /// The package as it will be, with `path` its final name.
    package: Package,
    /// The written file, `None` when the package already there is reused.
    tmp: Option<tempfile::TempPath>,
}

impl PendingPackage {
    /// Where the package can be read now: its temporary name, or its own when reused.
    /// That name stays readable until this is dropped, committed or not.
    pub fn path(&self) -> &Utf8Path {
        match &self.tmp {
            Some(tmp) => Utf8Path::from_path(tmp).expect("a temporary file in a UTF-8 directory"),
            None => &self.package.path,
        }
    }

    /// The package as it will be once committed.
    pub fn package(&self) -> &Package {
        &self.package
    }

    /// Puts the package under its own name, then its `.sha256` beside it. The file gets a
    /// second name (a hard link, or a copy where links cannot be made, renamed over
    /// whatever had that name), so a reader of [`path`](PendingPackage::path) is
    /// unaffected.
    pub fn commit(&self) -> Result<Package, BundleError> {
        let Some(tmp) = &self.tmp else { return Ok(self.package.clone()) };
        let Package { path, sha256_path, sha256, .. } = &self.package;
        let file_name = path.file_name().expect("a package path ends in its file name");
        // A stale `.sha256` must never describe the new package, even for a moment.
        remove_if_present(sha256_path)?;
        let dir = path.parent().expect("a package path has a directory");
        let link = dir.join(format!(".{file_name}.{}.link", std::process::id()));
        let _ = fs::remove_file(&link);
        let persist = |source| BundleError::Persist { path: path.clone(), source };
        // Where hard links cannot be made (some network and FUSE mounts `--out-dir` may
        // name), a synced copy, which readers of the temporary name never see.
        let second_name = fs::hard_link(tmp, &link)
            .or_else(|_| fs::copy(tmp, &link).and_then(|_| File::open(&link)?.sync_all()))
            .and_then(|()| fs::rename(&link, path));
        if let Err(err) = second_name {
            let _ = fs::remove_file(&link);
            return Err(persist(err));
        }
        write_atomically(sha256_path, format!("{sha256}  {file_name}\n").as_bytes())?;
        tracing::debug!(%path, bytes = self.package.size, "package written");
        Ok(self.package.clone())
    }
}

/// Writes the package of `spec` as [`write_package`] does, but leaves it under a
/// temporary name in `dir` until [`PendingPackage::commit`]: what a deploy can read
/// while the tests that decide whether it ships still run. A package already there with
/// the same manifest is reused as it is.
pub fn write_pending(spec: &PackageSpec, dir: &Utf8Path) -> Result<PendingPackage, BundleError> {
    for (what, value) in [("name", &spec.name), ("version", &spec.version)] {
        if !pad_stdx::is_safe_token(value) {
            return Err(BundleError::InvalidPackage {
                message: format!(
                    "package {what} `{value}` cannot be part of the file name `<name>-<version>.tar.gz`: \
                     use letters, digits, `-`, `_` and `.`, such as `{}` (pad_stdx::safe_token)",
                    pad_stdx::safe_token(value)
                ),
            });
        }
    }
    let manifest = manifest_of(spec)?;
    let file_name = package_file_name(&spec.name, &spec.version);
    let path = dir.join(&file_name);
    let sha256_path = dir.join(format!("{file_name}.sha256"));

    if let Some(existing) = reusable(&path, &sha256_path, &manifest) {
        tracing::debug!(%path, "package unchanged, reused");
        let package = Package { path, sha256_path, sha256: existing.0, size: existing.1, manifest, reused: true };
        return Ok(PendingPackage { package, tmp: None });
    }

    fs::create_dir_all(dir).map_err(|source| BundleError::WriteFile { path: dir.to_owned(), source })?;
    let tmp = temp_file(dir, &file_name)?;
    let mut files: Vec<&PackageFile> = spec.files.iter().collect();
    files.sort_by(|a, b| a.archive_path.cmp(&b.archive_path));
    let mut builder = ArchiveBuilder::new(BufWriter::with_capacity(1 << 20, tmp.as_file()), &options())?;
    builder.add_manifest(&manifest)?;
    for file in files {
        if file.precompressed {
            builder.set_level(0)?;
        }
        builder.add_file(&file.archive_path, &file.src, FileMode::FromSource)?;
        if file.precompressed {
            builder.set_level(GzOptions::DEFAULT_LEVEL)?;
        }
    }
    let (buffered, stats) = builder.finish()?;
    let write_err = |source| BundleError::WriteFile { path: path.clone(), source };
    buffered.into_inner().map_err(|err| write_err(err.into_error()))?;
    tmp.as_file().sync_all().map_err(write_err)?;

    // What was written is what the manifest says, before anyone can see it.
    let tmp_path = Utf8Path::from_path(tmp.path()).expect("a temporary file in a UTF-8 directory").to_owned();
    crate::verify::verify_package(&tmp_path, None).map_err(|err| match err {
        BundleError::Verify { problems, .. } => BundleError::Verify { archive: path.clone(), problems },
        other => other,
    })?;
    let package =
        Package { path, sha256_path, sha256: stats.sha256, size: stats.output_bytes, manifest, reused: false };
    Ok(PendingPackage { package, tmp: Some(tmp.into_temp_path()) })
}

/// The manifest `spec` makes: every file described, in parallel.
pub fn manifest_of(spec: &PackageSpec) -> Result<Manifest, BundleError> {
    let files: Vec<FileEntry> = spec
        .files
        .par_iter()
        .map(|file| describe_file(normalise(&file.archive_path)?, &file.src, FileMode::FromSource))
        .collect::<Result<_, _>>()?;
    let contents = Contents { projects: spec.projects.clone(), files, links: Vec::new() };
    Manifest::new(&spec.name, &spec.version, spec.commit.as_deref(), spec.dirty, contents)
}

fn options() -> PackOptions {
    // Inputs are chosen file by file: nothing to exclude, and no links.
    PackOptions {
        symlinks: SymlinkPolicy::InsideOnly,
        exclude_names: Vec::new(),
        exclude_pyc: false,
        ..PackOptions::default()
    }
}

/// The package already at `path`, as (sha256, size), when its manifest is `manifest`
/// and its `.sha256` matches its bytes.
fn reusable(path: &Utf8Path, sha256_path: &Utf8Path, manifest: &Manifest) -> Option<(String, u64)> {
    let existing = crate::read_manifest(path).ok()?;
    if &existing != manifest {
        return None;
    }
    let recorded = fs::read_to_string(sha256_path).ok()?;
    let recorded = recorded.split_whitespace().next()?.to_owned();
    let (actual, size) = sha256_of(path).ok()?;
    (actual == recorded).then_some((actual, size))
}

/// Lowercase hex SHA-256 and size of a file, read in one streaming pass.
pub fn sha256_of(path: &Utf8Path) -> Result<(String, u64), BundleError> {
    let read_err = |source| BundleError::Read { path: path.to_owned(), source };
    let mut file = File::open(path).map_err(read_err)?;
    let mut hashing = Sha256Writer::new(io::sink());
    io::copy(&mut file, &mut hashing).map_err(read_err)?;
    let (_, sha256, size) = hashing.finish();
    Ok((sha256, size))
}

fn temp_file(dir: &Utf8Path, name: &str) -> Result<tempfile::NamedTempFile, BundleError> {
    let prefix = format!(".{name}.");
    let mut tmp = tempfile::Builder::new();
    tmp.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    tmp.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    tmp.tempfile_in(dir).map_err(|source| BundleError::CreateTemp { dir: dir.to_owned(), source })
}

fn write_atomically(path: &Utf8Path, bytes: &[u8]) -> Result<(), BundleError> {
    pad_stdx::write_atomic(path, bytes, 0o644)
        .map_err(|source| BundleError::WriteFile { path: path.to_owned(), source })
}

fn remove_if_present(path: &Utf8Path) -> Result<(), BundleError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BundleError::WriteFile { path: path.to_owned(), source }),
    }
}

#[cfg(test)]
mod tests;
