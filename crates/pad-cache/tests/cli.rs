//! The standalone `pad-cache` binary as a git-sync exechook or a CI job runs it, from the
//! directory of its artifacts.yaml, against a directory source and a directory cache:
//! usage, warm, a second warm that copies nothing, status with its exit codes, a damaged
//! cached object, a checksum mismatch, leftovers of interrupted runs, and a broken file.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use camino::Utf8Path;
use pad_process::{Cmd, Finished};
use sha2::{Digest, Sha256};

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn pad_cache(dir: &Path, args: &[&str]) -> Finished {
    Cmd::new(env!("CARGO_BIN_EXE_pad-cache"), Utf8Path::from_path(dir).unwrap()).args(args).run_unchecked().unwrap()
}

fn text(output: &Finished) -> String {
    format!("{}{}", output.stdout, output.stderr)
}

/// A directory with `src/` (two artifacts) and an artifacts.yaml that copies them into
/// `cache/`; `extra` is appended to the artifacts.
fn setup(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("tool.jar"), b"jar bytes").unwrap();
    fs::write(src.join("env.tgz"), vec![7u8; 300_000]).unwrap();
    let yaml = format!(
        "artifact_sources:\n  files: {{class_name: fs, base_uri: src}}\nartifact_caches:\n  local: {{class_name: fs, base_uri: cache}}\ndefault_artifact_source: files\ndefault_artifact_caches: [local]\nartifacts:\n  tool.jar: {{id: tool.jar, sha256: {}}}\n  env.tgz: {{id: env.tgz}}\n{extra}",
        hex_sha256(b"jar bytes")
    );
    fs::write(dir.path().join("artifacts.yaml"), yaml).unwrap();
    dir
}

