//! The local transport: command lines run here with `sh -c`, as the current user
//! ([`crate::shell`] wraps them in `sudo -n -u` when the target names a service user).
//!
//! Commands are started with `std::process::Command` rather than `pad_process::Cmd`
//! because their input is streamed (an upload can be larger than memory) and the lock
//! holder keeps running while other commands run.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

use camino::Utf8Path;

use crate::DeployError;
use crate::host::{Exec, Feed, Host, Running};

pub(crate) struct LocalHost {
    login_user: String,
}

impl LocalHost {
    pub(crate) fn new() -> Result<LocalHost, DeployError> {
        let login_user = pad_process::Cmd::new("id", Utf8Path::new("/")).arg("-un").read().map_err(|err| {
            DeployError::Connect { host: "local".to_owned(), port: 0, source: io::Error::other(err.to_string()) }
        })?;
        Ok(LocalHost { login_user })
    }
}

/// `sh -c command` with stdout and stderr into one pipe.
///
/// Each command gets a process group of its own, so a script that stops its group (see
/// `script::GUARD`) stops only itself.
fn start(command: &str, stdin: Stdio) -> io::Result<(Child, io::PipeReader)> {
    use std::os::unix::process::CommandExt as _;
    let (reader, writer) = io::pipe()?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command).current_dir("/").stdin(stdin).stdout(writer.try_clone()?).stderr(writer);
    cmd.process_group(0);
    let child = cmd.spawn()?;
    // `cmd` holds the pipe's write ends: drop them, or reading would never end.
    drop(cmd);
    Ok((child, reader))
}

fn status_code(status: std::process::ExitStatus) -> i32 {
    status.code().unwrap_or(-1)
}

impl Host for LocalHost {
    fn name(&self) -> &str {
        "local"
    }

    fn login_user(&self) -> &str {
        &self.login_user
    }

    fn exec(&mut self, command: &str, feed: Option<&mut Feed<'_>>) -> io::Result<Exec> {
        // Without input the pipe stays open, unwritten, until the command ends: scripts
        // take its end as the client's death.
        let (mut child, mut reader) = start(command, Stdio::piped())?;
        let mut stdin = child.stdin.take();
        let idle = if feed.is_none() { stdin.take() } else { None };
        let mut output = Vec::new();
        let feed_error = std::thread::scope(|scope| {
            let writer = feed.zip(stdin).map(|(feed, mut stdin)| {
                scope.spawn(move || {
                    let result = feed(&mut stdin).and_then(|()| stdin.flush());
                    drop(stdin);
                    result.err()
                })
            });
            let read = reader.read_to_end(&mut output);
            let feed_error = writer.and_then(|w| w.join().unwrap_or_else(|_| Some(io::Error::other("input panicked"))));
            read.err().or(feed_error)
        });
        let status = child.wait()?;
        drop(idle);
        Ok(Exec { status: status_code(status), output: String::from_utf8_lossy(&output).into_owned(), feed_error })
    }

    fn spawn(&mut self, command: &str) -> io::Result<Box<dyn Running>> {
        let (mut child, reader) = start(command, Stdio::piped())?;
        let stdin = child.stdin.take();
        Ok(Box::new(LocalRunning { child, stdin, reader: BufReader::new(reader) }))
    }
}

struct LocalRunning {
    child: Child,
    stdin: Option<ChildStdin>,
    reader: BufReader<io::PipeReader>,
}

impl Running for LocalRunning {
    fn read_line(&mut self) -> io::Result<Option<String>> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches('\n').to_owned()))
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stdin = self.stdin.as_mut().ok_or_else(|| io::Error::other("input already closed"))?;
        stdin.write_all(bytes)?;
        stdin.flush()
    }

    fn close(mut self: Box<Self>) -> io::Result<String> {
        drop(self.stdin.take());
        let mut rest = String::new();
        self.reader.read_to_string(&mut rest)?;
        self.child.wait()?;
        Ok(rest)
    }
}

impl Drop for LocalRunning {
    fn drop(&mut self) {
        // Closing the input ends the holder; reap it so no zombie stays behind.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}
