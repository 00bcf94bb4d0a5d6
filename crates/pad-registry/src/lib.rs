//! Publishes and fetches release packages in generic package registries: GitLab's generic
//! packages API, a WebDAV (or plain HTTP `PUT`) server, an S3 bucket, or a directory.
//!
//! - [`Registries::load`] reads `deploy/registries.toml` (one table per registry, see
//!   [`RegistryConfig`]); [`Registries::open`] resolves its `${VAR}`s and credentials
//!   from the environment into a [`Registry`], so a missing variable fails before any
//!   transfer. Secrets come only from the environment, never from the file.
//! - [`Registry::publish`] hashes the file (streaming), then skips it when the same
//!   version is already there with the same sha256 ([`PublishOutcome::AlreadyPresent`]),
//!   refuses when it is there with another sha256 ([`RegistryError::Conflict`]) unless
//!   `force`, and otherwise uploads it, streaming.
//! - [`Registry::fetch`] downloads into a temporary file beside the destination while
//!   hashing, and renames it into place only when the sha256 matches the registry's.
//!
//! # Layout and atomicity
//!
//! Generic stores mirror GitLab's layout: `<package>/<version>/<file>` with
//! `<file>.sha256` beside it (`<hex>  <file>`, as `sha256sum` writes it). The checksum
//! object is written **last**, and a file without one counts as absent, so an upload
//! that was interrupted is never taken for a published one:
//!
//! - `fs`: OpenDAL writes into `<root>/.pad-upload-tmp/` and renames, so each object
//!   appears whole.
//! - `s3`: a `PUT` (or multipart upload) is atomic on completion; a failed one is aborted.
//! - `webdav`: nothing is atomic in general (nginx writes to a temporary file and renames,
//!   other servers may not); the `.sha256`-last rule is what makes a half-written file
//!   invisible. Replacing (`force`) deletes the old `.sha256` first.
//! - `gitlab`: GitLab stores a file when its upload completes and reports its sha256.
//!
//! # GitLab
//!
//! Uploads are `PUT …/packages/generic/<package>/<version>/<file>?select=package_file`,
//! checked against the `file_sha256` GitLab returns, then `<file>.sha256` beside it;
//! downloads are `GET` on the same path, checked against `X-Checksum-SHA256` (GitLab 18.6
//! and later), or without it (older GitLab, or a redirect to object storage) against the
//! packages API, or for a deploy token the `<file>.sha256`. What is already published
//! comes from the packages API (`/packages`, then `/packages/:id/package_files`); deploy
//! tokens may not use that API, so with one it comes from a download's header or the
//! `<file>.sha256` instead. Server errors (5xx) and
//! broken connections are retried with backoff, up to 4 tries; 4xx never are. Replacing a
//! file (`force`) deletes the old package file first, which needs the Maintainer role.
//!
//! # Streaming and the runtime
//!
//! Transfers go a chunk at a time (1 MiB; S3 parts are 8 MiB) and never hold a whole
//! package in memory; progress goes to a [`TransferProgress`] the caller implements.
//! `fs`, `s3` and `webdav` registries are `pad_store` stores, which follow its protocol
//! (the checksum last) and retry a transient failure from the start, up to 4 tries; they
//! run on that crate's one Tokio runtime, so the API is blocking and must not be called
//! inside another async runtime.
//! Tokens, keys and passwords are kept in `pad_store::Secret`, whose `Debug` hides them
//! and which registers them for `pad_store::redact`; they are sent only as headers (never
//! in a URL) and not along a redirect to another host. What a server answers is quoted
//! in errors redacted and cut short (a server may echo the request's headers), and the
//! front end redacts every line it shows.
//!
//! This crate prints nothing and reads no environment variable itself: the caller passes
//! a lookup function (see [`pad_layout::EnvVars`] for the names it asks for).

use std::fmt;

use camino::{Utf8Path, Utf8PathBuf};
use pad_layout::{EnvVars, vars};

mod config;
mod error;
mod gitlab;
mod http;
mod store;

#[cfg(test)]
mod tests;

