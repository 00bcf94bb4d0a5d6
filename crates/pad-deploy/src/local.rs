//! The local transport: commands run here with `sh -c` (the [`crate::shell::Shell`] above
//! it adds `sudo -n -u` when the target names a service user).
//!
//! Commands are started with `pad_process::Cmd::spawn_piped` rather than run to
//! completion, because their input is streamed (an upload can be larger than memory)
//! and the lock holder keeps running while other commands run. Each gets a process
//! group of its own, so a script that stops its group (see the scripts' guard) stops
//! only itself.

use std::io::{self, BufRead, BufReader, Read, Write};

use camino::Utf8Path;
use pad_process::{Cmd, Piped};

use crate::DeployError;
use crate::host::{Exec, Feed, Host, Running};

pub(crate) struct LocalHost {
    login_user: String,
}

impl LocalHost {
    pub(crate) fn new() -> Result<LocalHost, DeployError> {
        let login_user = Cmd::new("id", Utf8Path::new("/")).arg("-un").read().map_err(|err| DeployError::Connect {
            host: "local".to_owned(),
            port: 0,
            source: io::Error::other(err.to_string()),
        })?;
        Ok(LocalHost { login_user })
    }
}

/// `sh -c command` in `/`, in a process group of its own, its input and merged output piped.
fn start(command: &str) -> io::Result<Piped> {
    Cmd::new("sh", Utf8Path::new("/"))
        .args(["-c", command])
        .own_process_group()
        .spawn_piped()
        .map_err(|err| io::Error::other(err.to_string()))
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
        let mut child = start(command)?;
        // Without input the pipe stays open, unwritten, until the command ends: scripts
        // take its end as the client's death.
        let stdin = child.stdin.take();
        let (fed, idle) = match feed {
            Some(feed) => (Some(feed).zip(stdin), None),
            None => (None, stdin),
        };
        let mut output = Vec::new();
        let feed_error = std::thread::scope(|scope| {
            let writer = fed.map(|(feed, mut stdin)| {
                scope.spawn(move || {
                    let result = feed(&mut stdin).and_then(|()| stdin.flush());
                    drop(stdin);
                    result.err()
                })
            });
            let read = child.output.read_to_end(&mut output);
            let feed_error = writer.and_then(|w| w.join().unwrap_or_else(|_| Some(io::Error::other("input panicked"))));
            read.err().or(feed_error)
        });
        let status = child.wait().map_err(|err| io::Error::other(err.to_string()))?;
        drop(idle);
        Ok(Exec { status: status_code(status), output: String::from_utf8_lossy(&output).into_owned(), feed_error })
    }

    fn spawn(&mut self, command: &str) -> io::Result<Box<dyn Running>> {
        let child = start(command)?;
        let reader = BufReader::new(child.output.try_clone()?);
        Ok(Box::new(LocalRunning { child, reader }))
    }
}

struct LocalRunning {
    /// Dropped, its input is closed, which ends the holder, and it is reaped.
    child: Piped,
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
        let stdin = self.child.stdin.as_mut().ok_or_else(|| io::Error::other("input already closed"))?;
        stdin.write_all(bytes)?;
        stdin.flush()
    }

    fn close(mut self: Box<Self>) -> io::Result<String> {
        drop(self.child.stdin.take());
        let mut rest = String::new();
        self.reader.read_to_string(&mut rest)?;
        self.child.wait().map_err(|err| io::Error::other(err.to_string()))?;
        Ok(rest)
    }
}