#[test]
fn help_and_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let help = pad_cache(dir.path(), &["--help"]);
    assert!(help.status.success());
    let help = text(&help);
    assert!(help.contains("warm") && help.contains("status"), "{help}");
    let warm_help = text(&pad_cache(dir.path(), &["warm", "--help"]));
    assert!(warm_help.contains("--force") && warm_help.contains("--jobs"), "{warm_help}");

    let none = pad_cache(dir.path(), &["warm"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(text(&none).contains("FILE"), "{}", text(&none));
    let bad = pad_cache(dir.path(), &["copy", "a.yaml"]);
    assert_eq!(bad.status.code(), Some(2));
    let zero = pad_cache(dir.path(), &["status", "--jobs", "0", "a.yaml"]);
    assert_eq!(zero.status.code(), Some(2));
}

#[test]
fn warm_then_nothing_to_copy_then_status() {
    let dir = setup("");
    let root = dir.path();
    let cold = pad_cache(root, &["status", "artifacts.yaml"]);
    assert_eq!(cold.status.code(), Some(1), "{}", text(&cold));
    assert!(text(&cold).contains("0 present, 2 missing"), "{}", text(&cold));

    let warm = pad_cache(root, &["warm", "artifacts.yaml"]);
    assert!(warm.status.success(), "{}", text(&warm));
    let out = text(&warm);
    assert!(out.contains("tool.jar") && out.contains("copied 9 B"), "{out}");
    assert!(out.contains("2 copied"), "{out}");
    let progress = warm.stderr.clone();
    assert!(progress.contains("/2] tool.jar: copied") && progress.contains("/2] env.tgz: copied"), "{progress}");
    assert_eq!(fs::read(root.join("cache/tool.jar")).unwrap(), b"jar bytes");
    let recorded = fs::read_to_string(root.join("cache/env.tgz.sha256")).unwrap();
    assert_eq!(recorded, format!("{}  env.tgz\n", hex_sha256(&[7u8; 300_000])));

    let again = pad_cache(root, &["warm", "artifacts.yaml"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("nothing to copy: all 2 artifacts already warm"), "{}", text(&again));

    let status = pad_cache(root, &["status", "--json", "artifacts.yaml"]);
    assert!(status.status.success(), "{}", text(&status));
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let states: Vec<&str> = json["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["caches"].as_array().unwrap())
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["present", "present"]);

    // An object whose checksum is not the one artifacts.yaml asks for, and one without a
    // stored checksum (another tool's copy, or an interrupted one), are wrong; a warm puts
    // them right.
    fs::write(root.join("cache/tool.jar"), b"other bytes").unwrap();
    fs::write(root.join("cache/tool.jar.sha256"), format!("{}  tool.jar\n", hex_sha256(b"other bytes"))).unwrap();
    fs::write(root.join("cache/env.tgz"), b"truncated").unwrap();
    fs::remove_file(root.join("cache/env.tgz.sha256")).unwrap();
    let damaged = pad_cache(root, &["status", "artifacts.yaml"]);
    assert_eq!(damaged.status.code(), Some(1));
    assert!(text(&damaged).contains("0 present, 0 missing, 2 wrong"), "{}", text(&damaged));
    let repaired = pad_cache(root, &["warm", "artifacts.yaml"]);
    assert!(repaired.status.success(), "{}", text(&repaired));
    assert_eq!(fs::read(root.join("cache/env.tgz")).unwrap(), vec![7u8; 300_000]);
    assert_eq!(fs::read(root.join("cache/tool.jar")).unwrap(), b"jar bytes");
}

#[test]
fn a_checksum_mismatch_fails_and_leaves_no_object() {
    let dir = setup(&format!("  bad.jar: {{id: tool.jar, sha256: {}}}\n", "0".repeat(64)));
    let root = dir.path();
    let warm = pad_cache(root, &["warm", "artifacts.yaml"]);
    assert_eq!(warm.status.code(), Some(1), "{}", text(&warm));
    let stderr = warm.stderr.clone();
    assert!(stderr.contains("bad.jar -> local") && stderr.contains("sha256"), "{stderr}");
    assert!(!root.join("cache/bad.jar").exists());
    assert!(root.join("cache/tool.jar").exists(), "the other artifacts are still copied");
    let leftovers: Vec<_> = fs::read_dir(root.join("cache/.pad-tmp")).map(|d| d.count()).into_iter().collect();
    assert!(leftovers.iter().all(|n| *n == 0), "{leftovers:?}");
}

#[test]
fn leftovers_of_interrupted_runs_are_swept_once_stale() {
    let dir = setup("");
    let root = dir.path();
    let tmp = root.join("cache/.pad-tmp");
    fs::create_dir_all(&tmp).unwrap();
    let old = tmp.join("env.tgz.0d2f-killed");
    fs::write(&old, b"half a copy").unwrap();
    let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
    fs::File::options().write(true).open(&old).unwrap().set_modified(two_hours_ago).unwrap();
    // A copy another run is making right now.
    let young = tmp.join("tool.jar.77aa-running");
    fs::write(&young, b"in progress").unwrap();

    let warm = pad_cache(root, &["warm", "artifacts.yaml"]);
    assert!(warm.status.success(), "{}", text(&warm));
    assert!(text(&warm).contains("env.tgz.0d2f-killed`, left by an interrupted run"), "{}", text(&warm));
    assert!(!old.exists());
    assert!(young.exists(), "a recent temporary file may belong to a running warm");

    let json = pad_cache(root, &["warm", "--json", "artifacts.yaml"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["swept"], serde_json::json!([]));
}

#[test]
fn a_broken_file_is_named_with_its_line() {
    let dir = setup("  odd.jar: {id: tool.jar, colour: blue}\n");
    let out = pad_cache(dir.path(), &["warm", "artifacts.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = out.stderr.clone();
    assert!(stderr.contains("artifacts.yaml:10:") && stderr.contains("colour"), "{stderr}");
    assert!(!dir.path().join("cache").exists() || fs::read_dir(dir.path().join("cache")).unwrap().count() == 0);
}

/// A server on 127.0.0.1 that answers every request with 403 and quotes the request
/// back, headers and query included; returns its `host:port`.
fn echo_server() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut echo = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                echo.push_str(line.trim_end());
                echo.push_str(" | ");
                line.clear();
            }
            let body = format!("{{\"message\": {:?}}}", echo);
            let _ = write!(
                stream,
                "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    address
}

#[test]
fn credentials_never_print_even_when_a_server_quotes_them() {
    const TOKEN: &str = "glpat-cli-SECRET-91d0";
    const PASSWORD: &str = "dav-cli-SECRET-5e77";
    const DELEGATION: &str = "hdfs-cli-SECRET-0b3a";
    let address = echo_server();
    let dir = setup("");
    let yaml = format!(
        "artifact_sources:\n  files: {{class_name: fs, base_uri: src}}\n  gitlab: {{class_name: gitlab, base_uri: 'http://{address}/api/v4/projects/1/packages/generic', token_env: PAD_CLI_TOKEN}}\nartifact_caches:\n  local: {{class_name: fs, base_uri: cache}}\n  dav: {{class_name: webdav, base_uri: 'http://{address}/cache', username_env: PAD_CLI_USER, password_env: PAD_CLI_PASSWORD}}\n  hdfs: {{class_name: webhdfs, base_uri: 'webhdfs://{address}/cache', delegation_env: PAD_CLI_DELEGATION}}\nartifacts:\n  tool.jar: {{id: tool.jar, source: files, caches: [dav, hdfs]}}\n  env.tgz: {{id: pkg/1.0/env.tgz, source: gitlab, caches: [local]}}\n"
    );
    fs::write(dir.path().join("secrets.yaml"), yaml).unwrap();
    let basic = pad_store::http::basic_auth("dav-user", PASSWORD);
    let forbidden = [TOKEN, PASSWORD, DELEGATION, "SECRET", basic.trim_start_matches("Basic ").trim_end_matches('=')];
    for args in [
        ["status", "secrets.yaml", "--json"],
        ["status", "secrets.yaml", "--jobs=1"],
        ["warm", "secrets.yaml", "--json"],
        ["warm", "secrets.yaml", "--jobs=1"],
    ] {
        let output = Cmd::new(env!("CARGO_BIN_EXE_pad-cache"), Utf8Path::from_path(dir.path()).unwrap())
            .args(args)
            .env("PAD_CLI_TOKEN", TOKEN)
            .env("PAD_CLI_USER", "dav-user")
            .env("PAD_CLI_PASSWORD", PASSWORD)
            .env("PAD_CLI_DELEGATION", DELEGATION)
            .run_unchecked()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", text(&output));
        let shown = text(&output);
        assert!(shown.contains("403") && shown.contains("***"), "{args:?}: {shown}");
        for secret in forbidden {
            assert!(!shown.contains(secret), "{args:?} shows `{secret}`:\n{shown}");
        }
    }
}
