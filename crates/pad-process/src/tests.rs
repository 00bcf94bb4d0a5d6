//! Tests for running commands and quoting words.

use camino::Utf8PathBuf;

use super::*;

fn tmp() -> Utf8PathBuf {
    Utf8PathBuf::from_path_buf(std::env::temp_dir()).unwrap()
}

#[track_caller]
fn check_quote(word: &str, expected: &str) {
    assert_eq!(shell_quote(word), expected);
}

#[test]
fn quoting() {
    check_quote("plain-word_1.2/x", "plain-word_1.2/x");
    check_quote("", "''");
    check_quote("two words", "'two words'");
    check_quote("it's", r"'it'\''s'");
    check_quote("$(reboot)", "'$(reboot)'");
    check_quote("a;b", "'a;b'");
    check_quote("*", "'*'");
}

#[test]
fn quoted_words_survive_a_real_shell() {
    for word in ["two words", "it's", "$(echo pwned)", "`id`", "a\"b", "new\nline", "*"] {
        let script = format!("printf %s {}", shell_quote(word));
        let out = Cmd::new("sh", &tmp()).arg("-c").arg(script).run().unwrap();
        assert_eq!(out.stdout, word);
    }
}

#[test]
fn runs_in_the_given_directory() {
    let dir = tmp();
    let out = Cmd::new("pwd", &dir).read().unwrap();
    assert_eq!(std::fs::canonicalize(out).unwrap(), std::fs::canonicalize(&dir).unwrap());
}

#[test]
fn failure_shows_command_status_and_output() {
    let err = Cmd::new("sh", &tmp()).args(["-c", "echo to-stdout; echo to-stderr >&2; exit 3"]).run().unwrap_err();
    let message = err.to_string();
    assert!(message.contains("`sh -c 'echo to-stdout; echo to-stderr >&2; exit 3'` failed"), "{message}");
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(message.contains("to-stdout") && message.contains("to-stderr"), "{message}");
}

#[test]
fn missing_program_is_named() {
    let err = Cmd::new("pad-no-such-program", &tmp()).run().unwrap_err();
    assert!(matches!(err, ProcessError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("`pad-no-such-program` was not found on PATH"));
}

#[test]
fn env_and_stdin_reach_the_child() {
    let out = Cmd::new("sh", &tmp())
        .args(["-c", "printf %s \"$PAD_TEST_VALUE\"; cat"])
        .env("PAD_TEST_VALUE", "v1 ")
        .stdin_bytes(b"from-stdin".to_vec())
        .run()
        .unwrap();
    assert_eq!(out.stdout, "v1 from-stdin");
}

#[test]
fn the_last_env_call_for_a_name_wins() {
    let cmd = |c: Cmd| c.args(["-c", "printf %s \"${PAD_TEST_LAST-unset}\""]).read().unwrap();
    assert_eq!(cmd(Cmd::new("sh", &tmp()).env_remove("PAD_TEST_LAST").env("PAD_TEST_LAST", "set")), "set");
    assert_eq!(cmd(Cmd::new("sh", &tmp()).env("PAD_TEST_LAST", "set").env_remove("PAD_TEST_LAST")), "unset");
    assert_eq!(cmd(Cmd::new("sh", &tmp()).env("PAD_TEST_LAST", "a").env("PAD_TEST_LAST", "b")), "b");
}
