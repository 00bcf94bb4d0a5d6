//! [`Store`]: one directory, S3 bucket, WebDAV collection or WebHDFS directory, through
//! Apache OpenDAL, with the few requests OpenDAL does not serve made by hand
//! ([`crate::webdav`], [`crate::webhdfs`]). Reading objects and their checksums, stat,
//! deleting and sweeping live here; writing is [`crate::put`].

use std::fs::File;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use camino::{Utf8Path, Utf8PathBuf};
use opendal::{ErrorKind, Operator, blocking};

use crate::backend::{Backend, Options};
use crate::checksum::{CHUNK, HashingReader, parse_sha256, read_full, sidecar, sidecar_text};
use crate::retry::retry;
use crate::webdav::Dav;
use crate::webhdfs::Hdfs;
use crate::{Download, Fetched, Problem, Secret, StoreError, TransferProgress, http};

#[cfg(test)]
mod tests;

/// S3 multipart part size: the most an S3 upload holds in memory at once.
pub(crate) const S3_PART: usize = 8 * 1024 * 1024;

pub(crate) enum Kind {
    Fs { root: Utf8PathBuf },
    S3 { bucket: String, prefix: String },
    Webdav(Dav),
    Webhdfs(Hdfs),
}

/// One store: objects under `/`-separated keys, each with `<key>.sha256` beside it.
pub struct Store {
    pub(crate) kind: Kind,
    pub(crate) op: Operator,
    blocking: blocking::Operator,
    pub(crate) handle: tokio::runtime::Handle,
    pub(crate) agent: ureq::Agent,
    tmp_dir: &'static str,
}

/// What [`Store::stat`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The object's size, when the server tells.
    pub size: Option<u64>,
}

