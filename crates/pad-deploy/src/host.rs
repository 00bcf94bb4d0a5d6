//! The transport to one host: run a command line there as the login user, with input
//! streamed in and output (stdout and stderr merged) read back, or start one that keeps
//! running (the lock holder). Two implementations: [`crate::local`] and [`crate::ssh`];
//! [`crate::shell`] runs scripts through them as the service user.

use std::io::{self, Write};
use std::time::Duration;

use crate::{ConnectOptions, DeployError};
use camino::{Utf8Path, Utf8PathBuf};

/// Writes a command's standard input; called once, then the input is closed.
pub(crate) type Feed<'a> = dyn FnMut(&mut dyn Write) -> io::Result<()> + Send + 'a;

/// A finished command.
#[derive(Debug)]
pub(crate) struct Exec {
    /// The exit status; -1 when it was killed by a signal.
    pub(crate) status: i32,
    /// Standard output and standard error, merged.
    pub(crate) output: String,
    /// Writing the input failed (the command ended early, or the connection broke).
    pub(crate) feed_error: Option<io::Error>,
}

/// One host, reached by one transport.
pub(crate) trait Host: Send {
    /// The host's name as the target lists it (`local` for this machine).
    fn name(&self) -> &str;
    /// The account commands run as before `sudo`.
    fn login_user(&self) -> &str;
    /// Runs the command line `command` with the login user's shell.
    fn exec(&mut self, command: &str, feed: Option<&mut Feed<'_>>) -> io::Result<Exec>;
    /// Starts `command` with its standard input open until [`Running::close`].
    fn spawn(&mut self, command: &str) -> io::Result<Box<dyn Running>>;
}

/// A command started by [`Host::spawn`].
pub(crate) trait Running: Send {
    /// The next line of output, without its newline; `None` at the end.
    fn read_line(&mut self) -> io::Result<Option<String>>;
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Closes the command's input and waits for it to end; returns the rest of its output.
    fn close(self: Box<Self>) -> io::Result<String>;
}

/// A target with its variables expanded: what a deploy needs to reach its hosts.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) name: String,
    /// Where this deploy's releases, `current`, lock and history live: the target's
    /// `AIRFLOW_HOME`, or `<AIRFLOW_HOME>/namespaces/<NS>` for a namespace.
    pub(crate) airflow_home: String,
    /// The target's `AIRFLOW_HOME`: the shared store and the `dags` folder Airflow reads.
    pub(crate) root: String,
    /// The namespace, `None` for the plain deploy.
    pub(crate) namespace: Option<String>,
    /// The release's `.pad-release/runtime.json`, which the runtime helper reads.
    pub(crate) runtime_text: String,
    pub(crate) service_user: Option<String>,
    pub(crate) keep: usize,
    /// The release's `.env`, quoted.
    pub(crate) env_text: String,
    pub(crate) hosts: Vec<HostSpec>,
}

#[derive(Debug, Clone)]
pub(crate) enum HostSpec {
    Local,
    Ssh(SshSpec),
}

