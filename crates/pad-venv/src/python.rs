//! Interpreters: a project's `python` setting resolved to an executable on this machine,
//! and whether a service user could run it.

use std::os::unix::fs::PermissionsExt;

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use crate::VenvError;
use crate::probe::{find_on_path, is_executable, probe};

/// A base interpreter environments are built with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interpreter {
    /// Absolute path, as recorded in each environment: workers need the same one.
    pub path: Utf8PathBuf,
    /// Full version, such as `3.11.2`.
    pub version: String,
}

impl Interpreter {
    /// `3.11` of `3.11.2`.
    pub fn minor_version(&self) -> &str {
        let mut dots = self.version.match_indices('.');
        match (dots.next(), dots.next()) {
            (Some(_), Some((second, _))) => &self.version[..second],
            _ => &self.version,
        }
    }
}

/// Directories searched before `PATH`: the system interpreters a service user can run
/// and that Debian workers have at the same path.
const SYSTEM_DIRS: &[&str] = &["/usr/bin", "/usr/local/bin"];

/// Resolves a request (`None` for the default `python3`, `"3.11"`, `"3.11.2"` or an
/// absolute path) to an interpreter. `project` names the project in errors.
pub fn resolve(request: Option<&str>, project: &str, probes: &Utf8Path) -> Result<Interpreter, VenvError> {
    let request = request.unwrap_or("3");
    let missing = |searched: Vec<String>| VenvError::InterpreterMissing {
        project: project.to_owned(),
        request: request.to_owned(),
        searched,
    };
    let (candidates, wanted_version) = if request.starts_with('/') {
        (vec![Utf8PathBuf::from(request)], None)
    } else {
        let parts: Vec<&str> = request.split('.').collect();
        let name = match parts.as_slice() {
            [major] => format!("python{major}"),
            [major, minor, ..] => format!("python{major}.{minor}"),
            [] => "python3".to_owned(),
        };
        let mut candidates: Vec<Utf8PathBuf> = SYSTEM_DIRS.iter().map(|d| Utf8Path::new(d).join(&name)).collect();
        candidates.extend(find_on_path(&name));
        (candidates, (parts.len() == 3).then_some(request))
    };
    let mut searched = Vec::new();
    for candidate in candidates {
        searched.push(candidate.to_string());
        if !is_executable(&candidate) {
            continue;
        }
        let output = probe(
            probes,
            &candidate,
            &["-c", "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])"],
        )?;
        let mut lines = output.lines();
        let (Some(executable), Some(version)) = (lines.next(), lines.next()) else { continue };
        if wanted_version.is_some_and(|w| w != version) {
            continue;
        }
        // Keep the path asked for when it is the system one (`/usr/bin/python3.11`), but
        // resolve shims (pyenv) to the interpreter they run.
        let path = if candidate.starts_with("/usr/") { candidate } else { Utf8PathBuf::from(executable) };
        return Ok(Interpreter { path, version: version.to_owned() });
    }
    Err(missing(searched))
}

/// Why a user other than the owner could not run `path`, if so: a directory on the way
/// that others cannot enter (`/root` is 0700), or a file they cannot execute.
pub fn unreadable_by_others(path: &Utf8Path) -> Option<String> {
    let real = std::fs::canonicalize(path).ok().and_then(|p| Utf8PathBuf::from_path_buf(p).ok())?;
    for dir in real.ancestors().skip(1) {
        let mode = std::fs::metadata(dir).ok()?.permissions().mode();
        if mode & 0o001 == 0 {
            return Some(format!("`{dir}` is mode {:04o}: other users cannot enter it", mode & 0o7777));
        }
    }
    let mode = std::fs::metadata(&real).ok()?.permissions().mode();
    (mode & 0o005 != 0o005).then(|| format!("`{real}` is mode {:04o}: other users cannot run it", mode & 0o7777))
}
