//! nginx serving WebDAV, a Maven repository and a WebDAV cache on 127.0.0.1: the
//! registry and artifact cache tests' HTTP storage.

use std::os::unix::fs::PermissionsExt;

use camino::Utf8PathBuf;

use super::server_dir;
use crate::KitError;
use crate::error::Context as _;
use crate::server::{Server, free_port};

pub const DAV_USER: &str = "dav-user";
pub const DAV_PASSWORD: &str = "dav-password-7f3a";

/// nginx serving WebDAV on 127.0.0.1 (`dav_methods PUT DELETE MKCOL`). Locations:
/// `/packages/` (with `create_full_put_path on`), `/strict/` (without it: a `PUT` into a
/// missing collection is a 409, as on a strict WebDAV server), `/private/` (like
/// `/packages/`, behind basic auth [`DAV_USER`]/[`DAV_PASSWORD`]), `/maven/` (static
/// files: a Maven repository laid out by the test) and `/cache/` (WebDAV with `COPY` and
/// `MOVE`, the artifact cache tests' cache). Its worker runs as `nobody` when we are
/// root, so the document root is writable by everyone.
pub struct Nginx {
    server: Server,
    pub port: u16,
    /// The document root: `/packages/x` is `<root>/packages/x`.
    pub root: Utf8PathBuf,
    _dir: tempfile::TempDir,
}

impl Nginx {
    pub fn start() -> Result<Nginx, KitError> {
        let (dir, path) = server_dir()?;
        let root = path.join("www");
        for location in ["packages", "strict", "private", "maven", "cache"] {
            let location = root.join(location);
            std::fs::create_dir_all(&location).with_context(|| format!("creating {location}"))?;
            std::fs::set_permissions(&location, std::fs::Permissions::from_mode(0o777))
                .with_context(|| format!("making {location} writable"))?;
        }
        let htpasswd = path.join("htpasswd");
        std::fs::write(&htpasswd, format!("{DAV_USER}:{{PLAIN}}{DAV_PASSWORD}\n"))
            .with_context(|| format!("writing {htpasswd}"))?;
        std::fs::set_permissions(&htpasswd, std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("making {htpasswd} readable"))?;
        let port = free_port()?;
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
        let server = crate::nginx::start(&path, 1, &http, port)?;
        Ok(Nginx { server, port, root, _dir: dir })
    }

    /// `http://127.0.0.1:PORT/<location>`.
    pub fn url(&self, location: &str) -> String {
        format!("http://127.0.0.1:{}/{location}", self.port)
    }

    pub fn log(&self) -> String {
        self.server.log_text()
    }
}
