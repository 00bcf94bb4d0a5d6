//! Caches: a directory, an S3 bucket, a WebDAV collection or a WebHDFS directory, each
//! holding `<name>` and, beside it, `<name>.sha256` (`<hex>  <name>`, as `sha256sum`
//! writes it).
//!
//! Writes never show a partial object under its final name:
//!
//! - `fs`: OpenDAL writes into `<root>/.pad-tmp/` and renames on commit.
//! - `s3`: OpenDAL's writer; a `PUT` or multipart upload appears whole when it completes,
//!   and an aborted one never appears.
//! - `webdav`: a streamed `PUT` to `.pad-tmp/<name>.<unique>`, then `MOVE`. Plain HTTP
//!   with `ureq`: OpenDAL 0.59's WebDAV service collects a whole object in memory for one
//!   `PUT` and stats and renames through `PROPFIND`, which plain nginx lacks.
//! - `webhdfs`: `CREATE` (the two-step redirect, the body streamed to the datanode) of
//!   `.pad-tmp/<name>.<unique>`, then `RENAME`, with `ureq`: OpenDAL 0.59's WebHDFS
//!   service has no rename and buffers a whole object unless it writes blocks and
//!   `CONCAT`s them. Stat, read, delete and the small checksum object go through OpenDAL.
//!
//! The checksum object is written last and removed first on a replace, so an object
//! without one (an interrupted copy, or one made by another tool) counts as wrong.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use camino::Utf8PathBuf;
use opendal::options::WriteOptions;
use opendal::{Buffer, ErrorKind, Operator};
use pad_layout::EnvVars;
use serde::Serialize;

use crate::config::{CacheDef, CacheKind};
use crate::error::TransferError;
use crate::http::{self, Secret};

/// The hidden directory inside a cache where objects are written before their rename.
pub const TMP_DIR: &str = ".pad-tmp";

/// A file in a directory cache's [`TMP_DIR`] that nobody has written to for this long was
/// left by an interrupted run (a copy in progress writes every moment), and `warm`
/// removes it.
pub const STALE_TMP: std::time::Duration = std::time::Duration::from_secs(3600);

/// S3 multipart part size: the most an S3 upload holds in memory at once.
const S3_PART: usize = 8 * 1024 * 1024;

/// Chunks queued for a streamed `PUT`: with 1 MiB chunks, at most this many MiB wait.
const PIPE_DEPTH: usize = 4;

type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// What a cache holds for one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CacheState {
    /// The object and its checksum are there (and the checksum is the one artifacts.yaml
    /// asks for, when it asks).
    Present {
        sha256: String,
    },
    Missing,
    /// The object is there, but not as it should be.
    Wrong {
        reason: String,
    },
    /// The cache could not be asked.
    Error {
        error: String,
    },
}

enum Kind {
    Fs { root: Utf8PathBuf },
    S3 { bucket: String, prefix: String },
    Webdav { url: String, auth: Option<Secret> },
    Webhdfs { endpoint: String, root: String, query: String, shown: String },
}

pub(crate) struct Store {
    pub(crate) name: String,
    kind: Kind,
    op: Option<Operator>,
    handle: tokio::runtime::Handle,
    agent: ureq::Agent,
}

/// A cache setting that could not be used.
fn setup(cache: &str, message: impl Into<String>) -> TransferError {
    TransferError::CacheSetup { cache: cache.to_owned(), message: message.into() }
}

fn expand(cache: &str, key: &str, value: &str, env: Env<'_>) -> Result<String, TransferError> {
    pad_layout::vars::expand(value, env).map_err(|err| setup(cache, format!("`{key}`: {err}")))
}

fn required_var(cache: &str, key: &str, var: &str, env: Env<'_>) -> Result<String, TransferError> {
    env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
        setup(cache, format!("environment variable `{var}` (named by `{key}`) is not set: export it, or name another variable in `{key}`"))
    })
}

/// `host[:port]` and path of `scheme://host[:port]/path`.
fn split_authority(url: &str) -> (&str, &str) {
    let rest = url.find("://").map_or(url, |i| &url[i + 3..]);
    match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    }
}

