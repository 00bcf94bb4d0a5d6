//! `cargo` started as a shell would start it, for `cargo xtask ci`, the tidy tests and
//! the end-to-end tests that run cargo themselves.

use camino::Utf8Path;
use pad_process::Cmd;

/// Prefixes of the variables cargo sets for a program it runs (`cargo run`, a test),
/// which build scripts also watch (ring's: `CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`).
const CARGO_RUN_VARS: &[&str] = &["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_NAME", "CARGO_BIN_", "OUT_DIR"];

/// `cargo` (the one that runs us, else from `PATH`) in `dir`, with the environment a shell
/// would give it: without [`CARGO_RUN_VARS`]. A cargo started with them (by `cargo xtask
/// ci`, or by a test) finds those build scripts' inputs changed and rebuilds them and
/// every crate above, and the next cargo from a shell rebuilds them back.
pub fn cargo(dir: &Utf8Path) -> Cmd {
    let program = std::env::var(pad_layout::EnvVars::CARGO).unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Cmd::new(program, dir);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|name| CARGO_RUN_VARS.iter().any(|prefix| name.starts_with(prefix))) {
            cmd = cmd.env_remove(name);
        }
    }
    cmd
}
