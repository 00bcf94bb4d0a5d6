//! The uv backend: found on `PATH`, or installed pinned into the tool directory with
//! `python3 -m pip`, so a fresh machine needs no manual step.

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;

use crate::probe::{find_on_path, is_executable, probe};
use crate::{VenvError, fsutil};

/// The uv version installed when none is on `PATH`.
pub const PINNED_UV_VERSION: &str = "0.13.9";

/// A uv executable and its version.
#[derive(Debug, Clone)]
pub struct Uv {
    pub path: Utf8PathBuf,
    pub version: String,
}

impl Uv {
    /// uv from `PATH`, else the pinned one under `tools_dir`, installing it on first use.
    pub fn locate(tools_dir: &Utf8Path) -> Result<Uv, VenvError> {
        let path = match find_on_path("uv") {
            Some(path) => path,
            None => install(tools_dir)?,
        };
        let output = probe(&tools_dir.join("probes.json"), &path, &["--version"])?;
        // `uv 0.13.9 (x86_64-unknown-linux-gnu)`
        let version = output.split_whitespace().nth(1).unwrap_or(&output).to_owned();
        Ok(Uv { path, version })
    }

    /// A uv command that never downloads an interpreter and runs in `dir`.
    pub(crate) fn cmd(&self, dir: &Utf8Path) -> Cmd {
        Cmd::new(self.path.as_str(), dir)
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("UV_NO_PROGRESS", "1")
            .env_remove("VIRTUAL_ENV")
            .env_remove("UV_SYSTEM_PYTHON")
    }
}

fn install(tools_dir: &Utf8Path) -> Result<Utf8PathBuf, VenvError> {
    let dir = tools_dir.join(format!("uv-{PINNED_UV_VERSION}"));
    let uv = dir.join("bin/uv");
    if is_executable(&uv) {
        return Ok(uv);
    }
    let _lock = fsutil::FileLock::acquire(&tools_dir.join("uv.lock"))?;
    if is_executable(&uv) {
        return Ok(uv);
    }
    tracing::info!("installing uv {PINNED_UV_VERSION} into {dir}");
    let staging = tools_dir.join(format!(".uv-{PINNED_UV_VERSION}.tmp"));
    fsutil::remove_dir_if_exists(&staging)?;
    let python = find_on_path("python3").unwrap_or_else(|| Utf8PathBuf::from("/usr/bin/python3"));
    Cmd::new(python.as_str(), tools_dir)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location"])
        .args(["--target", staging.as_str(), &format!("uv=={PINNED_UV_VERSION}")])
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .run()
        .map_err(|source| VenvError::UvInstall { version: PINNED_UV_VERSION, source: Box::new(source) })?;
    std::fs::rename(&staging, &dir).map_err(|source| VenvError::io(&dir, source))?;
    Ok(uv)
}
