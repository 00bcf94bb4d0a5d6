//! Children that run alongside us rather than to completion: a server for the length of a
//! test, a process whose memory is watched while it works. [`Cmd::spawn`] starts one;
//! [`Running`] waits for it, stops it (TERM, then KILL) and always reaps it.
//! [`Cmd::spawn_piped`] starts one we talk to: its input ours to write, its output (stdout
//! and stderr merged, in order) ours to read as it comes; [`Piped`] reaps it.
//!
//! The one module that builds a `std::process::Command` (clippy's `disallowed_methods`
//! forbids it elsewhere): everything else runs through `duct` in `lib.rs`.

use std::fs::File;
use std::io::{self, PipeReader};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use camino::Utf8Path;

use crate::{Cmd, ProcessError};

#[cfg(test)]
mod tests;

/// How often [`Running::stop`] looks whether the child has exited.
const POLL: Duration = Duration::from_millis(20);

/// Where a spawned child's standard output or standard error goes.
#[derive(Debug)]
pub enum Sink {
    /// Nowhere.
    Null,
    /// Where ours goes.
    Inherit,
    /// A file the caller opened (`File::try_clone` sends both streams to one log).
    File(File),
}

impl Sink {
    fn stdio(self) -> Stdio {
        match self {
            Sink::Null => Stdio::null(),
            Sink::Inherit => Stdio::inherit(),
            Sink::File(file) => Stdio::from(file),
        }
    }
}

/// A child started by [`Cmd::spawn`]. Dropped while it still runs, it is killed and
/// reaped, so a failing caller leaves no process behind.
#[derive(Debug)]
pub struct Running {
    child: Child,
    command: String,
    exited: bool,
}

impl Cmd {
    /// Starts the command and returns at once, its standard input empty and its output
    /// where `stdout` and `stderr` say.
    pub fn spawn(&self, stdout: Sink, stderr: Sink) -> Result<Running, ProcessError> {
        tracing::debug!(dir = %self.dir, "starting {self}");
        let child = self
            .command()
            .stdin(Stdio::null())
            .stdout(stdout.stdio())
            .stderr(stderr.stdio())
            .spawn()
            .map_err(|source| self.spawn_error(source))?;
        Ok(Running { child, command: self.to_string(), exited: false })
    }

    /// Starts the command and returns at once, with its standard input a pipe we write
    /// and its standard output and error one pipe we read, so what it prints arrives in
    /// the order it printed it: for a script fed a stream, or one that runs while its
    /// input stays open.
    pub fn spawn_piped(&self) -> Result<Piped, ProcessError> {
        tracing::debug!(dir = %self.dir, "starting {self}");
        let spawn_error = |source| self.spawn_error(source);
        let (output, writer) = io::pipe().map_err(spawn_error)?;
        let mut command = self.command();
        command.stdin(Stdio::piped()).stdout(writer.try_clone().map_err(spawn_error)?).stderr(writer);
        let mut child = command.spawn().map_err(spawn_error)?;
        // `command` holds the pipe's write ends: without dropping it, reading would
        // never end.
        drop(command);
        let stdin = child.stdin.take();
        Ok(Piped { child, stdin, output, command: self.to_string() })
    }

    /// The `std` command for this one: program, arguments, directory, environment and
    /// process group; the caller sets the standard streams.
    // The workspace's one `Command::new`: pad-process is where every child starts, and
    // clippy.toml forbids it everywhere else.
    #[allow(clippy::disallowed_methods)]
    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args).current_dir(&self.dir);
        for (key, value) in &self.env {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        if self.own_group {
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
        }
        command
    }
}

/// A child started by [`Cmd::spawn_piped`]. Dropped, its input is closed and it is
/// waited for (not killed: a child that ends when its input does, ends).
#[derive(Debug)]
pub struct Piped {
    child: Child,
    /// Its standard input, until taken or closed.
    pub stdin: Option<ChildStdin>,
    /// Its standard output and standard error, merged.
    pub output: PipeReader,
    command: String,
}

impl Piped {
    /// The child's process ID.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Closes the child's input (if still open) and waits for it to exit.
    pub fn wait(&mut self) -> Result<ExitStatus, ProcessError> {
        drop(self.stdin.take());
        self.child.wait().map_err(|source| ProcessError::Wait { command: self.command.clone(), source })
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl Running {
    /// The child's process ID.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child's exit status if it has exited, without waiting.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, ProcessError> {
        let status = self.child.try_wait().map_err(|source| self.wait_error(source))?;
        self.exited |= status.is_some();
        Ok(status)
    }

    /// Waits for the child to exit.
    pub fn wait(&mut self) -> Result<ExitStatus, ProcessError> {
        let status = self.child.wait().map_err(|source| self.wait_error(source))?;
        self.exited = true;
        Ok(status)
    }

    /// Stops the child and reaps it: `TERM` first, which lets a server stop what it
    /// started (nginx's master its workers, which a `KILL` would leave running), then
    /// `KILL` when it is still there after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if self.exited {
            return;
        }
        let pid = self.id().to_string();
        if Cmd::new("kill", Utf8Path::new("/")).args(["-TERM", &pid]).run().is_ok() {
            let started = Instant::now();
            while started.elapsed() < grace {
                if matches!(self.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(POLL);
            }
        }
        self.kill();
    }

    /// Lets the child run on after this value and this process are gone (a service
    /// that outlives the command that started it) and returns its process ID: it is
    /// no longer killed when dropped, and stopping it is the caller's, by that ID.
    pub fn detach(mut self) -> u32 {
        self.exited = true;
        self.id()
    }

    /// Kills the child at once and reaps it.
    pub fn kill(&mut self) {
        if self.exited {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.exited = true;
    }

    fn wait_error(&self, source: std::io::Error) -> ProcessError {
        ProcessError::Wait { command: self.command.clone(), source }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}
