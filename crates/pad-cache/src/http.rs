//! Plain HTTP for sources and caches: the shared plumbing of `pad-http`.

pub use pad_http::ATTEMPTS;
pub(crate) use pad_http::{
    MAX_REDIRECTS, Secret, backoff, basic_auth, encode_segment, error_message, join_path, origin, quote, quote_within,
    redact_userinfo, resolve_location, retryable_error, retryable_status,
};

/// The agent every source and cache request goes through (see [`pad_http::agent`]); a
/// body that takes over 5 minutes is given up on (and retried).
pub(crate) fn agent() -> ureq::Agent {
    pad_http::agent(concat!("pad-cache/", env!("CARGO_PKG_VERSION")), Some(std::time::Duration::from_secs(300)))
}
