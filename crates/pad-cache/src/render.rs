//! Reports as text for people: one line per (artifact, cache) pair, then a summary. The
//! `pad-cache` binary and `cargo xtask cache` print the same lines; `--json` prints the
//! reports themselves.

use std::fmt::Write as _;

use crate::{CacheState, Outcome, StatusReport, Summary, WarmReport};

/// `status`: each pair as present, missing, wrong (why) or unreachable, then the counts.
pub fn status_text(report: &StatusReport) -> String {
    let width = name_width(report.artifacts.iter().map(|a| a.name.as_str()));
    let mut out = String::new();
    for artifact in &report.artifacts {
        for cache in &artifact.caches {
            let state = match &cache.state {
                CacheState::Present { .. } => format!("present  {}", cache.location),
                CacheState::Missing => format!("missing  {}", cache.location),
                CacheState::Wrong { reason } => format!("wrong    {}: {reason}", cache.location),
                CacheState::Error { error } => format!("error    {error}"),
            };
            let _ = writeln!(out, "{:<width$}  {:<12} {state}", artifact.name, cache.cache);
        }
    }
    let [present, missing, wrong, errors] = report.counts();
    let _ = writeln!(
        out,
        "{} artifact{}: {present} present, {missing} missing, {wrong} wrong, {errors} unreachable ({:.2}s)",
        report.artifacts.len(),
        plural(report.artifacts.len()),
        report.seconds
    );
    out
}

/// `warm`: each pair as present, copied (size, time) or failed (why), the temporary files
/// swept, then a summary that says plainly when nothing needed copying.
pub fn warm_text(report: &WarmReport) -> String {
    let width = name_width(report.artifacts.iter().map(|a| a.name.as_str()));
    let mut out = String::new();
    for artifact in &report.artifacts {
        for cache in &artifact.caches {
            let what = match &cache.outcome {
                Outcome::Present => "present".to_owned(),
                Outcome::Copied { bytes, seconds, .. } => {
                    format!("copied {} in {seconds:.2}s", pad_stdx::human_size(*bytes))
                }
                Outcome::Failed { error, attempts } => {
                    let tries = if *attempts > 1 { format!(" (after {attempts} attempts)") } else { String::new() };
                    format!("FAILED{tries}: {error}")
                }
            };
            let _ = writeln!(out, "{:<width$}  {:<12} {what}", artifact.name, cache.cache);
        }
    }
    for path in &report.swept {
        let _ = writeln!(out, "removed `{path}`, left by an interrupted run");
    }
    let copied = report.count(Summary::Copied);
    let failed = report.count(Summary::Failed);
    let n = report.artifacts.len();
    if copied == 0 && failed == 0 {
        let _ = writeln!(out, "nothing to copy: all {n} artifact{} already warm ({:.2}s)", plural(n), report.seconds);
    } else {
        let _ = writeln!(
            out,
            "{n} artifact{}: {copied} copied ({} read), {} present, {failed} failed in {:.2}s",
            plural(n),
            pad_stdx::human_size(report.bytes),
            report.count(Summary::Present),
            report.seconds
        );
    }
    out
}

/// One `<artifact> -> <cache>: <why>` per failed copy, for standard error.
pub fn warm_errors(report: &WarmReport) -> Vec<String> {
    let mut errors = Vec::new();
    for artifact in &report.artifacts {
        for cache in &artifact.caches {
            if let Outcome::Failed { error, .. } = &cache.outcome {
                errors.push(format!("{} -> {}: {error}", artifact.name, cache.cache));
            }
        }
    }
    errors
}

fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(|n| n.chars().count()).max().unwrap_or(0).min(60)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
