//! A server started for a test or a benchmark: a long-running child whose output goes
//! to a log, waited for until it listens on its port, and stopped when dropped.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use pad_process::{Cmd, Running, Sink};

use crate::KitError;
use crate::error::{Context as _, failed};

/// How long a server may take to listen.
const STARTUP: Duration = Duration::from_secs(30);
/// How long a server asked to stop with TERM has before it is killed.
const GRACE: Duration = Duration::from_secs(5);

/// How a server is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// TERM, then KILL after a grace: for a server that must stop what it started
    /// (nginx's master its workers, which a KILL would leave running).
    Term,
    /// KILL at once.
    Kill,
}

/// A running server: its process and its log.
#[derive(Debug)]
pub struct Server {
    name: String,
    child: Running,
    log: Utf8PathBuf,
    stop: Stop,
}

impl Server {
    /// Starts `command` with its output in `<its directory>/<name>.log`.
    pub fn spawn(name: &str, command: &Cmd, stop: Stop) -> Result<Server, KitError> {
        let log = command.dir().join(format!("{name}.log"));
        let out = File::create(&log).with_context(|| format!("creating {log}"))?;
        let err = out.try_clone().with_context(|| format!("opening {log}"))?;
        let child = command.spawn(Sink::File(out), Sink::File(err)).with_context(|| format!("starting {name}"))?;
        Ok(Server { name: name.to_owned(), child, log, stop })
    }

    /// Waits until the server accepts connections on `port` of 127.0.0.1; fails with its
    /// log when it exits first or takes too long.
    pub fn wait_for(&mut self, port: u16) -> Result<(), KitError> {
        let start = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(failed(format!(
                    "{} exited ({status}) before listening on port {port}; its log:\n{}",
                    self.name,
                    self.log_text()
                )));
            }
            if start.elapsed() > STARTUP {
                return Err(failed(format!(
                    "{} did not listen on port {port} within {STARTUP:?}; its log:\n{}",
                    self.name,
                    self.log_text()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the server printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match self.stop {
            Stop::Term => self.child.stop(GRACE),
            Stop::Kill => self.child.kill(),
        }
    }
}

/// A port of 127.0.0.1 nobody listens on now.
pub fn free_port() -> Result<u16, KitError> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port on 127.0.0.1")?;
    Ok(listener.local_addr().context("finding a free port on 127.0.0.1")?.port())
}

/// Two different free ports, held at once while they are chosen.
pub fn free_ports() -> Result<(u16, u16), KitError> {
    let bind = || TcpListener::bind("127.0.0.1:0").context("finding a free port on 127.0.0.1");
    let (a, b) = (bind()?, bind()?);
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).context("finding a free port on 127.0.0.1");
    Ok((port(&a)?, port(&b)?))
}
