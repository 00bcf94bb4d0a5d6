//! Real servers for the end-to-end tests, each started on 127.0.0.1 with free ports in a
//! temporary directory of its own, and stopped when dropped: nginx as a WebDAV server and
//! Maven repository ([`Nginx`]), moto as an S3 server ([`S3Server`]), the GitLab generic
//! packages and WebHDFS contract servers, a fault-injecting source, and a server that
//! echoes requests in its errors.
//!
//! The Python servers are embedded in the kit (`include_str!`) and written beside their
//! log when they start, so they are found wherever the binary runs.

use std::os::unix::fs::PermissionsExt;

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;

use crate::KitError;
use crate::error::Context as _;
use crate::server::{Server, Stop};
use crate::tools::PYTHON;

mod contract;
mod gitlab;
mod s3;
mod webdav;

pub use contract::{EchoServer, FaultServer, WEBHDFS_OWNER, WebhdfsContract};
pub use gitlab::{
    GITLAB_BEFORE_CHECKSUM_HEADER, GITLAB_DEPLOY_TOKEN, GITLAB_DEPLOY_WRITE_TOKEN, GITLAB_DEVELOPER_TOKEN,
    GITLAB_JOB_TOKEN, GITLAB_PROJECT, GITLAB_READ_TOKEN, GITLAB_WRITE_TOKEN, GitlabContract, GitlabOptions,
};
pub use s3::{MOTO, S3_ACCESS_KEY, S3_SECRET_KEY, S3Server};
pub use webdav::{DAV_PASSWORD, DAV_USER, Nginx};

/// A temporary directory for one server, readable by everyone (nginx's workers run as
/// `nobody` and must reach their document root through it).
fn server_dir() -> Result<(tempfile::TempDir, Utf8PathBuf), KitError> {
    let dir = tempfile::tempdir().context("creating a temporary directory for a server")?;
    let path = Utf8PathBuf::from_path_buf(dir.path().to_owned())
        .map_err(|p| crate::error::failed(format!("the temporary directory `{}` is not UTF-8", p.display())))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {path} readable"))?;
    Ok((dir, path))
}

/// The servers' shared log and server class (`from http_log import Server, log_line`).
const HTTP_LOG: &str = include_str!("services/http_log.py");

/// Writes the Python server `source` into `dir` as `<name>.py` and starts it there with
/// Debian's interpreter and `args`; the caller waits for its port.
fn python_server(name: &str, source: &str, dir: &Utf8Path, args: &[String]) -> Result<Server, KitError> {
    let script = dir.join(format!("{name}.py"));
    std::fs::write(&script, source).with_context(|| format!("writing {script}"))?;
    // Imported by every server, from the script's own directory.
    let shared = dir.join("http_log.py");
    std::fs::write(&shared, HTTP_LOG).with_context(|| format!("writing {shared}"))?;
    Server::spawn(name, &Cmd::new(PYTHON, dir).arg(script.as_str()).args(args), Stop::Kill)
}
