//! The test kit: real hosts and servers on this machine, for the end-to-end tests
//! (`tests/`) and the benchmarks (`cargo xtask bench`).
//!
//! - [`worker`]: worker hosts to deploy to, containers of an image built here with
//!   debootstrap (or one sshd per worker on a loopback address), with the Airflow they
//!   run; `cargo xtask worker up/down` is a thin command over it.
//! - [`services`]: nginx (WebDAV, a Maven repository), moto's S3 and the Python contract
//!   servers (GitLab, WebHDFS, a faulty source, an echo), each on 127.0.0.1 with free
//!   ports, stopped when dropped.
//! - [`nginx`] starts nginx on a configuration of our own; [`Server`] is the one wrapper
//!   of a long-running child: started with its log, waited for until it listens,
//!   stopped when dropped.
//! - [`tool_python`] installs the PyPI tools the services need; [`random_bytes`] makes
//!   incompressible data, the same on every run; [`cargo`] starts cargo as a shell
//!   would, for `cargo xtask ci` and the tests that run it.
//!
//! Everything is started on 127.0.0.1, the kit's own Docker networks or mount namespaces,
//! in directories the caller names; nothing here is used by the toolchain itself.

mod bytes;
mod cargo;
mod error;
pub mod nginx;
mod server;
pub mod services;
mod tools;
pub mod worker;

#[cfg(test)]
mod tests;

pub use bytes::{Xorshift, random_bytes};
pub use cargo::cargo;
pub use error::KitError;
pub use server::{Server, Stop, free_port, free_ports};
pub use tools::{PYTHON, tool_python};
