//! An artifacts.yaml as written (`RawFile` and what it holds, with the position of every
//! value), the reading of one file into a `Parsed` one, and the problems found on the
//! way, each with its file, line and column.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use pad_layout::Problem;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::kinds::{cache_kind, source_kind};
use super::{CacheDef, Place, SourceDef};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    #[serde(default)]
    pub(super) artifact_sources: BTreeMap<String, Spanned<RawSource>>,
    #[serde(default)]
    pub(super) artifact_caches: BTreeMap<String, Spanned<RawCache>>,
    #[serde(default)]
    pub(super) default_artifact_source: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) default_artifact_caches: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) artifacts: BTreeMap<String, Spanned<RawArtifact>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub(super) class_name: Spanned<String>,
    pub(super) base_uri: Option<Spanned<String>>,
    pub(super) token_env: Option<Spanned<String>>,
    pub(super) token_header: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCache {
    pub(super) class_name: Spanned<String>,
    pub(super) base_uri: Option<Spanned<String>>,
    pub(super) endpoint: Option<Spanned<String>>,
    pub(super) region: Option<Spanned<String>>,
    pub(super) access_key_id_env: Option<Spanned<String>>,
    pub(super) secret_access_key_env: Option<Spanned<String>>,
    pub(super) session_token_env: Option<Spanned<String>>,
    pub(super) virtual_host_style: Option<Spanned<bool>>,
    pub(super) username_env: Option<Spanned<String>>,
    pub(super) password_env: Option<Spanned<String>>,
    pub(super) user_name: Option<Spanned<String>>,
    pub(super) delegation_env: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArtifact {
    pub(super) id: Spanned<String>,
    pub(super) source: Option<Spanned<String>>,
    pub(super) caches: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) sha256: Option<Spanned<String>>,
}

/// Collects problems of one file.
pub(super) struct FileProblems<'a> {
    pub(super) display: &'a Utf8Path,
    pub(super) problems: &'a mut Vec<Problem>,
}

impl FileProblems<'_> {
    pub(super) fn place<T>(&self, spanned: &Spanned<T>) -> Place {
        place(self.display, spanned)
    }

    pub(super) fn push<T>(&mut self, at: &Spanned<T>, message: impl Into<String>, help: impl Into<String>) {
        let mut problem = Problem::new(self.display, message, help);
        problem.line = Some(at.referenced.line() as usize);
        problem.column = Some(at.referenced.column() as usize);
        self.problems.push(problem);
    }
}

fn place<T>(file: &Utf8Path, spanned: &Spanned<T>) -> Place {
    Place {
        file: file.to_owned(),
        line: spanned.referenced.line() as usize,
        column: spanned.referenced.column() as usize,
    }
}

pub(super) fn problem_at(place: &Place, message: impl Into<String>, help: impl Into<String>) -> Problem {
    let mut problem = Problem::new(&place.file, message, help);
    problem.line = Some(place.line);
    problem.column = Some(place.column);
    problem
}

/// A parsed file, before merging.
pub(super) struct Parsed {
    pub(super) display: Utf8PathBuf,
    pub(super) dir: Utf8PathBuf,
    pub(super) sources: Vec<SourceDef>,
    pub(super) caches: Vec<CacheDef>,
    pub(super) default_source: Option<(String, Place)>,
    pub(super) default_caches: Option<(Vec<Spanned<String>>, Place)>,
    pub(super) artifacts: Vec<(String, Spanned<RawArtifact>)>,
}

fn yaml_problem(display: &Utf8Path, err: &serde_saphyr::Error) -> Problem {
    let inner = err.without_snippet();
    let mut message = inner.to_string();
    // The message repeats the position we give separately.
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    let help = if message.contains("unknown field") {
        "remove or rename the key: artifacts.yaml takes `artifact_sources`, `artifact_caches`, `default_artifact_source`, `default_artifact_caches` and `artifacts`; a source takes `class_name`, `base_uri`, `token_env`, `token_header`; a cache `class_name`, `base_uri` and its class's settings; an artifact `id`, `source`, `caches`, `sha256`"
    } else if message.contains("duplicate") {
        "each name appears once per mapping: rename or remove the repeated key"
    } else {
        "fix the YAML syntax (indentation, `:` after keys, quotes around values with `: ` or `#`)"
    };
    if let Some(cut) = message.find(", set DuplicateKeyPolicy") {
        message.truncate(cut);
    }
    let message = if message.contains("unknown field") {
        message.replacen("unknown field", "unknown key", 1)
    } else {
        format!("invalid YAML: {message}")
    };
    let mut problem = Problem::new(display, message, help);
    if let Some(location) = inner.location().or_else(|| err.location()) {
        problem.line = Some(location.line() as usize);
        problem.column = Some(location.column() as usize);
    }
    problem
}

pub(super) fn parse_file(
    display: &Utf8Path,
    text: &str,
    dir: &Utf8Path,
    problems: &mut Vec<Problem>,
) -> Option<Parsed> {
    let raw: RawFile = if text.trim().is_empty() {
        RawFile {
            artifact_sources: BTreeMap::new(),
            artifact_caches: BTreeMap::new(),
            default_artifact_source: None,
            default_artifact_caches: None,
            artifacts: BTreeMap::new(),
        }
    } else {
        match serde_saphyr::from_str(text) {
            Ok(raw) => raw,
            Err(err) => {
                problems.push(yaml_problem(display, &err));
                return None;
            }
        }
    };
    let mut out = FileProblems { display, problems };
    let mut sources = Vec::new();
    for (name, raw) in &raw.artifact_sources {
        check_name(&mut out, raw, "source", name);
        if let Some(kind) = source_kind(&mut out, &raw.value, dir) {
            sources.push(SourceDef { name: name.clone(), kind, place: out.place(raw), dir: dir.to_owned() });
        }
    }
    let mut caches = Vec::new();
    for (name, raw) in &raw.artifact_caches {
        check_name(&mut out, raw, "cache", name);
        if let Some(kind) = cache_kind(&mut out, &raw.value, dir) {
            caches.push(CacheDef { name: name.clone(), kind, place: out.place(raw), dir: dir.to_owned() });
        }
    }
    let default_source = raw.default_artifact_source.as_ref().map(|s| (s.value.clone(), out.place(s)));
    let default_caches = raw.default_artifact_caches.as_ref().map(|s| (s.value.clone(), out.place(s)));
    let artifacts = raw.artifacts.into_iter().collect();
    Some(Parsed {
        display: display.to_owned(),
        dir: dir.to_owned(),
        sources,
        caches,
        default_source,
        default_caches,
        artifacts,
    })
}

pub(super) fn check_name<T>(out: &mut FileProblems<'_>, at: &Spanned<T>, what: &str, name: &str) {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        out.push(
            at,
            format!("`{name}` is not a valid {what} name"),
            format!("name the {what} with letters, digits, `-`, `_` and `.`"),
        );
    }
}

pub(super) fn check_vars(out: &mut FileProblems<'_>, value: &Spanned<String>) -> bool {
    match pad_layout::vars::check(&value.value) {
        Ok(()) => true,
        Err(err) => {
            out.push(value, format!("bad `${{VAR}}` reference: {err}"), "write `${NAME}`, `${NAME:-default}` or `$$`");
            false
        }
    }
}
