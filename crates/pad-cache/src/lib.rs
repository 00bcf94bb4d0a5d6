//! Warms artifact caches from `artifacts.yaml` files, in the manner of Wikimedia's
//! workflow_utils `artifact-cache`: Spark JARs from Maven repositories, packed
//! environments published as GitLab generic packages and files at URLs, copied into
//! caches near the cluster (a directory, S3, WebDAV, WebHDFS) before a DAG needs them.
//!
//! - [`load`] reads and merges several artifacts.yaml files into a [`Config`] (sources
//!   and caches declared once and shared; conflicting definitions, unknown keys, unknown
//!   sources or caches, and two artifacts with one name in one cache are errors with file,
//!   line and column). [`repo_files`] lists every artifacts.yaml of a repository.
//! - [`status`] asks each cache whether it holds each artifact and its stored sha256:
//!   present, missing or wrong, without downloading anything.
//! - [`warm`] copies what is missing or wrong (everything with `force`): it reads each
//!   source once, streams it into every cache that needs it under a temporary name while
//!   hashing, checks the source's checksums (Maven `.sha1`/`.sha256`/`.sha512`, GitLab's
//!   `X-Checksum-SHA256`, the file's `sha256:`), then renames or commits and writes
//!   `<name>.sha256` beside the object, last (`pad_store`'s protocol). Several artifacts
//!   go at once (`jobs`). Server errors (5xx, 429), failed connections and truncated
//!   bodies are retried with backoff, up to [`ATTEMPTS`] tries; a 404, another 4xx or a
//!   checksum mismatch is final. Each artifact is reported present, copied (bytes, seconds) or failed (why).
//!
//! # Memory
//!
//! Nothing holds a whole artifact: sources are read 1 MiB at a time; an S3 upload holds
//! at most one 8 MiB part; a WebDAV or WebHDFS upload at most four chunks in flight.
//!
//! # Runtime and environment
//!
//! Caches are `pad_store` stores: [`status`] and [`warm`] drive them through that crate's
//! one Tokio runtime, so they must not be called inside another async runtime. The crate reads no environment
//! variable itself: the caller passes a lookup in [`Options`]; besides the ones an
//! artifacts.yaml names, it asks for `pad_layout::EnvVars::AWS_*` (an S3 cache's default
//! credentials).
//! It prints nothing; [`render`] turns reports into the text the `pad-cache` binary and
//! `cargo xtask cache` print.

mod config;
mod error;
mod http;
pub mod render;
mod source;
mod store;
mod warm;

#[cfg(test)]
mod tests;

use camino::Utf8Path;

pub use config::{
    Artifact, CacheDef, CacheKind, Config, ConfigError, ConfigFile, Place, SourceDef, SourceKind, WU_FS_CACHE,
    WU_FS_SOURCE, WU_MAVEN_SOURCE, load, parse_texts,
};
pub use error::TransferError;
pub use pad_store::ATTEMPTS;
pub use source::maven_path;
pub use store::{CacheState, STALE_TMP, TMP_DIR};
pub use warm::{
    ArtifactReport, ArtifactStatus, CacheOutcome, CacheStatus, Options, Outcome, StatusReport, Summary, WarmProgress,
    WarmReport, status, warm,
};

/// Every artifacts.yaml the layout crate finds in the repository at `root`, named
/// relative to it. Problems elsewhere in the layout do not stop a warm.
pub fn repo_files(root: &Utf8Path) -> Vec<ConfigFile> {
    let scan = pad_layout::scan(root);
    scan.repo.artifacts_files.iter().map(|path| ConfigFile::new(&scan.repo.root, path)).collect()
}
