//! Caches: a directory, an S3 bucket, a WebDAV collection or a WebHDFS directory, each a
//! `pad_store::Store` holding `<name>` and, beside it, `<name>.sha256`. This module turns
//! a cache's definition (and the variables it names) into a store, what the store holds
//! into a [`CacheState`], and its errors into [`TransferError`]s with the fix in
//! artifacts.yaml's terms. How objects are written (never partial under their name, the
//! checksum last) is `pad_store`'s protocol; temporary names go under [`TMP_DIR`].

use camino::Utf8PathBuf;
use pad_layout::EnvVars;
use pad_store::{Backend, BasicAuth, Options, Problem, Put, Secret, StoreError};
use serde::Serialize;

use crate::config::{CacheDef, CacheKind};
use crate::error::TransferError;
use crate::http;

/// The hidden directory inside a cache where objects are written before their rename.
pub const TMP_DIR: &str = ".pad-tmp";

/// A file in a directory cache's [`TMP_DIR`] that nobody has written to for this long was
/// left by an interrupted run (a copy in progress writes every moment), and `warm`
/// removes it.
pub const STALE_TMP: std::time::Duration = std::time::Duration::from_secs(3600);

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

/// One open cache.
pub(crate) struct Cache {
    pub(crate) name: String,
    store: pad_store::Store,
    /// What to check when the server refuses the credentials.
    credentials: &'static str,
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

impl Cache {
    pub(crate) fn open(def: &CacheDef, env: Env<'_>) -> Result<Cache, TransferError> {
        let name = def.name.as_str();
        let (backend, credentials) = match &def.kind {
            CacheKind::Fs { path } => {
                let root = Utf8PathBuf::from(expand(name, "base_uri", path, env)?);
                let root = if root.is_absolute() { root } else { def.dir.join(root) };
                (Backend::Fs { root }, "the permissions of the directory")
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
                if bucket.is_empty() {
                    return Err(setup(name, format!("`{uri}` names no bucket: write `s3://bucket/prefix`")));
                }
                let prefix = prefix.trim_matches('/');
                let key_var = access_key_id_env.as_deref().unwrap_or(EnvVars::AWS_ACCESS_KEY_ID);
                let secret_var = secret_access_key_env.as_deref().unwrap_or(EnvVars::AWS_SECRET_ACCESS_KEY);
                let session_var = session_token_env.as_deref().unwrap_or(EnvVars::AWS_SESSION_TOKEN);
                let s3 = pad_store::S3 {
                    bucket: bucket.to_owned(),
                    prefix: if prefix.is_empty() { String::new() } else { format!("{prefix}/") },
                    region: match region {
                        Some(region) => expand(name, "region", region, env)?,
                        None => "us-east-1".to_owned(),
                    },
                    endpoint: endpoint.as_ref().map(|e| expand(name, "endpoint", e, env)).transpose()?,
                    access_key_id: required_var(name, "access_key_id_env", key_var, env)?,
                    secret_access_key: Secret::new(required_var(name, "secret_access_key_env", secret_var, env)?),
                    session_token: env(session_var).filter(|v| !v.is_empty()).map(Secret::new),
                    virtual_host_style: *virtual_host_style,
                };
                (
                    Backend::S3(s3),
                    "the keys named by `access_key_id_env`/`secret_access_key_env` (or AWS_*) and that they may write there",
                )
            }
            CacheKind::Webdav { base_uri, username_env, password_env } => {
                let url = expand(name, "base_uri", base_uri, env)?.trim_end_matches('/').to_owned();
                let auth = match (username_env, password_env) {
                    (None, None) => None,
                    (Some(user_var), Some(password_var)) => Some(BasicAuth {
                        username: required_var(name, "username_env", user_var, env)?,
                        password: Secret::new(required_var(name, "password_env", password_var, env)?),
                    }),
                    (None, Some(_)) => {
                        return Err(setup(name, "`password_env` is set without `username_env`: name both"));
                    }
                    (Some(_), None) => {
                        return Err(setup(name, "`username_env` is set without `password_env`: name both"));
                    }
                };
                let webdav = pad_store::Webdav { url, auth, move_into_place: true };
                (
                    Backend::Webdav(webdav),
                    "the credentials named by `username_env`/`password_env` and that they may write there",
                )
            }
            CacheKind::Webhdfs { base_uri, endpoint, user_name, delegation_env } => {
                let uri = expand(name, "base_uri", base_uri, env)?;
                let (authority, root) = split_authority(&uri);
                let webhdfs = pad_store::Webhdfs {
                    endpoint: match endpoint {
                        Some(endpoint) => expand(name, "endpoint", endpoint, env)?,
                        None => format!("http://{authority}"),
                    },
                    root: root.to_owned(),
                    user_name: user_name.as_ref().map(|user| expand(name, "user_name", user, env)).transpose()?,
                    delegation: match delegation_env {
                        Some(var) => Some(Secret::new(required_var(name, "delegation_env", var, env)?)),
                        None => None,
                    },
                };
                let credentials = if webhdfs.user_name.is_none() && webhdfs.delegation.is_none() {
                    "`user_name` or `delegation_env`: with neither, HDFS takes the caller for `dr.who`, who may not write; set `user_name` to the user that owns the directory (or a delegation token of that user in `delegation_env`)"
                } else {
                    "`user_name` and the token named by `delegation_env`, and that they may write there"
                };
                (Backend::Webhdfs(webhdfs), credentials)
            }
        };
        let options = Options { tmp_dir: TMP_DIR, user_agent: http::USER_AGENT, body_timeout: http::BODY_TIMEOUT };
        // The fs service creates its root when it is built: a cache that cannot be
        // created is reported per artifact, like any other unreachable cache.
        let store = pad_store::Store::open(backend, &options)
            .map_err(|err| setup(name, format!("cannot set up the storage client: {}", err.problem)))?;
        Ok(Cache { name: name.to_owned(), store, credentials })
    }

