//! A writer that computes the SHA-256 and length of everything passing through it, so
//! an archive's content address is known once it is written, without reading it back.

use std::io::{self, Write};

use pad_stdx::hex;
use sha2::{Digest, Sha256};

/// Passes writes on to `W` while hashing them.
pub struct Sha256Writer<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Sha256Writer<W> {
    pub fn new(inner: W) -> Self {
        Sha256Writer { inner, hasher: Sha256::new(), bytes: 0 }
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The inner writer, the lowercase hex SHA-256 of what was written, and its length.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex(&self.hasher.finalize()), self.bytes)
    }
}

impl<W: Write> Write for Sha256Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
