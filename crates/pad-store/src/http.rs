//! Plain HTTP with `ureq`, as the stores, the registry's GitLab client and the cache's
//! sources speak it: an agent that follows no redirect by itself (so a credential never
//! travels to another host), which statuses and transport errors are worth another try,
//! URL helpers, and the short, redacted message a server put in an error body.

use std::time::Duration;

use base64::Engine as _;

use crate::quote;

/// How many redirects a download follows (by hand: see [`agent`]).
pub const MAX_REDIRECTS: u32 = 5;

/// An agent that hands every status back to the caller (no status is an `Err`), follows
/// no redirect by itself, allows WebDAV's methods (MKCOL, MOVE), asks for no compression
/// (what is transferred is hashed as stored) and gives up on a stalled connection;
/// `body_timeout` bounds the time to receive a whole body, when given.
pub fn agent(user_agent: &str, body_timeout: Option<Duration>) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .allow_non_standard_methods(true)
        .accept_encoding(ureq::config::AutoHeaderValue::None)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(300)))
        .timeout_recv_body(body_timeout)
        .user_agent(user_agent)
        .build()
        .into()
}

/// Whether a status is worth another try.
pub fn retryable_status(status: u16) -> bool {
    (500..600).contains(&status) || status == 429
}

/// Whether a transport error is worth another try (the connection, not the request,
/// failed).
pub fn retryable_error(err: &ureq::Error) -> bool {
    matches!(
        err,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)
    )
}

/// Percent-encodes one URL path segment (everything but RFC 3986's unreserved
/// characters), so `/` in a project path becomes `%2F`.
pub fn encode_segment(segment: &str) -> String {
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

/// Joins a base URL and segments, each percent-encoded, with single slashes.
pub fn join_segments(base: &str, segments: &[&str]) -> String {
    let mut url = base.trim_end_matches('/').to_owned();
    for segment in segments {
        url.push('/');
        url.push_str(&encode_segment(segment));
    }
    url
}

/// Joins a base URL and a `/`-separated relative path, each segment percent-encoded.
pub fn join_path(base: &str, path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    join_segments(base, &segments)
}

/// `scheme://authority` of a URL, for comparing hosts across a redirect.
pub fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..].find('/').map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// Resolves a `Location` header against the URL that sent it.
pub fn resolve_location(base: &str, location: &str) -> String {
    if location.contains("://") {
        location.to_owned()
    } else if location.starts_with('/') {
        format!("{}{location}", origin(base))
    } else {
        let dir = base.rfind('/').map_or(base, |i| &base[..=i]);
        format!("{dir}{location}")
    }
}

/// The URL with what comes before `@` in its authority replaced by `***`.
pub fn redact_userinfo(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[after_scheme..].find('/').map_or(url.len(), |i| after_scheme + i);
    match url[after_scheme..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..after_scheme], &url[after_scheme + at..]),
        None => url.to_owned(),
    }
}

/// The value of a basic-auth `Authorization` header (RFC 7617).
pub fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// The server's short explanation from an error body (read up to 64 KiB): see
/// [`message_of`].
pub fn error_message(response: &mut ureq::http::Response<ureq::Body>) -> String {
    let text = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
    message_of(&text)
}

/// `{"message": …}` or `{"error": …}` (GitLab), the same inside a Hadoop
/// `{"RemoteException": …}`, an HTML page's `<title>`, else the start of the text; in
/// every case redacted and cut to [`crate::MAX_QUOTE`] characters (see [`quote`]), since a
/// server may echo the request, credentials included.
pub fn message_of(text: &str) -> String {
    let quoted = quote(&explanation(text));
    if quoted.is_empty() { "no explanation in the response".to_owned() } else { quoted }
}

fn explanation(text: &str) -> String {
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let value = value.get("RemoteException").unwrap_or(&value);
        for key in ["message", "error"] {
            match value.get(key) {
                Some(serde_json::Value::String(s)) => return s.clone(),
                Some(other) if !other.is_null() => return other.to_string(),
                _ => {}
            }
        }
    }
    let text = text.trim();
    if let (Some(start), Some(end)) = (text.find("<title>"), text.find("</title>"))
        && start + 7 <= end
    {
        return text[start + 7..end].to_owned();
    }
    text.to_owned()
}
