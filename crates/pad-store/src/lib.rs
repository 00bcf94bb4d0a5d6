//! Storage for the registry and cache crates: one protocol over a directory, an S3
//! bucket, a WebDAV collection or a WebHDFS directory, with plain HTTP, one retry policy
//! and secrets that never print underneath.
//!
//! # The protocol
//!
//! A [`Store`] holds objects under `/`-separated keys, and beside each one
//! `<key>.sha256` (`<hex>  <name>`, as `sha256sum` writes it). An object without its
//! checksum object does not count: it is an interrupted upload, or one made by another
//! tool.
//!
//! - Put ([`Store::put`], [`Store::put_file`]): the bytes go under a temporary name (or,
//!   on S3, into an upload that appears only once complete); the caller verifies them
//!   (the sha256 of what was sent, the checksums the source published); then the object
//!   is renamed into place and `<key>.sha256` is written, last. Replacing removes the
//!   old `<key>.sha256` first (how each backend does it: module `put`).
//! - Get ([`Store::fetch`]): the object is read into a temporary file beside its
//!   destination while hashing, renamed into place only when it matches `<key>.sha256`,
//!   and `<file>.sha256` is written beside it ([`Download`]).
//! - Stat ([`Store::stat`], [`Store::checksum`]): whether the object is there, and the
//!   sha256 its checksum object records.
//!
//! Errors are [`StoreError`]s: what was being done, where, and the [`Problem`], with 401
//! and 403 as [`Problem::Denied`] whichever way the request went, and
//! [`StoreError::is_transient`] saying whether another try may succeed.
//!
//! # What it stands on
//!
//! Apache OpenDAL does the work where it serves (its fs, S3, WebDAV and WebHDFS
//! services); the few requests it does not serve are made by hand with `ureq`, each in
//! one place with the reason: module `webdav` (stat by `HEAD`, streamed `PUT`, `MKCOL`,
//! `MOVE`, `DELETE`) and module `webhdfs` (the two-step `CREATE`, `RENAME`). OpenDAL is async:
//! one Tokio runtime for the whole process drives every store, so the API is blocking
//! and must not be called inside another async runtime.
//!
//! Underneath: [`http`] (an agent that follows no redirect by itself, so a credential
//! never travels to another host; URL helpers; the short, redacted message a server put
//! in an error body), one retry policy ([`retry()`]: [`ATTEMPTS`] tries with [`backoff`],
//! for 5xx, 429 and broken connections), and secrets that never print: each credential
//! is registered when it is read into a [`Secret`], and [`redact`] hides it in any text
//! before it is shown. The crate prints nothing and reads no environment variable.

mod backend;
pub mod checksum;
mod error;
pub mod http;
mod local;
mod put;
mod retry;
mod secret;
mod store;
mod webdav;
mod webhdfs;

#[cfg(test)]
mod tests;

pub use backend::{Backend, BasicAuth, Options, S3, Webdav, Webhdfs};
pub use checksum::sha256_file;
pub use error::{Problem, StoreError};
pub use local::{Download, Fetched, TransferProgress};
pub use put::Put;
pub use retry::{ATTEMPTS, Transient, backoff, retry};
pub use secret::{MAX_QUOTE, MIN_SECRET_LEN, REDACTED, Redacting, Secret, quote, quote_within, redact, register};
pub use store::{Stat, Store};
