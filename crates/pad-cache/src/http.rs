//! Plain HTTP for sources: the shared plumbing of `pad-store`.

use std::time::Duration;

pub(crate) use pad_store::Secret;
pub(crate) use pad_store::http::{
    MAX_REDIRECTS, error_message, join_path, origin, redact_userinfo, resolve_location, retryable_status,
};

/// What every request of this crate, to a source or a cache, says it comes from.
pub(crate) const USER_AGENT: &str = concat!("pad-cache/", env!("CARGO_PKG_VERSION"));

/// A body that takes longer is given up on (and retried).
pub(crate) const BODY_TIMEOUT: Option<Duration> = Some(Duration::from_secs(300));

/// The agent every source request goes through (see [`pad_store::http::agent`]).
pub(crate) fn agent() -> ureq::Agent {
    pad_store::http::agent(USER_AGENT, BODY_TIMEOUT)
}
