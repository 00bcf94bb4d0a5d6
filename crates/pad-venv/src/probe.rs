//! Facts about programs (an interpreter's version, uv's version), asked once and kept
//! while the program file is unchanged, so an unchanged environment is reused without
//! starting any program.

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;
use serde::{Deserialize, Serialize};

use crate::VenvError;

#[derive(Default, Serialize, Deserialize)]
struct Probes {
    entries: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    size: u64,
    mtime_ns: u128,
    output: String,
}

/// The output of `program args…`, from the cache file `cache` when `program` (after
/// following symlinks) has the same size and mtime as when it was last asked.
pub(crate) fn probe(cache: &Utf8Path, program: &Utf8Path, args: &[&str]) -> Result<String, VenvError> {
    let key = format!("{program} {}", args.join(" "));
    let stamp = std::fs::metadata(program).ok().map(|m| {
        let mtime = m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        (m.len(), mtime)
    });
    let mut probes: Probes =
        std::fs::read(cache).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
    if let (Some((size, mtime_ns)), Some(entry)) = (stamp, probes.entries.get(&key))
        && entry.size == size
        && entry.mtime_ns == mtime_ns
    {
        return Ok(entry.output.clone());
    }
    let dir = cache.parent().unwrap_or(Utf8Path::new("/"));
    // The probe runs in the cache's directory, which a fresh target does not have yet
    // when nothing was installed into it (uv found on PATH).
    std::fs::create_dir_all(dir).map_err(|source| VenvError::io(dir, source))?;
    let output = Cmd::new(program.as_str(), dir).args(args).read()?;
    if let Some((size, mtime_ns)) = stamp {
        probes.entries.insert(key, Entry { size, mtime_ns, output: output.clone() });
        // A lost update only costs one more probe later, so a plain atomic write will do.
        let _ = crate::fsutil::write_atomic(cache, &serde_json::to_vec_pretty(&probes).unwrap_or_default());
    }
    Ok(output)
}

/// The first executable called `name` on `PATH`.
pub(crate) fn find_on_path(name: &str) -> Option<Utf8PathBuf> {
    let path = std::env::var(pad_layout::EnvVars::PATH).ok()?;
    path.split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Utf8Path::new(dir).join(name))
        .find(|candidate| is_executable(candidate))
}

pub(crate) fn is_executable(path: &Utf8Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
