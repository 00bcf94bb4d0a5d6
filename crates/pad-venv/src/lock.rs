//! Lock files kept in the repository: `requirements.lock` resolved from
//! `requirements.txt` (or `pyproject.toml`), and `requirements-test.lock` from wherever
//! the project declares its test dependencies (constrained by the first), with
//! `uv pip compile`, hashes included.
//!
//! The first line records what the lock was made from, so a stale lock is found by
//! reading one line, without resolving anything. A test lock leaves out what the runtime
//! lock pins to the same version: tests take those from the shipped environment.

use std::collections::BTreeSet;

use camino::{Utf8Path, Utf8PathBuf};

use crate::python::Interpreter;
use crate::uv::Uv;
use crate::{VenvError, fsutil};

pub const LOCK_FILE: &str = "requirements.lock";
pub const TEST_LOCK_FILE: &str = "requirements-test.lock";

/// What a lock is resolved from, in the project directory.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LockInput<'a> {
    /// A requirements file, or `pyproject.toml` for its `[project] dependencies`.
    File(&'a str),
    /// A `[dependency-groups]` group of `pyproject.toml` (PEP 735).
    Group(&'a str),
    /// An extra of `pyproject.toml`, with the project's own dependencies.
    Extra(&'a str),
    /// Requirements the toolchain gives (its pinned pytest), passed on stdin.
    Pinned(&'a str),
}

impl LockInput<'_> {
    /// The file whose content the lock follows, if any.
    fn file(&self) -> Option<&str> {
        match self {
            LockInput::File(file) => Some(file),
            LockInput::Group(_) | LockInput::Extra(_) => Some(pad_layout::PYPROJECT_FILE),
            LockInput::Pinned(_) => None,
        }
    }

    /// The part of the file it is, if not all of it.
    fn part(&self) -> Option<String> {
        match self {
            LockInput::Group(group) => Some(format!("[dependency-groups] {group}")),
            LockInput::Extra(extra) => Some(format!("[project.optional-dependencies] {extra}")),
            LockInput::File(_) | LockInput::Pinned(_) => None,
        }
    }

    /// How messages and the lock's header name it.
    pub(crate) fn label(&self) -> String {
        match self {
            LockInput::File(file) => (*file).to_owned(),
            LockInput::Pinned(requirement) => format!("the toolchain's {requirement}"),
            LockInput::Group(_) | LockInput::Extra(_) => {
                format!("{} {}", pad_layout::PYPROJECT_FILE, self.part().unwrap_or_default())
            }
        }
    }

    /// How an error names it: the file as shown from the repository root.
    fn shown(&self, shown_dir: &Utf8Path) -> String {
        match (self.file(), self.part()) {
            (Some(file), Some(part)) => format!("`{}` ({part})", shown_dir.join(file)),
            (Some(file), None) => format!("`{}`", shown_dir.join(file)),
            (None, _) => self.label(),
        }
    }

    /// The inputs of `uv pip compile`.
    fn args(&self) -> Vec<String> {
        match self {
            LockInput::File(file) => vec![(*file).to_owned()],
            LockInput::Group(group) => vec!["--group".to_owned(), format!("{}:{group}", pad_layout::PYPROJECT_FILE)],
            LockInput::Extra(extra) => {
                vec![pad_layout::PYPROJECT_FILE.to_owned(), "--extra".to_owned(), (*extra).to_owned()]
            }
            LockInput::Pinned(_) => vec!["-".to_owned()],
        }
    }

    /// What to do instead of editing the lock.
    fn edit_hint(&self) -> String {
        match self {
            LockInput::Pinned(_) => format!(
                "declare test dependencies instead ({})",
                pad_layout::TEST_DEPS_ORDER.split("; ").next().unwrap_or("requirements-test.txt")
            ),
            _ => format!("edit {} instead", self.label()),
        }
    }
}

/// One lock to keep in step with its input.
pub(crate) struct LockSpec<'a> {
    pub(crate) project: &'a str,
    /// The project directory: inputs and lock are relative to it.
    pub(crate) dir: &'a Utf8Path,
    /// The same directory as shown in messages, relative to the repository root.
    pub(crate) shown_dir: &'a Utf8Path,
    pub(crate) input: LockInput<'a>,
    pub(crate) output: &'a str,
    /// The runtime lock a test lock is constrained by.
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
        Ok(pad_stdx::sha256_hex(&bytes))
    };
    let mut line = format!("# pad-lock v1: python {}; {}", python.minor_version(), spec.input.label());
    if let Some(file) = spec.input.file() {
        line.push_str(&format!(" sha256 {}", digest(file)?));
    }
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
                format!("{} or the interpreter changed since it was made", spec.input.label())
            }
            Some(_) => "it was not made by `cargo xtask venv`".to_owned(),
        };
        return Err(VenvError::StaleLock { project: spec.project.to_owned(), file: rel(spec, spec.output), why });
    }
    tracing::info!("{}: resolving {} into {}", spec.project, spec.input.label(), spec.output);
    let mut cmd = uv
        .cmd(spec.dir)
        .args(["pip", "compile"])
        .args(spec.input.args())
        .args(["--no-header", "--generate-hashes", "--quiet"])
        .args(["--python", python.path.as_str()]);
    if let LockInput::Pinned(requirement) = spec.input {
        cmd = cmd.stdin_bytes(format!("{requirement}\n"));
    }
    if let Some(constraints) = spec.constraints {
        cmd = cmd.args(["--constraint", constraints]);
    }
    let resolved = cmd.read().map_err(|source| VenvError::Resolve {
        project: spec.project.to_owned(),
        input: spec.input.shown(spec.shown_dir),
        source: Box::new(source),
    })?;
    let resolved = match spec.constraints {
        Some(constraints) => {
            let path = spec.dir.join(constraints);
            let shipped = std::fs::read_to_string(&path).map_err(|source| VenvError::io(&path, source))?;
            without_pins_of(&resolved, &shipped)
        }
        None => resolved,
    };
    let text = format!(
        "{expected}\n# Made by `cargo xtask venv` with uv from {}: {}, then rerun it.\n{resolved}\n",
        spec.input.label(),
        spec.input.edit_hint()
    );
    fsutil::write_atomic(&path, text.as_bytes())?;
    Ok(LockOutcome::Written)
}

