//! Real servers for the end-to-end tests, started by the tests themselves on 127.0.0.1
//! with free ports and temporary directories, and stopped when dropped: nginx as a WebDAV
//! server, moto as an S3 server, the GitLab generic packages and WebHDFS contract
//! servers, a fault-injecting source, and a server that echoes requests in its errors.
//!
//! One-shot commands go through `pad_process::Cmd`; the servers are long-running
//! children, which `Cmd` (run to completion) cannot hold, so they are started with
//! `std::process::Command` and their output goes to a log file that every startup error
//! shows.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;

use crate::support::workspace_root;

/// How long a server may take to listen.
const STARTUP: Duration = Duration::from_secs(30);

/// The moto release the S3 server comes from (PyPI), installed once per workspace.
const MOTO: &str = "moto[server]==5.2.5";

/// Debian's interpreter, with venv and pip (`cargo xtask ci` installs them).
const PYTHON: &str = "/usr/bin/python3";

/// A port nobody listens on now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn utf8(path: &std::path::Path) -> Utf8PathBuf {
    Utf8PathBuf::from_path_buf(path.to_owned()).unwrap()
}

/// A running server: its process, its directory and its log.
struct Server {
    name: &'static str,
    child: Child,
    log: Utf8PathBuf,
    /// How to ask it to stop before it is killed (nginx's master stops its workers on
    /// TERM; a KILL would leave them running).
    stop_with_term: bool,
}

impl Server {
    fn spawn(name: &'static str, dir: &Utf8Path, command: &mut Command, stop_with_term: bool) -> Server {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = command
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        Server { name, child, log, stop_with_term }
    }

