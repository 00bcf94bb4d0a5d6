//! Step 4's data: one gzipped tar of a release's metadata and the store objects a host
//! lacks, streamed out of the package as it is read. The package is read again here,
//! so each object is checked against the size and SHA-256 its key names on the way: a
//! package changed since it was verified stops the upload before the archive is
//! complete, and the host keeps nothing of it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

use camino::Utf8Path;
use flate2::read::MultiGzDecoder;
use pad_bundle::{GzOptions, ParallelGzWriter};
use sha2::{Digest, Sha256};

use crate::plan::Plan;

/// The upload of the objects a host's store lacks: what it sends, and how it went.
pub(crate) struct Stream<'a> {
    plan: &'a Plan,
    /// The package's files to send, by path: their object's key and size.
    by_path: BTreeMap<&'a Utf8Path, (&'a str, u64)>,
    /// How many objects are sent, and their size before compression.
    pub(crate) objects: usize,
    pub(crate) object_bytes: u64,
    /// For a test's fail point: the upload is cut off after this many bytes.
    budget: Option<u64>,
    wire: AtomicUsize,
    package_error: Option<io::Error>,
}

impl<'a> Stream<'a> {
    /// The objects of `plan` that `store` lacks; with `fail_midway`, cut off after
    /// about half their bytes.
    pub(crate) fn new(plan: &'a Plan, store: &BTreeSet<String>, fail_midway: bool) -> Stream<'a> {
        let missing: BTreeMap<&str, u64> =
            plan.objects.iter().filter(|(key, _)| !store.contains(*key)).map(|(k, o)| (k.as_str(), o.size)).collect();
        let by_path = plan
            .files
            .iter()
            .filter_map(|f| missing.get_key_value(f.key.as_str()).map(|(key, size)| (f.path.as_path(), (*key, *size))))
            .collect();
        let object_bytes: u64 = missing.values().sum();
        let budget = if fail_midway { Some((object_bytes / 2).max(1)) } else { None };
        Stream {
            plan,
            by_path,
            objects: missing.len(),
            object_bytes,
            budget,
            wire: AtomicUsize::new(0),
            package_error: None,
        }
    }

    /// Writes the gzipped tar to `out`: the plan's metadata as `meta/<name>`, then the
    /// objects as `objects/<key>`. `alive` is called as bytes go (to renew the lock).
    pub(crate) fn write(&mut self, out: &mut dyn Write, alive: &(dyn Fn() + Sync)) -> io::Result<()> {
        let counting = Counting { inner: out, count: &self.wire, budget: self.budget, alive };
        let gz = ParallelGzWriter::new(counting, GzOptions { level: 6, block_size: GzOptions::DEFAULT_BLOCK_SIZE })?;
        let mut tar = tar::Builder::new(gz);
        for (name, bytes) in &self.plan.meta {
            append(&mut tar, &format!("meta/{name}"), bytes.len() as u64, 0o644, &mut &bytes[..])?;
        }
        let result = stream_objects(&self.plan.package, &self.by_path, &mut tar);
        if let Err(err) = &result
            && err.kind() == io::ErrorKind::InvalidData
        {
            self.package_error = Some(io::Error::new(err.kind(), err.to_string()));
        }
        result?;
        tar.into_inner()?.finish()?.flush()
    }

    /// The bytes written so far, as they went over the wire (gzipped).
    pub(crate) fn wire_bytes(&self) -> u64 {
        self.wire.load(Ordering::SeqCst) as u64
    }

    /// Why reading the package failed, if it did: it changed since it was verified.
    pub(crate) fn package_error(&mut self) -> Option<io::Error> {
        self.package_error.take()
    }
}

/// Copies the package's files at `by_path` into `tar` as `objects/<key>`, each once.
///
/// The package was verified before, but it is read again here: each entry must still
/// have the size the plan gives its object (checked before a byte of it is sent) and
/// the SHA-256 its key names (checked as it streams; a difference stops the upload
/// before the archive is complete, so the host keeps nothing of it).
fn stream_objects<W: Write>(
    package: &Utf8Path,
    by_path: &BTreeMap<&Utf8Path, (&str, u64)>,
    tar: &mut tar::Builder<ParallelGzWriter<W>>,
) -> io::Result<()> {
    if by_path.is_empty() {
        return Ok(());
    }
    let invalid = |e: io::Error| io::Error::new(io::ErrorKind::InvalidData, e);
    let file = File::open(package).map_err(invalid)?;
    let mut archive = tar::Archive::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 20, file)));
    let mut sent = BTreeSet::new();
    for entry in archive.entries().map_err(invalid)? {
        let mut entry = entry.map_err(invalid)?;
        let path = entry.path().map_err(invalid)?.to_string_lossy().into_owned();
        let Some(&(key, size)) = by_path.get(Utf8Path::new(path.trim_end_matches('/'))) else { continue };
        if !sent.insert(key) {
            continue;
        }
        let found = entry.header().size().map_err(invalid)?;
        if found != size || entry.header().entry_type() != tar::EntryType::Regular {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "`{path}` changed since the package was verified: it is now a {found}-byte entry, the manifest says a {size}-byte file"
                ),
            ));
        }
        // Reading the package and writing the host fail differently: only the first
        // is the package's fault.
        let mut reader = ReadTagged { inner: &mut entry, hasher: Sha256::new() };
        // Compressed members (a venv.tar.gz) are stored: deflating them again costs a
        // full pass and saves nothing.
        tar.get_mut().set_level(if is_compressed(&path) { 0 } else { 6 })?;
        let mode = if key.ends_with("-755") { 0o755 } else { 0o644 };
        append(tar, &format!("objects/{key}"), size, mode, &mut reader)?;
        let sha256 = pad_stdx::hex(&reader.hasher.finalize());
        if !key.starts_with(&sha256) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("`{path}` changed since the package was verified: its sha256 is now {sha256}"),
            ));
        }
    }
    let missing: Vec<&&Utf8Path> = by_path.iter().filter(|(_, (k, _))| !sent.contains(k)).map(|(p, _)| p).collect();
    if let Some(path) = missing.first() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("`{path}` is in the manifest but not in the archive"),
        ));
    }
    Ok(())
}

fn is_compressed(path: &str) -> bool {
    [".gz", ".tgz", ".bz2", ".xz", ".zst", ".zip", ".whl", ".jar", ".png", ".jpg"].iter().any(|ext| path.ends_with(ext))
}

/// A package entry being read: its errors tagged as the package's, its bytes hashed.
struct ReadTagged<'a, R: Read> {
    inner: &'a mut R,
    hasher: Sha256,
}

impl<R: Read> Read for ReadTagged<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    mode: u32,
    data: &mut dyn Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(0);
    tar.append_data(&mut header, path, data)
}

/// Counts the bytes written, calls `alive` as they go, and (for a test's fail point)
/// stops after `budget` bytes.
struct Counting<'a> {
    inner: &'a mut dyn Write,
    count: &'a AtomicUsize,
    budget: Option<u64>,
    alive: &'a (dyn Fn() + Sync),
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let so_far = self.count.load(Ordering::SeqCst) as u64;
        if let Some(budget) = self.budget
            && so_far >= budget
        {
            return Err(io::Error::other("injected failure: upload cut off"));
        }
        let n = self.inner.write(buf)?;
        self.count.fetch_add(n, Ordering::SeqCst);
        (self.alive)();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
