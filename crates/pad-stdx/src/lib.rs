//! Small helpers the `pad-*` crates share, each written once (as rust-analyzer's `stdx`):
//! lowercase hex and SHA-256 digests, writing a file so that readers never see a part
//! of it, and the one rule that turns a version or branch name into a token safe in a
//! file name, a directory name and a URL path segment; and sizes as people read them.
//!
//! Nothing here knows about Airflow, Python, packages or hosts.

use std::fs;
use std::io::{self, Write};

use camino::Utf8Path;
use sha2::{Digest, Sha256};

#[cfg(test)]
mod tests;

/// Lowercase hexadecimal digits of `bytes` (how every SHA-256 here is written).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// The lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Whether `text` is a SHA-256 as written here: 64 lowercase hex digits.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Bytes for people, in binary units as everything the toolchain shows: `512 B`,
/// `3.4 KiB`, `27.6 MiB`, `1.2 GiB`.
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", units[unit]) }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, flushed to
/// disk, then renamed over `path`: a reader sees the old contents or the new, never a
/// part, and a crash leaves at most a `.<name>.tmp-*` file beside it. The file gets
/// `mode` (the umask still applies), not the temporary file's 0600. The directory is
/// created when missing.
pub fn write_atomic(path: &Utf8Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_str().is_empty() => dir,
        _ => Utf8Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let name = path.file_name().unwrap_or("file");
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|err| err.error)?;
    Ok(())
}

/// Makes a version, tag or branch name a token safe in a file name, a directory name
/// and a URL path segment: characters other than ASCII letters, digits, `.`, `_` and
/// `-` become `-`, and leading or trailing `-` and `.` go (no hidden file, no option);
/// nothing left is `unnamed`. The one rule for versions: the version from git, a
/// package's file name and a release's directory all follow it.
pub fn safe_token(name: &str) -> String {
    let mapped: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' }).collect();
    let trimmed = mapped.trim_matches(|c| c == '-' || c == '.');
    if trimmed.is_empty() { "unnamed".to_owned() } else { trimmed.to_owned() }
}

/// Whether `name` is already what [`safe_token`] makes of it.
pub fn is_safe_token(name: &str) -> bool {
    safe_token(name) == name
}
