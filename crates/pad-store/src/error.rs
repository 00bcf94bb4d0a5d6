//! `StoreError`: what went wrong with one object of a store (or the local file on the
//! other end of a transfer), with what was being done and where. The callers (the
//! registry, the cache) turn it into their own errors, which add the fix in their terms:
//! which setting or variable holds the credentials, what to publish again.

use std::io;

use camino::Utf8PathBuf;

use crate::http;

/// A failed operation on one object: `cannot {action} `{location}`: {problem}`.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} `{location}`: {problem}")]
pub struct StoreError {
    /// `stat`, `read`, `write`, `delete`, `move`, `create`, `rename`, `download`, `set up`.
    pub action: &'static str,
    /// Where, for people: a path, or a URL without credentials.
    pub location: String,
    /// How many times it was tried (see [`crate::retry`]).
    pub attempts: u32,
    pub problem: Problem,
}

/// What went wrong. Every text in it is redacted, and a server's words are cut short
/// (see [`crate::quote`]).
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The server refused the credentials, or what they may do (401, 403).
    #[error("refused (401/403): {detail}")]
    Denied { detail: String },
    /// Nothing is there.
    #[error("it does not exist")]
    NotFound,
    /// A request by hand (WebDAV, WebHDFS) got an error status other than 401, 403 or 404.
    #[error("{status}: {message}")]
    Status { status: u16, message: String },
    /// The server could not be reached, or the connection broke.
    #[error("{0}")]
    Transport(ureq::Error),
    /// What OpenDAL said, redacted and cut short.
    #[error("{detail}")]
    Storage { detail: String, transient: bool },
    /// The server answered something the protocol does not allow.
    #[error("{0}")]
    Protocol(String),
    /// The upload or download broke off.
    #[error("the transfer broke off: {0}")]
    Broken(io::Error),
    /// The `.sha256` object holds no checksum.
    #[error("it does not hold a sha256 checksum (`<64 hex digits>  <file>`), it holds `{found}`")]
    BadChecksum { found: String },
    #[error("{0}")]
    ReadLocal(io::Error),
    #[error("{0}")]
    WriteLocal(io::Error),
    /// A local file hashed to another sha256 while it was sent than before.
    #[error("it changed while it was being uploaded (sha256 {expected} before, {actual} during)")]
    Changed { expected: String, actual: String },
    /// Downloaded bytes that do not hash to the store's sha256; `dest` got nothing.
    #[error("the store says sha256 {expected}, the downloaded bytes hash to {actual}; nothing was written to `{dest}`")]
    Mismatch { expected: String, actual: String, dest: Utf8PathBuf },
    /// The storage client could not be set up.
    #[error("{0}")]
    Setup(String),
}

impl StoreError {
    pub(crate) fn new(action: &'static str, location: impl Into<String>, problem: Problem) -> StoreError {
        StoreError { action, location: location.into(), attempts: 1, problem }
    }

    /// Whether another try may succeed: 5xx, 429, connections that failed or broke off,
    /// and OpenDAL's temporary errors. Never a 4xx, a bad checksum or a local error.
    pub fn is_transient(&self) -> bool {
        match &self.problem {
            Problem::Status { status, .. } => http::retryable_status(*status),
            Problem::Transport(err) => http::retryable_error(err),
            Problem::Storage { transient, .. } => *transient,
            Problem::Broken(_) => true,
            _ => false,
        }
    }
}

impl crate::retry::Transient for StoreError {
    fn is_transient(&self) -> bool {
        StoreError::is_transient(self)
    }

    fn set_attempts(&mut self, attempts: u32) {
        self.attempts = attempts;
    }
}