impl Store {
    pub(crate) fn open(def: &CacheDef, env: Env<'_>, handle: &tokio::runtime::Handle) -> Result<Store, TransferError> {
        let name = def.name.as_str();
        let operator = |builder: Result<Operator, opendal::Error>| {
            builder.map_err(|err| setup(name, format!("cannot set up the storage client: {err}")))
        };
        opendal::install_default();
        let (kind, op) = match &def.kind {
            CacheKind::Fs { path } => {
                let root = Utf8PathBuf::from(expand(name, "base_uri", path, env)?);
                let root = if root.is_absolute() { root } else { def.dir.join(root) };
                let builder =
                    opendal::services::Fs::default().root(root.as_str()).atomic_write_dir(root.join(TMP_DIR).as_str());
                // The fs service creates its root when it is built: a cache that cannot be
                // created is reported per artifact, like any other unreachable cache.
                let op = operator(Operator::new(builder))?;
                (Kind::Fs { root }, Some(op))
            }
            CacheKind::S3 {
                base_uri,
                endpoint,
                region,
                access_key_id_env,
                secret_access_key_env,
                session_token_env,
                virtual_host_style,
            } => {
                let uri = expand(name, "base_uri", base_uri, env)?;
                let (bucket, prefix) = split_authority(&uri);
                let bucket = bucket.to_owned();
                if bucket.is_empty() {
                    return Err(setup(name, format!("`{uri}` names no bucket: write `s3://bucket/prefix`")));
                }
                let prefix = prefix.trim_matches('/');
                let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
                let key_var = access_key_id_env.as_deref().unwrap_or(EnvVars::AWS_ACCESS_KEY_ID);
                let secret_var = secret_access_key_env.as_deref().unwrap_or(EnvVars::AWS_SECRET_ACCESS_KEY);
                let session_var = session_token_env.as_deref().unwrap_or(EnvVars::AWS_SESSION_TOKEN);
                let key = required_var(name, "access_key_id_env", key_var, env)?;
                let secret = Secret::new(required_var(name, "secret_access_key_env", secret_var, env)?);
                let region = match region {
                    Some(region) => expand(name, "region", region, env)?,
                    None => "us-east-1".to_owned(),
                };
                let mut builder = opendal::services::S3::default()
                    .bucket(&bucket)
                    .region(&region)
                    .root(&format!("/{prefix}"))
                    .access_key_id(&key)
                    .secret_access_key(secret.expose())
                    .disable_config_load()
                    .disable_ec2_metadata();
                if let Some(endpoint) = endpoint {
                    builder = builder.endpoint(&expand(name, "endpoint", endpoint, env)?);
                }
                if let Some(token) = env(session_var).filter(|v| !v.is_empty()).map(Secret::new) {
                    builder = builder.session_token(token.expose());
                }
                if *virtual_host_style {
                    builder = builder.enable_virtual_host_style();
                }
                let op = operator(Operator::new(builder))?;
                (Kind::S3 { bucket, prefix }, Some(op))
            }
            CacheKind::Webdav { base_uri, username_env, password_env } => {
                let url = expand(name, "base_uri", base_uri, env)?.trim_end_matches('/').to_owned();
                let auth = match (username_env, password_env) {
                    (None, None) => None,
                    (user_var, password_var) => {
                        let user = match user_var {
                            Some(var) => required_var(name, "username_env", var, env)?,
                            None => return Err(setup(name, "`password_env` is set without `username_env`: name both")),
                        };
                        let password = match password_var {
                            Some(var) => Secret::new(required_var(name, "password_env", var, env)?),
                            None => return Err(setup(name, "`username_env` is set without `password_env`: name both")),
                        };
                        Some(Secret::new(http::basic_auth(&user, password.expose())))
                    }
                };
                (Kind::Webdav { url, auth }, None)
            }
            CacheKind::Webhdfs { base_uri, endpoint, user_name, delegation_env } => {
                let uri = expand(name, "base_uri", base_uri, env)?;
                let (authority, root) = split_authority(&uri);
                let endpoint = match endpoint {
                    Some(endpoint) => expand(name, "endpoint", endpoint, env)?.trim_end_matches('/').to_owned(),
                    None => format!("http://{authority}"),
                };
                let root = format!("/{}", root.trim_matches('/'));
                let mut builder = opendal::services::Webhdfs::default().endpoint(&endpoint).root(&root);
                let mut query = String::new();
                if let Some(user) = user_name {
                    let user = expand(name, "user_name", user, env)?;
                    builder = builder.user_name(&user);
                    query.push_str(&format!("&user.name={}", http::encode_segment(&user)));
                }
                if let Some(var) = delegation_env {
                    let token = Secret::new(required_var(name, "delegation_env", var, env)?);
                    builder = builder.delegation(token.expose());
                    query.push_str(&format!("&delegation={}", http::encode_segment(token.expose())));
                }
                let op = operator(Operator::new(builder))?;
                let shown = format!("webhdfs://{}{root}", split_authority(&endpoint).0);
                (Kind::Webhdfs { endpoint, root, query, shown }, Some(op))
            }
        };
        Ok(Store { name: name.to_owned(), kind, op, handle: handle.clone(), agent: http::agent() })
    }

