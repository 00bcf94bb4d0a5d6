//! Plain HTTP with `ureq`: secrets that never print, URL path encoding, retries with
//! backoff, and the short message a server put in an error body.

use std::fmt;
use std::time::Duration;

/// A credential: its `Debug` never shows it, and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: String) -> Secret {
        Secret(value)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How many times a request is tried when the server fails (5xx) or cannot be reached.
/// Client errors (4xx) are never retried.
pub(crate) const ATTEMPTS: u32 = 4;

/// The wait after failed attempt `attempt` (1-based): 0.5 s, 1 s, 2 s, …, at most 8 s,
/// so [`ATTEMPTS`] tries wait 3.5 s in all.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let millis = 500u64.saturating_mul(1 << attempt.saturating_sub(1).min(4));
    Duration::from_millis(millis.min(8_000))
}

/// An agent that hands every status back to the caller (no status is an `Err`), follows
/// no redirect by itself (so credentials never travel to another host), and gives up on
/// a stalled connection.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        // WebDAV's MKCOL.
        .allow_non_standard_methods(true)
        // Packages are hashed as stored: ask for no compression of what is already
        // compressed, so no layer decompresses it on the way.
        .accept_encoding(ureq::config::AutoHeaderValue::None)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(300)))
        .user_agent(concat!("pad-registry/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Percent-encodes one URL path segment (everything but RFC 3986's unreserved
/// characters), so `/` in a project path becomes `%2F`.
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Joins a base URL and encoded segments with single slashes.
pub(crate) fn join_url(base: &str, segments: &[&str]) -> String {
    let mut url = base.trim_end_matches('/').to_owned();
    for segment in segments {
        url.push('/');
        url.push_str(&encode_segment(segment));
    }
    url
}

/// The value of a basic-auth `Authorization` header.
pub(crate) fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The server's short explanation from an error body: GitLab's `{"message": …}` or
/// `{"error": …}`, else the start of the text.
pub(crate) fn error_message(response: &mut ureq::http::Response<ureq::Body>) -> String {
    let text = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
    message_of(&text)
}

pub(crate) fn message_of(text: &str) -> String {
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        for key in ["message", "error"] {
            match value.get(key) {
                Some(serde_json::Value::String(s)) => return s.clone(),
                Some(other) if !other.is_null() => return other.to_string(),
                _ => {}
            }
        }
    }
    let text = text.trim();
    if text.is_empty() {
        return "no explanation in the response".to_owned();
    }
    let mut short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Whether a status is worth another try.
pub(crate) fn retryable(status: u16) -> bool {
    (500..600).contains(&status) || status == 429
}

/// Whether a transport error is worth another try (the connection, not the request,
/// failed).
pub(crate) fn retryable_error(err: &ureq::Error) -> bool {
    matches!(
        err,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)
    )
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
            Ok(response) if retryable(response.status().as_u16()) && attempt < ATTEMPTS => {
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
