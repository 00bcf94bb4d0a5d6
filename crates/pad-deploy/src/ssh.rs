//! The SSH transport (`ssh2`, libssh2): host keys checked against known_hosts, key or
//! agent authentication, and exec channels whose stderr is merged into stdout so that
//! reading never deadlocks on a full stderr window.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use camino::Utf8Path;
#[cfg(test)]
use camino::Utf8PathBuf;
use ssh2::{CheckResult, ExtendedData, HashType, HostKeyType, KnownHostFileKind, MethodType, Session};

use crate::DeployError;
use crate::host::{Exec, Feed, Host, Running, SshSpec};

pub(crate) struct SshHost {
    name: String,
    user: String,
    session: Session,
    io_timeout: Duration,
}

/// The shortest session timeout: long scripts tick every 2 s.
const MIN_IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Host key algorithms libssh2 offers when known_hosts says nothing of the host.
const HOST_KEY_METHODS: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
];

impl SshHost {
    pub(crate) fn connect(spec: &SshSpec) -> Result<SshHost, DeployError> {
        let host = spec.host.clone();
        let ssh_err = |action: &str| {
            let host = host.clone();
            let action = action.to_owned();
            move |source| DeployError::Ssh { host, action, source }
        };
        let connect_err = |source| DeployError::Connect { host: host.clone(), port: spec.port, source };
        let address = (bare_host(&spec.host), spec.port)
            .to_socket_addrs()
            .map_err(connect_err)?
            .next()
            .ok_or_else(|| connect_err(io::Error::new(io::ErrorKind::NotFound, "the name has no address")))?;
        let timeout = spec.io_timeout.max(MIN_IO_TIMEOUT);
        let tcp = TcpStream::connect_timeout(&address, timeout.min(Duration::from_secs(20))).map_err(connect_err)?;
        let _ = tcp.set_nodelay(true);

        let mut session = Session::new().map_err(ssh_err("start a session"))?;
        session.set_tcp_stream(tcp);
        session.set_timeout(u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX));
        let _ = session.method_pref(MethodType::HostKey, &host_key_methods(&spec.known_hosts, &spec.host, spec.port));
        session.handshake().map_err(ssh_err("complete the handshake"))?;
        check_host_key(&session, spec)?;
        authenticate(&session, spec)?;
        // No libssh2 keepalive: with one set, a blocking read polls only until the next
        // keepalive is due and then fails with "Timed out waiting on socket", however
        // healthy the host. A lost host shows up through the session timeout instead:
        // long scripts print a tick every 2 s, so no read waits that long on a live one.
        Ok(SshHost { name: spec.host.clone(), user: spec.user.clone(), session, io_timeout: timeout })
    }

    fn channel(&self, command: &str) -> io::Result<ssh2::Channel> {
        let mut channel = self.session.channel_session()?;
        channel.handle_extended_data(ExtendedData::Merge)?;
        channel.exec(command)?;
        Ok(channel)
    }
}

/// `host` without the brackets of an IPv6 literal.
fn bare_host(host: &str) -> &str {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}

/// How known_hosts names a host on `port`.
fn known_hosts_pattern(host: &str, port: u16) -> String {
    if port == 22 { bare_host(host).to_owned() } else { format!("[{}]:{port}", bare_host(host)) }
}

/// The host key algorithms to offer: those known_hosts lists for the host first, so the
/// host presents a key we can check.
fn host_key_methods(known_hosts: &Utf8Path, host: &str, port: u16) -> String {
    let pattern = known_hosts_pattern(host, port);
    let mut methods: Vec<&str> = Vec::new();
    let text = fs::read_to_string(known_hosts).unwrap_or_default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(hosts), Some(key_type)) = (fields.next(), fields.next()) else { continue };
        if hosts.split(',').any(|h| h == pattern)
            && let Some(method) = HOST_KEY_METHODS.iter().find(|m| **m == key_type)
        {
            if *method == "ssh-rsa" {
                methods.extend(["rsa-sha2-512", "rsa-sha2-256"]);
            }
            methods.push(method);
        }
    }
    for method in HOST_KEY_METHODS {
        if !methods.contains(method) {
            methods.push(method);
        }
    }
    methods.join(",")
}