    /// Waits until the server accepts connections on `port`; panics with its log when it
    /// exits or takes too long.
    fn wait_for(&mut self, port: u16) {
        let start = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{} exited ({status}) before listening on port {port}; its log:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            if start.elapsed() > STARTUP {
                panic!("{} did not listen on port {port} within {STARTUP:?}; its log:\n{}", self.name, self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.stop_with_term {
            let dir = self.log.parent().unwrap();
            let _ = Cmd::new("kill", dir).args(["-TERM", &self.child.id().to_string()]).run();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx serving WebDAV on 127.0.0.1 (`dav_methods PUT DELETE MKCOL`). Locations:
/// `/packages/` (with `create_full_put_path on`), `/strict/` (without it: a `PUT` into a
/// missing collection is a 409, as on a strict WebDAV server), `/private/` (like
/// `/packages/`, behind basic auth `dav-user`/`dav-password`), `/maven/` (static files:
/// a Maven repository laid out by the test) and `/cache/` (WebDAV with `COPY` and `MOVE`,
/// the artifact cache tests' cache). Its worker runs as
/// `nobody` when we are root, so the document root is writable by everyone.
pub(crate) struct Nginx {
    server: Server,
    pub(crate) port: u16,
    /// The document root: `/packages/x` is `<root>/packages/x`.
    pub(crate) root: Utf8PathBuf,
    _dir: tempfile::TempDir,
}

pub(crate) const DAV_USER: &str = "dav-user";
pub(crate) const DAV_PASSWORD: &str = "dav-password-7f3a";

impl Nginx {
    pub(crate) fn start() -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let path = utf8(dir.path());
        // The worker (nobody) must reach the root through the temporary directory.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let root = path.join("www");
        for location in ["packages", "strict", "private", "maven", "cache"] {
            std::fs::create_dir_all(root.join(location)).unwrap();
            std::fs::set_permissions(root.join(location), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        std::fs::write(path.join("htpasswd"), format!("{DAV_USER}:{{PLAIN}}{DAV_PASSWORD}\n")).unwrap();
        std::fs::set_permissions(path.join("htpasswd"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let port = free_port();
        let dav =
            "dav_methods PUT DELETE MKCOL; dav_access user:rw group:rw all:r; client_max_body_size 0; autoindex on;";
        let http = format!(
            r#"    access_log {path}/access.log;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /packages/ {{ {dav} create_full_put_path on; }}
        location /strict/ {{ {dav} }}
        location /private/ {{
            {dav} create_full_put_path on;
            auth_basic "registry";
            auth_basic_user_file {path}/htpasswd;
        }}
        location /maven/ {{ autoindex on; }}
        location /cache/ {{
            dav_methods PUT DELETE MKCOL COPY MOVE; dav_access user:rw group:rw all:r;
            client_max_body_size 0; create_full_put_path on;
        }}
    }}"#
        );
        std::fs::write(path.join("nginx.conf"), xtask::nginx::config(&path, 1, &http)).unwrap();
        let mut server =
            Server::spawn("nginx", &path, Command::new(xtask::nginx::program()).args(xtask::nginx::args(&path)), true);
        server.wait_for(port);
        Nginx { server, port, root, _dir: dir }
    }

    /// `http://127.0.0.1:PORT/<location>`.
    pub(crate) fn url(&self, location: &str) -> String {
        format!("http://127.0.0.1:{}/{location}", self.port)
    }

    pub(crate) fn log(&self) -> String {
        self.server.log_text()
    }
}

/// moto's S3 server on 127.0.0.1, with one bucket.
pub(crate) struct S3Server {
    server: Server,
    pub(crate) port: u16,
    python: Utf8PathBuf,
    dir: tempfile::TempDir,
}

pub(crate) const S3_ACCESS_KEY: &str = "pad-test-key";
pub(crate) const S3_SECRET_KEY: &str = "pad-test-secret-91c2";

impl S3Server {
    pub(crate) fn start(bucket: &str) -> S3Server {
        let python = moto_python();
        let dir = tempfile::tempdir().unwrap();
        let path = utf8(dir.path());
        let port = free_port();
        let mut server = Server::spawn(
            "moto",
            &path,
            Command::new(&python).args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()]),
            false,
        );
        server.wait_for(port);
        let s3 = S3Server { server, port, python, dir };
        s3.boto3(&format!("s3.create_bucket(Bucket={bucket:?})"));
        s3
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One line per request (Werkzeug's access log).
    pub(crate) fn log(&self) -> String {
        self.server.log_text()
    }

    /// Overwrites an object behind the registry's back.
    pub(crate) fn put_object(&self, bucket: &str, key: &str, body: &[u8]) {
        let file = utf8(self.dir.path()).join("object");
        std::fs::write(&file, body).unwrap();
        self.boto3(&format!("s3.upload_file({:?}, {bucket:?}, {key:?})", file.as_str()));
    }

    /// The keys under `prefix`.
    pub(crate) fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let out = self.boto3(&format!(
            "print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket={bucket:?}, Prefix={prefix:?}).get('Contents', [])))"
        ));
        out.lines().map(str::to_owned).collect()
    }

    fn boto3(&self, code: &str) -> String {
        let script = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='{S3_ACCESS_KEY}', aws_secret_access_key='{S3_SECRET_KEY}')\n{code}\n",
            self.endpoint()
        );
        Cmd::new(&self.python, &utf8(self.dir.path()))
            .args(["-c", &script])
            .read()
            .unwrap_or_else(|e| panic!("boto3 against moto failed: {e}\nmoto's log:\n{}", self.server.log_text()))
    }
}

/// The interpreter of the moto tool environment (see [`tool_python`]).
fn moto_python() -> Utf8PathBuf {
    tool_python(MOTO)
}

/// The interpreter of a tool environment holding `requirement` (`name[extras]==version`
/// from PyPI), `target/tools/<name>-<version>/`: made once (with Debian's
/// `python3 -m venv` and pip) and reused.
pub(crate) fn tool_python(requirement: &str) -> Utf8PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (name, version) = requirement.split_once("==").expect("a pinned requirement");
    let name = name.split('[').next().unwrap();
    let tools = workspace_root().join("target/tools");
    let env = tools.join(format!("{name}-{version}"));
    let python = env.join("bin/python");
    if python.exists() {
        return python;
    }
    std::fs::create_dir_all(&tools).unwrap();
    let staging = tools.join(format!(".tmp-{name}-{version}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    eprintln!("installing {requirement} into {env} (once)");
    Cmd::new(PYTHON, &tools).args(["-m", "venv", staging.as_str()]).run().unwrap();
    Cmd::new(staging.join("bin/python"), &tools)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement])
        .run()
        .unwrap_or_else(|e| panic!("cannot install {requirement} from PyPI: {e}"));
    // Another test process may have won the race; its environment is as good as ours.
    if std::fs::rename(&staging, &env).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    python
}

/// Switches of the GitLab contract server (see `gitlab_contract_server.py`).
#[derive(Default)]
pub(crate) struct GitlabOptions {
    pub(crate) fail_puts: u32,
    pub(crate) corrupt_downloads: bool,
    pub(crate) no_duplicates: bool,
    pub(crate) max_file_size: Option<u64>,
    pub(crate) stale_listing: bool,
    pub(crate) direct_download: bool,
}

/// The GitLab generic packages contract server: project `42` (path `data/airflow-dags`)
/// and the tokens below.
pub(crate) struct GitlabContract {
    server: Server,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

pub(crate) const GITLAB_PROJECT: &str = "42";
pub(crate) const GITLAB_WRITE_TOKEN: &str = "glpat-contract-write-5d1e";
pub(crate) const GITLAB_READ_TOKEN: &str = "glpat-contract-read-93ab";
pub(crate) const GITLAB_JOB_TOKEN: &str = "glcbt-contract-job-77c0";
/// A deploy token with `read_package_registry` only.
pub(crate) const GITLAB_DEPLOY_TOKEN: &str = "gldt-contract-deploy-1f6b";
/// A deploy token with `write_package_registry`.
pub(crate) const GITLAB_DEPLOY_WRITE_TOKEN: &str = "gldt-contract-deploy-write-2c8e";

impl GitlabContract {
    pub(crate) fn start(options: GitlabOptions) -> GitlabContract {
        GitlabContract::start_with_tokens(options, &[])
    }

    /// With extra `(token, header, access)` entries.
    pub(crate) fn start_with_tokens(options: GitlabOptions, extra: &[(&str, &str, &str)]) -> GitlabContract {
        let dir = tempfile::tempdir().unwrap();
        let path = utf8(dir.path());
        let mut tokens = serde_json::json!({
            GITLAB_WRITE_TOKEN: {"header": "PRIVATE-TOKEN", "access": "write"},
            GITLAB_READ_TOKEN: {"header": "PRIVATE-TOKEN", "access": "read"},
            GITLAB_JOB_TOKEN: {"header": "JOB-TOKEN", "access": "write"},
            GITLAB_DEPLOY_TOKEN: {"header": "DEPLOY-TOKEN", "access": "read"},
            GITLAB_DEPLOY_WRITE_TOKEN: {"header": "DEPLOY-TOKEN", "access": "write"},
        });
        for (token, header, access) in extra {
            tokens[*token] = serde_json::json!({"header": header, "access": access});
        }
        let config = serde_json::json!({"projects": {GITLAB_PROJECT: "data/airflow-dags"}, "tokens": tokens});
        std::fs::write(path.join("config.json"), config.to_string()).unwrap();
        std::fs::create_dir_all(path.join("data")).unwrap();
        let port = free_port();
        let script = workspace_root().join("tests/it/gitlab_contract_server.py");
        let mut command = Command::new(PYTHON);
        command.args([
            script.as_str(),
            "--port",
            &port.to_string(),
            "--data",
            path.join("data").as_str(),
            "--config",
            path.join("config.json").as_str(),
            "--fail-puts",
            &options.fail_puts.to_string(),
        ]);
        if options.corrupt_downloads {
            command.arg("--corrupt-downloads");
        }
        if options.no_duplicates {
            command.arg("--no-duplicates");
        }
        if let Some(max) = options.max_file_size {
            command.args(["--max-file-size", &max.to_string()]);
        }
        if options.stale_listing {
            command.arg("--stale-listing");
        }
        if options.direct_download {
            command.arg("--direct-download");
        }
        let mut server = Server::spawn("gitlab-contract", &path, &mut command, false);
        server.wait_for(port);
        GitlabContract { server, port, _dir: dir }
    }

    pub(crate) fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v4", self.port)
    }

    /// One line per request: `METHOD /path STATUS token|no-token`.
    pub(crate) fn log(&self) -> String {
        self.server.log_text()
    }
}

/// The WebHDFS contract server (`webhdfs_contract_server.py`): a namenode and a datanode
/// on 127.0.0.1 implementing the documented REST calls, files under `data`.
pub(crate) struct WebhdfsContract {
    server: Server,
    pub(crate) port: u16,
    /// The file system's root on disk: `/a/b` is `<data>/a/b`.
    pub(crate) data: Utf8PathBuf,
    _dir: tempfile::TempDir,
}

impl WebhdfsContract {
    pub(crate) fn start() -> WebhdfsContract {
        let dir = tempfile::tempdir().unwrap();
        let path = utf8(dir.path());
        let data = path.join("data");
        // Two ports held at once, so they differ.
        let (port, datanode) = {
            let a = TcpListener::bind("127.0.0.1:0").unwrap();
            let b = TcpListener::bind("127.0.0.1:0").unwrap();
            (a.local_addr().unwrap().port(), b.local_addr().unwrap().port())
        };
        let script = workspace_root().join("tests/it/webhdfs_contract_server.py");
        let mut server = Server::spawn(
            "webhdfs-contract",
            &path,
            Command::new(PYTHON).args([
                script.as_str(),
                "--port",
                &port.to_string(),
                "--datanode-port",
                &datanode.to_string(),
                "--data",
                data.as_str(),
            ]),
            false,
        );
        server.wait_for(port);
        WebhdfsContract { server, port, data, _dir: dir }
    }

    /// One line per request: `namenode|datanode METHOD /path op=OP STATUS`.
    pub(crate) fn log(&self) -> String {
        self.server.log_text()
    }
}

/// A static HTTP server with injected faults (`tests/fixtures/cache/fault_server.py`),
/// serving `root` with the JSON `rules` by path.
pub(crate) struct FaultServer {
    server: Server,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

impl FaultServer {
    pub(crate) fn start(root: &Utf8Path, rules: &serde_json::Value) -> FaultServer {
        let dir = tempfile::tempdir().unwrap();
        let path = utf8(dir.path());
        std::fs::write(path.join("rules.json"), rules.to_string()).unwrap();
        let port = free_port();
        let script = workspace_root().join("tests/fixtures/cache/fault_server.py");
        let mut server = Server::spawn(
            "fault-server",
            &path,
            Command::new(PYTHON).args([
                script.as_str(),
                "--port",
                &port.to_string(),
                "--root",
                root.as_str(),
                "--rules",
                path.join("rules.json").as_str(),
            ]),
            false,
        );
        server.wait_for(port);
        FaultServer { server, port, _dir: dir }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, path.trim_start_matches('/'))
    }

    /// One line per request: `METHOD /path STATUS`.
    pub(crate) fn log(&self) -> String {
        self.server.log_text()
    }
}

/// A server that answers every request with one status and quotes the request back in
/// the body, headers and query included (`tests/it/echo_server.py`).
pub(crate) struct EchoServer {
    server: Server,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

impl EchoServer {
    pub(crate) fn start(status: u16) -> EchoServer {
        let dir = tempfile::tempdir().unwrap();
        let path = utf8(dir.path());
        let port = free_port();
        let script = workspace_root().join("tests/it/echo_server.py");
        let mut server = Server::spawn(
            "echo-server",
            &path,
            Command::new(PYTHON).args([script.as_str(), "--port", &port.to_string(), "--status", &status.to_string()]),
            false,
        );
        server.wait_for(port);
        EchoServer { server, port, _dir: dir }
    }

    /// One line per request: `METHOD /path STATUS`.
    pub(crate) fn log(&self) -> String {
        self.server.log_text()
    }
}
