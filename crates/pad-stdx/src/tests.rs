//! Tests of the shared helpers.

use camino::Utf8PathBuf;

use super::*;

#[test]
fn hex_and_sha256() {
    assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    let empty = sha256_hex(b"");
    assert_eq!(empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert!(is_sha256_hex(&empty));
    assert!(!is_sha256_hex(&empty.to_ascii_uppercase()));
    assert!(!is_sha256_hex(&"é".repeat(32)));
    assert!(!is_sha256_hex("ffffffffffff"));
}

#[test]
fn human_sizes() {
    for (bytes, text) in
        [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (28_905_304, "27.6 MiB"), (3 << 30, "3.0 GiB")]
    {
        assert_eq!(human_size(bytes), text);
    }
}

#[test]
fn safe_tokens() {
    for (name, token) in [
        ("v1.4.0", "v1.4.0"),
        ("main", "main"),
        ("feature/x y", "feature-x-y"),
        ("1.0.0+build.5", "1.0.0-build.5"),
        ("../etc", "etc"),
        ("-rf", "rf"),
        (".hidden", "hidden"),
        ("", "unnamed"),
        ("///", "unnamed"),
        ("日本", "unnamed"),
    ] {
        assert_eq!(safe_token(name), token, "{name:?}");
        assert!(is_safe_token(token));
    }
    assert!(!is_safe_token("feature/x"));
}

#[test]
fn atomic_writes_replace_whole_files_with_the_mode_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::from_path_buf(dir.path().join("sub/file.txt")).unwrap();
    write_atomic(&path, b"one", 0o644).unwrap();
    write_atomic(&path, b"two", 0o644).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"two");
    let mode = fs::metadata(&path).unwrap().permissions();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o644 & !umask());
    let names: Vec<String> =
        fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, ["file.txt"], "a temporary file was left behind");
}

/// The process's umask, read without changing it for long.
fn umask() -> u32 {
    let dir = tempfile::tempdir().unwrap();
    let probe = dir.path().join("probe");
    fs::create_dir(&probe).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&probe).unwrap().permissions());
    0o777 & !(mode & 0o777)
}