impl HostSpec {
    pub(crate) fn name(&self) -> &str {
        match self {
            HostSpec::Local => "local",
            HostSpec::Ssh(spec) => &spec.host,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SshSpec {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) identity: Option<Utf8PathBuf>,
    pub(crate) known_hosts: Utf8PathBuf,
    pub(crate) accept_new_host_key: bool,
    pub(crate) io_timeout: Duration,
}

/// Expands a target's variables.
pub(crate) fn resolve(target: &pad_layout::Target, options: &ConnectOptions) -> Result<Resolved, DeployError> {
    let lookup = |name: &str| match &options.vars {
        Some(vars) => vars.get(name).cloned(),
        None => std::env::var(name).ok(),
    };
    let vars_err = |what| move |source| DeployError::Vars { target: target.name.clone(), what, source };
    let config_err = |message: String| DeployError::Config { target: target.name.clone(), message };
    let airflow_home = target.resolve_airflow_home(&options.root, &lookup).map_err(vars_err("`airflow_home`"))?;
    let env = target.resolve_env(&lookup).map_err(vars_err("`[env]`"))?;
    let env_text = crate::plan::env_text(&env).map_err(config_err)?;
    if let Some(ns) = &options.namespace {
        pad_layout::check_namespace(ns).map_err(|why| config_err(format!("--namespace: {why}")))?;
    }
    if let Some(profile) = &options.data_profile {
        pad_layout::check_namespace(profile)
            .map_err(|why| config_err(format!("--data-profile `{profile}`: {}", why.replace("namespace", "name"))))?;
    }
    let ns_name = options.namespace.as_deref().unwrap_or(pad_layout::PLAIN_NAMESPACE);
    let data_root = target.resolve_data_root(&airflow_home, ns_name, &lookup).map_err(vars_err("`data_root`"))?;
    if data_root.is_none() && options.namespace.is_some() {
        let file = target.file.as_ref().map_or_else(|| format!("deploy/{}.toml", target.name), |f| f.to_string());
        return Err(config_err(format!(
            "it has no `data_root`, and a namespace needs its own data root; add the line `data_root = \"/srv/data/${{namespace}}\"` to {file} (a path on the workers; `${{namespace}}` becomes the namespace, `prod` for the plain deploy)"
        )));
    }
    let runtime_text = runtime_json(
        options.namespace.as_deref(),
        data_root.as_deref(),
        options.data_profile.as_deref(),
        &options.artifacts,
    );
    let expand = |text: &str, what| {
        pad_layout::vars::expand(text, &lookup).map(|value| expand_home(&value)).map_err(vars_err(what))
    };
    let hosts = match &target.hosts {
        pad_layout::Hosts::Local => vec![HostSpec::Local],
        pad_layout::Hosts::Remote(hosts) => {
            let user =
                target.ssh_user.clone().ok_or_else(|| config_err("a remote target needs `ssh_user`".to_owned()))?;
            let identity = target.identity.as_deref().map(|i| expand(i, "`identity`")).transpose()?;
            let known_hosts = match &target.known_hosts {
                Some(path) => expand(path, "`known_hosts`")?,
                None => home_dir().map(|home| home.join(".ssh/known_hosts")).ok_or_else(|| {
                    config_err("no home directory for the default known_hosts: set `known_hosts`".into())
                })?,
            };
            hosts
                .iter()
                .map(|host| {
                    HostSpec::Ssh(SshSpec {
                        host: host.clone(),
                        port: target.port,
                        user: user.clone(),
                        identity: identity.clone(),
                        known_hosts: known_hosts.clone(),
                        accept_new_host_key: options.accept_new_host_key,
                        io_timeout: options.io_timeout,
                    })
                })
                .collect()
        }
    };
    if !airflow_home.is_absolute() {
        return Err(config_err(format!("`airflow_home` = `{airflow_home}` is not an absolute path")));
    }
    if target.is_local() {
        let home = real_path(&airflow_home);
        let root = real_path(&options.root);
        if root.starts_with(&home) {
            return Err(config_err(format!(
                "`airflow_home` = `{airflow_home}` is the repository `{root}` or holds it, and a deploy would write releases/, .pad/ and current into it and move its dags/ aside; set AIRFLOW_HOME to a directory of its own (or unset it: the default is target/airflow)"
            )));
        }
    }
    let home = match &options.namespace {
        Some(ns) => airflow_home.join("namespaces").join(ns),
        None => airflow_home.clone(),
    };
    Ok(Resolved {
        name: target.name.clone(),
        airflow_home: home.to_string(),
        root: airflow_home.to_string(),
        namespace: options.namespace.clone(),
        runtime_text,
        service_user: target.service_user.clone(),
        keep: target.keep.max(2),
        env_text,
        hosts,
    })
}

/// The runtime helper's view of a release: its namespace (`prod` for the plain deploy),
/// its data root, its data profile and where its artifacts are cached, as one JSON
/// object on one line.
pub(crate) fn runtime_json(
    namespace: Option<&str>,
    data_root: Option<&Utf8Path>,
    profile: Option<&str>,
    artifacts: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
) -> String {
    let value = serde_json::json!({
        "namespace": namespace.unwrap_or(pad_layout::PLAIN_NAMESPACE),
        "plain": namespace.is_none(),
        "data_root": data_root.map(Utf8Path::as_str),
        "data_profile": profile,
        "artifacts": artifacts,
    });
    format!("{value}\n")
}

/// `path` with its links resolved as far as it exists, the rest appended: where it
/// would be once created.
fn real_path(path: &Utf8Path) -> Utf8PathBuf {
    let mut missing = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(real) = existing.canonicalize_utf8() {
            return missing.iter().rev().fold(real, |acc: Utf8PathBuf, part: &&str| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name);
                existing = parent;
            }
            _ => return path.to_owned(),
        }
    }
}

fn home_dir() -> Option<Utf8PathBuf> {
    std::env::home_dir().and_then(|home| Utf8PathBuf::from_path_buf(home).ok())
}

/// `~/x` with the home directory.
fn expand_home(path: &str) -> Utf8PathBuf {
    match (path.strip_prefix("~/"), home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => Utf8PathBuf::from(path),
    }
}

/// Opens a transport to `spec`.
pub(crate) fn connect(spec: &HostSpec) -> Result<Box<dyn Host>, DeployError> {
    match spec {
        HostSpec::Local => Ok(Box::new(crate::local::LocalHost::new()?)),
        HostSpec::Ssh(spec) => Ok(Box::new(crate::ssh::SshHost::connect(spec)?)),
    }
}