    /// Where an object is, for people.
    /// Removes what interrupted runs left in a directory cache's [`TMP_DIR`]: files
    /// untouched for [`STALE_TMP`]; returns their paths. Elsewhere nothing is swept: an
    /// S3 upload is invisible until it completes (an abandoned multipart upload is the
    /// bucket lifecycle rule `AbortIncompleteMultipartUpload`'s job), and a WebDAV or
    /// WebHDFS temporary object outlives its run only if the run dies between the upload
    /// and the rename.
    pub(crate) fn sweep(&self) -> Vec<String> {
        let Kind::Fs { root } = &self.kind else { return Vec::new() };
        let Ok(entries) = root.join(TMP_DIR).read_dir_utf8() else { return Vec::new() };
        let now = std::time::SystemTime::now();
        let stale = |meta: &std::fs::Metadata| {
            meta.modified().ok().and_then(|t| now.duration_since(t).ok()).is_some_and(|age| age > STALE_TMP)
        };
        let mut swept = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let Ok(meta) = entry.metadata() else { continue };
            if !stale(&meta) {
                continue;
            }
            let removed =
                if meta.is_dir() { std::fs::remove_dir_all(entry.path()) } else { std::fs::remove_file(entry.path()) };
            match removed {
                Ok(()) => swept.push(entry.path().to_string()),
                Err(err) => tracing::warn!("cannot remove the stale temporary file {}: {err}", entry.path()),
            }
        }
        swept.sort();
        swept
    }

    pub(crate) fn location(&self, key: &str) -> String {
        match &self.kind {
            Kind::Fs { root } => root.join(key).to_string(),
            Kind::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}{key}"),
            Kind::Webdav { url, .. } => http::redact_userinfo(&http::join_path(url, key)),
            Kind::Webhdfs { shown, .. } => format!("{}/{key}", shown.trim_end_matches('/')),
        }
    }

    fn dal_error(&self, action: &'static str, key: &str, err: &opendal::Error) -> TransferError {
        let transient = err.is_temporary()
            || matches!(err.kind(), ErrorKind::Unexpected)
                && (err.to_string().contains("send http request") || err.to_string().contains("connect"));
        TransferError::Cache {
            cache: self.name.clone(),
            location: self.location(key),
            action,
            message: short_dal(err),
            transient,
        }
    }

    fn http_error(&self, action: &'static str, key: &str, err: &ureq::Error) -> TransferError {
        TransferError::Cache {
            cache: self.name.clone(),
            location: self.location(key),
            action,
            message: err.to_string(),
            transient: http::retryable_error(err),
        }
    }

    fn status_error(
        &self,
        action: &'static str,
        key: &str,
        response: &mut ureq::http::Response<ureq::Body>,
    ) -> TransferError {
        let status = response.status().as_u16();
        let mut message = format!("{status}: {}", http::error_message(response));
        if status == 401 || status == 403 {
            message.push_str("; check the credentials named by `username_env`/`password_env` (or `user_name`, `delegation_env`) and that they may write there");
        }
        if status == 405 || status == 501 {
            message.push_str("; the server lacks this method: a WebDAV cache needs PUT, DELETE, MKCOL and MOVE (nginx: `dav_methods PUT DELETE MKCOL COPY MOVE;`)");
        }
        TransferError::Cache {
            cache: self.name.clone(),
            location: self.location(key),
            action,
            message,
            transient: http::retryable_status(status),
        }
    }

    /// What the cache holds for `key`: existence and the stored checksum, nothing more.
    pub(crate) fn state(&self, key: &str, want: Option<&str>) -> Result<CacheState, TransferError> {
        let sums_key = format!("{key}.sha256");
        let (exists, sums) = match &self.kind {
            Kind::Webdav { url, auth } => {
                let exists = self.webdav_exists(url, auth.as_ref(), key)?;
                let sums = if exists { self.webdav_get_small(url, auth.as_ref(), &sums_key)? } else { None };
                (exists, sums)
            }
            _ => {
                let op = self.op.as_ref().expect("fs, s3 and webhdfs caches have an operator");
                let exists = match self.handle.block_on(op.stat(key)) {
                    Ok(meta) => !meta.is_dir(),
                    Err(err) if err.kind() == ErrorKind::NotFound => false,
                    Err(err) => return Err(self.dal_error("stat", key, &err)),
                };
                let sums = if exists {
                    match self.handle.block_on(op.read(&sums_key)) {
                        Ok(buffer) => Some(String::from_utf8_lossy(&buffer.to_vec()).into_owned()),
                        Err(err) if err.kind() == ErrorKind::NotFound => None,
                        Err(err) => return Err(self.dal_error("read", &sums_key, &err)),
                    }
                } else {
                    None
                };
                (exists, sums)
            }
        };
        if !exists {
            return Ok(CacheState::Missing);
        }
        let Some(text) = sums else {
            return Ok(CacheState::Wrong {
                reason: format!(
                    "no checksum beside it ({} is missing): an interrupted copy, or one made by another tool",
                    self.location(&sums_key)
                ),
            });
        };
        let Some(sha256) = crate::source::parse_checksum(&text, crate::source::Algorithm::Sha256) else {
            return Ok(CacheState::Wrong { reason: format!("{} does not hold a sha256", self.location(&sums_key)) });
        };
        match want {
            Some(want) if !want.eq_ignore_ascii_case(&sha256) => Ok(CacheState::Wrong {
                reason: format!("its stored sha256 is {sha256}, but artifacts.yaml asks for {want}"),
            }),
            _ => Ok(CacheState::Present { sha256 }),
        }
    }

    /// Starts writing `key`; nothing is visible under that name before [`Sink::commit`].
    pub(crate) fn begin(&self, key: &str, length: Option<u64>) -> Result<Sink<'_>, TransferError> {
        match &self.kind {
            Kind::Fs { .. } | Kind::S3 { .. } => {
                let op = self.op.as_ref().expect("fs and s3 caches have an operator");
                let chunk = matches!(self.kind, Kind::S3 { .. }).then_some(S3_PART);
                let options = WriteOptions { chunk, concurrent: 1, ..WriteOptions::default() };
                let writer = self
                    .handle
                    .block_on(op.writer_options(key, options))
                    .map_err(|err| self.dal_error("write", key, &err))?;
                Ok(Sink { store: self, key: key.to_owned(), inner: Inner::Dal(writer) })
            }
            Kind::Webdav { url, auth } => {
                let temp = temp_key(key);
                self.webdav_mkcol(url, auth.as_ref(), TMP_DIR);
                let target = http::join_path(url, &temp);
                let mut request = ureq::http::Request::builder().method("PUT").uri(&target);
                if let Some(auth) = auth {
                    request = request.header("Authorization", auth.expose());
                }
                let pipe = self.spawn_put(request, length, key);
                Ok(Sink { store: self, key: key.to_owned(), inner: Inner::Put { pipe, temp } })
            }
            Kind::Webhdfs { endpoint, root, query, .. } => {
                let temp = temp_key(key);
                let url = format!("{}?op=CREATE&overwrite=true{query}", hdfs_url(endpoint, root, &temp));
                // Step one: the namenode answers 307 with the datanode to send data to.
                let mut response = self
                    .agent
                    .put(&url)
                    .header("Content-Length", "0")
                    .send_empty()
                    .map_err(|err| self.http_error("create", &temp, &err))?;
                let status = response.status().as_u16();
                let location = match status {
                    307 | 302 | 303 | 301 | 308 => response
                        .headers()
                        .get("Location")
                        .and_then(|v| v.to_str().ok())
                        .map(|l| http::resolve_location(&url, l)),
                    _ => return Err(self.status_error("create", &temp, &mut response)),
                };
                let Some(location) = location else {
                    return Err(TransferError::Cache {
                        cache: self.name.clone(),
                        location: self.location(&temp),
                        action: "create",
                        message: format!("the namenode answered {status} without a Location"),
                        transient: false,
                    });
                };
                let request = ureq::http::Request::builder().method("PUT").uri(&location);
                let pipe = self.spawn_put(request, length, key);
                Ok(Sink { store: self, key: key.to_owned(), inner: Inner::Put { pipe, temp } })
            }
        }
    }

    /// A `PUT` on its own thread, fed chunk by chunk through a bounded channel.
    fn spawn_put(&self, request: ureq::http::request::Builder, length: Option<u64>, key: &str) -> Pipe {
        let (tx, rx) = sync_channel::<Result<Vec<u8>, ()>>(PIPE_DEPTH);
        let agent = self.agent.clone();
        let mut request = request.header("Content-Type", "application/octet-stream");
        if let Some(length) = length {
            request = request.header("Content-Length", length.to_string());
        }
        let key = key.to_owned();
        let thread = std::thread::Builder::new()
            .name(format!("pad-cache-put-{key}"))
            .spawn(move || -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
                let mut reader = ChannelReader { rx, chunk: Vec::new(), pos: 0 };
                let request = request.body(()).map_err(ureq::Error::Http)?;
                let (parts, ()) = request.into_parts();
                let request = ureq::http::Request::from_parts(parts, ureq::SendBody::from_reader(&mut reader));
                agent.run(request)
            })
            .expect("a thread can be started");
        Pipe { tx: Some(tx), thread: Some(thread) }
    }

    fn webdav_request(&self, method: &str, url: &str, auth: Option<&Secret>) -> ureq::http::request::Builder {
        let mut request = ureq::http::Request::builder().method(method).uri(url);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth.expose());
        }
        request
    }

    fn webdav_send(
        &self,
        request: ureq::http::request::Builder,
        body: Option<Vec<u8>>,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        match body {
            Some(body) => self.agent.run(request.body(body).map_err(ureq::Error::Http)?),
            None => self.agent.run(request.body(()).map_err(ureq::Error::Http)?),
        }
    }

    fn webdav_exists(&self, base: &str, auth: Option<&Secret>, key: &str) -> Result<bool, TransferError> {
        let url = http::join_path(base, key);
        let mut response = self
            .webdav_send(self.webdav_request("HEAD", &url, auth), None)
            .map_err(|err| self.http_error("stat", key, &err))?;
        match response.status().as_u16() {
            200..=299 => Ok(true),
            404 | 410 => Ok(false),
            _ => Err(self.status_error("stat", key, &mut response)),
        }
    }

    fn webdav_get_small(&self, base: &str, auth: Option<&Secret>, key: &str) -> Result<Option<String>, TransferError> {
        let url = http::join_path(base, key);
        let mut response = self
            .webdav_send(self.webdav_request("GET", &url, auth), None)
            .map_err(|err| self.http_error("read", key, &err))?;
        match response.status().as_u16() {
            200..=299 => {
                let text = response
                    .body_mut()
                    .with_config()
                    .limit(64 * 1024)
                    .read_to_string()
                    .map_err(|err| self.http_error("read", key, &err))?;
                Ok(Some(text))
            }
            404 | 410 => Ok(None),
            _ => Err(self.status_error("read", key, &mut response)),
        }
    }

    /// Best effort: 405 means it exists, and servers that make collections on `PUT` may
    /// refuse `MKCOL`; the `PUT` that follows reports what matters.
    fn webdav_mkcol(&self, base: &str, auth: Option<&Secret>, key: &str) {
        let url = format!("{}/", http::join_path(base, key));
        let status = self.webdav_send(self.webdav_request("MKCOL", &url, auth), None).map(|r| r.status().as_u16());
        tracing::debug!(cache = self.name, url, ?status, "MKCOL");
    }

    fn webdav_delete(&self, base: &str, auth: Option<&Secret>, key: &str) -> Result<(), TransferError> {
        let url = http::join_path(base, key);
        let mut response = self
            .webdav_send(self.webdav_request("DELETE", &url, auth), None)
            .map_err(|err| self.http_error("delete", key, &err))?;
        match response.status().as_u16() {
            200..=299 | 404 | 410 => Ok(()),
            _ => Err(self.status_error("delete", key, &mut response)),
        }
    }

    fn dal_delete(&self, key: &str) -> Result<(), TransferError> {
        let op = self.op.as_ref().expect("an operator");
        match self.handle.block_on(op.delete(key)) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
            Err(err) => Err(self.dal_error("delete", key, &err)),
        }
    }

    /// Removes the stored checksum (before an object is replaced).
    fn delete_checksum(&self, key: &str) -> Result<(), TransferError> {
        let sums = format!("{key}.sha256");
        match &self.kind {
            Kind::Webdav { url, auth } => self.webdav_delete(url, auth.as_ref(), &sums),
            _ => self.dal_delete(&sums),
        }
    }

    /// Writes `<key>.sha256`, last.
    fn write_checksum(&self, key: &str, sha256: &str) -> Result<(), TransferError> {
        let sums = format!("{key}.sha256");
        let text = format!("{sha256}  {key}\n");
        match &self.kind {
            Kind::Webdav { url, auth } => {
                let target = http::join_path(url, &sums);
                let request = self.webdav_request("PUT", &target, auth.as_ref()).header("Content-Type", "text/plain");
                let mut response = self
                    .webdav_send(request, Some(text.into_bytes()))
                    .map_err(|err| self.http_error("write", &sums, &err))?;
                match response.status().as_u16() {
                    200..=299 => Ok(()),
                    _ => Err(self.status_error("write", &sums, &mut response)),
                }
            }
            _ => {
                let op = self.op.as_ref().expect("an operator");
                self.handle
                    .block_on(op.write(&sums, text))
                    .map(drop)
                    .map_err(|err| self.dal_error("write", &sums, &err))
            }
        }
    }

    /// Renames a finished temporary object to its final name.
    fn publish(&self, temp: &str, key: &str) -> Result<(), TransferError> {
        match &self.kind {
            Kind::Webdav { url, auth } => {
                let from = http::join_path(url, temp);
                let to = http::join_path(url, key);
                let request = self
                    .webdav_request("MOVE", &from, auth.as_ref())
                    .header("Destination", to)
                    .header("Overwrite", "T");
                let mut response = self.webdav_send(request, None).map_err(|err| self.http_error("move", key, &err))?;
                match response.status().as_u16() {
                    200..=299 => Ok(()),
                    _ => Err(self.status_error("move", key, &mut response)),
                }
            }
            Kind::Webhdfs { endpoint, root, query, .. } => {
                // HDFS does not rename over an existing file.
                self.dal_delete(key)?;
                let destination = format!("{}/{key}", root.trim_end_matches('/'));
                let url = format!(
                    "{}?op=RENAME&destination={}{query}",
                    hdfs_url(endpoint, root, temp),
                    destination.split('/').map(http::encode_segment).collect::<Vec<_>>().join("/")
                );
                let mut response = self
                    .agent
                    .put(&url)
                    .header("Content-Length", "0")
                    .send_empty()
                    .map_err(|err| self.http_error("rename", key, &err))?;
                if response.status().as_u16() != 200 {
                    return Err(self.status_error("rename", key, &mut response));
                }
                let text = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
                let renamed = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v.get("boolean").and_then(serde_json::Value::as_bool));
                if renamed == Some(true) {
                    Ok(())
                } else {
                    Err(TransferError::Cache {
                        cache: self.name.clone(),
                        location: self.location(key),
                        action: "rename",
                        message: format!("the namenode did not rename {} (it answered {text})", self.location(temp)),
                        transient: false,
                    })
                }
            }
            Kind::Fs { .. } | Kind::S3 { .. } => Ok(()),
        }
    }

    fn delete_temp(&self, temp: &str) {
        let result = match &self.kind {
            Kind::Webdav { url, auth } => self.webdav_delete(url, auth.as_ref(), temp),
            _ => self.dal_delete(temp),
        };
        if let Err(err) = result {
            tracing::debug!(cache = self.name, temp, %err, "cannot remove a temporary object");
        }
    }
}

