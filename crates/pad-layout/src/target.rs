//! Deploy targets: `deploy/<name>.toml`, one file each; `local` is built in.

use std::collections::BTreeMap;
use std::fmt;

use camino::{Utf8Path, Utf8PathBuf};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::Problem;
use crate::project::check_name;
use crate::toml_file::TomlFile;
use crate::vars::{self, VarError};

/// The built-in local target, used when `deploy/local.toml` does not exist; the file in
/// the repository holds the same text so users can see and change it.
pub const DEFAULT_LOCAL_TARGET: &str = r#"# The local deploy target: Airflow on this machine, no SSH.
# `cargo xtask deploy-local-build` deploys here. This is also the built-in default,
# so a fresh clone deploys with no configuration.
hosts = "local"
# $AIRFLOW_HOME when it is set, else target/airflow inside the repository.
airflow_home = "${AIRFLOW_HOME:-target/airflow}"
keep = 5
# Where DAGs read and write data, per namespace (`prod` for the plain deploy).
data_root = "${airflow_home}/data/${namespace}"
"#;

/// `AIRFLOW_HOME` of a target that does not set `airflow_home`.
pub const DEFAULT_AIRFLOW_HOME: &str = "${AIRFLOW_HOME:-target/airflow}";
pub const DEFAULT_KEEP: usize = 5;
/// `data_root` of a local target that does not set it: under its `AIRFLOW_HOME`.
pub const DEFAULT_LOCAL_DATA_ROOT: &str = "${airflow_home}/data/${namespace}";
/// The file in `deploy/` that configures registries rather than a target.
pub const REGISTRIES_FILE: &str = "registries.toml";
pub const DEFAULT_SSH_PORT: u16 = 22;

/// Where a target's releases go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hosts {
    /// This machine, no SSH.
    Local,
    /// Worker hosts reached over SSH, by name or address.
    Remote(Vec<String>),
}

/// A deploy target, as read from `deploy/<name>.toml`. Values keep their `${VAR}`
/// references; they are expanded when a deploy reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub name: String,
    /// The file, relative to the repository root; `None` for the built-in `local`.
    pub file: Option<Utf8PathBuf>,
    pub hosts: Hosts,
    pub ssh_user: Option<String>,
    pub port: u16,
    /// A private key file; `None` means the ssh-agent.
    pub identity: Option<String>,
    /// The known_hosts file; `None` means `~/.ssh/known_hosts`.
    pub known_hosts: Option<String>,
    /// The user a release is installed as, through `sudo -n -u`; `None` means the login user.
    pub service_user: Option<String>,
    pub airflow_home: String,
    /// How many releases to keep on each host.
    pub keep: usize,
    /// The registry a deploy fetches packages from, by name.
    pub registry: Option<String>,
    /// Values written to the release's `.env`.
    pub env: BTreeMap<String, String>,
    /// Where DAGs read and write data: `${namespace}` (the namespace, or `prod` for the
    /// plain deploy) and `${airflow_home}` are expanded, then other `${VAR}`s. A local
    /// target without it uses [`DEFAULT_LOCAL_DATA_ROOT`].
    pub data_root: Option<String>,
}

