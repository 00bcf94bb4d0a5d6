//! Generic stores (a directory, an S3 bucket, a WebDAV or plain HTTP `PUT` server) as
//! registries: a `pad_store::Store` holding GitLab's layout, `<package>/<version>/<file>`
//! with `<file>.sha256` beside each, written last. The protocol is `pad_store`'s; this
//! module names the registry and where its credentials come from in every error.

use camino::Utf8Path;
use pad_store::{Problem, StoreError};

use crate::{Fetched, RegistryError, TransferProgress};

/// The directory (inside an `fs` registry) where uploads are written before their rename.
pub(crate) const FS_UPLOAD_DIR: &str = ".pad-upload-tmp";

pub(crate) struct Store {
    registry: String,
    pub(crate) store: pad_store::Store,
    /// What to check when the server refuses the credentials.
    credentials: String,
}

impl Store {
    pub(crate) fn new(registry: &str, store: pad_store::Store, credentials: String) -> Store {
        Store { registry: registry.to_owned(), store, credentials }
    }

    /// `fs`, `s3` or `webdav`.
    pub(crate) fn kind_name(&self) -> &'static str {
        self.store.kind()
    }

    /// Where an object is, for people: a path, an `s3://` URL or an `http(s)://` URL.
    pub(crate) fn location(&self, key: &str) -> String {
        self.store.location(key)
    }

    pub(crate) fn error(&self, err: StoreError) -> RegistryError {
        RegistryError::from_store(&self.registry, &self.credentials, err)
    }

    /// The sha256 recorded in `<key>.sha256`, if that object exists.
    pub(crate) fn checksum(&self, key: &str) -> Result<Option<String>, RegistryError> {
        self.store.checksum(key).map_err(|err| self.error(err))
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
        self.store.fetch(key, dest_dir, file_name, progress).map_err(|err| match err.problem {
            Problem::NotFound => not_published(err.location),
            _ => self.error(err),
        })
    }
}
