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
        // An environment installed before the scripts were pointed at their final place.
        point_scripts_at(&env)?;
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
    point_scripts_at(&env)?;
    Ok(python)
}

/// pip writes each console script (`bin/venv-pack`, …) naming the interpreter by the
/// path it was installed at, the temporary name (on the `#!` line, or in the `exec`
/// line of its `/bin/sh` form for a long path). Points every such name at `env`'s own
/// `bin/python`, so the scripts run.
pub(crate) fn point_scripts_at(env: &Utf8Path) -> Result<(), KitError> {
    let bin = env.join("bin");
    let (Some(tools), Some(name)) = (env.parent(), env.file_name()) else {
        return Ok(());
    };
    let staging_prefix = format!("{tools}/.tmp-{name}-");
    let own = format!("{bin}/python");
    for entry in bin.read_dir_utf8().with_context(|| format!("listing {bin}"))? {
        let path = entry.with_context(|| format!("listing {bin}"))?.into_path();
        if path.is_symlink() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // not a script
        };
        let mut fixed = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find(&staging_prefix) {
            let after = &rest[at + staging_prefix.len()..];
            let pid_len = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
            let Some(tail) = after[pid_len..].strip_prefix("/bin/python") else {
                fixed.push_str(&rest[..at + staging_prefix.len()]);
                rest = after;
                continue;
            };
            fixed.push_str(&rest[..at]);
            fixed.push_str(&own);
            rest = tail;
        }
        if fixed.is_empty() {
            continue;
        }
        fixed.push_str(rest);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).with_context(|| format!("reading {path}"))?.permissions(),
        );
        pad_stdx::write_atomic(&path, fixed.as_bytes(), mode & 0o7777).with_context(|| format!("writing {path}"))?;
    }
    Ok(())
}