    /// Where an object is, for people.
    pub(crate) fn location(&self, key: &str) -> String {
        self.store.location(key)
    }

    /// Removes what interrupted runs left in a directory cache's [`TMP_DIR`] (files
    /// untouched for [`STALE_TMP`]); returns their paths.
    pub(crate) fn sweep(&self) -> Vec<String> {
        self.store.sweep(STALE_TMP)
    }

    /// A store's error as a report shows it: where, what, and for a refusal what to check.
    fn error(&self, err: StoreError) -> TransferError {
        let transient = err.is_transient();
        let mut message = err.problem.to_string();
        if matches!(err.problem, Problem::Denied { .. }) {
            message = format!("{message}; check {}", self.credentials);
        }
        TransferError::Cache {
            cache: self.name.clone(),
            location: err.location,
            action: err.action,
            message,
            transient,
        }
    }

    /// What the cache holds for `key`: existence and the stored checksum, nothing more.
    pub(crate) fn state(&self, key: &str, want: Option<&str>) -> Result<CacheState, TransferError> {
        if self.store.stat(key).map_err(|err| self.error(err))?.is_none() {
            return Ok(CacheState::Missing);
        }
        let sums = format!("{key}.sha256");
        let sha256 = match self.store.checksum(key) {
            Ok(Some(sha256)) => sha256,
            Ok(None) => {
                let location = self.location(&sums);
                let reason = format!(
                    "no checksum beside it ({location} is missing): an interrupted copy, or one made by another tool"
                );
                return Ok(CacheState::Wrong { reason });
            }
            Err(StoreError { problem: Problem::BadChecksum { .. }, location, .. }) => {
                return Ok(CacheState::Wrong { reason: format!("{location} does not hold a sha256") });
            }
            Err(err) => return Err(self.error(err)),
        };
        match want {
            Some(want) if !want.eq_ignore_ascii_case(&sha256) => Ok(CacheState::Wrong {
                reason: format!("its stored sha256 is {sha256}, but artifacts.yaml asks for {want}"),
            }),
            _ => Ok(CacheState::Present { sha256 }),
        }
    }

    /// Starts writing `key` (see `pad_store::Store::put`); `replace` when something is
    /// there already.
    pub(crate) fn begin(&self, key: &str, length: Option<u64>, replace: bool) -> Result<Sink<'_>, TransferError> {
        let put = self.store.put(key, length, replace).map_err(|err| self.error(err))?;
        Ok(Sink { cache: self, put })
    }
}

/// One object being written to one cache.
pub(crate) struct Sink<'a> {
    cache: &'a Cache,
    put: Put<'a>,
}

impl Sink<'_> {
    pub(crate) fn write(&mut self, chunk: &[u8]) -> Result<(), TransferError> {
        self.put.write(chunk).map_err(|err| self.cache.error(err))
    }

    /// Makes the object visible under its name, then records its checksum.
    pub(crate) fn commit(self, sha256: &str) -> Result<(), TransferError> {
        let Sink { cache, put } = self;
        put.commit(sha256).map_err(|err| cache.error(err))
    }

    /// Throws the partial object away.
    pub(crate) fn abort(self) {
        self.put.abort();
    }
}
