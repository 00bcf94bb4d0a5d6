//! What a [`crate::Store`] is opened from: where the objects live and the credentials to
//! reach them, already resolved by the caller (the registry reads `registries.toml`, the
//! cache `artifacts.yaml`; each reads the environment through its own lookup).

use std::time::Duration;

use camino::Utf8PathBuf;

use crate::Secret;

/// Where a store keeps its objects.
#[derive(Debug)]
pub enum Backend {
    /// A directory.
    Fs {
        root: Utf8PathBuf,
    },
    S3(S3),
    Webdav(Webdav),
    Webhdfs(Webhdfs),
}

/// An S3 bucket (or a prefix in one).
#[derive(Debug)]
pub struct S3 {
    pub bucket: String,
    /// Empty, or ends with `/`.
    pub prefix: String,
    pub region: String,
    /// Another endpoint than AWS's (MinIO, Ceph, moto).
    pub endpoint: Option<String>,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub virtual_host_style: bool,
}

/// A WebDAV collection, or any HTTP server that stores a `PUT`.
#[derive(Debug)]
pub struct Webdav {
    /// `http(s)://host[:port]/path`, without a trailing `/` and without credentials.
    pub url: String,
    pub auth: Option<BasicAuth>,
    /// `true`: upload to [`Options::tmp_dir`] and `MOVE` into place, so no partial object
    /// is ever visible under its name (needs a server with `MOVE`). `false`: `PUT` in
    /// place, which any server that stores a `PUT` takes; the checksum object, written
    /// last, is then what tells a finished object from a partial one.
    pub move_into_place: bool,
}

/// HTTP basic authentication.
#[derive(Debug)]
pub struct BasicAuth {
    pub username: String,
    pub password: Secret,
}

/// A directory in HDFS, through the namenode's WebHDFS REST API.
#[derive(Debug)]
pub struct Webhdfs {
    /// `http(s)://namenode:port`.
    pub endpoint: String,
    /// The directory, from `/`.
    pub root: String,
    /// Sent as `user.name` (simple authentication).
    pub user_name: Option<String>,
    /// Sent as `delegation` (a delegation token).
    pub delegation: Option<Secret>,
}

/// How a store works, whatever its backend.
#[derive(Debug, Clone)]
pub struct Options {
    /// The hidden directory in the store's root where uploads wait for their rename (a
    /// directory, WebDAV with [`Webdav::move_into_place`], WebHDFS).
    pub tmp_dir: &'static str,
    /// Sent as `User-Agent` by the requests made by hand.
    pub user_agent: &'static str,
    /// How long a whole response body may take (see [`crate::http::agent`]).
    pub body_timeout: Option<Duration>,
}
