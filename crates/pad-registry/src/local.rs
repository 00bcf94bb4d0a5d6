//! Local files: streaming sha256, checksum files in `sha256sum` format, and downloads
//! that land under their final name only once their checksum matches.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::{Fetched, RegistryError, TransferProgress};

/// How much is read or written at a time: transfers never hold more than this (plus
/// the storage client's own part buffer) in memory.
pub(crate) const CHUNK: usize = 1024 * 1024;

/// The sha256 (lowercase hex) and size of a file, read in chunks.
pub fn sha256_file(path: &Utf8Path) -> Result<(String, u64), RegistryError> {
    let read_err = |source| RegistryError::ReadLocal { path: path.to_owned(), source };
    let mut file = File::open(path).map_err(read_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; CHUNK];
    let mut size = 0;
    loop {
        let n = file.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((format!("{:x}", hasher.finalize()), size))
}

/// The text of a `<file>.sha256` object: the format `sha256sum` writes and checks.
pub(crate) fn checksum_text(sha256: &str, file_name: &str) -> String {
    format!("{sha256}  {file_name}\n")
}

/// The checksum in a `.sha256` text (its first word), when it is one.
pub(crate) fn parse_checksum_text(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?;
    is_sha256_hex(word).then(|| word.to_ascii_lowercase())
}

pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A reader that hashes and counts what passes through it and reports progress.
pub(crate) struct HashingReader<'a, R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    progress: &'a dyn TransferProgress,
}

impl<'a, R: Read> HashingReader<'a, R> {
    pub(crate) fn new(inner: R, progress: &'a dyn TransferProgress) -> HashingReader<'a, R> {
        HashingReader { inner, hasher: Sha256::new(), bytes: 0, progress }
    }

    /// The sha256 and size of everything read.
    pub(crate) fn finish(self) -> (String, u64) {
        (format!("{:x}", self.hasher.finalize()), self.bytes)
    }
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// A download in progress: a temporary file beside the final name, hashed as it is
/// written. Dropped without [`Download::finish`], it leaves nothing behind.
pub(crate) struct Download<'a> {
    dest: Utf8PathBuf,
    file: BufWriter<tempfile::NamedTempFile>,
    hasher: Sha256,
    bytes: u64,
    progress: &'a dyn TransferProgress,
}

impl<'a> Download<'a> {
    /// Starts a download of `file_name` into `dest_dir`.
    pub(crate) fn start(
        dest_dir: &Utf8Path,
        file_name: &str,
        progress: &'a dyn TransferProgress,
    ) -> Result<Download<'a>, RegistryError> {
        let dest = dest_dir.join(file_name);
        std::fs::create_dir_all(dest_dir)
            .map_err(|source| RegistryError::WriteLocal { path: dest_dir.to_owned(), source })?;
        let temp = tempfile::Builder::new()
            .prefix(&format!(".tmp-{file_name}-"))
            .tempfile_in(dest_dir)
            .map_err(|source| RegistryError::WriteLocal { path: dest.clone(), source })?;
        Ok(Download { dest, file: BufWriter::with_capacity(CHUNK, temp), hasher: Sha256::new(), bytes: 0, progress })
    }

    pub(crate) fn dest(&self) -> &Utf8Path {
        &self.dest
    }

    /// Starts over (a retried download): empties the temporary file.
    pub(crate) fn restart(&mut self) -> Result<(), RegistryError> {
        let write_err = |source| RegistryError::WriteLocal { path: self.dest.clone(), source };
        self.file.flush().map_err(write_err)?;
        let file = self.file.get_mut().as_file_mut();
        file.set_len(0).map_err(write_err)?;
        io::Seek::rewind(file).map_err(write_err)?;
        self.hasher = Sha256::new();
        self.bytes = 0;
        Ok(())
    }

    pub(crate) fn write(&mut self, chunk: &[u8]) -> Result<(), RegistryError> {
        self.file.write_all(chunk).map_err(|source| RegistryError::WriteLocal { path: self.dest.clone(), source })?;
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
        self.progress.advance(chunk.len() as u64);
        Ok(())
    }

    /// Copies a whole reader into the download, a chunk at a time. Read errors are the
    /// transfer's (`TransferIo`), write errors the local file's.
    pub(crate) fn copy_from(&mut self, reader: &mut dyn Read, registry: &str, url: &str) -> Result<(), RegistryError> {
        let mut buf = vec![0; CHUNK];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(RegistryError::TransferIo {
                        registry: registry.to_owned(),
                        url: url.to_owned(),
                        source,
                    });
                }
            };
            self.write(&buf[..n])?;
        }
    }

    /// The sha256 of what was written so far.
    pub(crate) fn sha256(&self) -> String {
        format!("{:x}", self.hasher.clone().finalize())
    }

    /// Renames the file into place if its sha256 is `expected`, and writes
    /// `<file>.sha256` beside it; otherwise removes it and fails.
    pub(crate) fn finish(self, registry: &str, location: &str, expected: &str) -> Result<Fetched, RegistryError> {
        let actual = self.sha256();
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(RegistryError::ChecksumMismatch {
                registry: registry.to_owned(),
                location: location.to_owned(),
                expected: expected.to_owned(),
                actual,
                dest: self.dest,
            });
        }
        let dest = self.dest;
        let write_err = |path: &Utf8Path, source| RegistryError::WriteLocal { path: path.to_owned(), source };
        let temp = self.file.into_inner().map_err(|err| write_err(&dest, err.into_error()))?;
        temp.as_file().sync_all().map_err(|source| write_err(&dest, source))?;
        let file_name = dest.file_name().unwrap_or_default();
        let sums = Utf8PathBuf::from(format!("{dest}.sha256"));
        let dir = dest.parent().unwrap_or(Utf8Path::new("."));
        let mut sums_temp = tempfile::Builder::new()
            .prefix(&format!(".tmp-{file_name}.sha256-"))
            .tempfile_in(dir)
            .map_err(|source| write_err(&sums, source))?;
        sums_temp.write_all(checksum_text(&actual, file_name).as_bytes()).map_err(|source| write_err(&sums, source))?;
        temp.persist(&dest).map_err(|err| write_err(&dest, err.error))?;
        sums_temp.persist(&sums).map_err(|err| write_err(&sums, err.error))?;
        Ok(Fetched { path: dest, checksum_path: sums, sha256: actual, bytes: self.bytes })
    }
}
