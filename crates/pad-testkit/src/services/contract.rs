//! The small Python servers: the WebHDFS contract server (no HDFS can run here), a static
//! source with injected faults, and a server that quotes requests back in its errors.

use camino::{Utf8Path, Utf8PathBuf};

use super::{python_server, server_dir};
use crate::KitError;
use crate::error::Context as _;
use crate::server::{Server, free_port, free_ports};

const WEBHDFS: &str = include_str!("webhdfs_contract_server.py");
const FAULT: &str = include_str!("fault_server.py");
const ECHO: &str = include_str!("echo_server.py");

/// The user that owns the WebHDFS contract server's files: only it (as `user.name`, or
/// through a delegation token) may write; a caller without either is `dr.who`.
pub const WEBHDFS_OWNER: &str = "airflow";

/// The WebHDFS contract server (`webhdfs_contract_server.py`): a namenode and a datanode
/// on 127.0.0.1 implementing the documented REST calls, files under `data`, owned by
/// [`WEBHDFS_OWNER`].
pub struct WebhdfsContract {
    server: Server,
    pub port: u16,
    /// The file system's root on disk: `/a/b` is `<data>/a/b`.
    pub data: Utf8PathBuf,
    _dir: tempfile::TempDir,
}

impl WebhdfsContract {
    pub fn start() -> Result<WebhdfsContract, KitError> {
        WebhdfsContract::start_with_tokens(&[])
    }

    /// With delegation tokens, `(token, user)`.
    pub fn start_with_tokens(tokens: &[(&str, &str)]) -> Result<WebhdfsContract, KitError> {
        let (dir, path) = server_dir()?;
        let data = path.join("data");
        let (port, datanode) = free_ports()?;
        let mut args = vec![
            "--port".into(),
            port.to_string(),
            "--datanode-port".into(),
            datanode.to_string(),
            "--data".into(),
            data.to_string(),
            "--owner".into(),
            WEBHDFS_OWNER.to_owned(),
        ];
        for (token, user) in tokens {
            args.extend(["--delegation".into(), format!("{token}={user}")]);
        }
        let mut server = python_server("webhdfs-contract", WEBHDFS, &path, &args)?;
        server.wait_for(port)?;
        Ok(WebhdfsContract { server, port, data, _dir: dir })
    }

    /// One line per request: `namenode|datanode METHOD /path op=OP STATUS`.
    pub fn log(&self) -> String {
        self.server.log_text()
    }
}

/// A static HTTP server with injected faults (`fault_server.py`), serving `root` with
/// the JSON `rules` by path.
pub struct FaultServer {
    server: Server,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl FaultServer {
    pub fn start(root: &Utf8Path, rules: &serde_json::Value) -> Result<FaultServer, KitError> {
        let (dir, path) = server_dir()?;
        let rules_file = path.join("rules.json");
        std::fs::write(&rules_file, rules.to_string()).with_context(|| format!("writing {rules_file}"))?;
        let port = free_port()?;
        let args = [
            "--port".into(),
            port.to_string(),
            "--root".into(),
            root.to_string(),
            "--rules".into(),
            rules_file.to_string(),
        ];
        let mut server = python_server("fault-server", FAULT, &path, &args)?;
        server.wait_for(port)?;
        Ok(FaultServer { server, port, _dir: dir })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, path.trim_start_matches('/'))
    }

    /// One line per request: `METHOD /path STATUS`.
    pub fn log(&self) -> String {
        self.server.log_text()
    }
}

/// A server that answers every request with one status and quotes the request back in
/// the body, headers and query included (`echo_server.py`).
pub struct EchoServer {
    server: Server,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl EchoServer {
    pub fn start(status: u16) -> Result<EchoServer, KitError> {
        let (dir, path) = server_dir()?;
        let port = free_port()?;
        let args = ["--port".into(), port.to_string(), "--status".into(), status.to_string()];
        let mut server = python_server("echo-server", ECHO, &path, &args)?;
        server.wait_for(port)?;
        Ok(EchoServer { server, port, _dir: dir })
    }

    /// One line per request: `METHOD /path STATUS`.
    pub fn log(&self) -> String {
        self.server.log_text()
    }
}
