//! Plain HTTP for the registries: the shared plumbing of `pad-store`, and the retry loop
//! and transport errors in this crate's error type.

pub(crate) use pad_store::http::{
    MAX_REDIRECTS, encode_segment, error_message, join_segments, origin, redact_userinfo, resolve_location,
    retryable_error, retryable_status,
};
pub(crate) use pad_store::{ATTEMPTS, Secret, backoff};

/// What every request of this crate says it comes from.
pub(crate) const USER_AGENT: &str = concat!("pad-registry/", env!("CARGO_PKG_VERSION"));

/// The agent every GitLab request goes through (see [`pad_store::http::agent`]). No limit
/// on receiving a body: a package may take minutes on a slow link.
pub(crate) fn agent() -> ureq::Agent {
    pad_store::http::agent(USER_AGENT, None)
}

/// Sends a request up to [`ATTEMPTS`] times while the server fails (5xx, 429) or cannot
/// be reached, waiting [`backoff`] between tries. `call` gets the 1-based attempt. The
/// last response is returned whatever its status, with the number of attempts made.
pub(crate) fn with_retries(
    registry: &str,
    url: &str,
    mut call: impl FnMut(u32) -> Result<ureq::http::Response<ureq::Body>, crate::RegistryError>,
) -> Result<(ureq::http::Response<ureq::Body>, u32), crate::RegistryError> {
    let mut attempt = 1;
    loop {
        match call(attempt) {
            Ok(response) if retryable_status(response.status().as_u16()) && attempt < ATTEMPTS => {
                tracing::debug!(registry, url, status = response.status().as_u16(), attempt, "server error, retrying");
            }
            Ok(response) => return Ok((response, attempt)),
            Err(crate::RegistryError::Transport { source, .. }) if retryable_error(&source) && attempt < ATTEMPTS => {
                tracing::debug!(registry, url, error = %source, attempt, "connection failed, retrying");
            }
            Err(crate::RegistryError::Transport { registry, url, source, .. }) => {
                return Err(crate::RegistryError::Transport { registry, url, attempts: attempt, source });
            }
            Err(err) => return Err(err),
        }
        std::thread::sleep(backoff(attempt));
        attempt += 1;
    }
}

/// A transport error of one attempt (its attempt count is set by [`with_retries`]).
pub(crate) fn transport(registry: &str, url: &str, source: ureq::Error) -> crate::RegistryError {
    crate::RegistryError::Transport { registry: registry.to_owned(), url: url.to_owned(), attempts: 1, source }
}
