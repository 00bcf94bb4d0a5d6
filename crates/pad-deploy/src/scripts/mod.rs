//! The POSIX `sh` scripts a deploy runs on a host, each beside the parser of what it
//! prints. They assume only `sh`, `tar` (with `gzip`) and coreutils; every value from
//! outside is shell-quoted, and file lists travel as data (standard input or uploaded
//! files), never as script text.
//!
//! A script is a value ([`Lock`], [`Inspect`], [`Verify`], …): its `text` is what runs,
//! and its `parse` reads what it printed into a typed result. Scripts answer with lines
//! that start with `pad-` (or a one-letter tag in the listings), so what a failing
//! command prints cannot be mistaken for an answer; each marker is written and read in
//! one file:
//!
//! - `access.rs`: [`Preflight`] and [`Lock`], getting in;
//! - `inventory.rs`: [`Inspect`], [`List`], [`Prune`], [`CleanUp`] and [`FreeSpace`],
//!   what a host holds and what it lets go;
//! - `release.rs`: [`Upload`], [`Unpack`], [`RecordEnvs`], [`Finish`] and
//!   [`RemoveStaging`], building a release;
//! - `check.rs`: [`Verify`], [`Smoke`], [`ReadManifest`] and [`Discard`], checking one;
//! - `switch.rs`: [`Switch`] and [`Unswitch`];
//! - `namespaces.rs`: [`ListNamespaces`] and [`RemoveNamespace`].

use pad_process::shell_quote as q;

mod access;
mod check;
mod inventory;
mod namespaces;
mod release;
mod switch;

pub(crate) use access::{Lock, LockLine, Preflight};
pub(crate) use check::{Discard, ReadManifest, Smoke, Verify, minor};
pub(crate) use inventory::{CleanUp, DiskSpace, FreeSpace, HostContents, Inspect, List, Prune, prune_list};
pub(crate) use namespaces::{ListNamespaces, NamespaceLine, RemoveNamespace};
pub(crate) use release::{Finish, RecordEnvs, RemoveStaging, Unpack, Upload, verified_envs};
pub(crate) use switch::{Switch, Unswitch};

/// The line a long script prints every few seconds so that a silent host can be told
/// from a lost one; [`strip_ticks`] drops it.
const TICK: &str = "pad-tick";

/// `output` without the [`TICK`] lines.
pub(crate) fn strip_ticks(output: String) -> String {
    if !output.contains(TICK) {
        return output;
    }
    output.lines().filter(|l| *l != TICK).map(|l| format!("{l}\n")).collect()
}

/// The start of every script: strict mode, C locale, `AIRFLOW_HOME` in `$AH`.
fn prelude(airflow_home: &str) -> String {
    format!("set -eu\nexport LC_ALL=C\numask 022\nAH={}\n", q(airflow_home))
}

/// Prints [`TICK`] every 2 s until the script ends, well within the shortest I/O timeout
/// a deploy accepts (5 s), so silence means a lost host, not a slow step. `sleep` gets
/// no copy of stdout, so the command's output ends when the script does.
const TICKER: &str = "( while sleep 2 </dev/null >/dev/null 2>&1; do echo pad-tick; done ) &
PAD_TICKER=$!
trap 'kill $PAD_TICKER 2>/dev/null' EXIT
";

/// [`TICKER`], and a watcher that stops the script (its whole process group) when its
/// standard input ends: the client keeps it open, so it ends when the client dies or its
/// connection drops, and a script of a killed deploy does not go on writing while the
/// next deploy cleans up. (An asynchronous list reads /dev/null, hence fd 3.)
const GUARD: &str = "exec 3<&0
( cat <&3 >/dev/null 2>&1; kill -TERM 0 2>/dev/null ) >/dev/null 2>&1 &
PAD_WATCH=$!
exec 3<&-
( while sleep 2 </dev/null >/dev/null 2>&1; do echo pad-tick; done ) &
PAD_TICKER=$!
trap 'kill $PAD_TICKER $PAD_WATCH 2>/dev/null' EXIT
";

/// The rest of each line of `output` that starts with `marker` and a space.
fn values<'a>(output: &'a str, marker: &'a str) -> impl Iterator<Item = &'a str> {
    output.lines().filter_map(move |l| l.strip_prefix(marker).and_then(|rest| rest.strip_prefix(' ')))
}

/// Whether `output` holds the line `marker`.
fn has_line(output: &str, marker: &str) -> bool {
    output.lines().any(|l| l == marker)
}