fn key_names(key_type: HostKeyType) -> (&'static str, &'static str) {
    match key_type {
        HostKeyType::Rsa => ("ssh-rsa", "rsa"),
        HostKeyType::Dss => ("ssh-dss", "dsa"),
        HostKeyType::Ecdsa256 => ("ecdsa-sha2-nistp256", "ecdsa"),
        HostKeyType::Ecdsa384 => ("ecdsa-sha2-nistp384", "ecdsa"),
        HostKeyType::Ecdsa521 => ("ecdsa-sha2-nistp521", "ecdsa"),
        HostKeyType::Ed25519 => ("ssh-ed25519", "ed25519"),
        HostKeyType::Unknown => ("unknown", "*"),
    }
}

fn check_host_key(session: &Session, spec: &SshSpec) -> Result<(), DeployError> {
    let host = &spec.host;
    let ssh_err = |action: &str| {
        let action = action.to_owned();
        move |source| DeployError::Ssh { host: host.clone(), action, source }
    };
    let (key, key_type) = session.host_key().ok_or_else(|| DeployError::Protocol {
        host: host.clone(),
        step: crate::Step::Connect,
        output: "no host key".into(),
    })?;
    let fingerprint = session.host_key_hash(HashType::Sha256).map(fingerprint).unwrap_or_default();
    let (type_name, key_file) = key_names(key_type);
    let mut known = session.known_hosts().map_err(ssh_err("read known hosts"))?;
    if spec.known_hosts.exists() {
        known
            .read_file(spec.known_hosts.as_std_path(), KnownHostFileKind::OpenSSH)
            .map_err(ssh_err(&format!("read `{}`", spec.known_hosts)))?;
    }
    let pattern = known_hosts_pattern(host, spec.port);
    match known.check_port(bare_host(host), spec.port, key) {
        CheckResult::Match => Ok(()),
        CheckResult::Mismatch => Err(DeployError::ChangedHostKey {
            host: host.clone(),
            pattern,
            key_type: type_name.to_owned(),
            fingerprint,
            known_hosts: spec.known_hosts.clone(),
        }),
        CheckResult::NotFound | CheckResult::Failure if spec.accept_new_host_key => {
            known.add(&pattern, key, "added by pad-deploy", key_type.into()).map_err(ssh_err("add the host key"))?;
            let entry = known
                .hosts()
                .map_err(ssh_err("list known hosts"))?
                .into_iter()
                .rfind(|h| h.name() == Some(pattern.as_str()))
                .ok_or_else(|| DeployError::Protocol {
                    host: host.clone(),
                    step: crate::Step::Connect,
                    output: "the new known_hosts entry is missing".into(),
                })?;
            let line =
                known.write_string(&entry, KnownHostFileKind::OpenSSH).map_err(ssh_err("format the host key"))?;
            append_line(&spec.known_hosts, line.trim_end()).map_err(|source| DeployError::RecordHostKey {
                host: host.clone(),
                known_hosts: spec.known_hosts.clone(),
                source,
            })?;
            tracing::info!(%host, %fingerprint, "recorded a new host key in {}", spec.known_hosts);
            Ok(())
        }
        CheckResult::NotFound | CheckResult::Failure => Err(DeployError::UnknownHostKey {
            host: host.clone(),
            host_only: bare_host(host).to_owned(),
            port: spec.port,
            key_type: type_name.to_owned(),
            key_file: key_file.to_owned(),
            fingerprint,
            known_hosts: spec.known_hosts.clone(),
        }),
    }
}

/// Appends one line to a known_hosts file, creating it (and `~/.ssh`) when missing.
fn append_line(path: &Utf8Path, line: &str) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut file = fs::OpenOptions::new().create(true).append(true).open(path)?;
    let needs_newline = fs::read(path).map(|b| !b.is_empty() && !b.ends_with(b"\n")).unwrap_or(false);
    if needs_newline {
        file.write_all(b"\n")?;
    }
    writeln!(file, "{line}")?;
    file.sync_all()
}

