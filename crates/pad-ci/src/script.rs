//! The `cargo xtask` command lines a job's script line runs, found as `sh` would split
//! the line: continuation lines joined, one command per line, words split with POSIX
//! quoting (`shlex`), commands separated at `&&`, `||`, `;` and `|`, leading variable
//! assignments (`FOO=bar`, `env FOO=bar`) and redirections (`> file`, `2>&1`) set aside.
//! Variables stay as written (`$CI_COMMIT_REF_SLUG`): they are values to the parser.

/// One `cargo xtask` call: the words after `xtask`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XtaskCall {
    pub args: Vec<String>,
}

impl XtaskCall {
    /// The command (the first word that is not a flag), such as `deploy` or `cache`.
    pub fn command(&self) -> Option<&str> {
        self.args.iter().map(String::as_str).find(|a| !a.starts_with('-'))
    }

    /// The value of `--flag VALUE` or `--flag=VALUE`, when given.
    pub fn flag(&self, flag: &str) -> Option<&str> {
        let prefix = format!("{flag}=");
        self.args.iter().enumerate().find_map(|(i, arg)| {
            if arg == flag { self.args.get(i + 1).map(String::as_str) } else { arg.strip_prefix(prefix.as_str()) }
        })
    }

    pub fn has(&self, flag: &str) -> bool {
        self.args.iter().any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    }

    /// `cargo xtask ARGS` as a shell would show it.
    pub fn display(&self) -> String {
        let words: Vec<String> = self
            .args
            .iter()
            .map(|a| match shlex::try_quote(a) {
                // A variable as the script wrote it: expanded by the shell.
                Ok(quoted) if quoted != *a && a.starts_with('$') && !a.contains(['"', '\\', '`', ' ']) => {
                    format!("\"{a}\"")
                }
                Ok(quoted) => quoted.into_owned(),
                Err(_) => a.clone(),
            })
            .collect();
        format!("cargo xtask {}", words.join(" "))
    }
}

/// The `cargo xtask` calls in one script entry; an error when its quoting is broken.
pub fn xtask_calls(text: &str) -> Result<Vec<XtaskCall>, String> {
    let joined = text.replace("\\\n", " ");
    let mut calls = Vec::new();
    for line in joined.lines() {
        let words = shlex::split(line)
            .ok_or_else(|| format!("cannot split `{}` into words: a quote is not closed", line.trim()))?;
        for command in commands(words) {
            if let Some(call) = as_xtask(&command) {
                calls.push(call);
            }
        }
    }
    Ok(calls)
}

/// Words split into commands at the shell's separators.
fn commands(words: Vec<String>) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for word in words {
        if matches!(word.as_str(), "&&" | "||" | ";" | "|" | "&") {
            out.push(Vec::new());
        } else if let Some(head) = word.strip_suffix(';') {
            if !head.is_empty() {
                out.last_mut().expect("never empty").push(head.to_owned());
            }
            out.push(Vec::new());
        } else {
            out.last_mut().expect("never empty").push(word);
        }
    }
    out.retain(|c| !c.is_empty());
    out
}

fn as_xtask(command: &[String]) -> Option<XtaskCall> {
    let mut words = command.iter().peekable();
    // Assignments, `env`, `time` and `exec` before the program.
    while let Some(word) = words.peek() {
        let is_assignment = word.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        });
        if is_assignment || matches!(word.as_str(), "env" | "time" | "exec" | "command") {
            words.next();
        } else {
            break;
        }
    }
    if words.next().map(String::as_str) != Some("cargo") {
        return None;
    }
    // `cargo +toolchain xtask`, `cargo --locked xtask`.
    while words.peek().is_some_and(|w| w.starts_with('+') || w.starts_with('-')) {
        words.next();
    }
    if words.next().map(String::as_str) != Some("xtask") {
        return None;
    }
    let mut args = Vec::new();
    let mut skip_next = false;
    for word in words {
        if skip_next {
            skip_next = false;
            continue;
        }
        let redirect = word.trim_start_matches(|c: char| c.is_ascii_digit() || c == '&');
        if redirect.starts_with('>') || redirect.starts_with('<') {
            // `>`, `2>`, `>>` take the next word; `>file`, `2>&1` carry their own.
            skip_next = matches!(redirect, ">" | ">>" | "<" | ">|");
            continue;
        }
        args.push(word.clone());
    }
    Some(XtaskCall { args })
}
