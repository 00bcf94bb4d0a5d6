//! Tools from PyPI the services need (moto, python-dotenv), each in an environment of
//! its own made once with Debian's `python3 -m venv` and pip, and reused.

use std::sync::Mutex;

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;

use crate::KitError;
use crate::error::{Context as _, failed};

/// Debian's interpreter, with venv and pip (`cargo xtask ci` installs them); the Python
/// servers of the kit run on it too.
pub const PYTHON: &str = "/usr/bin/python3";

/// The interpreter of a tool environment holding `requirement` (`name[extras]==version`
/// from PyPI): `<tools>/<name>-<version>/`, made on first use (under a temporary name,
/// then renamed) and reused.
pub fn tool_python(tools: &Utf8Path, requirement: &str) -> Result<Utf8PathBuf, KitError> {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Some((name, version)) = requirement.split_once("==") else {
        return Err(failed(format!("tool requirement `{requirement}` is not pinned: write it as name==version")));
    };
    let name = name.split('[').next().unwrap_or(name);
    let env = tools.join(format!("{name}-{version}"));
    let python = env.join("bin/python");
    if python.exists() {
        return Ok(python);
    }
    std::fs::create_dir_all(tools).with_context(|| format!("creating {tools}"))?;
    let staging = tools.join(format!(".tmp-{name}-{version}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    tracing::info!("installing {requirement} into {env} (once)");
    Cmd::new(PYTHON, tools)
        .args(["-m", "venv", staging.as_str()])
        .run()
        .with_context(|| format!("creating the tool environment of {requirement}"))?;
    Cmd::new(staging.join("bin/python"), tools)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement])
        .run()
        .with_context(|| format!("cannot install {requirement} from PyPI"))?;
    // Another test process may have won the race; its environment is as good as ours.
    if std::fs::rename(&staging, &env).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(python)
}
