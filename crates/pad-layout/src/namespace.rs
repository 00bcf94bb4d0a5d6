//! Namespaces: several releases side by side in one `AIRFLOW_HOME`, each with its own
//! releases, `current`, lock and data root. One rule for their names, and the choice of
//! a name in CI (`--namespace auto`).

use camino::Utf8Path;
use pad_process::Cmd;

use crate::EnvVars;

/// The name the plain (production) deploy has where a namespace name is needed: in
/// `${namespace}` of a target's `data_root`, in the runtime helper and as its entry in
/// `$AIRFLOW_HOME/dags/`. It is not a name `--namespace` accepts.
pub const PLAIN_NAMESPACE: &str = "prod";

/// The longest namespace name: it becomes a directory name, a DAG id suffix and part of a
/// data path, so it stays short (GitLab's `CI_COMMIT_REF_SLUG` is at most 63).
pub const NAMESPACE_MAX_LEN: usize = 40;

/// What `--namespace auto` chooses from.
pub const AUTO_NAMESPACE: &str = "auto";

/// Checks a namespace name: lowercase letters, digits and `-`, starting with a letter or
/// digit, not ending with `-`, at most [`NAMESPACE_MAX_LEN`] characters, and not
/// [`PLAIN_NAMESPACE`] or [`AUTO_NAMESPACE`]. The error says what is wrong and the fix.
pub fn check_namespace(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the namespace name is empty: give one such as `review-42`".into());
    }
    if name.len() > NAMESPACE_MAX_LEN {
        return Err(format!(
            "the namespace `{name}` is {} characters long, more than the {NAMESPACE_MAX_LEN} allowed: shorten it",
            name.len()
        ));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Err(format!(
            "the namespace `{}` holds `{}`: use lowercase letters, digits and `-` only",
            name.escape_debug(),
            bad.escape_debug()
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(format!("the namespace `{name}` starts or ends with `-`: start and end with a letter or digit"));
    }
    if name == PLAIN_NAMESPACE {
        return Err(format!(
            "`{PLAIN_NAMESPACE}` is the name of the plain deploy: deploy without --namespace, or choose another name"
        ));
    }
    if name == AUTO_NAMESPACE {
        return Err(format!(
            "`{AUTO_NAMESPACE}` chooses a name from CI_COMMIT_REF_SLUG or HEAD; it is not a name itself"
        ));
    }
    Ok(())
}

/// Makes a valid namespace name of a branch slug or a commit: lowercased, every other
/// character turned into `-`, runs of `-` joined, trimmed to [`NAMESPACE_MAX_LEN`].
/// `None` when nothing usable is left.
pub fn sanitize_namespace(raw: &str) -> Option<String> {
    let mut out = String::new();
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    out.truncate(NAMESPACE_MAX_LEN);
    let out = out.trim_end_matches('-').to_owned();
    match out.as_str() {
        "" => None,
        PLAIN_NAMESPACE | AUTO_NAMESPACE => Some(format!("ns-{out}")),
        _ => Some(out),
    }
}

/// The namespace `value` names: itself, checked; or, for `auto`, `CI_COMMIT_REF_SLUG`
/// (from `lookup`) sanitized, else the short SHA of HEAD of the repository at `root`.
pub fn resolve_namespace(
    root: &Utf8Path,
    value: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    if value != AUTO_NAMESPACE {
        check_namespace(value)?;
        return Ok(value.to_owned());
    }
    if let Some(slug) = lookup(EnvVars::CI_COMMIT_REF_SLUG).filter(|s| !s.is_empty()) {
        return sanitize_namespace(&slug).ok_or_else(|| {
            format!("--namespace auto: CI_COMMIT_REF_SLUG=`{slug}` leaves no usable name; pass --namespace NAME")
        });
    }
    let sha = Cmd::new("git", root)
        .args(["rev-parse", "--short=8", "HEAD"])
        .env("GIT_OPTIONAL_LOCKS", "0")
        .read()
        .map_err(|err| {
            format!("--namespace auto: CI_COMMIT_REF_SLUG is not set and `{root}` has no commit to name it after ({err}); pass --namespace NAME")
        })?;
    sanitize_namespace(sha.trim())
        .ok_or_else(|| "--namespace auto: HEAD gave no usable name; pass --namespace NAME".to_owned())
}
