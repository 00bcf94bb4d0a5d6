//! `RegistryError`: every way publishing or fetching fails, each naming the registry,
//! the file or URL, and the fix. No variant ever holds a secret.

use std::io;

use camino::Utf8PathBuf;
use pad_layout::vars::VarError;
use pad_store::{Problem, StoreError};

/// Why a registry could not be configured, opened, published to or fetched from.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "no registries are configured: `{path}` does not exist; create it with one table per registry, such as `[gitlab]` with `kind = \"gitlab\"` (see README.md, \"Registries\")"
    )]
    NoConfig { path: Utf8PathBuf },

    #[error("cannot read `{path}`: make it a readable UTF-8 text file")]
    ReadConfig {
        path: Utf8PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{}: {message}\n  help: {help}", place(path, *line, *column))]
    Config { path: Utf8PathBuf, line: Option<usize>, column: Option<usize>, message: String, help: String },

    #[error(
        "unknown registry `{name}`: `{path}` defines {}; pass one of them, or add a `[{name}]` table to that file",
        list(known)
    )]
    UnknownRegistry { name: String, path: Utf8PathBuf, known: Vec<String> },

    #[error("`{path}` defines {} and none is called `default`: pass --registry NAME", list(known))]
    NoDefaultRegistry { path: Utf8PathBuf, known: Vec<String> },

    #[error("registry `{registry}` in `{path}`: cannot expand `{field}`")]
    Expand {
        registry: String,
        path: Utf8PathBuf,
        field: &'static str,
        #[source]
        source: VarError,
    },

    #[error("registry `{registry}` in `{path}`: `{field}` = \"{value}\" {problem}")]
    InvalidValue { registry: String, path: Utf8PathBuf, field: &'static str, value: String, problem: String },

    #[error("registry `{registry}` needs credentials: {hint}")]
    MissingCredentials { registry: String, variables: Vec<String>, hint: String },

    #[error("cannot read `{path}`")]
    ReadLocal {
        path: Utf8PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot write `{path}`: check that its directory exists and is writable")]
    WriteLocal {
        path: Utf8PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "`{path}` changed while it was being uploaded (sha256 {before} before, {after} during): publish again once it is complete"
    )]
    LocalFileChanged { path: Utf8PathBuf, before: String, after: String },

    #[error("registry `{registry}`: cannot set up its storage client")]
    Setup {
        registry: String,
        #[source]
        source: Box<StoreError>,
    },

    /// `detail` is the store's account, redacted, with the server's words in it cut short.
    #[error("registry `{registry}`: cannot {action} `{location}`: {detail}")]
    Storage { registry: String, action: &'static str, location: String, detail: String },

    #[error("registry `{registry}` refused to let us {action} `{location}` (401/403): check {credentials}: {detail}")]
    Denied { registry: String, action: &'static str, location: String, credentials: String, detail: String },

    #[error(
        "registry `{registry}`: cannot reach `{url}` (gave up after {attempts} attempts): check the URL and the network"
    )]
    Transport {
        registry: String,
        url: String,
        attempts: u32,
        #[source]
        source: ureq::Error,
    },

    #[error("registry `{registry}`: the transfer from or to `{url}` broke off")]
    TransferIo {
        registry: String,
        url: String,
        #[source]
        source: io::Error,
    },

    #[error(
        "registry `{registry}` refused `{url}` as a duplicate (400: {message}): this version is already published and the project does not allow duplicates; publish a new version, or delete the file in GitLab (Deploy > Package registry) first"
    )]
    Duplicate { registry: String, url: String, message: String },

    #[error(
        "registry `{registry}` refused `{url}` as too large (400: {message}): raise the instance's generic package size limit (Admin > Settings > CI/CD > Package registry), or make the package smaller"
    )]
    TooLarge { registry: String, url: String, message: String },

    #[error("registry `{registry}` refused `{url}` (400: {message}): check the package name, version and file name")]
    BadRequest { registry: String, url: String, message: String },

    #[error(
        "registry `{registry}` rejected the credentials from `{variable}` (401 at `{url}`): they are wrong, expired or revoked; set {variable} to a valid one"
    )]
    Unauthorized { registry: String, url: String, variable: String },

    #[error("registry `{registry}` refused `{url}` (403: {message}): {hint}")]
    Forbidden { registry: String, url: String, message: String, hint: String },

    #[error(
        "registry `{registry}`: `{url}` was not found (404: {message}): check `api_url` and `project` in the registries file, and that the credentials from `{variable}` can see the project"
    )]
    NotFound { registry: String, url: String, message: String, variable: String },

    #[error(
        "registry `{registry}` has no `{file}` for {package} {version} (looked at `{location}`): publish it first (`cargo xtask publish`), or check the version"
    )]
    NotPublished { registry: String, package: String, version: String, file: String, location: String },

    #[error("registry `{registry}` answered {status} at `{url}` (after {attempts} attempts): {message}")]
    Server { registry: String, url: String, status: u16, attempts: u32, message: String },

    #[error(
        "registry `{registry}` already has {target} with sha256 {remote}, but the local file has sha256 {local}: a published version is never changed silently; publish a new version, or pass --force to replace it"
    )]
    Conflict {
        registry: String,
        /// The package, version and file name, as the message shows them.
        target: String,
        remote: String,
        local: String,
    },

    #[error(
        "checksum mismatch for `{location}` from registry `{registry}`: the registry says sha256 {expected}, the downloaded bytes hash to {actual}; nothing was written to `{dest}`. Fetch again; if it persists, the package in the registry is damaged: publish it again with --force"
    )]
    ChecksumMismatch { registry: String, location: String, expected: String, actual: String, dest: Utf8PathBuf },

    #[error(
        "registry `{registry}` stored `{location}` with sha256 {remote}, but the file sent has sha256 {local}: the upload was damaged on the way; publish again"
    )]
    UploadMismatch { registry: String, location: String, remote: String, local: String },

    #[error(
        "registry `{registry}`: `{location}` does not hold a sha256 checksum (`<64 hex digits>  <file>`), it holds `{found}`: publish again with --force to rewrite it"
    )]
    BadChecksumFile { registry: String, location: String, found: String },

    #[error("registry `{registry}`: unexpected answer from `{url}`: {detail}")]
    Protocol { registry: String, url: String, detail: String },

    #[error("`{path}` has no file name: pass the path of the package file")]
    NoFileName { path: Utf8PathBuf },

    #[error(
        "`{value}` is not a valid {what}: use letters, digits, `.`, `_`, `-` and `+` (GitLab's rule for generic packages)"
    )]
    InvalidName { what: &'static str, value: String },
}