/// `SHA256:<base64 without padding>`, as `ssh-keygen -l` shows it.
pub(crate) fn fingerprint(hash: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::from("SHA256:");
    for chunk in hash.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn authenticate(session: &Session, spec: &SshSpec) -> Result<(), DeployError> {
    let mut tried = Vec::new();
    match &spec.identity {
        Some(identity) => {
            if !identity.exists() {
                tried.push(format!("key file `{identity}`, which does not exist"));
            } else if let Err(err) = session.userauth_pubkey_file(&spec.user, None, identity.as_std_path(), None) {
                tried.push(format!("key file `{identity}` ({})", err.message()));
            }
        }
        None => {
            match session.userauth_agent(&spec.user) {
                Ok(()) => {}
                Err(err) => tried.push(format!("ssh-agent ({})", err.message())),
            }
            if !session.authenticated()
                && let Some(home) = std::env::home_dir()
            {
                for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
                    let key = home.join(".ssh").join(name);
                    if !key.exists() {
                        continue;
                    }
                    match session.userauth_pubkey_file(&spec.user, None, Path::new(&key), None) {
                        Ok(()) => break,
                        Err(err) => tried.push(format!("key file `{}` ({})", key.display(), err.message())),
                    }
                }
            }
        }
    }
    if session.authenticated() {
        return Ok(());
    }
    Err(DeployError::Auth { host: spec.host.clone(), user: spec.user.clone(), tried: tried.join(", ") })
}

/// The exit status of a closed channel; -1 when the command died of a signal or the
/// server sent none.
fn exit_status(channel: &ssh2::Channel) -> i32 {
    match channel.exit_signal() {
        Ok(signal) if signal.exit_signal.is_some() => -1,
        _ => channel.exit_status().unwrap_or(-1),
    }
}

impl Host for SshHost {
    fn name(&self) -> &str {
        &self.name
    }

    fn login_user(&self) -> &str {
        &self.user
    }

    fn exec(&mut self, command: &str, feed: Option<&mut Feed<'_>>) -> io::Result<Exec> {
        let mut channel = self.channel(command)?;
        let mut feed_error = None;
        if let Some(feed) = feed {
            // The commands that take input print little while reading it, so their
            // output fits the channel window until the input is written.
            if let Err(err) = feed(&mut channel).and_then(|()| channel.flush()) {
                feed_error = Some(err);
            }
            let _ = channel.send_eof();
        }
        let mut output = Vec::new();
        let read = channel.read_to_end(&mut output);
        let _ = channel.wait_close();
        if let Err(err) = read {
            // A lost connection: the command's fate is unknown.
            return Err(silence(feed_error.unwrap_or(err), self.io_timeout));
        }
        Ok(Exec { status: exit_status(&channel), output: String::from_utf8_lossy(&output).into_owned(), feed_error })
    }

    fn spawn(&mut self, command: &str) -> io::Result<Box<dyn Running>> {
        let channel = self.channel(command)?;
        Ok(Box::new(SshRunning { reader: BufReader::new(channel), io_timeout: self.io_timeout }))
    }
}

/// A session timeout in words a user can act on.
fn silence(err: io::Error, io_timeout: Duration) -> io::Error {
    if err.kind() != io::ErrorKind::TimedOut {
        return err;
    }
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "the host answered nothing for {}s, so it or the network is taken as lost \
             (a slower link needs a longer I/O timeout: --io-timeout)",
            io_timeout.as_secs()
        ),
    )
}

struct SshRunning {
    reader: BufReader<ssh2::Channel>,
    io_timeout: Duration,
}

impl Running for SshRunning {
    fn read_line(&mut self) -> io::Result<Option<String>> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).map_err(|e| silence(e, self.io_timeout))? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches('\n').to_owned()))
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let channel = self.reader.get_mut();
        channel.write_all(bytes)?;
        channel.flush()
    }

    fn close(mut self: Box<Self>) -> io::Result<String> {
        self.reader.get_mut().send_eof()?;
        let mut rest = String::new();
        self.reader.read_to_string(&mut rest)?;
        let _ = self.reader.get_mut().wait_close();
        Ok(rest)
    }
}

#[cfg(test)]
pub(crate) fn known_hosts_line_pattern(host: &str, port: u16) -> String {
    known_hosts_pattern(host, port)
}

#[cfg(test)]
pub(crate) fn offered_methods(known_hosts: &Utf8PathBuf, host: &str, port: u16) -> String {
    host_key_methods(known_hosts, host, port)
}
