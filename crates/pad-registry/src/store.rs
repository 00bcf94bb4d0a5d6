//! Generic stores through Apache OpenDAL: a directory, an S3 bucket, a WebDAV (or plain
//! HTTP `PUT`) server. Objects mirror GitLab's layout, `<package>/<version>/<file>`, with
//! `<file>.sha256` beside each, written last.
//!
//! OpenDAL is async: a small runtime owned by the store drives it, through OpenDAL's
//! blocking API for reads and its async writer (which can abort) for uploads. WebDAV
//! uploads are the exception: OpenDAL 0.59's WebDAV writer collects the whole object in
//! memory for one `PUT` and creates directories with `PROPFIND`, which plain nginx lacks,
//! so the package file goes up as one streamed `PUT` with `ureq`, after a best-effort
//! `MKCOL` of its parent collections. Everything else on WebDAV (reading, the small
//! `.sha256` object, deleting it on replace) goes through OpenDAL.

use std::fs::File;
use std::io::Read;

use camino::{Utf8Path, Utf8PathBuf};
use opendal::{Buffer, ErrorKind, Operator, blocking, options::WriteOptions};

use crate::http::{self, Secret, transport, with_retries};
use crate::local::{self, CHUNK, Download, HashingReader};
use crate::{Fetched, RegistryError, TransferProgress};

/// S3 multipart part size: the most an upload holds in memory at once.
const S3_PART: usize = 8 * 1024 * 1024;

/// The directory (inside an `fs` registry) where uploads are written before their rename.
pub(crate) const FS_UPLOAD_DIR: &str = ".pad-upload-tmp";

pub(crate) enum StoreKind {
    Fs {
        root: Utf8PathBuf,
    },
    S3 {
        bucket: String,
        prefix: String,
        /// `AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY` (or the configured names), for errors.
        variables: String,
    },
    Webdav {
        url: String,
        auth: Option<WebdavAuth>,
    },
}

pub(crate) struct WebdavAuth {
    pub(crate) username: String,
    pub(crate) password: Secret,
    /// `username_env`/`password_env`, for error messages.
    pub(crate) variables: String,
}

pub(crate) struct Store {
    registry: String,
    kind: StoreKind,
    // Field order matters: the operators are dropped before the runtime they use.
    op: Operator,
    blocking: blocking::Operator,
    agent: ureq::Agent,
    runtime: tokio::runtime::Runtime,
}

