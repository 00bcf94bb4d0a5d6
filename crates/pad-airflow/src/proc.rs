//! Our processes, read from `/proc` and signalled by process group: a service is its
//! recorded PID and start time (so a reused PID is never taken for ours) and the process
//! group it leads (so what it forked stops with it). Nothing is ever found by name.

use std::time::{Duration, Instant};

use camino::Utf8Path;
use pad_process::Cmd;

/// How often a stop looks whether the group is gone.
const POLL: Duration = Duration::from_millis(100);

/// What `/proc/<pid>/stat` says of a process: its state letter, process group and start
/// time (clock ticks since boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) state: char,
    pub(crate) pgid: u32,
    pub(crate) start_time: u64,
}

/// Parses a `/proc/<pid>/stat` line; the command name (in parentheses) may hold spaces.
pub(crate) fn parse_stat(line: &str) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        pgid: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

pub(crate) fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Whether `pid` is the process we started at `start_time` and it has not exited (a
/// zombie has).
pub(crate) fn alive(pid: u32, start_time: u64) -> bool {
    stat(pid).is_some_and(|s| s.start_time == start_time && !matches!(s.state, 'Z' | 'X'))
}

/// The live processes of process group `pgid`.
pub(crate) fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| stat(*pid).is_some_and(|s| s.pgid == pgid && !matches!(s.state, 'Z' | 'X')))
        .collect()
}

/// Whether the group `up` started as `pid` at `start_time` may still have members of
/// ours: its leader is ours and alive, or the leader's PID is not in use by another
/// process (a dead leader's group can outlive it).
pub(crate) fn group_is_ours(pid: u32, start_time: u64) -> bool {
    match stat(pid) {
        Some(s) => s.start_time == start_time || matches!(s.state, 'Z' | 'X'),
        None => true,
    }
}

/// Sends `signal` (`TERM`, `KILL`) to process group `pgid`.
pub(crate) fn signal_group(pgid: u32, signal: &str) {
    let result =
        Cmd::new("kill", Utf8Path::new("/")).args([format!("-{signal}"), "--".to_owned(), format!("-{pgid}")]).run();
    if let Err(err) = result {
        tracing::debug!("kill -{signal} -{pgid}: {err}");
    }
}

/// Stops process group `pgid`: `TERM`, then `KILL` after `grace`; true when no member
/// is left.
pub(crate) fn stop_group(pgid: u32, grace: Duration) -> bool {
    if group_members(pgid).is_empty() {
        return true;
    }
    signal_group(pgid, "TERM");
    if wait_empty(pgid, grace) {
        return true;
    }
    signal_group(pgid, "KILL");
    wait_empty(pgid, Duration::from_secs(10))
}

fn wait_empty(pgid: u32, within: Duration) -> bool {
    let started = Instant::now();
    loop {
        if group_members(pgid).is_empty() {
            return true;
        }
        if started.elapsed() >= within {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Stops several process groups at once: `TERM` to each, then `KILL` to those still
/// there after `grace`. Returns the groups that still have members after that.
pub(crate) fn stop_groups(pgids: &[u32], grace: Duration) -> Vec<u32> {
    let live: Vec<u32> = pgids.iter().copied().filter(|pgid| !group_members(*pgid).is_empty()).collect();
    for pgid in &live {
        signal_group(*pgid, "TERM");
    }
    let started = Instant::now();
    let mut left = live;
    while !left.is_empty() && started.elapsed() < grace {
        std::thread::sleep(POLL);
        left.retain(|pgid| !group_members(*pgid).is_empty());
    }
    for pgid in &left {
        tracing::debug!("process group {pgid} still runs {} s after TERM: KILL", grace.as_secs());
        signal_group(*pgid, "KILL");
    }
    left.into_iter().filter(|pgid| !wait_empty(*pgid, Duration::from_secs(10))).collect()
}
