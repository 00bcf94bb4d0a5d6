//! Plain HTTP for sources and caches: the shared plumbing of `pad-store`.

pub use pad_store::ATTEMPTS;
pub(crate) use pad_store::http::{
    MAX_REDIRECTS, basic_auth, encode_segment, error_message, join_path, origin, redact_userinfo, resolve_location,
    retryable_error, retryable_status,
};
pub(crate) use pad_store::{Secret, backoff, quote, quote_within};

/// The agent every source and cache request goes through (see [`pad_store::http::agent`]); a
/// body that takes over 5 minutes is given up on (and retried).
pub(crate) fn agent() -> ureq::Agent {
    pad_store::http::agent(concat!("pad-cache/", env!("CARGO_PKG_VERSION")), Some(std::time::Duration::from_secs(300)))
}
