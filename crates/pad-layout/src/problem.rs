//! Problems found in a repository: each names the file (and line and column when it has
//! them), says what is wrong and how to fix it.

use std::fmt;

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

/// One thing wrong (or worth a warning) in the repository layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file or directory, relative to the repository root.
    pub path: Utf8PathBuf,
    /// 1-based line, when the problem is inside a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column, when the problem is inside a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    pub message: String,
    /// What to do about it.
    pub help: String,
}

impl Problem {
    pub fn new(path: impl Into<Utf8PathBuf>, message: impl Into<String>, help: impl Into<String>) -> Problem {
        Problem { path: path.into(), line: None, column: None, message: message.into(), help: help.into() }
    }

    /// Places the problem at a byte offset of the file's text.
    pub fn at_offset(mut self, text: &str, offset: usize) -> Problem {
        let (line, column) = line_column(text, offset);
        self.line = Some(line);
        self.column = Some(column);
        self
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}\n  help: {}", self.message, self.help)
    }
}

/// Every error found in a repository at once.
#[derive(Debug, Clone, thiserror::Error)]
pub struct LayoutError {
    pub root: Utf8PathBuf,
    pub problems: Vec<Problem>,
}

impl LayoutError {
    pub fn new(root: &Utf8Path, problems: Vec<Problem>) -> LayoutError {
        LayoutError { root: root.to_owned(), problems }
    }
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        let plural = if n == 1 { "" } else { "s" };
        write!(f, "the repository at `{}` has {n} layout problem{plural}:", self.root)?;
        for problem in &self.problems {
            write!(f, "\n{problem}")?;
        }
        Ok(())
    }
}

/// An error and its causes on one line, `a: b: c`, leaving out a cause whose text the
/// message already holds (as error types that print their source do).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
