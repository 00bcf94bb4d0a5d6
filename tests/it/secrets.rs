//! Secrets never print: every command that talks to a registry or an artifact cache, at
//! `-vv` and at `PAD_LOG=trace`, against a closed port, a server that answers 401, and
//! servers that echo the request (headers and query) in a 403 or 500 body. Everything
//! printed, and every file written under the target directory, is searched for the
//! secrets, their base64 and percent-encoded forms, and the basic-auth pair's base64.
//!
//! The registries are GitLab, WebDAV (basic auth) and S3 (secret key and session token);
//! a `fs` registry has no secret. The caches are S3, WebDAV and WebHDFS (a delegation
//! token in the query), with GitLab as a cache's source.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use camino::{Utf8Path, Utf8PathBuf};
use pad_bundle::{PackageFile, PackageSpec};
use pad_process::Finished;

use pad_testkit::free_port;
use pad_testkit::services::EchoServer;

use crate::support::{TestRepo, e2e_enabled, xtask_cmd};

const TOKEN: &str = "glpat-SECRET-token-6b1f0c";
const AWS_KEY_ID: &str = "pad-secrets-key-id";
const AWS_SECRET: &str = "aws-SECRET-456-key-d07e";
const AWS_SESSION: &str = "aws-SECRET-session-9a3b";
const DAV_USER: &str = "dav-user";
const DAV_PASSWORD: &str = "dav-SECRET-password-4c2e";
/// With characters a URL query encodes.
const DELEGATION: &str = "hdfs-SECRET/delegation+71f5";

const VERSION: &str = "1.0.0";

/// The environment every run gets: a secret for every registry and cache.
const ENV: [(&str, &str); 7] = [
    ("GITLAB_TOKEN", TOKEN),
    ("AWS_ACCESS_KEY_ID", AWS_KEY_ID),
    ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
    ("AWS_SESSION_TOKEN", AWS_SESSION),
    ("PAD_TEST_DAV_USER", DAV_USER),
    ("PAD_TEST_DAV_PASSWORD", DAV_PASSWORD),
    ("PAD_TEST_DELEGATION", DELEGATION),
];