/// The note that a lock was written: it belongs in the repository.
pub(crate) fn written_note(lock: &Utf8Path, input: &str) -> String {
    format!("wrote {lock} from {input}: commit it (with --locked, as CI should run, a missing or stale lock fails)")
}

fn rel(spec: &LockSpec<'_>, file: &str) -> Utf8PathBuf {
    spec.shown_dir.join(file)
}

/// A distribution name as lock files compare them (PEP 503).
fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// The `name==version` an entry line of a lock pins (`pandas==2.2.3 \`), names normalised.
fn pin_of(line: &str) -> Option<String> {
    let spec = line.split([' ', ';', '\\']).next()?;
    let (name, version) = spec.split_once("==")?;
    let name = name.split('[').next()?;
    Some(format!("{}=={version}", normalize(name)))
}

/// The entries of `lock` (an entry line and its indented `--hash` and `# via` lines) by
/// what they pin; lines outside any entry have none.
fn entries(lock: &str) -> Vec<(Option<String>, String)> {
    let mut entries: Vec<(Option<String>, String)> = Vec::new();
    for line in lock.lines() {
        let continues = line.starts_with(char::is_whitespace) && !entries.is_empty();
        if continues {
            let (_, text) = entries.last_mut().expect("not empty");
            text.push_str(line);
            text.push('\n');
        } else {
            let pin = if line.starts_with('#') { None } else { pin_of(line) };
            entries.push((pin, format!("{line}\n")));
        }
    }
    entries
}

/// `lock` without the entries `shipped` pins to the same version, which a test
/// environment takes from the shipped one.
pub(crate) fn without_pins_of(lock: &str, shipped: &str) -> String {
    let shipped: BTreeSet<String> = entries(shipped).into_iter().filter_map(|(pin, _)| pin).collect();
    let kept: String = entries(lock)
        .into_iter()
        .filter(|(pin, _)| !pin.as_ref().is_some_and(|pin| shipped.contains(pin)))
        .map(|(_, text)| text)
        .collect();
    kept.trim_end().to_owned()
}

/// Whether `lock` pins a distribution called `name`.
pub(crate) fn pins(lock: &str, name: &str) -> bool {
    let prefix = format!("{}==", normalize(name));
    entries(lock).iter().any(|(pin, _)| pin.as_ref().is_some_and(|pin| pin.starts_with(&prefix)))
}
