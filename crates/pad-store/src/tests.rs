//! Tests of the URL, auth and message helpers, checksum files, and of redaction.

use std::io::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

use crate::http::{basic_auth, join_path, join_segments, message_of, origin, redact_userinfo, resolve_location};
use crate::{MAX_QUOTE, Redacting, Secret, quote_within, redact, register};

#[test]
fn base64_of_basic_auth() {
    // RFC 7617's example.
    assert_eq!(basic_auth("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    assert_eq!(basic_auth("a", "b"), "Basic YTpi");
    assert_eq!(basic_auth("ab", "c"), "Basic YWI6Yw==");
}

#[test]
fn server_messages() {
    assert_eq!(
        message_of(r#"{"message":"400 Bad request - Duplicate package is not allowed"}"#),
        "400 Bad request - Duplicate package is not allowed"
    );
    assert_eq!(message_of(r#"{"error":"file is invalid"}"#), "file is invalid");
    assert_eq!(message_of(r#"{"RemoteException":{"message":"File does not exist: /x"}}"#), "File does not exist: /x");
    assert_eq!(message_of("<html><title> 502 Bad Gateway </title></html>"), "502 Bad Gateway");
    assert_eq!(message_of("<html>oops</html>"), "<html>oops</html>");
    assert_eq!(message_of(""), "no explanation in the response");
    assert_eq!(message_of("<title> </title>"), "no explanation in the response");
}

/// Each case registers its own secrets: the list is process-wide and tests share it.
#[track_caller]
fn check_redacted(text: &str, expected: &str) {
    assert_eq!(redact(text), expected);
}

#[test]
fn a_secret_is_redacted_in_every_form_it_travels_in() {
    let secret = Secret::new("tok/en+Q7x:9~?>".to_owned());
    check_redacted("PRIVATE-TOKEN: tok/en+Q7x:9~?>.", "PRIVATE-TOKEN: ***.");
    check_redacted("?delegation=tok%2Fen%2BQ7x%3A9~%3F%3E&op=OPEN", "?delegation=***&op=OPEN");
    let standard = STANDARD.encode(secret.expose());
    let url_safe = URL_SAFE.encode(secret.expose());
    assert_ne!(standard, url_safe);
    for encoded in [&standard, &url_safe] {
        assert!(!redact(encoded).contains(encoded.trim_end_matches('=')), "{encoded} -> {}", redact(encoded));
    }
    // Inside basic auth, whatever the user name's length.
    for user in ["a", "ab", "abc", "dav-user"] {
        let header = basic_auth(user, secret.expose());
        let shown = redact(&header);
        assert!(shown.contains("***"), "{header} -> {shown}");
        assert!(!shown.contains(header.trim_start_matches("Basic ").trim_end_matches('=')), "{header} -> {shown}");
    }
    // JSON and Debug escape what they quote.
    register("say \"hi\" back\\now");
    check_redacted(r#"{"message":"say \"hi\" back\\now"}"#, r#"{"message":"***"}"#);
    // Debug shows nothing of it.
    assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
}

#[test]
fn short_values_are_not_redacted() {
    register("ab12");
    check_redacted("ab12 stays", "ab12 stays");
}

#[test]
fn server_messages_are_redacted_and_cut_in_every_shape() {
    let token = Secret::new("glpat-Echoed-Token-31ad".to_owned());
    let echo = format!("GET /x | private-token: {} |{}", token.expose(), " filler".repeat(100));
    let json = serde_json::json!({ "message": echo }).to_string();
    let html = format!("<html><title>{echo}</title></html>");
    let remote = serde_json::json!({ "RemoteException": { "message": echo } }).to_string();
    for body in [&echo, &json, &html, &remote] {
        let message = message_of(body);
        assert!(message.starts_with("GET /x | private-token: *** |"), "{message}");
        assert!(!message.contains("Echoed"), "{message}");
        assert_eq!(message.chars().count(), MAX_QUOTE + 1, "{message}");
        assert!(message.ends_with('…'), "{message}");
    }
    // A secret across the cut is gone whole, not cut in two.
    let long = format!("{}{}", "x".repeat(MAX_QUOTE - 5), token.expose());
    assert_eq!(message_of(&long), format!("{}***", "x".repeat(MAX_QUOTE - 5)));
}

#[test]
fn an_error_quoting_a_body_keeps_its_context_and_cuts_the_body() {
    let password = Secret::new("pw-Quoted-7710".to_owned());
    let body = format!("auth {}{}", password.expose(), " and more".repeat(100));
    let text = format!("Unexpected at read, context: {{ status: 403 }} => {body}");
    let shown = quote_within(&text, &body);
    assert!(shown.starts_with("Unexpected at read, context: { status: 403 } => auth *** and more"), "{shown}");
    assert!(shown.ends_with('…') && shown.chars().count() < text.chars().count(), "{shown}");
}

#[test]
fn the_log_writer_redacts_each_line() {
    let key = Secret::new("aws-Logged-Key-0c4e".to_owned());
    let mut out = Vec::new();
    let line = format!("DEBUG Trying credential provider: Static {{ secret_access_key: \"{}\" }}\n", key.expose());
    Redacting(&mut out).write_all(line.as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "DEBUG Trying credential provider: Static { secret_access_key: \"***\" }\n"
    );
}

#[test]
fn urls() {
    assert_eq!(join_segments("http://h/api/", &["projects", "a/b", "x y"]), "http://h/api/projects/a%2Fb/x%20y");
    assert_eq!(join_path("http://h/dav", "/cache//a b.jar"), "http://h/dav/cache/a%20b.jar");
    assert_eq!(origin("https://h:8443/a/b"), "https://h:8443");
    assert_eq!(origin("https://h"), "https://h");
    assert_eq!(resolve_location("http://h/a/b", "/c"), "http://h/c");
    assert_eq!(resolve_location("http://h/a/b", "c"), "http://h/a/c");
    assert_eq!(resolve_location("http://h/a/b", "https://o/x"), "https://o/x");
    assert_eq!(redact_userinfo("https://u:p@h/x@y"), "https://***@h/x@y");
    assert_eq!(redact_userinfo("https://h/x"), "https://h/x");
}

#[test]
fn checksum_text_round_trips() {
    let sha = "a".repeat(64);
    let text = crate::checksum::sidecar_text(&sha, "f.tar.gz");
    assert_eq!(text, format!("{sha}  f.tar.gz\n"));
    assert_eq!(crate::checksum::parse_sha256(&text), Some(sha.clone()));
    assert_eq!(crate::checksum::parse_sha256("not a checksum"), None);
    assert_eq!(crate::checksum::parse_sha256(""), None);
    assert!(crate::checksum::is_sha256_hex(&sha.to_uppercase()));
    assert!(!crate::checksum::is_sha256_hex(&format!("{sha} x")));
}