/// The one runtime that drives OpenDAL for every store of the process: two workers, and
/// a few blocking threads (OpenDAL's fs service runs each call on that pool; Tokio's
/// default of 512 would each take memory).
fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .max_blocking_threads(16)
                .thread_name("pad-store")
                .enable_all()
                .build()
                .map_err(|err| format!("cannot start the runtime that drives the storage client: {err}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

impl Store {
    /// Opens a store. Nothing is sent yet, except that a directory store creates its root.
    pub fn open(backend: Backend, options: &Options) -> Result<Store, StoreError> {
        // Installs the HTTP client OpenDAL's services send requests with.
        opendal::install_default();
        let (kind, op) = match backend {
            Backend::Fs { root } => {
                let builder = opendal::services::Fs::default()
                    .root(root.as_str())
                    .atomic_write_dir(root.join(options.tmp_dir).as_str());
                (Kind::Fs { root }, Operator::new(builder))
            }
            Backend::S3(s3) => {
                let mut builder = opendal::services::S3::default()
                    .bucket(&s3.bucket)
                    .region(&s3.region)
                    .root(&format!("/{}", s3.prefix))
                    .access_key_id(&s3.access_key_id)
                    .secret_access_key(s3.secret_access_key.expose())
                    .disable_config_load()
                    .disable_ec2_metadata();
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.endpoint(endpoint);
                }
                if let Some(token) = &s3.session_token {
                    builder = builder.session_token(token.expose());
                }
                if s3.virtual_host_style {
                    builder = builder.enable_virtual_host_style();
                }
                (Kind::S3 { bucket: s3.bucket, prefix: s3.prefix }, Operator::new(builder))
            }
            Backend::Webdav(webdav) => {
                let (dav, builder) = Dav::new(webdav);
                (Kind::Webdav(dav), Operator::new(builder))
            }
            Backend::Webhdfs(webhdfs) => {
                let (hdfs, builder) = Hdfs::new(webhdfs);
                (Kind::Webhdfs(hdfs), Operator::new(builder))
            }
        };
        let setup = |message: String| StoreError::new("set up", location(&kind, ""), Problem::Setup(message));
        let handle = runtime().map_err(setup)?.handle().clone();
        let op = op.map_err(|err| setup(short_dal(&err)))?;
        let blocking = {
            let _guard = handle.enter();
            blocking::Operator::new(op.clone()).map_err(|err| setup(short_dal(&err)))?
        };
        let agent = http::agent(options.user_agent, options.body_timeout);
        Ok(Store { kind, op, blocking, handle, agent, tmp_dir: options.tmp_dir })
    }

    /// `fs`, `s3`, `webdav` or `webhdfs`.
    pub fn kind(&self) -> &'static str {
        match self.kind {
            Kind::Fs { .. } => "fs",
            Kind::S3 { .. } => "s3",
            Kind::Webdav(_) => "webdav",
            Kind::Webhdfs(_) => "webhdfs",
        }
    }

    /// Where an object is, for people: a path, an `s3://`, `http(s)://` or `webhdfs://`
    /// URL, without credentials.
    pub fn location(&self, key: &str) -> String {
        location(&self.kind, key)
    }

    /// Whether an object is under `key` (a directory is not), and its size.
    pub fn stat(&self, key: &str) -> Result<Option<Stat>, StoreError> {
        if let Kind::Webdav(dav) = &self.kind {
            return dav.head(&self.agent, key);
        }
        match self.blocking.stat(key) {
            Ok(meta) if meta.is_dir() => Ok(None),
            Ok(meta) => Ok(Some(Stat { size: Some(meta.content_length()) })),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
            Err(err) => Err(self.dal_error("stat", key, &err)),
        }
    }

    /// The sha256 recorded in `<key>.sha256`, if that object exists.
    pub fn checksum(&self, key: &str) -> Result<Option<String>, StoreError> {
        let sums = sidecar(key);
        let buffer = match self.blocking.read(&sums) {
            Ok(buffer) => buffer,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(self.dal_error("read", &sums, &err)),
        };
        let text = String::from_utf8_lossy(&buffer.to_vec()).into_owned();
        parse_sha256(&text).map(Some).ok_or_else(|| {
            let found = crate::redact(text.chars().take(100).collect::<String>().trim());
            StoreError::new("read", self.location(&sums), Problem::BadChecksum { found })
        })
    }

    /// Uploads the file at `path` to `key` and writes `<key>.sha256` last, if the bytes
    /// sent hash to `sha256` (else the upload is thrown away: the file changed). With
    /// `replace`, the old `.sha256` is removed before the object changes (see
    /// [`Store::put`]). A transient failure starts the upload over, up to
    /// [`crate::ATTEMPTS`] tries. Returns the bytes sent.
    pub fn put_file(
        &self,
        path: &Utf8Path,
        key: &str,
        sha256: &str,
        replace: bool,
        progress: &dyn TransferProgress,
    ) -> Result<u64, StoreError> {
        retry(|_| {
            let local = |err| StoreError::new("read", path.as_str(), Problem::ReadLocal(err));
            let file = File::open(path).map_err(local)?;
            let size = file.metadata().map_err(local)?.len();
            progress.start(Some(size));
            let mut put = self.put(key, Some(size), replace)?;
            let mut reader = HashingReader::new(file, progress);
            let mut buf = vec![0; CHUNK];
            loop {
                let n = read_full(&mut reader, &mut buf).map_err(local)?;
                if n == 0 {
                    break;
                }
                put.write(&buf[..n])?;
            }
            let (sent, bytes) = reader.finish();
            if sent != sha256 {
                // Dropping the put throws the upload away.
                let problem = Problem::Changed { expected: sha256.to_owned(), actual: sent };
                return Err(StoreError::new("read", path.as_str(), problem));
            }
            put.commit(sha256)?;
            Ok(bytes)
        })
        .0
    }

    /// Downloads `key` into `dest_dir` as `file_name` (see [`Download`]), checked against
    /// `<key>.sha256`. [`Problem::NotFound`] when either object is missing.
    pub fn fetch(
        &self,
        key: &str,
        dest_dir: &Utf8Path,
        file_name: &str,
        progress: &dyn TransferProgress,
    ) -> Result<Fetched, StoreError> {
        let not_found = |key: &str| StoreError::new("read", self.location(key), Problem::NotFound);
        let Some(expected) = self.checksum(key)? else {
            return Err(not_found(&sidecar(key)));
        };
        let Some(stat) = self.stat(key)? else {
            return Err(not_found(key));
        };
        let mut download = Download::start(dest_dir, file_name, progress)?;
        progress.start(stat.size);
        let chunks = self.blocking.reader(key).and_then(|reader| reader.into_bytes_iterator(..)).map_err(|err| {
            match err.kind() {
                ErrorKind::NotFound => not_found(key),
                _ => self.dal_error("read", key, &err),
            }
        })?;
        for chunk in chunks {
            let chunk = chunk.map_err(|err| StoreError::new("read", self.location(key), Problem::Broken(err)))?;
            download.write(&chunk)?;
        }
        tracing::debug!(dest = %download.dest(), "downloaded, checking sha256");
        download.finish(&self.location(key), &expected)
    }

    /// Removes what interrupted runs left in the temporary directory of a directory or
    /// WebHDFS store: files untouched for `older_than` (a copy in progress writes every
    /// moment); returns their paths (locations, for WebHDFS). HDFS keeps the part of a
    /// file written before its upload broke off (it closes an abandoned file at its last
    /// length), so a killed run leaves a partial `.part` file there as on a directory.
    /// Elsewhere nothing is swept: an S3 upload is invisible until it completes (an
    /// abandoned multipart upload is the bucket lifecycle rule
    /// `AbortIncompleteMultipartUpload`'s job), and a WebDAV server (nginx) writes a `PUT`
    /// to a file of its own and renames it when the body is complete.
    pub fn sweep(&self, older_than: Duration) -> Vec<String> {
        if let Kind::Webhdfs(_) = &self.kind {
            return self.sweep_listed(older_than);
        }
        let Kind::Fs { root } = &self.kind else { return Vec::new() };
        let Ok(entries) = root.join(self.tmp_dir).read_dir_utf8() else { return Vec::new() };
        let now = SystemTime::now();
        let stale = |meta: &std::fs::Metadata| {
            meta.modified().ok().and_then(|t| now.duration_since(t).ok()).is_some_and(|age| age > older_than)
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

    /// `sweep` through the storage's listing (`LISTSTATUS` for WebHDFS, which cannot
    /// list recursively: one directory at a time).
    fn sweep_listed(&self, older_than: Duration) -> Vec<String> {
        let now = SystemTime::now();
        let mut dirs = vec![format!("{}/", self.tmp_dir)];
        let mut swept = Vec::new();
        while let Some(dir) = dirs.pop() {
            let entries = match self.blocking.list(&dir) {
                Ok(entries) => entries,
                Err(err) if err.kind() == ErrorKind::NotFound => continue,
                Err(err) => {
                    tracing::warn!("cannot list {}: {err}", self.location(&dir));
                    continue;
                }
            };
            for entry in entries {
                let (path, meta) = (entry.path(), entry.metadata());
                if meta.is_dir() {
                    // The listing names the directory itself too: only go down.
                    if path.len() > dir.len() && path.starts_with(&dir) {
                        dirs.push(path.to_owned());
                    }
                    continue;
                }
                let age = meta.last_modified().and_then(|t| now.duration_since(SystemTime::from(t)).ok());
                if age.is_none_or(|age| age <= older_than) {
                    continue;
                }
                match self.delete(path) {
                    Ok(()) => swept.push(self.location(path)),
                    Err(err) => tracing::warn!("cannot remove the stale temporary file {}: {err}", self.location(path)),
                }
            }
        }
        swept.sort();
        swept
    }

    /// Removes an object; one that is not there is no error.
    pub(crate) fn delete(&self, key: &str) -> Result<(), StoreError> {
        if let Kind::Webdav(dav) = &self.kind {
            return dav.delete(&self.agent, key);
        }
        match self.blocking.delete(key) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
            Err(err) => Err(self.dal_error("delete", key, &err)),
        }
    }

    /// Writes `<key>.sha256` (the last step of every upload).
    pub(crate) fn write_checksum(&self, key: &str, sha256: &str) -> Result<(), StoreError> {
        let sums = sidecar(key);
        let name = key.rsplit('/').next().unwrap_or(key);
        self.blocking
            .write(&sums, sidecar_text(sha256, name))
            .map(drop)
            .map_err(|err| self.dal_error("write", &sums, &err))
    }

    /// A temporary name for `key`, unique to this process and write.
    pub(crate) fn temp_key(&self, key: &str) -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        format!("{}/{key}.{}-{n}-{nanos:08x}.part", self.tmp_dir, std::process::id())
    }

    /// An OpenDAL error as a [`StoreError`]: 403 (and 401, which its WebDAV service
    /// leaves `Unexpected` with the status in the error's context) is [`Problem::Denied`].
    pub(crate) fn dal_error(&self, action: &'static str, key: &str, err: &opendal::Error) -> StoreError {
        let text = err.to_string();
        let detail = short_dal(err);
        let problem = if err.kind() == ErrorKind::PermissionDenied
            || text.contains("status: 401")
            || text.contains("status: 403")
        {
            Problem::Denied { detail }
        } else {
            let transient = err.is_temporary()
                || err.kind() == ErrorKind::Unexpected
                    && (text.contains("send http request") || text.contains("connect"));
            Problem::Storage { detail, transient }
        };
        StoreError::new(action, self.location(key), problem)
    }
}

fn location(kind: &Kind, key: &str) -> String {
    match kind {
        Kind::Fs { root } => root.join(key).to_string(),
        Kind::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}{key}"),
        Kind::Webdav(dav) => dav.location(key),
        Kind::Webhdfs(hdfs) => hdfs.location(key),
    }
}

/// An OpenDAL error for people: redacted, the server's words in it (its message, the
/// response body) cut short, at most its first line (and 800 characters), then the
/// start of its source.
fn short_dal(err: &opendal::Error) -> String {
    let text = crate::quote_within(&err.to_string(), err.message());
    let mut short: String = text.lines().next().unwrap_or_default().chars().take(800).collect();
    if let Some(source) = std::error::Error::source(err) {
        let source = crate::quote(&source.to_string());
        if !short.contains(&source) {
            short.push_str(": ");
            short.push_str(&source);
        }
    }
    short
}

/// The `Authorization` header of basic auth, registered as a secret itself.
pub(crate) fn basic_auth_header(username: &str, password: &Secret) -> Secret {
    Secret::new(http::basic_auth(username, password.expose()))
}