impl RegistryError {
    /// A store's error as the registry reports it; `credentials` says what to check when
    /// the server refuses them.
    pub(crate) fn from_store(registry: &str, credentials: &str, err: StoreError) -> RegistryError {
        let StoreError { action, location, attempts, problem } = err;
        let registry = registry.to_owned();
        match problem {
            Problem::Denied { detail } => {
                RegistryError::Denied { registry, action, location, credentials: credentials.to_owned(), detail }
            }
            Problem::Status { status: 413, message } => RegistryError::TooLarge { registry, url: location, message },
            Problem::Status { status, message } => {
                RegistryError::Server { registry, url: location, status, attempts, message }
            }
            Problem::Transport(source) => RegistryError::Transport { registry, url: location, attempts, source },
            Problem::Protocol(detail) => RegistryError::Protocol { registry, url: location, detail },
            Problem::Broken(source) => RegistryError::TransferIo { registry, url: location, source },
            Problem::BadChecksum { found } => RegistryError::BadChecksumFile { registry, location, found },
            Problem::ReadLocal(source) => RegistryError::ReadLocal { path: location.into(), source },
            Problem::WriteLocal(source) => RegistryError::WriteLocal { path: location.into(), source },
            Problem::Changed { expected, actual } => {
                RegistryError::LocalFileChanged { path: location.into(), before: expected, after: actual }
            }
            Problem::Mismatch { expected, actual, dest } => {
                RegistryError::ChecksumMismatch { registry, location, expected, actual, dest }
            }
            problem @ Problem::Setup(_) => {
                let source = Box::new(StoreError { action, location, attempts, problem });
                RegistryError::Setup { registry, source }
            }
            problem @ (Problem::NotFound | Problem::Storage { .. }) => {
                RegistryError::Storage { registry, action, location, detail: problem.to_string() }
            }
        }
    }
}

fn place(path: &Utf8PathBuf, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!("{path}:{line}:{column}"),
        (Some(line), None) => format!("{path}:{line}"),
        _ => path.to_string(),
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "no registry".to_owned();
    }
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}
