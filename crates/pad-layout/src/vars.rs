//! `${VAR}` references in deploy targets, expanded from the environment.
//!
//! `${VAR}` must be set (a missing variable is an error, never an empty string);
//! `${VAR:-default}` falls back to `default` when VAR is unset or empty, as POSIX
//! shells do; `$$` is a literal `$`.

/// Why a value could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    #[error("{reason} at byte {offset} of `{text}`")]
    Syntax { text: String, offset: usize, reason: &'static str },
    #[error(
        "environment variable `{name}` is not set, and a missing variable is never read as empty: export {name}=…, or give a default with ${{{name}:-value}}"
    )]
    Missing { name: String },
}

#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Literal(&'a str),
    Dollar,
    Var { name: &'a str, default: Option<&'a str> },
}

fn parse(text: &str) -> Result<Vec<Piece<'_>>, VarError> {
    let syntax = |offset, reason| VarError::Syntax { text: text.to_owned(), offset, reason };
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        let offset = text.len() - rest.len() + dollar;
        if dollar > 0 {
            pieces.push(Piece::Literal(&rest[..dollar]));
        }
        let after = &rest[dollar + 1..];
        if let Some(after) = after.strip_prefix('$') {
            pieces.push(Piece::Dollar);
            rest = after;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| syntax(offset, "unterminated `${`: add the closing `}`"))?;
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if !is_var_name(name) {
                return Err(syntax(offset, "a variable name is letters, digits and `_`, not starting with a digit"));
            }
            pieces.push(Piece::Var { name, default });
            rest = &body[end + 1..];
        } else if after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            return Err(syntax(offset, "write variables as `${NAME}` (braces required), or `$$` for a literal `$`"));
        } else {
            pieces.push(Piece::Literal("$"));
            rest = after;
        }
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest));
    }
    Ok(pieces)
}

/// Whether `name` can be an environment variable name.
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks the syntax of a value without reading any variable.
pub fn check(text: &str) -> Result<(), VarError> {
    parse(text).map(drop)
}

/// Expands `${VAR}` and `${VAR:-default}` with `lookup`.
pub fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, VarError> {
    let mut out = String::with_capacity(text.len());
    for piece in parse(text)? {
        match piece {
            Piece::Literal(literal) => out.push_str(literal),
            Piece::Dollar => out.push('$'),
            // As in POSIX shells, `${VAR:-default}` takes the default when VAR is unset
            // or empty: `AIRFLOW_HOME=` must not mean "here".
            Piece::Var { name, default } => match (lookup(name), default) {
                (Some(value), Some(default)) if value.is_empty() => out.push_str(default),
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => return Err(VarError::Missing { name: name.to_owned() }),
            },
        }
    }
    Ok(out)
}

/// Looks variables up in the process environment.
pub fn from_process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