/// The WebHDFS REST URL of a path under the cache's root.
fn hdfs_url(endpoint: &str, root: &str, key: &str) -> String {
    let path = format!("{}/{key}", root.trim_end_matches('/'));
    let encoded: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(http::encode_segment).collect();
    format!("{endpoint}/webhdfs/v1/{}", encoded.join("/"))
}

/// A temporary name unique to this process and write.
fn temp_key(key: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{TMP_DIR}/{key}.{}-{n}-{nanos:08x}.part", std::process::id())
}

/// An OpenDAL error for a report: redacted, the server's words in it (its message, the
/// response body) cut short, at most its first line (and 800 characters), then the
/// start of its source.
fn short_dal(err: &opendal::Error) -> String {
    let text = http::quote_within(&err.to_string(), err.message());
    let mut short: String = text.lines().next().unwrap_or_default().chars().take(800).collect();
    if let Some(source) = std::error::Error::source(err) {
        let source = http::quote(&source.to_string());
        if !short.contains(&source) {
            short.push_str(": ");
            short.push_str(&source);
        }
    }
    short
}

struct Pipe {
    tx: Option<SyncSender<Result<Vec<u8>, ()>>>,
    thread: Option<JoinHandle<Result<ureq::http::Response<ureq::Body>, ureq::Error>>>,
}