impl Target {
    /// The target's `AIRFLOW_HOME` with its variables expanded; a relative path is taken
    /// from the repository root (only a local target may have one).
    pub fn resolve_airflow_home(
        &self,
        root: &Utf8Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Utf8PathBuf, VarError> {
        let value = Utf8PathBuf::from(vars::expand(&self.airflow_home, lookup)?);
        Ok(if value.is_absolute() { value } else { root.join(value) })
    }

    /// The `[env]` values with their variables expanded.
    pub fn resolve_env(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<BTreeMap<String, String>, VarError> {
        self.env.iter().map(|(key, value)| Ok((key.clone(), vars::expand(value, lookup)?))).collect()
    }

    /// The data root of `namespace` (`prod` for the plain deploy) with its variables
    /// expanded; `None` when the target sets none and is not local.
    pub fn resolve_data_root(
        &self,
        airflow_home: &Utf8Path,
        namespace: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Utf8PathBuf>, VarError> {
        let text = match (&self.data_root, self.is_local()) {
            (Some(text), _) => text.as_str(),
            (None, true) => DEFAULT_LOCAL_DATA_ROOT,
            (None, false) => return Ok(None),
        };
        let inner = |name: &str| match name {
            "namespace" => Some(namespace.to_owned()),
            "airflow_home" => Some(airflow_home.to_string()),
            _ => lookup(name),
        };
        let value = Utf8PathBuf::from(vars::expand(text, &inner)?);
        Ok(Some(if value.is_absolute() { value } else { airflow_home.join(value) }))
    }

    pub fn is_local(&self) -> bool {
        self.hosts == Hosts::Local
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetFile {
    hosts: HostsSpec,
    ssh_user: Option<String>,
    port: Option<u16>,
    identity: Option<String>,
    known_hosts: Option<String>,
    service_user: Option<String>,
    airflow_home: Option<String>,
    keep: Option<usize>,
    registry: Option<String>,
    data_root: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

struct HostsSpec(Hosts);

impl<'de> Deserialize<'de> for HostsSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<HostsSpec, D::Error> {
        struct HostsVisitor;
        impl<'de> Visitor<'de> for HostsVisitor {
            type Value = HostsSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#""local" or a list of host names, such as ["worker1.example.org"]"#)
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<HostsSpec, E> {
                match value {
                    "local" => Ok(HostsSpec(Hosts::Local)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(value), &self)),
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HostsSpec, A::Error> {
                let mut hosts = Vec::new();
                while let Some(host) = seq.next_element::<String>()? {
                    hosts.push(host);
                }
                Ok(HostsSpec(Hosts::Remote(hosts)))
            }
        }
        deserializer.deserialize_any(HostsVisitor)
    }
}

const TARGET_HELP: &str = "a target file holds `hosts`, `ssh_user`, `port`, `identity`, `known_hosts`, `service_user`, `airflow_home`, `keep`, `registry`, `data_root` and an `[env]` table (see README.md, \"Deploy targets\")";

/// Parses the text of a target file. `rel` names the file in problems.
pub(crate) fn parse_target(
    name: &str,
    text: String,
    rel: Option<&Utf8Path>,
    errors: &mut Vec<Problem>,
) -> Option<Target> {
    let shown = rel.map_or_else(|| Utf8PathBuf::from("<built-in local target>"), Utf8Path::to_owned);
    let file = TomlFile::from_text(text, &shown);
    let before = errors.len();
    let raw: TargetFile = file.parse(errors, TARGET_HELP)?;
    let local = raw.hosts.0 == Hosts::Local;

    if let Hosts::Remote(hosts) = &raw.hosts.0 {
        if hosts.is_empty() {
            errors.push(file.problem_at_key(
                "hosts",
                "`hosts` is an empty list",
                "list at least one host, or write `hosts = \"local\"`",
            ));
        }
        for host in hosts {
            if !is_host_name(host) {
                errors.push(file.problem_at_key(
                    "hosts",
                    format!("`{host}` is not a host name or address"),
                    "write a DNS name or IP address; set the SSH port with `port` and the login with `ssh_user`",
                ));
            }
        }
        if raw.ssh_user.is_none() {
            errors.push(file.problem_at_key(
                "hosts",
                "a remote target needs `ssh_user`",
                "add `ssh_user = \"deployer\"` (the account that logs in over SSH)",
            ));
        }
        if raw.airflow_home.is_none() {
            errors.push(file.problem_at_key(
                "hosts",
                "a remote target needs `airflow_home`",
                "add `airflow_home = \"/srv/airflow\"` (an absolute path on the workers)",
            ));
        }
    } else {
        for (key, set) in [
            ("ssh_user", raw.ssh_user.is_some()),
            ("port", raw.port.is_some()),
            ("identity", raw.identity.is_some()),
            ("known_hosts", raw.known_hosts.is_some()),
        ] {
            if set {
                errors.push(file.problem_at_key(
                    key,
                    format!("`{key}` has no meaning for a local target"),
                    format!("remove `{key}`, or list remote `hosts`"),
                ));
            }
        }
    }

    let airflow_home = raw.airflow_home.unwrap_or_else(|| DEFAULT_AIRFLOW_HOME.to_owned());
    match vars::check(&airflow_home) {
        Err(err) => errors.push(file.problem_at_key(
            "airflow_home",
            format!("`airflow_home`: {err}"),
            "fix the `${VAR}` reference",
        )),
        Ok(()) if !local && !airflow_home.starts_with('/') && !airflow_home.starts_with("${") => {
            errors.push(file.problem_at_key(
                "airflow_home",
                format!("`airflow_home = \"{airflow_home}\"` is not an absolute path"),
                "a remote target's `airflow_home` is an absolute path on the workers",
            ));
        }
        Ok(()) => {}
    }
    for (key, value) in [("ssh_user", &raw.ssh_user), ("service_user", &raw.service_user)] {
        if let Some(user) = value
            && !is_user_name(user)
        {
            errors.push(file.problem_at_key(
                key,
                format!("`{key} = \"{user}\"` is not a user name"),
                "use letters, digits, `_`, `-` and `.`",
            ));
        }
    }
    let keep = raw.keep.unwrap_or(DEFAULT_KEEP);
    if keep < 2 {
        errors.push(file.problem_at_key(
            "keep",
            format!("`keep = {keep}` is too small"),
            "keep at least 2 releases: the current one and the previous one, for rollback",
        ));
    }
    if let Some(root) = &raw.data_root {
        match vars::check(root) {
            Err(err) => errors.push(file.problem_at_key(
                "data_root",
                format!("`data_root`: {err}"),
                "fix the `${VAR}` reference",
            )),
            Ok(()) if !local && !root.starts_with('/') && !root.starts_with("${") => {
                errors.push(file.problem_at_key(
                    "data_root",
                    format!("`data_root = \"{root}\"` is not an absolute path"),
                    "a remote target's `data_root` is an absolute path on the workers, such as \"/srv/data/${namespace}\"",
                ));
            }
            Ok(()) if !root.contains("${namespace}") => errors.push(file.problem_at_key(
                "data_root",
                format!("`data_root = \"{root}\"` does not hold `${{namespace}}`, so every namespace would share one data root"),
                "put `${namespace}` in it, such as \"/srv/data/${namespace}\"",
            )),
            Ok(()) => {}
        }
    }
    for (key, value) in &raw.env {
        if !vars::is_var_name(key) {
            errors.push(file.problem_at_key(
                key,
                format!("`[env]` key `{key}` is not an environment variable name"),
                "use letters, digits and `_`, not starting with a digit",
            ));
        }
        if let Err(err) = vars::check(value) {
            errors.push(file.problem_at_key(
                key,
                format!("`[env]` value of `{key}`: {err}"),
                "fix the `${VAR}` reference",
            ));
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(Target {
        name: name.to_owned(),
        file: rel.map(Utf8Path::to_owned),
        hosts: raw.hosts.0,
        ssh_user: raw.ssh_user,
        port: raw.port.unwrap_or(DEFAULT_SSH_PORT),
        identity: raw.identity,
        known_hosts: raw.known_hosts,
        service_user: raw.service_user,
        airflow_home,
        keep,
        registry: raw.registry,
        env: raw.env,
        data_root: raw.data_root,
    })
}

/// Reads every `deploy/*.toml`, adding the built-in `local` target when the repository
/// does not define one.
pub(crate) fn scan_targets(root: &Utf8Path, errors: &mut Vec<Problem>) -> Vec<Target> {
    let mut targets = Vec::new();
    let pattern = format!("{}/deploy/*.toml", glob::Pattern::escape(root.as_str()));
    let mut files: Vec<Utf8PathBuf> = glob::glob(&pattern)
        .expect("the pattern is valid")
        .filter_map(Result::ok)
        .filter_map(|p| Utf8PathBuf::from_path_buf(p).ok())
        .collect();
    files.sort();
    for path in files.into_iter().filter(|p| p.file_name() != Some(REGISTRIES_FILE)) {
        let rel = path.strip_prefix(root).unwrap_or(&path).to_owned();
        let name = path.file_stem().unwrap_or_default().to_owned();
        if let Err(message) = check_name(&name, "target") {
            errors.push(Problem::new(
                &rel,
                message,
                "rename the file: the target's name is the file name without `.toml`",
            ));
            continue;
        }
        let Some(file) = TomlFile::read(&path, &rel, errors) else { continue };
        if let Some(target) = parse_target(&name, file.into_text(), Some(&rel), errors) {
            targets.push(target);
        }
    }
    if !targets.iter().any(|t| t.name == "local") && !errors.iter().any(|p| p.path.as_str() == "deploy/local.toml") {
        let target = parse_target("local", DEFAULT_LOCAL_TARGET.to_owned(), None, errors);
        targets.extend(target);
    }
    targets.sort_by(|a, b| a.name.cmp(&b.name));
    targets
}

fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && !host.starts_with('-')
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']'))
}

fn is_user_name(user: &str) -> bool {
    !user.is_empty()
        && !user.starts_with('-')
        && user.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
