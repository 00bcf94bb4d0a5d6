//! nginx as the tests and benchmarks run it: a whole `nginx.conf` of our own in a work
//! directory (no system config read), its workers as `nobody` when started by root so
//! they can read what the tests write, and its temporary files kept in that directory.

use camino::Utf8Path;
use pad_process::Cmd;

use crate::KitError;
use crate::error::Context as _;
use crate::server::{Server, Stop};

/// The nginx binary: Debian's path, a source build's, or whatever `PATH` finds.
pub fn program() -> String {
    for candidate in ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"] {
        if Utf8Path::new(candidate).exists() {
            return candidate.to_owned();
        }
    }
    "nginx".to_owned()
}

/// The command that runs nginx in the foreground on `dir/nginx.conf`.
pub fn command(dir: &Utf8Path) -> Cmd {
    Cmd::new(program(), dir).args([
        "-p",
        dir.as_str(),
        "-c",
        dir.join("nginx.conf").as_str(),
        "-e",
        dir.join("error.log").as_str(),
    ])
}

/// A complete `nginx.conf` for `dir`: `workers` worker processes, logs and temporary
/// files under `dir`, and `http` (access log, `server` blocks) inside the `http` block.
pub fn config(dir: &Utf8Path, workers: u32, http: &str) -> String {
    let user = if is_root(dir) { format!("user nobody {};", nobody_group()) } else { String::new() };
    format!(
        r#"daemon off;
master_process on;
worker_processes {workers};
{user}
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    default_type application/octet-stream;
{http}
}}
"#
    )
}

/// Writes the [`config`] of `http` into `dir` and starts nginx on it; returns once it
/// listens on `port` of 127.0.0.1 (one of those its `server` blocks name). Dropped, it
/// is stopped with TERM, so its master stops its workers.
pub fn start(dir: &Utf8Path, workers: u32, http: &str, port: u16) -> Result<Server, KitError> {
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config(dir, workers, http)).with_context(|| format!("writing {conf}"))?;
    let mut server =
        Server::spawn("nginx", &command(dir), Stop::Term).context("starting nginx (apt-get install nginx)")?;
    server.wait_for(port)?;
    Ok(server)
}

fn is_root(dir: &Utf8Path) -> bool {
    Cmd::new("id", dir).arg("-u").read().is_ok_and(|uid| uid == "0")
}

/// Debian calls nobody's group `nogroup`; others call it `nobody`.
fn nobody_group() -> &'static str {
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    if groups.lines().any(|l| l.starts_with("nogroup:")) { "nogroup" } else { "nobody" }
}