impl Pipe {
    /// Sends a chunk; `false` when the request already ended (its error comes from
    /// [`Pipe::finish`]).
    fn send(&mut self, chunk: &[u8]) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(Ok(chunk.to_vec())).is_ok())
    }

    fn finish(mut self) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        drop(self.tx.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(ureq::Error::Io(std::io::Error::other("the upload thread panicked"))),
        }
    }

    /// Breaks the request off: the body fails, so the server never completes it.
    fn abort(mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Err(()));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct ChannelReader {
    rx: Receiver<Result<Vec<u8>, ()>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(Err(())) => return Err(std::io::Error::other("the copy was aborted")),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

enum Inner {
    Dal(opendal::Writer),
    Put { pipe: Pipe, temp: String },
}

/// One object being written to one cache.
pub(crate) struct Sink<'a> {
    store: &'a Store,
    key: String,
    inner: Inner,
}

impl Sink<'_> {
    pub(crate) fn write(&mut self, chunk: &[u8]) -> Result<(), TransferError> {
        match &mut self.inner {
            Inner::Dal(writer) => self
                .store
                .handle
                .block_on(writer.write(Buffer::from(chunk.to_vec())))
                .map_err(|err| self.store.dal_error("write", &self.key, &err)),
            Inner::Put { pipe, .. } => {
                if pipe.send(chunk) {
                    Ok(())
                } else {
                    Err(TransferError::Cache {
                        cache: self.store.name.clone(),
                        location: self.store.location(&self.key),
                        action: "write",
                        message: "the server ended the upload early".to_owned(),
                        transient: true,
                    })
                }
            }
        }
    }

    /// Makes the object visible under its name, then records its checksum.
    pub(crate) fn commit(self, sha256: &str, replace: bool) -> Result<(), TransferError> {
        let Sink { store, key, inner } = self;
        match inner {
            Inner::Dal(mut writer) => {
                if replace && let Err(err) = store.delete_checksum(&key) {
                    let _ = store.handle.block_on(writer.abort());
                    return Err(err);
                }
                if let Err(err) = store.handle.block_on(writer.close()) {
                    let _ = store.handle.block_on(writer.abort());
                    return Err(store.dal_error("write", &key, &err));
                }
            }
            Inner::Put { pipe, temp } => {
                let result = pipe.finish();
                let mut response = match result {
                    Ok(response) => response,
                    Err(err) => {
                        store.delete_temp(&temp);
                        return Err(store.http_error("write", &key, &err));
                    }
                };
                if !(200..300).contains(&response.status().as_u16()) {
                    let err = store.status_error("write", &key, &mut response);
                    store.delete_temp(&temp);
                    return Err(err);
                }
                let published = (|| {
                    if replace {
                        store.delete_checksum(&key)?;
                    }
                    store.publish(&temp, &key)
                })();
                if let Err(err) = published {
                    store.delete_temp(&temp);
                    return Err(err);
                }
            }
        }
        store.write_checksum(&key, sha256)
    }

    /// Throws the partial object away.
    pub(crate) fn abort(self) {
        match self.inner {
            Inner::Dal(mut writer) => {
                let _ = self.store.handle.block_on(writer.abort());
            }
            Inner::Put { pipe, temp } => {
                pipe.abort();
                self.store.delete_temp(&temp);
            }
        }
    }
}
