//! sha256 as the stores keep it: the `<name>.sha256` object beside each object, in the
//! format `sha256sum` writes and checks (`<hex>  <name>`), and hashing while streaming.

use std::fs::File;
use std::io::{self, Read};

use camino::Utf8Path;
use sha2::{Digest, Sha256};

use crate::TransferProgress;

/// How much is read or written at a time: transfers never hold more than this (plus
/// the storage client's own part buffer) in memory.
pub const CHUNK: usize = 1024 * 1024;

/// The key of the checksum object beside `key`.
pub fn sidecar(key: &str) -> String {
    format!("{key}.sha256")
}

/// The text of a `<name>.sha256` object: the format `sha256sum` writes and checks.
pub fn sidecar_text(sha256: &str, name: &str) -> String {
    format!("{sha256}  {name}\n")
}

/// The first word of a checksum file, lowercase, when it is `hex_len` hex digits.
pub fn parse_hex(text: &str, hex_len: usize) -> Option<String> {
    let word = text.split_whitespace().next()?;
    (word.len() == hex_len && word.bytes().all(|b| b.is_ascii_hexdigit())).then(|| word.to_ascii_lowercase())
}

/// The sha256 in a `.sha256` text (its first word), when it is one.
pub fn parse_sha256(text: &str) -> Option<String> {
    parse_hex(text, 64)
}

/// Whether `text` is a sha256 in hex.
pub fn is_sha256_hex(text: &str) -> bool {
    parse_sha256(text).is_some_and(|sha| sha.len() == text.len())
}

/// The sha256 (lowercase hex) and size of a file, read in chunks.
pub fn sha256_file(path: &Utf8Path) -> io::Result<(String, u64)> {
    let mut reader = HashingReader::new(File::open(path)?, &());
    let mut buf = vec![0; CHUNK];
    while read_full(&mut reader, &mut buf)? > 0 {}
    Ok(reader.finish())
}

/// A reader that hashes and counts what passes through it and reports progress.
pub struct HashingReader<'a, R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    progress: &'a dyn TransferProgress,
}

impl<'a, R: Read> HashingReader<'a, R> {
    pub fn new(inner: R, progress: &'a dyn TransferProgress) -> HashingReader<'a, R> {
        HashingReader { inner, hasher: Sha256::new(), bytes: 0, progress }
    }

    /// The sha256 and size of everything read.
    pub fn finish(self) -> (String, u64) {
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

/// Fills `buf` as far as the reader allows, so writes go out in whole chunks.
pub(crate) fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}
