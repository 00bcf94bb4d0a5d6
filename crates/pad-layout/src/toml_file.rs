//! Reading TOML files so that every error carries the file, line and column.

use camino::{Utf8Path, Utf8PathBuf};
use serde::de::DeserializeOwned;

use crate::Problem;

/// The text of a TOML file and its path relative to the repository root.
pub(crate) struct TomlFile {
    text: String,
    rel: Utf8PathBuf,
}

impl TomlFile {
    /// Reads `path`; an unreadable file becomes a problem.
    pub(crate) fn read(path: &Utf8Path, rel: &Utf8Path, errors: &mut Vec<Problem>) -> Option<TomlFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => Some(TomlFile::from_text(text, rel)),
            Err(err) => {
                errors.push(Problem::new(
                    rel,
                    format!("cannot read the file: {err}"),
                    "make it a readable UTF-8 text file",
                ));
                None
            }
        }
    }

    pub(crate) fn from_text(text: String, rel: &Utf8Path) -> TomlFile {
        TomlFile { text, rel: rel.to_owned() }
    }

    pub(crate) fn into_text(self) -> String {
        self.text
    }

    /// Deserializes the file; a syntax error or a key that does not fit becomes a problem
    /// at its line and column, with `help` saying what the file may hold.
    pub(crate) fn parse<T: DeserializeOwned>(&self, errors: &mut Vec<Problem>, help: &str) -> Option<T> {
        match toml::from_str(&self.text) {
            Ok(value) => Some(value),
            Err(err) => {
                let message = err.message().trim().to_owned();
                let mut problem = Problem::new(&self.rel, message, help);
                if let Some(span) = err.span() {
                    problem = problem.at_offset(&self.text, span.start);
                }
                errors.push(problem);
                None
            }
        }
    }

    /// A problem placed at the line that sets `key` (`key = …` at the start of a line),
    /// or at the file when no such line is found.
    pub(crate) fn problem_at_key(&self, key: &str, message: impl Into<String>, help: impl Into<String>) -> Problem {
        let problem = Problem::new(&self.rel, message, help);
        let mut offset = 0;
        for line in self.text.split_inclusive('\n') {
            let trimmed = line.trim_start();
            let rest = trimmed.strip_prefix(key).or_else(|| trimmed.strip_prefix(&format!("\"{key}\"")));
            if rest.is_some_and(|rest| rest.trim_start().starts_with('=')) {
                return problem.at_offset(&self.text, offset + (line.len() - trimmed.len()));
            }
            offset += line.len();
        }
        problem
    }
}