pub use config::{FsConfig, GitlabConfig, Registries, RegistryConfig, S3Config, WebdavConfig};
pub use error::RegistryError;
pub use pad_store::{Fetched, TransferProgress};

use gitlab::{Auth, GitLab};
use http::Secret;
use store::Store;

/// What [`Registry::publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    /// The file was uploaded.
    Uploaded { location: String, bytes: u64, sha256: String },
    /// The same version with the same sha256 was already there: nothing was sent.
    AlreadyPresent { location: String, sha256: String },
    /// The same version with another sha256 was there and `force` replaced it.
    Replaced { location: String, bytes: u64, sha256: String, previous_sha256: String },
}

/// A registry ready to publish to and fetch from, its credentials resolved.
pub struct Registry {
    name: String,
    backend: Backend,
}

enum Backend {
    Gitlab(GitLab),
    Store(Box<Store>),
}

/// Shows the registry without its credentials.
impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").field("name", &self.name).field("kind", &self.kind()).finish_non_exhaustive()
    }
}

impl Registry {
    /// Opens a registry from its configuration, expanding `${VAR}`s and reading
    /// credentials with `env` now, so that a missing one fails before any transfer. A
    /// relative `fs` path needs [`Registries::open`], which knows the repository root.
    pub fn open(
        name: &str,
        config: &RegistryConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Registry, RegistryError> {
        Registry::open_in(name, config, Utf8Path::new(pad_layout::REGISTRIES_FILE), None, env)
    }

    pub(crate) fn open_in(
        name: &str,
        config: &RegistryConfig,
        file: &Utf8Path,
        base_dir: Option<&Utf8Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Registry, RegistryError> {
        let opener = Opener { name, file, env };
        let backend = match config {
            RegistryConfig::Gitlab(c) => Backend::Gitlab(opener.gitlab(c)?),
            RegistryConfig::Webdav(c) => Backend::Store(Box::new(opener.webdav(c)?)),
            RegistryConfig::S3(c) => Backend::Store(Box::new(opener.s3(c)?)),
            RegistryConfig::Fs(c) => Backend::Store(Box::new(opener.fs(c, base_dir)?)),
        };
        Ok(Registry { name: name.to_owned(), backend })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `gitlab`, `webdav`, `s3` or `fs`.
    pub fn kind(&self) -> &'static str {
        match &self.backend {
            Backend::Gitlab(_) => "gitlab",
            Backend::Store(store) => store.kind_name(),
        }
    }

    /// Where a file of a package version lives (a URL or a path, without credentials).
    pub fn location(&self, package: &str, version: &str, file_name: &str) -> String {
        match &self.backend {
            Backend::Gitlab(gitlab) => gitlab.file_url(package, version, file_name),
            Backend::Store(store) => store.location(&key(package, version, file_name)),
        }
    }

    /// The sha256 of `file_name` in `package` `version`, if it is published (on generic
    /// stores: if its `.sha256` is there).
    pub fn exists(&self, package: &str, version: &str, file_name: &str) -> Result<Option<String>, RegistryError> {
        check_names(package, version, file_name)?;
        match &self.backend {
            Backend::Gitlab(gitlab) => Ok(gitlab.exists(package, version, file_name)?.map(|r| r.sha256)),
            Backend::Store(store) => store.checksum(&key(package, version, file_name)),
        }
    }

    /// Publishes `file` as `package` `version` (under its own file name). Idempotent: the
    /// same bytes already there are skipped; other bytes are refused unless `force`.
    pub fn publish(
        &self,
        file: &Utf8Path,
        package: &str,
        version: &str,
        force: bool,
        progress: &dyn TransferProgress,
    ) -> Result<PublishOutcome, RegistryError> {
        let file_name = file.file_name().ok_or_else(|| RegistryError::NoFileName { path: file.to_owned() })?;
        check_names(package, version, file_name)?;
        let (sha256, bytes) = sha256_file(file)?;
        let location = self.location(package, version, file_name);
        let conflict = |remote: String| RegistryError::Conflict {
            registry: self.name.clone(),
            target: format!("{package} {version} `{file_name}`"),
            remote,
            local: sha256.clone(),
        };
        match &self.backend {
            Backend::Gitlab(gitlab) => {
                let previous = gitlab.exists(package, version, file_name)?;
                if let Some(remote) = &previous {
                    if remote.sha256 == sha256 {
                        return Ok(PublishOutcome::AlreadyPresent { location, sha256 });
                    }
                    if !force {
                        return Err(conflict(remote.sha256.clone()));
                    }
                    // Downloads serve the newest file of a name, but a project that
                    // forbids duplicates refuses a second one: remove the old first.
                    gitlab.delete(&remote.ids)?;
                }
                gitlab.upload(file, &location, &sha256, bytes, progress)?;
                gitlab.upload_checksum(&location, file_name, &sha256)?;
                Ok(outcome(location, bytes, sha256, previous.map(|r| r.sha256)))
            }
            Backend::Store(store) => {
                let key = key(package, version, file_name);
                let previous = store.checksum(&key)?;
                if let Some(remote) = &previous {
                    if *remote == sha256 {
                        return Ok(PublishOutcome::AlreadyPresent { location, sha256 });
                    }
                    if !force {
                        return Err(conflict(remote.clone()));
                    }
                }
                store
                    .store
                    .put_file(file, &key, &sha256, previous.is_some(), progress)
                    .map_err(|err| store.error(err))?;
                Ok(outcome(location, bytes, sha256, previous))
            }
        }
    }

    /// Downloads `file_name` of `package` `version` into `dest_dir` and verifies it
    /// against the registry's sha256; writes `<file>.sha256` beside it. On any failure
    /// nothing is left under the final name.
    pub fn fetch(
        &self,
        package: &str,
        version: &str,
        file_name: &str,
        dest_dir: &Utf8Path,
        progress: &dyn TransferProgress,
    ) -> Result<Fetched, RegistryError> {
        check_names(package, version, file_name)?;
        match &self.backend {
            Backend::Gitlab(gitlab) => gitlab.fetch(package, version, file_name, dest_dir, progress),
            Backend::Store(store) => {
                let not_published = |location| RegistryError::NotPublished {
                    registry: self.name.clone(),
                    package: package.to_owned(),
                    version: version.to_owned(),
                    file: file_name.to_owned(),
                    location,
                };
                store.fetch(&key(package, version, file_name), not_published, file_name, dest_dir, progress)
            }
        }
    }
}

/// The sha256 (lowercase hex) and size of a file, read in chunks.
pub fn sha256_file(path: &Utf8Path) -> Result<(String, u64), RegistryError> {
    pad_store::sha256_file(path).map_err(|source| RegistryError::ReadLocal { path: path.to_owned(), source })
}

fn outcome(location: String, bytes: u64, sha256: String, previous: Option<String>) -> PublishOutcome {
    match previous {
        Some(previous_sha256) => PublishOutcome::Replaced { location, bytes, sha256, previous_sha256 },
        None => PublishOutcome::Uploaded { location, bytes, sha256 },
    }
}

/// The object key of a file: GitLab's layout.
fn key(package: &str, version: &str, file_name: &str) -> String {
    format!("{package}/{version}/{file_name}")
}

/// Package names, versions and file names become path segments: letters, digits, `.`,
/// `_`, `-` and `+`, not starting with `.`.
fn check_names(package: &str, version: &str, file_name: &str) -> Result<(), RegistryError> {
    for (what, value) in [("package name", package), ("version", version), ("file name", file_name)] {
        let valid = !value.is_empty()
            && !value.starts_with('.')
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b));
        if !valid {
            return Err(RegistryError::InvalidName { what, value: value.to_owned() });
        }
    }
    Ok(())
}

