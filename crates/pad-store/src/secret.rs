//! Secrets and their redaction: every credential the toolchain reads is registered, once,
//! in a process-wide list together with the forms it travels in, and [`redact`] replaces
//! any of them with `***` in a text about to be shown (a log line, an error, a report).
//!
//! A [`Secret`] registers its value when it is made, so reading a credential into one is
//! all a caller does. The forms: the value itself, percent-encoded (a URL's query), JSON-
//! and Debug-escaped, and base64 (standard and URL-safe), whole and at each of the three
//! alignments it can have inside a longer base64 text, so `base64(user:password)` of a
//! basic-auth header is covered by the password alone.

use std::fmt;
use std::io;
use std::sync::{PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// What a secret is replaced with.
pub const REDACTED: &str = "***";

/// The shortest value, or form of one, that is redacted: hiding every two-letter run
/// that happens to be a password would garble every message and protect nothing a guess
/// would not find.
pub const MIN_SECRET_LEN: usize = 6;

/// The most characters of a server's words an error quotes (see [`quote`]).
pub const MAX_QUOTE: usize = 300;

/// Every registered form, longest first, so a longer form is replaced before a shorter
/// one it contains.
static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// A credential: its `Debug` never shows it, it has no `Display`, and its value (in all
/// its forms, see the module) is redacted from whatever [`redact`] is given, from the
/// moment it is made.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        register(&value);
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Registers a secret value and its forms for [`redact`]. Values shorter than
/// [`MIN_SECRET_LEN`] are not registered.
pub fn register(value: &str) {
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    let mut forms = vec![value.to_owned(), crate::http::encode_segment(value)];
    for escaped in [serde_json::to_string(value).unwrap_or_default(), format!("{value:?}")] {
        forms.push(escaped.trim_matches('"').to_owned());
    }
    for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
        forms.push(engine.encode(value));
        // Inside a longer base64 text the value starts at byte `offset` of a 3-byte
        // group; the characters made of its bits alone are the same whatever surrounds it.
        for offset in 0..3 {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(value.as_bytes());
            let encoded = engine.encode(&bytes);
            let start = (8 * offset).div_ceil(6);
            let end = 8 * (offset + value.len()) / 6;
            forms.push(encoded[start..end].to_owned());
        }
    }
    let mut known = KNOWN.write().unwrap_or_else(PoisonError::into_inner);
    for form in forms {
        if form.len() >= MIN_SECRET_LEN && !known.contains(&form) {
            known.push(form);
        }
    }
    known.sort_by_key(|form| std::cmp::Reverse(form.len()));
}

/// `text` with every registered secret form replaced by [`REDACTED`].
pub fn redact(text: &str) -> String {
    let known = KNOWN.read().unwrap_or_else(PoisonError::into_inner);
    let mut text = text.to_owned();
    for form in known.iter() {
        if text.contains(form.as_str()) {
            text = text.replace(form.as_str(), REDACTED);
        }
    }
    text
}

/// A server's words as an error quotes them: redacted, on one line (runs of white space
/// made one space), and at most [`MAX_QUOTE`] characters (then `…`). Redacted before it
/// is cut, so no piece of a secret is left at the cut.
pub fn quote(text: &str) -> String {
    let text = redact(text).split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = text.chars().take(MAX_QUOTE).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// The text of an error that quotes a server's words (`quoted`, such as the response
/// body in an OpenDAL error): redacted, with the quoted part cut as [`quote`] cuts it.
pub fn quote_within(text: &str, quoted: &str) -> String {
    let text = redact(text);
    let quoted = redact(quoted);
    if quoted.trim().is_empty() {
        return text;
    }
    text.replacen(&quoted, &quote(&quoted), 1)
}

/// A writer that redacts what goes through it, one `write` at a time: give it whole
/// lines (a `tracing` event is one `write_all`), since a secret split across two writes
/// cannot be recognised.
pub struct Redacting<W>(pub W);

impl<W: io::Write> io::Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(redact(&String::from_utf8_lossy(buf)).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
