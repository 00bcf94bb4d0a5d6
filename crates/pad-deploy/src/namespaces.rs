//! `namespace list` and `namespace rm` on every host of a target: what each namespace
//! holds, and taking one out (under its deploy lock, so never while it is deployed).

use std::time::Duration;

use pad_layout::Target;
use serde::Serialize;

use crate::classify::check;
use crate::clock::nonce;
use crate::host::{HostSpec, Resolved, resolve};
use crate::lock::HeldLock;
use crate::run::owner;
use crate::scripts::{self, NamespaceLine};
use crate::shell::Shell;
use crate::{ConnectOptions, DeployError, Progress, Step};

/// One namespace on a host; `prod` is the plain deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceInfo {
    pub name: String,
    /// Whether this is the plain deploy (`prod`), which `namespace rm` never removes.
    pub plain: bool,
    /// The release `current` points at.
    pub release: Option<String>,
    /// When it last switched, seconds since the Unix epoch.
    pub switched_at: Option<u64>,
    /// Seconds since then, by the host's clock.
    pub age_secs: Option<u64>,
    /// Bytes its releases take on disk (files shared with other namespaces through the
    /// store are counted in each; environments linked from the host's tested copies in
    /// `.pad/envs/` are not).
    pub size_bytes: u64,
}

/// The namespaces of one host.
#[derive(Debug, Serialize)]
pub struct HostNamespaces {
    pub host: String,
    pub namespaces: Vec<NamespaceInfo>,
    #[serde(serialize_with = "crate::serialize_error")]
    pub error: Option<DeployError>,
}

/// Which namespaces `namespace rm` removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// This one (an error, with nothing removed, when no host has it).
    Named(String),
    /// Every namespace that last switched longer ago than this, or never did.
    OlderThan(Duration),
}

/// What `namespace rm` did on one host.
#[derive(Debug, Serialize)]
pub struct HostRemoval {
    pub host: String,
    pub removed: Vec<String>,
    #[serde(serialize_with = "crate::serialize_error")]
    pub error: Option<DeployError>,
}

/// Lists the plain deploy and every namespace on each host of `target`.
pub fn list_namespaces(target: &Target, options: &ConnectOptions) -> Result<Vec<HostNamespaces>, DeployError> {
    let resolved = plain(target, options)?;
    Ok(per_host(&resolved, |spec| {
        let host = spec.name().to_owned();
        match list_host(spec, &resolved) {
            Ok(namespaces) => HostNamespaces { host, namespaces, error: None },
            Err(err) => HostNamespaces { host, namespaces: Vec::new(), error: Some(err) },
        }
    }))
}

/// Removes namespaces from every host of `target`: their DAG links, releases and
/// `current`, each under its deploy lock; then the store objects no release uses. A
/// named namespace no host has is an error, and nothing is removed.
pub fn remove_namespaces(
    target: &Target,
    options: &ConnectOptions,
    which: &Removal,
    progress: &dyn Progress,
) -> Result<Vec<HostRemoval>, DeployError> {
    let resolved = plain(target, options)?;
    if let Removal::Named(name) = which {
        pad_layout::check_namespace(name)
            .map_err(|why| DeployError::Config { target: target.name.clone(), message: why })?;
        let listed = list_namespaces(target, options)?;
        let found = listed.iter().any(|h| h.namespaces.iter().any(|n| !n.plain && &n.name == name));
        if !found {
            let mut known: Vec<String> =
                listed.iter().flat_map(|h| h.namespaces.iter().filter(|n| !n.plain).map(|n| n.name.clone())).collect();
            known.sort();
            known.dedup();
            let errors: Vec<String> =
                listed.iter().filter_map(|h| h.error.as_ref().map(|e| pad_layout::error_chain(e))).collect();
            return Err(DeployError::NoSuchNamespace {
                target: target.name.clone(),
                name: name.clone(),
                known: if known.is_empty() { "none".into() } else { known.join(", ") },
                unreachable: if errors.is_empty() {
                    String::new()
                } else {
                    format!(" (not listed: {})", errors.join("; "))
                },
            });
        }
    }
    let owner = owner();
    Ok(per_host(&resolved, |spec| {
        let host = spec.name().to_owned();
        let mut removed = Vec::new();
        let error = remove_host(spec, &resolved, options, which, &owner, progress, &mut removed).err();
        HostRemoval { host, removed, error }
    }))
}