/// Turns one registry's configuration into a backend.
struct Opener<'a> {
    name: &'a str,
    file: &'a Utf8Path,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Opener<'_> {
    fn expand(&self, field: &'static str, value: &str) -> Result<String, RegistryError> {
        vars::expand(value, self.env).map_err(|source| RegistryError::Expand {
            registry: self.name.to_owned(),
            path: self.file.to_owned(),
            field,
            source,
        })
    }

    fn invalid(&self, field: &'static str, value: &str, problem: &str) -> RegistryError {
        RegistryError::InvalidValue {
            registry: self.name.to_owned(),
            path: self.file.to_owned(),
            field,
            value: value.to_owned(),
            problem: problem.to_owned(),
        }
    }

    fn http_url(&self, field: &'static str, value: &str) -> Result<String, RegistryError> {
        let url = self.expand(field, value)?;
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
        match rest {
            Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !rest.contains('@') => {
                Ok(url.trim_end_matches('/').to_owned())
            }
            Some(rest) if rest.contains('@') => Err(self.invalid(
                field,
                &http::redact_userinfo(&url),
                "holds credentials: never put them in the file; name the variables that hold them instead",
            )),
            _ => Err(self.invalid(field, &url, "is not an http:// or https:// URL")),
        }
    }

    /// A variable's value, when it is set and not empty.
    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.is_empty())
    }

    fn gitlab(&self, c: &GitlabConfig) -> Result<GitLab, RegistryError> {
        // In GitLab CI, the job's own API and project are the defaults.
        let default_api = format!("${{{}}}", EnvVars::CI_API_V4_URL);
        let default_project = format!("${{{}}}", EnvVars::CI_PROJECT_ID);
        let api = self.http_url("api_url", c.api_url.as_deref().unwrap_or(&default_api))?;
        let project = self.expand("project", c.project.as_deref().unwrap_or(&default_project))?;
        if project.trim().is_empty() {
            return Err(self.invalid(
                "project",
                &project,
                "is empty: give the project's id or its path (`group/project`)",
            ));
        }
        let candidates = [
            ("PRIVATE-TOKEN", c.token_env.as_deref().unwrap_or(EnvVars::GITLAB_TOKEN)),
            ("JOB-TOKEN", c.job_token_env.as_deref().unwrap_or(EnvVars::CI_JOB_TOKEN)),
            (gitlab::DEPLOY_TOKEN, c.deploy_token_env.as_deref().unwrap_or(EnvVars::GITLAB_DEPLOY_TOKEN)),
        ];
        let auth = candidates.iter().find_map(|(header, variable)| {
            self.var(variable).map(|token| Auth { header, variable: (*variable).to_owned(), token: Secret::new(token) })
        });
        let Some(auth) = auth else {
            let [(_, token), (_, job), (_, deploy)] = candidates;
            return Err(RegistryError::MissingCredentials {
                registry: self.name.to_owned(),
                variables: vec![token.to_owned(), job.to_owned(), deploy.to_owned()],
                hint: format!(
                    "set {token} to an access token with the `api` scope (sent as PRIVATE-TOKEN), or run in GitLab CI, where {job} is set (JOB-TOKEN), or set {deploy} to a deploy token (DEPLOY-TOKEN)"
                ),
            });
        };
        Ok(GitLab::new(self.name, api, project.trim().to_owned(), auth))
    }

    fn webdav(&self, c: &WebdavConfig) -> Result<Store, RegistryError> {
        let url = self.http_url("url", &c.url)?;
        let auth = match (&c.username_env, &c.password_env) {
            (Some(user_var), Some(password_var)) => {
                let (user, password) = (self.var(user_var), self.var(password_var));
                let missing: Vec<String> = [(user_var, &user), (password_var, &password)]
                    .iter()
                    .filter(|(_, value)| value.is_none())
                    .map(|(var, _)| (*var).clone())
                    .collect();
                if !missing.is_empty() {
                    return Err(RegistryError::MissingCredentials {
                        registry: self.name.to_owned(),
                        hint: format!(
                            "set {} (the basic-auth {} named by `username_env` and `password_env` in `{}`)",
                            missing.join(" and "),
                            if missing.len() == 2 {
                                "user and password"
                            } else if user.is_none() {
                                "user"
                            } else {
                                "password"
                            },
                            self.file
                        ),
                        variables: missing,
                    });
                }
                Some((
                    pad_store::BasicAuth {
                        username: user.unwrap_or_default(),
                        password: Secret::new(password.unwrap_or_default()),
                    },
                    format!("{user_var}/{password_var}"),
                ))
            }
            _ => None,
        };
        let credentials = match &auth {
            Some((_, variables)) => {
                format!("the user and password in {variables}, and that the user may read and write there")
            }
            None => "the credentials: none are configured; name the variables holding them with `username_env` and `password_env`".to_owned(),
        };
        // Any server that stores a `PUT` serves as a registry, so nothing relies on `MOVE`:
        // the `.sha256` written last is what makes a half-written file invisible.
        let webdav = pad_store::Webdav { url, auth: auth.map(|(auth, _)| auth), move_into_place: false };
        self.store(pad_store::Backend::Webdav(webdav), credentials)
    }

    fn s3(&self, c: &S3Config) -> Result<Store, RegistryError> {
        let bucket = self.expand("bucket", &c.bucket)?;
        if bucket.trim().is_empty() {
            return Err(self.invalid("bucket", &bucket, "is empty: name the bucket"));
        }
        let endpoint = match &c.endpoint {
            Some(endpoint) if !self.expand("endpoint", endpoint)?.is_empty() => {
                Some(self.http_url("endpoint", endpoint)?)
            }
            _ => None,
        };
        let region = match &c.region {
            Some(region) => self.expand("region", region)?,
            None => "us-east-1".to_owned(),
        };
        let prefix = match &c.prefix {
            Some(prefix) => self.expand("prefix", prefix)?.trim_matches('/').to_owned(),
            None => String::new(),
        };
        let prefix = if prefix.is_empty() { prefix } else { format!("{prefix}/") };
        let key_var = c.access_key_id_env.as_deref().unwrap_or(EnvVars::AWS_ACCESS_KEY_ID);
        let secret_var = c.secret_access_key_env.as_deref().unwrap_or(EnvVars::AWS_SECRET_ACCESS_KEY);
        let session_var = c.session_token_env.as_deref().unwrap_or(EnvVars::AWS_SESSION_TOKEN);
        let (key_id, secret) = (self.var(key_var), self.var(secret_var));
        let (Some(key_id), Some(secret)) = (key_id.clone(), secret.clone()) else {
            let missing: Vec<String> = [(key_var, key_id.is_none()), (secret_var, secret.is_none())]
                .iter()
                .filter(|(_, missing)| *missing)
                .map(|(var, _)| (*var).to_owned())
                .collect();
            return Err(RegistryError::MissingCredentials {
                registry: self.name.to_owned(),
                hint: format!("set {} (the S3 access key id and secret access key)", missing.join(" and ")),
                variables: missing,
            });
        };
        let s3 = pad_store::S3 {
            bucket: bucket.trim().to_owned(),
            prefix,
            region,
            endpoint,
            access_key_id: key_id,
            secret_access_key: Secret::new(secret),
            session_token: self.var(session_var).map(Secret::new),
            virtual_host_style: c.virtual_host_style,
        };
        let credentials = format!("the keys in {key_var}/{secret_var}, and that they may read and write the bucket");
        self.store(pad_store::Backend::S3(s3), credentials)
    }

    fn fs(&self, c: &FsConfig, base_dir: Option<&Utf8Path>) -> Result<Store, RegistryError> {
        let path = Utf8PathBuf::from(self.expand("path", &c.path)?);
        let root = match (path.is_absolute(), base_dir) {
            (true, _) => path,
            (false, Some(base)) => base.join(path),
            (false, None) => {
                return Err(self.invalid(
                    "path",
                    path.as_str(),
                    "is relative, and only a registries file gives it a base: use an absolute path",
                ));
            }
        };
        let credentials = format!("the file permissions of `{root}`");
        self.store(pad_store::Backend::Fs { root }, credentials)
    }

    fn store(&self, backend: pad_store::Backend, credentials: String) -> Result<Store, RegistryError> {
        let options = pad_store::Options {
            tmp_dir: store::FS_UPLOAD_DIR,
            user_agent: http::USER_AGENT,
            // No limit on receiving a body: a package may take minutes on a slow link.
            body_timeout: None,
        };
        let store = pad_store::Store::open(backend, &options)
            .map_err(|err| RegistryError::from_store(self.name, &credentials, err))?;
        Ok(Store::new(self.name, store, credentials))
    }
}
