//! Why one artifact could not be checked or copied: each error names the URL, file or
//! cache, says what happened and, where there is one, the fix.

use camino::Utf8PathBuf;

/// A failed transfer, check or commit of one artifact.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(
        "{url} answered 404 Not Found: the source has no such artifact; check the id `{id}` and the source's `base_uri`"
    )]
    NotFound { url: String, id: String },
    #[error("{url} answered {status}: {message}; {hint}")]
    Refused { url: String, status: u16, message: String, hint: String },
    #[error("{url} answered {status}: {message}")]
    Server { url: String, status: u16, message: String },
    #[error("cannot reach {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: ureq::Error,
    },
    #[error("the body of {url} ended after {got} of {expected} bytes (truncated)")]
    Truncated { url: String, got: u64, expected: u64 },
    #[error("the body of {url} broke off after {got} bytes: {source}")]
    Broken {
        url: String,
        got: u64,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "checksum mismatch: {url} has {algorithm} {actual}, but {from} says {expected}; nothing was stored, and this is not retried"
    )]
    Mismatch { url: String, algorithm: &'static str, actual: String, expected: String, from: String },
    #[error("cannot read `{path}`: {source}")]
    ReadFile {
        path: Utf8PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{url} redirected more than {max} times")]
    TooManyRedirects { url: String, max: u32 },
    #[error("`{value}`: {source}")]
    Var {
        value: String,
        #[source]
        source: pad_layout::vars::VarError,
    },
    #[error("id `{id}`: {reason}")]
    BadId { id: String, reason: String },
    #[error("cache `{cache}` at {location}: cannot {action}: {message}")]
    Cache { cache: String, location: String, action: &'static str, message: String, transient: bool },
    #[error("cache `{cache}`: {message}")]
    CacheSetup { cache: String, message: String },
}

impl TransferError {
    /// Whether another try may succeed: server errors (5xx, 429), connections that
    /// failed or broke off, truncated bodies. Never a 404, another 4xx or a mismatch.
    pub fn is_transient(&self) -> bool {
        match self {
            TransferError::Server { .. }
            | TransferError::Unreachable { .. }
            | TransferError::Truncated { .. }
            | TransferError::Broken { .. } => true,
            TransferError::Cache { transient, .. } => *transient,
            _ => false,
        }
    }
}

impl pad_store::Transient for TransferError {
    fn is_transient(&self) -> bool {
        TransferError::is_transient(self)
    }
}