impl Store {
    pub(crate) fn new(registry: &str, kind: StoreKind, op: Operator) -> Result<Store, RegistryError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("pad-registry")
            .enable_all()
            .build()
            .map_err(|source| RegistryError::Runtime { registry: registry.to_owned(), source })?;
        let blocking = {
            let _guard = runtime.enter();
            blocking::Operator::new(op.clone())
                .map_err(|source| RegistryError::Setup { registry: registry.to_owned(), source: Box::new(source) })?
        };
        Ok(Store { registry: registry.to_owned(), kind, op, blocking, agent: http::agent(), runtime })
    }

    pub(crate) fn kind_name(&self) -> &'static str {
        match self.kind {
            StoreKind::Fs { .. } => "fs",
            StoreKind::S3 { .. } => "s3",
            StoreKind::Webdav { .. } => "webdav",
        }
    }

    /// Where an object is, for people: a path, an `s3://` URL or an `http(s)://` URL.
    pub(crate) fn location(&self, key: &str) -> String {
        match &self.kind {
            StoreKind::Fs { root } => root.join(key).to_string(),
            StoreKind::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}{key}"),
            StoreKind::Webdav { url, .. } => webdav_url(url, key),
        }
    }

    fn storage_error(&self, action: &'static str, key: &str, source: opendal::Error) -> RegistryError {
        // OpenDAL maps 403 to PermissionDenied; its WebDAV service leaves 401 Unexpected,
        // with the status in the error's context.
        let text = source.to_string();
        // Its message is the response body, which a server may fill with the request.
        let detail = http::quote_within(&text, source.message());
        if source.kind() == ErrorKind::PermissionDenied || text.contains("status: 401") || text.contains("status: 403")
        {
            return RegistryError::Denied {
                registry: self.registry.clone(),
                action,
                location: self.location(key),
                credentials: self.credentials(),
                detail,
            };
        }
        RegistryError::Storage { registry: self.registry.clone(), action, location: self.location(key), detail }
    }

    /// Where this store's credentials come from, for errors.
    fn credentials(&self) -> String {
        match &self.kind {
            StoreKind::Fs { root } => format!("the file permissions of `{root}`"),
            StoreKind::S3 { variables, .. } => {
                format!("the keys in {variables}, and that they may read and write the bucket")
            }
            StoreKind::Webdav { auth: Some(auth), .. } => {
                format!("the user and password in {}, and that the user may read and write there", auth.variables)
            }
            StoreKind::Webdav { auth: None, .. } => {
                "the credentials: none are configured; name the variables holding them with `username_env` and `password_env`".to_owned()
            }
        }
    }

    /// The sha256 recorded in `<key>.sha256`, if that object exists.
    pub(crate) fn checksum(&self, key: &str) -> Result<Option<String>, RegistryError> {
        let sums = format!("{key}.sha256");
        let buffer = match self.blocking.read(&sums) {
            Ok(buffer) => buffer,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(self.storage_error("read", &sums, err)),
        };
        let text = String::from_utf8_lossy(&buffer.to_vec()).into_owned();
        match local::parse_checksum_text(&text) {
            Some(sha) => Ok(Some(sha)),
            None => Err(RegistryError::BadChecksumFile {
                registry: self.registry.clone(),
                location: self.location(&sums),
                found: text.chars().take(100).collect::<String>().trim().to_owned(),
            }),
        }
    }

    /// Uploads `path` to `key`, then writes `<key>.sha256` (last, so an interrupted upload
    /// is never taken as published). With `replace`, the old `.sha256` goes first, so a
    /// reader never pairs the new file with the old checksum.
    pub(crate) fn upload(
        &self,
        path: &Utf8Path,
        key: &str,
        sha256: &str,
        size: u64,
        replace: bool,
        progress: &dyn TransferProgress,
    ) -> Result<(), RegistryError> {
        let sums = format!("{key}.sha256");
        if replace {
            self.blocking.delete(&sums).map_err(|err| self.storage_error("delete", &sums, err))?;
        }
        let sent = match &self.kind {
            StoreKind::Webdav { url, auth } => self.put_webdav(url, auth.as_ref(), path, key, size, progress)?,
            StoreKind::Fs { .. } | StoreKind::S3 { .. } => self.write_opendal(path, key, size, progress)?,
        };
        if sent != sha256 {
            return Err(RegistryError::LocalFileChanged {
                path: path.to_owned(),
                before: sha256.to_owned(),
                after: sent,
            });
        }
        let file_name = key.rsplit('/').next().unwrap_or(key);
        self.blocking
            .write(&sums, local::checksum_text(sha256, file_name))
            .map_err(|err| self.storage_error("write", &sums, err))?;
        Ok(())
    }

    /// Streams a file through OpenDAL's writer; returns the sha256 of what was sent.
    fn write_opendal(
        &self,
        path: &Utf8Path,
        key: &str,
        size: u64,
        progress: &dyn TransferProgress,
    ) -> Result<String, RegistryError> {
        let file = File::open(path).map_err(|source| RegistryError::ReadLocal { path: path.to_owned(), source })?;
        let chunk = matches!(self.kind, StoreKind::S3 { .. }).then_some(S3_PART);
        let options = WriteOptions { chunk, concurrent: 1, ..WriteOptions::default() };
        let mut writer = self
            .runtime
            .block_on(self.op.writer_options(key, options))
            .map_err(|err| self.storage_error("write", key, err))?;
        progress.start(Some(size));
        let mut reader = HashingReader::new(file, progress);
        let result = (|| {
            loop {
                let mut buf = vec![0; CHUNK];
                let n = read_full(&mut reader, &mut buf)
                    .map_err(|source| RegistryError::ReadLocal { path: path.to_owned(), source })?;
                if n == 0 {
                    break;
                }
                buf.truncate(n);
                self.runtime
                    .block_on(writer.write(Buffer::from(buf)))
                    .map_err(|err| self.storage_error("write", key, err))?;
            }
            self.runtime.block_on(writer.close()).map_err(|err| self.storage_error("write", key, err))?;
            Ok(())
        })();
        if let Err(err) = result {
            // Removes the temporary file (fs) or the incomplete multipart upload (S3).
            let _ = self.runtime.block_on(writer.abort());
            return Err(err);
        }
        Ok(reader.finish().0)
    }

    /// One streamed `PUT` of the file; returns the sha256 of what was sent.
    fn put_webdav(
        &self,
        base: &str,
        auth: Option<&WebdavAuth>,
        path: &Utf8Path,
        key: &str,
        size: u64,
        progress: &dyn TransferProgress,
    ) -> Result<String, RegistryError> {
        let url = webdav_url(base, key);
        self.mkcol_parents(base, auth, key);
        let mut sent = None;
        let (mut response, attempts) = with_retries(&self.registry, &url, |_| {
            let file = File::open(path).map_err(|source| RegistryError::ReadLocal { path: path.to_owned(), source })?;
            progress.start(Some(size));
            let mut reader = HashingReader::new(file, progress);
            let mut request = self
                .agent
                .put(&url)
                .header("Content-Length", size.to_string())
                .header("Content-Type", "application/octet-stream");
            if let Some(auth) = auth {
                request = request.header("Authorization", http::basic_auth(&auth.username, auth.password.expose()));
            }
            let result = request.send(ureq::SendBody::from_reader(&mut reader));
            sent = Some(reader.finish().0);
            result.map_err(|err| transport(&self.registry, &url, err))
        })?;
        match response.status().as_u16() {
            200..=299 => Ok(sent.unwrap_or_default()),
            _ => Err(self.http_error(&url, auth, &mut response, attempts)),
        }
    }

    /// `MKCOL` for every parent collection of `key`, from the top, as WebDAV requires
    /// before a `PUT` (nginx answers 500 without `create_full_put_path`, Apache 409).
    /// Best effort: 405 means it exists, and servers that make paths on `PUT` (nginx
    /// with `create_full_put_path`, Artifactory, Nexus) may refuse `MKCOL` altogether;
    /// the `PUT` that follows reports what matters.
    fn mkcol_parents(&self, base: &str, auth: Option<&WebdavAuth>, key: &str) {
        let parts: Vec<&str> = key.split('/').collect();
        for depth in 1..parts.len() {
            let url = format!("{}/", webdav_url(base, &parts[..depth].join("/")));
            let mut request = ureq::http::Request::builder().method("MKCOL").uri(&url);
            if let Some(auth) = auth {
                request = request.header("Authorization", http::basic_auth(&auth.username, auth.password.expose()));
            }
            let status = match request.body(()) {
                Ok(request) => self.agent.run(request).map(|response| response.status().as_u16()),
                Err(err) => Err(ureq::Error::Http(err)),
            };
            tracing::debug!(registry = self.registry, url, ?status, "MKCOL");
        }
    }

    fn http_error(
        &self,
        url: &str,
        auth: Option<&WebdavAuth>,
        response: &mut ureq::http::Response<ureq::Body>,
        attempts: u32,
    ) -> RegistryError {
        let status = response.status().as_u16();
        let message = http::error_message(response);
        let registry = self.registry.clone();
        let url = url.to_owned();
        let variable = auth.map_or_else(
            || "username_env/password_env (none are configured)".to_owned(),
            |auth| auth.variables.clone(),
        );
        match status {
            401 => RegistryError::Unauthorized { registry, url, variable },
            403 => RegistryError::Forbidden {
                registry,
                url,
                message,
                hint: format!("the credentials from {variable} may not write there: give that user write access"),
            },
            413 => RegistryError::TooLarge { registry, url, message },
            _ => RegistryError::Server { registry, url, status, attempts, message },
        }
    }

    /// Downloads `key` into `dest_dir` as `file_name`, checked against `<key>.sha256`.
    pub(crate) fn fetch(
        &self,
        key: &str,
        not_published: impl Fn(String) -> RegistryError,
        file_name: &str,
        dest_dir: &Utf8Path,
        progress: &dyn TransferProgress,
    ) -> Result<Fetched, RegistryError> {
        let Some(expected) = self.checksum(key)? else {
            return Err(not_published(self.location(&format!("{key}.sha256"))));
        };
        // WebDAV's stat is PROPFIND, which plain HTTP servers lack: its size stays unknown.
        let total = match self.kind {
            StoreKind::Webdav { .. } => None,
            _ => match self.blocking.stat(key) {
                Ok(meta) => Some(meta.content_length()),
                Err(err) if err.kind() == ErrorKind::NotFound => return Err(not_published(self.location(key))),
                Err(err) => return Err(self.storage_error("read", key, err)),
            },
        };
        let mut download = Download::start(dest_dir, file_name, progress)?;
        progress.start(total);
        let chunks = self.blocking.reader(key).and_then(|reader| reader.into_bytes_iterator(..)).map_err(|err| {
            match err.kind() {
                ErrorKind::NotFound => not_published(self.location(key)),
                _ => self.storage_error("read", key, err),
            }
        })?;
        for chunk in chunks {
            let chunk = chunk.map_err(|source| RegistryError::TransferIo {
                registry: self.registry.clone(),
                url: self.location(key),
                source,
            })?;
            download.write(&chunk)?;
        }
        tracing::debug!(registry = self.registry, dest = %download.dest(), "downloaded, checking sha256");
        download.finish(&self.registry, &self.location(key), &expected)
    }
}

/// Fills `buf` as far as the reader allows, so writes go out in whole chunks.
fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// The URL of `key` under a WebDAV collection, each segment percent-encoded.
fn webdav_url(base: &str, key: &str) -> String {
    let segments: Vec<&str> = key.split('/').collect();
    http::join_segments(base, &segments)
}
