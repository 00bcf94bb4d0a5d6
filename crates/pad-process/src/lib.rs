//! Child processes, run one way: an explicit working directory, captured output, and
//! errors that show the command line and the tail of what it printed.
//!
//! Every crate of the workspace starts programs (git, uv, python, tar, cargo) through
//! [`Cmd`], so no call depends on the current directory by accident and every failure
//! reads the same. Most run to completion ([`Cmd::run`]); a server or a watched process
//! runs alongside us ([`Cmd::spawn`], [`Running`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::process::ExitStatus;

use camino::{Utf8Path, Utf8PathBuf};

mod spawn;

#[cfg(test)]
mod tests;

pub use spawn::{Piped, Running, Sink};

/// How many trailing lines of a failed command's output an error keeps.
const TAIL_LINES: usize = 40;

/// A command to run: program, arguments, working directory and environment changes.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    dir: Utf8PathBuf,
    /// Variables to set (`Some`) or remove (`None`); the last call for a name wins.
    env: BTreeMap<OsString, Option<OsString>>,
    stdin: Option<Vec<u8>>,
    /// Started by [`Cmd::spawn`] or [`Cmd::spawn_piped`] as the leader of a process
    /// group of its own.
    own_group: bool,
}

/// What a finished command printed.
#[derive(Debug, Clone)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// A finished command whose exit status is the caller's to judge.
#[derive(Debug, Clone)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("`{program}` was not found on PATH (needed to run `{command}`)")]
    NotFound { program: String, command: String },
    #[error("failed to start `{command}` in `{dir}`")]
    Spawn {
        command: String,
        dir: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{command}` failed ({status}) in `{dir}`{}", render_tail(.output))]
    Failed { command: String, dir: Utf8PathBuf, status: ExitStatus, output: String },
    #[error("failed to wait for `{command}`")]
    Wait {
        command: String,
        #[source]
        source: io::Error,
    },
}

impl ProcessError {
    /// The combined output of a command that ran and failed, if it ran.
    pub fn output(&self) -> Option<&str> {
        match self {
            ProcessError::Failed { output, .. } => Some(output),
            _ => None,
        }
    }
}

fn render_tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(TAIL_LINES);
    let mut out = String::from(":");
    if start > 0 {
        out.push_str(&format!("\n  … {start} earlier lines omitted"));
    }
    for line in &lines[start..] {
        out.push_str("\n  ");
        out.push_str(line);
    }
    out
}

impl Cmd {
    /// A command that runs `program` in `dir`.
    pub fn new(program: impl Into<OsString>, dir: &Utf8Path) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            dir: dir.to_owned(),
            env: BTreeMap::new(),
            stdin: None,
            own_group: false,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Cmd {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, A>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Cmd {
        self.env.insert(key.into(), Some(value.into()));
        self
    }

    pub fn env_remove(mut self, key: impl Into<OsString>) -> Cmd {
        self.env.insert(key.into(), None);
        self
    }

    /// Bytes written to the command's standard input.
    pub fn stdin_bytes(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(bytes.into());
        self
    }

    /// When spawned ([`Cmd::spawn`], [`Cmd::spawn_piped`]), the child leads a process
    /// group of its own: a signal to its group (`kill -- -PID`, or `kill 0` from inside)
    /// reaches it and what it started, and nothing of ours.
    pub fn own_process_group(mut self) -> Cmd {
        self.own_group = true;
        self
    }

    pub fn dir(&self) -> &Utf8Path {
        &self.dir
    }

    /// Runs the command with output captured; a non-zero exit is an error that carries
    /// the combined output.
    pub fn run(&self) -> Result<Output, ProcessError> {
        let Finished { status, stdout, stderr } = self.run_unchecked()?;
        if !status.success() {
            let mut combined = stdout;
            if !combined.is_empty() && !combined.ends_with('\n') {
                combined.push('\n');
            }
            combined.push_str(&stderr);
            return Err(ProcessError::Failed {
                command: self.to_string(),
                dir: self.dir.clone(),
                status,
                output: combined,
            });
        }
        Ok(Output { stdout, stderr })
    }

    /// Runs the command with output captured, whatever its exit status; only a command
    /// that cannot start is an error.
    pub fn run_unchecked(&self) -> Result<Finished, ProcessError> {
        tracing::debug!(dir = %self.dir, "running {self}");
        let output = self
            .expression()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|source| self.spawn_error(source))?;
        Ok(Finished {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Runs the command and returns its standard output with surrounding whitespace trimmed.
    pub fn read(&self) -> Result<String, ProcessError> {
        Ok(self.run()?.stdout.trim().to_owned())
    }

    /// Runs the command with stdout and stderr going where ours go, for long steps whose
    /// output a person watches (a compiler, a test runner).
    pub fn run_inherit(&self) -> Result<(), ProcessError> {
        tracing::debug!(dir = %self.dir, "running {self}");
        let status = self.expression().unchecked().run().map_err(|source| self.spawn_error(source))?.status;
        if !status.success() {
            return Err(ProcessError::Failed {
                command: self.to_string(),
                dir: self.dir.clone(),
                status,
                output: String::new(),
            });
        }
        Ok(())
    }

    fn expression(&self) -> duct::Expression {
        let mut expression = duct::cmd(&self.program, &self.args).dir(self.dir.as_std_path());
        for (key, value) in &self.env {
            expression = match value {
                Some(value) => expression.env(key, value),
                None => expression.env_remove(key),
            };
        }
        match &self.stdin {
            Some(bytes) => expression.stdin_bytes(bytes.clone()),
            None => expression.stdin_null(),
        }
    }

    fn spawn_error(&self, source: io::Error) -> ProcessError {
        if source.kind() == io::ErrorKind::NotFound && self.dir.is_dir() {
            ProcessError::NotFound { program: self.program.to_string_lossy().into_owned(), command: self.to_string() }
        } else {
            ProcessError::Spawn { command: self.to_string(), dir: self.dir.clone(), source }
        }
    }
}

/// Shows the command as a person would type it in a POSIX shell.
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shell_quote(&self.program.to_string_lossy()))?;
        for arg in &self.args {
            f.write_str(" ")?;
            f.write_str(&shell_quote(&arg.to_string_lossy()))?;
        }
        Ok(())
    }
}

/// Quotes one word for a POSIX shell: unchanged when it is made only of characters no
/// shell treats specially, otherwise in single quotes with embedded quotes escaped.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%^".contains(&b));
    if plain { word.to_owned() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}