/// What must never be seen: each secret, percent-encoded, and in base64 (standard and
/// URL-safe, without the padding, which is a suffix), and the basic-auth pair's base64.
fn forbidden() -> Vec<String> {
    let engines = [base64::engine::general_purpose::STANDARD_NO_PAD, base64::engine::general_purpose::URL_SAFE_NO_PAD];
    let pair = format!("{DAV_USER}:{DAV_PASSWORD}");
    let mut forms = Vec::new();
    for secret in [TOKEN, AWS_SECRET, AWS_SESSION, DAV_PASSWORD, DELEGATION, pair.as_str()] {
        if secret != pair {
            forms.push(secret.to_owned());
            forms.push(percent_encoded(secret));
        }
        for engine in &engines {
            forms.push(engine.encode(secret));
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

fn percent_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The leaks in `text`: forbidden forms, and any piece of a secret in clear (a run of
/// [`PIECE`] characters of one; every secret holds `SECRET`), also in a wire dump whose
/// lines are read joined. (A piece of a base64 form may encode the user name alone.)
fn leaks(text: &str, forbidden: &[String]) -> Vec<String> {
    let joined = wire_dump_text(text);
    let mut found: Vec<String> = Vec::new();
    for (what, text) in [("", text), ("in a wire dump: ", joined.as_str())] {
        for form in forbidden {
            if text.contains(form.as_str()) {
                found.push(format!("{what}{form}"));
                continue;
            }
            if !form.contains("SECRET") {
                continue;
            }
            let chars: Vec<char> = form.chars().collect();
            if let Some(piece) =
                chars.windows(PIECE).map(|w| w.iter().collect::<String>()).find(|piece| text.contains(piece.as_str()))
            {
                found.push(format!("{what}`{piece}`, a piece of {form}"));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// How long a piece of a secret counts as a leak.
const PIECE: usize = 12;

/// The text column of a hex dump (`4745 5420 2f61 …  GET./api/v4/proj`, as ureq traces
/// what it sends and receives), its lines joined, so that a secret split across two lines
/// is whole again.
fn wire_dump_text(text: &str) -> String {
    let mut joined = String::new();
    for line in text.lines() {
        let Some((hex, ascii)) = line.split_once("  ") else { continue };
        let groups: Vec<&str> = hex.split_whitespace().rev().take(8).collect();
        let is_dump = groups.len() == 8
            && groups.iter().all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
        if is_dump {
            joined.push_str(ascii.trim_end_matches(|c: char| c.is_whitespace()));
        }
    }
    joined
}

/// A package `publish --file` accepts: a manifest and one DAG.
fn package(dir: &Utf8Path) -> Utf8PathBuf {
    let dag = dir.join("tree/dags/hello.py");
    std::fs::create_dir_all(dag.parent().unwrap()).unwrap();
    std::fs::write(&dag, "# a DAG\n").unwrap();
    let spec = PackageSpec {
        name: "platform-airflow-dags".to_owned(),
        version: VERSION.to_owned(),
        commit: None,
        dirty: false,
        files: vec![PackageFile { archive_path: "dags/hello.py".into(), src: dag, precompressed: false }],
        projects: Vec::new(),
    };
    pad_bundle::write_package(&spec, dir).unwrap().path
}

/// A repository whose registries and caches all point at `base` (`http://127.0.0.1:PORT`);
/// its artifacts files are `caches/<kind>.yaml`.
fn repo_for(base: &str) -> TestRepo {
    let repo = TestRepo::empty();
    repo.write("dags/hello.py", "# a DAG\n").write("projects/.gitkeep", "");
    repo.write(
        "deploy/registries.toml",
        &format!(
            r#"[gitlab]
kind = "gitlab"
api_url = "{base}/api/v4"
project = "42"

[webdav]
kind = "webdav"
url = "{base}/packages"
username_env = "PAD_TEST_DAV_USER"
password_env = "PAD_TEST_DAV_PASSWORD"

[s3]
kind = "s3"
bucket = "packages"
endpoint = "{base}"
"#
        ),
    );
    repo.write("caches/files/tool.jar", "jar bytes");
    let port = base.rsplit(':').next().unwrap();
    let caches = [
        ("s3", format!(r#"{{class_name: s3, base_uri: "s3://artifacts/cache", endpoint: "{base}"}}"#)),
        (
            "webdav",
            format!(
                r#"{{class_name: webdav, base_uri: "{base}/cache", username_env: PAD_TEST_DAV_USER, password_env: PAD_TEST_DAV_PASSWORD}}"#
            ),
        ),
        (
            "webhdfs",
            format!(
                r#"{{class_name: webhdfs, base_uri: "webhdfs://127.0.0.1:{port}/cache", user_name: airflow, delegation_env: PAD_TEST_DELEGATION}}"#
            ),
        ),
    ];
    for (kind, cache) in caches {
        repo.write(
            &format!("caches/{kind}.yaml"),
            &format!(
                "artifact_sources:\n  files: {{class_name: fs, base_uri: files}}\nartifact_caches:\n  {kind}: {cache}\ndefault_artifact_source: files\ndefault_artifact_caches: [{kind}]\nartifacts:\n  tool.jar: {{id: tool.jar}}\n"
            ),
        );
    }
    repo.write(
        "caches/gitlab.yaml",
        &format!(
            "artifact_sources:\n  gitlab: {{class_name: gitlab, base_uri: \"{base}/api/v4/projects/42/packages/generic\", token_env: GITLAB_TOKEN}}\nartifact_caches:\n  dir: {{class_name: fs, base_uri: cache}}\ndefault_artifact_source: gitlab\ndefault_artifact_caches: [dir]\nartifacts:\n  env.tgz: {{id: pkg/{VERSION}/env.tgz}}\n"
        ),
    );
    repo
}

/// How a run asks for logs.
#[derive(Clone, Copy, Debug)]
enum Logs {
    /// `-vv`.
    Debug,
    /// `PAD_LOG=trace`.
    Trace,
}

/// One command against one server.
struct Case {
    server: &'static str,
    /// `127.0.0.1:PORT`, which the run must name (it got as far as the network).
    address: String,
    logs: Logs,
    repo: Utf8PathBuf,
    args: Vec<String>,
}

/// What one run showed.
struct Ran {
    /// The server, the log level and the command.
    what: String,
    /// It failed as a user sees a failure (exit 1, not a crash or a usage error), at the
    /// server.
    failed_at_the_server: bool,
    leaks: Vec<String>,
    stdout: String,
    stderr: String,
}

/// Runs a case with its own target directory (and `AIRFLOW_HOME` in it), and searches
/// what it printed and every file it wrote there.
fn run(case: &Case, target: &Utf8Path, forbidden: &[String]) -> Ran {
    let home = target.join("airflow");
    let mut env: Vec<(&str, &str)> = ENV.to_vec();
    env.push(("PAD_TARGET_DIR", target.as_str()));
    env.push(("AIRFLOW_HOME", home.as_str()));
    let mut args = vec!["--repo", case.repo.as_str()];
    match case.logs {
        Logs::Debug => args.push("-vv"),
        Logs::Trace => env.push(("PAD_LOG", "trace")),
    }
    args.extend(case.args.iter().map(String::as_str));
    let mut cmd = xtask_cmd(&case.repo, &args, &env);
    if matches!(case.logs, Logs::Debug) {
        cmd = cmd.env_remove("PAD_LOG");
    }
    let Finished { status, stdout, stderr } = cmd.run_unchecked().unwrap();
    let mut leaks_found = Vec::new();
    for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        leaks_found.extend(leaks(text, forbidden).into_iter().map(|leak| format!("  {stream}: {leak}")));
    }
    for file in files_under(target) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        leaks_found.extend(leaks(&text, forbidden).into_iter().map(|leak| format!("  {file}: {leak}")));
    }
    // A cache status of a GitLab source asks only its directory cache.
    let asks = !(case.args[1] == "status" && case.args[2].ends_with("gitlab.yaml"));
    let reached = !asks || stdout.contains(&case.address) || stderr.contains(&case.address);
    Ran {
        what: format!("{} at {:?}: {}", case.server, case.logs, case.args.join(" ")),
        failed_at_the_server: status.code() == Some(1) && reached,
        leaks: leaks_found,
        stdout,
        stderr,
    }
}

/// Every command, against a repository whose services are at `base`: publish, fetch and
/// deploy from each registry, cache status and warm of each cache. Trace runs ask for
/// JSON where a command has it, so both renderings are searched.
fn commands(repo: &TestRepo, package: &Utf8Path, logs: Logs) -> Vec<Vec<String>> {
    let json = matches!(logs, Logs::Trace);
    let mut commands = Vec::new();
    for registry in ["gitlab", "webdav", "s3"] {
        commands.push(vec!["publish", "--registry", registry, "--file", package.as_str()]);
        commands.push(vec!["fetch", VERSION, "--registry", registry]);
        commands.push(vec!["deploy", "--target", "local", "--from-registry", VERSION, "--registry", registry]);
    }
    let mut commands: Vec<Vec<String>> =
        commands.into_iter().map(|args| args.into_iter().map(str::to_owned).collect()).collect();
    for cache in ["s3", "webdav", "webhdfs", "gitlab"] {
        let file = repo.root.join(format!("caches/{cache}.yaml"));
        for task in ["status", "warm"] {
            commands.push(vec!["cache".to_owned(), task.to_owned(), file.to_string()]);
        }
    }
    if json {
        for args in &mut commands {
            if args[0] != "deploy" {
                args.push("--json".to_owned());
            }
        }
    }
    commands
}

#[test]
fn secrets_never_print() {
    if !e2e_enabled("secrets_never_print") {
        return;
    }
    let work = TestRepo::empty();
    let package = package(&work.root.join("package"));
    let forbidden = forbidden();
    let echo: Vec<(&'static str, EchoServer)> = vec![
        ("401", EchoServer::start(401).unwrap()),
        ("403 echo", EchoServer::start(403).unwrap()),
        ("500 echo", EchoServer::start(500).unwrap()),
    ];
    let mut servers: Vec<(&'static str, String)> =
        vec![("closed port", format!("http://127.0.0.1:{}", free_port().unwrap()))];
    servers.extend(echo.iter().map(|(name, server)| (*name, format!("http://127.0.0.1:{}", server.port))));

    let mut cases = Vec::new();
    let repos: Vec<TestRepo> = servers.iter().map(|(_, base)| repo_for(base)).collect();
    for (repo, (server, base)) in repos.iter().zip(&servers) {
        for logs in [Logs::Debug, Logs::Trace] {
            for args in commands(repo, &package, logs) {
                let address = base.trim_start_matches("http://").to_owned();
                cases.push(Case { server, address, logs, repo: repo.root.clone(), args });
            }
        }
    }

    // The runs mostly wait (on retries' backoff): several at once.
    let targets = work.root.join("targets");
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Ran>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(index) else { break };
                    let ran = run(case, &targets.join(index.to_string()), &forbidden);
                    results.lock().unwrap().push(ran);
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    assert_eq!(results.len(), cases.len());
    let odd: Vec<&str> = results.iter().filter(|r| !r.failed_at_the_server).map(|r| r.what.as_str()).collect();
    assert!(odd.is_empty(), "runs that did not fail at the server (exit 1, naming it):\n{odd:#?}");
    // Every server was asked (the closed port cannot say).
    for (name, server) in &echo {
        assert!(!server.log().is_empty(), "the {name} server saw no request");
    }
    let leaky: Vec<&Ran> = results.iter().filter(|r| !r.leaks.is_empty()).collect();
    let mut shown: Vec<String> = leaky.iter().map(|r| format!("{}:\n{}", r.what, r.leaks.join("\n"))).collect();
    if let Some(first) = leaky.first() {
        shown.push(format!("the first one's stdout:\n{}\nand stderr:\n{}", first.stdout, first.stderr));
    }
    assert!(leaky.is_empty(), "secrets leaked in {} of {} runs:\n{}", leaky.len(), results.len(), shown.join("\n"));
}

/// Every file under `dir` (none when it does not exist).
fn files_under(dir: &Utf8Path) -> Vec<Utf8PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = dir.read_dir_utf8() else { continue };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.into_path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else if path.is_file() {
                files.push(path);
            }
        }
    }
    files
}
