//! The local end of a transfer: progress reports, and downloads that land under their
//! final name only once their sha256 matches, with `<file>.sha256` written beside them
//! last (the stores' protocol, on a local directory).

use std::io::{self, BufWriter, Read, Write};

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::checksum::{CHUNK, sidecar, sidecar_text};
use crate::{Problem, StoreError};

/// Receives the progress of one transfer. `start` may come again when a transfer is
/// retried from the beginning.
pub trait TransferProgress: Sync {
    /// A transfer begins; `total` is its size in bytes when known.
    fn start(&self, total: Option<u64>);
    /// `bytes` more were sent or received.
    fn advance(&self, bytes: u64);
}

/// `()` reports nothing.
impl TransferProgress for () {
    fn start(&self, _total: Option<u64>) {}
    fn advance(&self, _bytes: u64) {}
}

/// A file downloaded and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// `<dest_dir>/<file>`.
    pub path: Utf8PathBuf,
    /// `<dest_dir>/<file>.sha256`, in `sha256sum` format.
    pub checksum_path: Utf8PathBuf,
    pub sha256: String,
    pub bytes: u64,
}

/// A download in progress: a temporary file beside the final name, hashed as it is
/// written. Dropped without [`Download::finish`], it leaves nothing behind.
pub struct Download<'a> {
    dest: Utf8PathBuf,
    file: BufWriter<tempfile::NamedTempFile>,
    hasher: Sha256,
    bytes: u64,
    progress: &'a dyn TransferProgress,
}

impl<'a> Download<'a> {
    /// Starts a download of `file_name` into `dest_dir`.
    pub fn start(
        dest_dir: &Utf8Path,
        file_name: &str,
        progress: &'a dyn TransferProgress,
    ) -> Result<Download<'a>, StoreError> {
        let dest = dest_dir.join(file_name);
        std::fs::create_dir_all(dest_dir).map_err(|err| write_error(dest_dir, err))?;
        let temp = tempfile::Builder::new()
            .prefix(&format!(".tmp-{file_name}-"))
            .tempfile_in(dest_dir)
            .map_err(|err| write_error(&dest, err))?;
        Ok(Download { dest, file: BufWriter::with_capacity(CHUNK, temp), hasher: Sha256::new(), bytes: 0, progress })
    }

    pub fn dest(&self) -> &Utf8Path {
        &self.dest
    }

    /// Starts over (a retried download): empties the temporary file.
    pub fn restart(&mut self) -> Result<(), StoreError> {
        let dest = self.dest.clone();
        self.file.flush().map_err(|err| write_error(&dest, err))?;
        let file = self.file.get_mut().as_file_mut();
        file.set_len(0).map_err(|err| write_error(&dest, err))?;
        io::Seek::rewind(file).map_err(|err| write_error(&dest, err))?;
        self.hasher = Sha256::new();
        self.bytes = 0;
        Ok(())
    }

    pub fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        self.file.write_all(chunk).map_err(|err| write_error(&self.dest, err))?;
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
        self.progress.advance(chunk.len() as u64);
        Ok(())
    }

    /// Copies a whole reader into the download, a chunk at a time. A read error is the
    /// transfer's ([`Problem::Broken`] at `location`), a write error the local file's.
    pub fn copy_from(&mut self, reader: &mut dyn Read, location: &str) -> Result<(), StoreError> {
        let mut buf = vec![0; CHUNK];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(StoreError::new("download", location, Problem::Broken(err))),
            };
            self.write(&buf[..n])?;
        }
    }

    /// The sha256 of what was written so far.
    pub fn sha256(&self) -> String {
        format!("{:x}", self.hasher.clone().finalize())
    }

    /// Renames the file into place if its sha256 is `expected`, and writes
    /// `<file>.sha256` beside it; otherwise removes it and fails with
    /// [`Problem::Mismatch`] at `location` (where it came from).
    pub fn finish(self, location: &str, expected: &str) -> Result<Fetched, StoreError> {
        let actual = self.sha256();
        if !actual.eq_ignore_ascii_case(expected) {
            let problem = Problem::Mismatch { expected: expected.to_owned(), actual, dest: self.dest };
            return Err(StoreError::new("download", location, problem));
        }
        let dest = self.dest;
        let temp = self.file.into_inner().map_err(|err| write_error(&dest, err.into_error()))?;
        temp.as_file().sync_all().map_err(|err| write_error(&dest, err))?;
        let file_name = dest.file_name().unwrap_or_default();
        let sums = Utf8PathBuf::from(sidecar(dest.as_str()));
        let dir = dest.parent().unwrap_or(Utf8Path::new("."));
        let mut sums_temp = tempfile::Builder::new()
            .prefix(&format!(".tmp-{file_name}.sha256-"))
            .tempfile_in(dir)
            .map_err(|err| write_error(&sums, err))?;
        sums_temp.write_all(sidecar_text(&actual, file_name).as_bytes()).map_err(|err| write_error(&sums, err))?;
        temp.persist(&dest).map_err(|err| write_error(&dest, err.error))?;
        sums_temp.persist(&sums).map_err(|err| write_error(&sums, err.error))?;
        Ok(Fetched { path: dest, checksum_path: sums, sha256: actual, bytes: self.bytes })
    }
}

fn write_error(path: &Utf8Path, err: io::Error) -> StoreError {
    StoreError::new("write", path.as_str(), Problem::WriteLocal(err))
}
