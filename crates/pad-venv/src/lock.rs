//! Lock files kept in the repository: `requirements.lock` resolved from
//! `requirements.txt` (and `requirements-test.lock` from `requirements-test.txt`,
//! constrained by the first) with `uv pip compile`, hashes included.
//!
//! The first line records what the lock was made from, so a stale lock is found by
//! reading one line, without resolving anything.

use camino::{Utf8Path, Utf8PathBuf};

use crate::python::Interpreter;
use crate::uv::Uv;
use crate::{VenvError, fsutil};

pub const LOCK_FILE: &str = "requirements.lock";
pub const TEST_LOCK_FILE: &str = "requirements-test.lock";

/// One lock to keep in step with its input.
pub(crate) struct LockSpec<'a> {
    pub(crate) project: &'a str,
    /// The project directory: inputs and lock are relative to it.
    pub(crate) dir: &'a Utf8Path,
    /// The same directory as shown in messages, relative to the repository root.
    pub(crate) shown_dir: &'a Utf8Path,
    /// `requirements.txt`, `pyproject.toml` or `requirements-test.txt`.
    pub(crate) input: &'a str,
    pub(crate) output: &'a str,
    pub(crate) constraints: Option<&'a str>,
}

/// What happened to a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockOutcome {
    UpToDate,
    Written,
}

/// The header line for a lock made from the current inputs.
fn header(spec: &LockSpec<'_>, python: &Interpreter) -> Result<String, VenvError> {
    let digest = |name: &str| -> Result<String, VenvError> {
        let path = spec.dir.join(name);
        let bytes = std::fs::read(&path).map_err(|source| VenvError::io(&path, source))?;
        Ok(fsutil::sha256_hex(&bytes))
    };
    let mut line =
        format!("# pad-lock v1: python {}; {} sha256 {}", python.minor_version(), spec.input, digest(spec.input)?);
    if let Some(constraints) = spec.constraints {
        line.push_str(&format!("; {constraints} sha256 {}", digest(constraints)?));
    }
    Ok(line)
}

/// Makes sure the lock matches its inputs: unchanged when it does, rewritten when not,
/// or an error naming the fix when `locked` forbids updating it.
pub(crate) fn ensure(
    uv: &Uv,
    spec: &LockSpec<'_>,
    python: &Interpreter,
    locked: bool,
) -> Result<LockOutcome, VenvError> {
    let expected = header(spec, python)?;
    let path = spec.dir.join(spec.output);
    let current = std::fs::read_to_string(&path).ok();
    let current_header = current.as_deref().and_then(|text| text.lines().next());
    if current_header == Some(expected.as_str()) {
        return Ok(LockOutcome::UpToDate);
    }
    if locked {
        let why = match current_header {
            None => "it does not exist".to_owned(),
            Some(line) if line.starts_with("# pad-lock") => {
                format!("{} or the interpreter changed since it was made", spec.input)
            }
            Some(_) => "it was not made by `cargo xtask venv`".to_owned(),
        };
        return Err(VenvError::StaleLock { project: spec.project.to_owned(), file: rel(spec, spec.output), why });
    }
    tracing::info!("{}: resolving {} into {}", spec.project, spec.input, spec.output);
    let mut cmd = uv
        .cmd(spec.dir)
        .args(["pip", "compile", spec.input, "--no-header", "--generate-hashes", "--quiet"])
        .args(["--python", python.path.as_str()]);
    if let Some(constraints) = spec.constraints {
        cmd = cmd.args(["--constraint", constraints]);
    }
    let resolved = cmd.read().map_err(|source| VenvError::Resolve {
        project: spec.project.to_owned(),
        file: rel(spec, spec.input),
        source: Box::new(source),
    })?;
    let text = format!(
        "{expected}\n# Made by `cargo xtask venv` with uv from {}: edit {} instead, then rerun it.\n{resolved}\n",
        spec.input, spec.input
    );
    fsutil::write_atomic(&path, text.as_bytes())?;
    Ok(LockOutcome::Written)
}

fn rel(spec: &LockSpec<'_>, file: &str) -> Utf8PathBuf {
    spec.shown_dir.join(file)
}
