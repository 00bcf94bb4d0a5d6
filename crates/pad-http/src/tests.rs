//! Tests of the URL, auth and message helpers.

use crate::{basic_auth, join_path, join_segments, message_of, origin, redact_userinfo, resolve_location};

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