/// The target resolved for its plain deploy: `AIRFLOW_HOME` itself.
fn plain(target: &Target, options: &ConnectOptions) -> Result<Resolved, DeployError> {
    let options =
        ConnectOptions { namespace: None, data_profile: None, artifacts: Default::default(), ..options.clone() };
    resolve(target, &options)
}

fn per_host<T: Send>(resolved: &Resolved, run: impl Fn(&HostSpec) -> T + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = resolved.hosts.iter().map(|spec| scope.spawn(|| run(spec))).collect();
        handles.into_iter().map(|h| h.join().expect("a host's task panicked")).collect()
    })
}

fn read_lines(shell: &mut Shell, resolved: &Resolved) -> Result<(Option<u64>, Vec<NamespaceLine>), DeployError> {
    let exec = shell.run(Step::Inspect, &scripts::ListNamespaces { root: &resolved.root }.text(), None)?;
    let exec = check(shell.name(), &resolved.root, Step::Inspect, exec)?;
    Ok(scripts::ListNamespaces::parse(&exec.output))
}

fn list_host(spec: &HostSpec, resolved: &Resolved) -> Result<Vec<NamespaceInfo>, DeployError> {
    let mut shell = Shell::connect(spec, resolved)?;
    shell.check_access()?;
    let (now, lines) = read_lines(&mut shell, resolved)?;
    Ok(lines
        .into_iter()
        .map(|line| NamespaceInfo {
            plain: line.name == pad_layout::PLAIN_NAMESPACE,
            age_secs: match (now, line.switched_at) {
                (Some(now), Some(at)) => Some(now.saturating_sub(at)),
                _ => None,
            },
            name: line.name,
            release: line.current,
            switched_at: line.switched_at,
            size_bytes: line.kib * 1024,
        })
        .collect())
}

fn remove_host(
    spec: &HostSpec,
    resolved: &Resolved,
    options: &ConnectOptions,
    which: &Removal,
    owner: &str,
    progress: &dyn Progress,
    removed: &mut Vec<String>,
) -> Result<(), DeployError> {
    let name = spec.name().to_owned();
    let mut shell = Shell::connect(spec, resolved)?;
    shell.check_access()?;
    let (now, lines) = read_lines(&mut shell, resolved)?;
    let doomed: Vec<String> = lines
        .iter()
        .filter(|l| l.name != pad_layout::PLAIN_NAMESPACE)
        .filter(|l| match which {
            Removal::Named(n) => &l.name == n,
            Removal::OlderThan(age) => match (now, l.switched_at) {
                (Some(now), Some(at)) => now.saturating_sub(at) > age.as_secs(),
                _ => true,
            },
        })
        .map(|l| l.name.clone())
        .collect();
    if let Removal::Named(n) = which
        && doomed.is_empty()
    {
        progress.note(&name, &format!("no namespace `{n}` here; nothing to remove"));
    }
    for ns in doomed {
        let home = format!("{}/namespaces/{ns}", resolved.root);
        let mut cleared = |stale: &str| progress.note(&name, &format!("cleared a stale lock: {stale}"));
        let lock = HeldLock::take(&mut shell, &home, &resolved.root, owner, options.lock_wait, &mut cleared)?;
        let script = scripts::RemoveNamespace { root: &resolved.root, name: &ns, nonce: &nonce() }.text();
        let exec = shell.run(Step::Prune, &script, None);
        lock.release();
        let exec = exec?;
        if scripts::RemoveNamespace::missing(exec.status, &exec.output) {
            continue;
        }
        check(shell.name(), &resolved.root, Step::Prune, exec)?;
        progress.note(&name, &format!("removed namespace `{ns}`"));
        removed.push(ns);
    }
    Ok(())
}
