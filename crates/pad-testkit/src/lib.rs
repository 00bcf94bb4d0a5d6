//! The test kit: real hosts and servers on this machine, for the end-to-end tests
//! (`tests/`) and the benchmarks (`cargo xtask bench`).
//!
//! - [`worker`]: worker hosts to deploy to, containers of an image built here with
//!   debootstrap (or one sshd per worker on a loopback address), with the Airflow they
//!   run; `cargo xtask worker up/down` is a thin command over it.
//!
//! Everything is started on 127.0.0.1, the kit's own Docker networks or mount namespaces,
//! in directories the caller names; nothing here is used by the toolchain itself.

mod error;
pub mod worker;

pub use error::KitError;
