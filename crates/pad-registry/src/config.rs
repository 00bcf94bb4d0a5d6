//! `deploy/registries.toml`: one table per registry, checked when read, with every
//! error placed at its file, line and column.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use pad_layout::{line_column, vars};
use serde::Deserialize;

use crate::RegistryError;

/// What a registries file may hold, for the help line of its errors.
const HELP: &str = "each registry is a table such as `[gitlab]` with `kind = \"gitlab\"` (`api_url`, `project`, `token_env`, `job_token_env`, `deploy_token_env`), `kind = \"webdav\"` (`url`, `username_env`, `password_env`), `kind = \"s3\"` (`bucket`, `endpoint`, `region`, `prefix`, `access_key_id_env`, `secret_access_key_env`, `session_token_env`, `virtual_host_style`) or `kind = \"fs\"` (`path`)";

/// One registry, as written in `registries.toml`. Values may use `${VAR}` and
/// `${VAR:-default}`; they are expanded when the registry is opened.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RegistryConfig {
    /// GitLab's generic packages API.
    Gitlab(GitlabConfig),
    /// A WebDAV server or any HTTP server that stores a `PUT` (nginx `dav_methods`,
    /// Artifactory or Nexus raw repositories).
    Webdav(WebdavConfig),
    /// An S3 bucket (AWS or any S3-compatible server).
    S3(S3Config),
    /// A directory (local, or a mounted share).
    Fs(FsConfig),
}

/// `kind = "gitlab"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitlabConfig {
    /// The API root, such as `https://gitlab.example.org/api/v4`; default
    /// `${CI_API_V4_URL}`, which GitLab CI sets.
    #[serde(default)]
    pub api_url: Option<String>,
    /// The project id or its path (`group/project`); default `${CI_PROJECT_ID}`.
    #[serde(default)]
    pub project: Option<String>,
    /// The variable holding an access token, sent as `PRIVATE-TOKEN` (default
    /// `GITLAB_TOKEN`).
    #[serde(default)]
    pub token_env: Option<String>,
    /// The variable holding a CI job token, sent as `JOB-TOKEN` (default `CI_JOB_TOKEN`).
    #[serde(default)]
    pub job_token_env: Option<String>,
    /// The variable holding a deploy token, sent as `DEPLOY-TOKEN` (default
    /// `GITLAB_DEPLOY_TOKEN`).
    #[serde(default)]
    pub deploy_token_env: Option<String>,
}

/// `kind = "webdav"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebdavConfig {
    /// The collection packages go under, such as `https://dav.example.org/packages`.
    pub url: String,
    /// The variable holding the basic-auth user name (with `password_env`).
    #[serde(default)]
    pub username_env: Option<String>,
    /// The variable holding the basic-auth password (with `username_env`).
    #[serde(default)]
    pub password_env: Option<String>,
}

/// `kind = "s3"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// The server, such as `http://127.0.0.1:9000`; empty or absent means AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Default `us-east-1`.
    #[serde(default)]
    pub region: Option<String>,
    /// A key prefix packages go under, such as `airflow/`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Default `AWS_ACCESS_KEY_ID`.
    #[serde(default)]
    pub access_key_id_env: Option<String>,
    /// Default `AWS_SECRET_ACCESS_KEY`.
    #[serde(default)]
    pub secret_access_key_env: Option<String>,
    /// Default `AWS_SESSION_TOKEN` (used when set).
    #[serde(default)]
    pub session_token_env: Option<String>,
    /// Address the bucket as `bucket.endpoint` instead of `endpoint/bucket`.
    #[serde(default)]
    pub virtual_host_style: bool,
}

/// `kind = "fs"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FsConfig {
    /// The directory; a relative path is taken from the repository root (the parent of
    /// the directory holding `registries.toml`).
    pub path: String,
}

impl RegistryConfig {
    /// The `kind` as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            RegistryConfig::Gitlab(_) => "gitlab",
            RegistryConfig::Webdav(_) => "webdav",
            RegistryConfig::S3(_) => "s3",
            RegistryConfig::Fs(_) => "fs",
        }
    }

    /// Every string value with its key, for checks that apply to all of them.
    fn values(&self) -> Vec<(&'static str, &str)> {
        let all: Vec<(&'static str, Option<&String>)> = match self {
            RegistryConfig::Gitlab(c) => vec![
                ("api_url", c.api_url.as_ref()),
                ("project", c.project.as_ref()),
                ("token_env", c.token_env.as_ref()),
                ("job_token_env", c.job_token_env.as_ref()),
                ("deploy_token_env", c.deploy_token_env.as_ref()),
            ],
            RegistryConfig::Webdav(c) => vec![
                ("url", Some(&c.url)),
                ("username_env", c.username_env.as_ref()),
                ("password_env", c.password_env.as_ref()),
            ],
            RegistryConfig::S3(c) => vec![
                ("bucket", Some(&c.bucket)),
                ("endpoint", c.endpoint.as_ref()),
                ("region", c.region.as_ref()),
                ("prefix", c.prefix.as_ref()),
                ("access_key_id_env", c.access_key_id_env.as_ref()),
                ("secret_access_key_env", c.secret_access_key_env.as_ref()),
                ("session_token_env", c.session_token_env.as_ref()),
            ],
            RegistryConfig::Fs(c) => vec![("path", Some(&c.path))],
        };
        all.into_iter().filter_map(|(key, value)| value.map(|v| (key, v.as_str()))).collect()
    }
}

/// Every registry of a `registries.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registries {
    path: Utf8PathBuf,
    /// The directory relative `fs` paths are taken from.
    base_dir: Utf8PathBuf,
    registries: BTreeMap<String, RegistryConfig>,
}

impl Registries {
    /// Reads and checks a registries file (normally `deploy/registries.toml`).
    pub fn load(path: &Utf8Path) -> Result<Registries, RegistryError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(RegistryError::NoConfig { path: path.to_owned() });
            }
            Err(source) => return Err(RegistryError::ReadConfig { path: path.to_owned(), source }),
        };
        Registries::parse(&text, path)
    }

    /// Checks the text of a registries file; `path` is where it came from, for errors
    /// and for relative `fs` paths.
    pub fn parse(text: &str, path: &Utf8Path) -> Result<Registries, RegistryError> {
        let error = |offset: Option<usize>, message: String, help: &str| {
            let (line, column) = match offset {
                Some(offset) => {
                    let (line, column) = line_column(text, offset);
                    (Some(line), Some(column))
                }
                None => (None, None),
            };
            RegistryError::Config { path: path.to_owned(), line, column, message, help: help.to_owned() }
        };
        let registries: BTreeMap<String, RegistryConfig> = toml::from_str(text).map_err(|err| {
            let message = err.message().trim().to_owned();
            let Some(offset) = err.span().map(|span| span.start) else {
                return error(None, message, HELP);
            };
            // Errors inside a table (an unknown or missing key) come placed at the table:
            // name the registry, and point at the offending key when it is written.
            match table_at(text, offset) {
                Some(name) => {
                    let key = message.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next());
                    let offset = key.and_then(|key| locate_key(text, &name, key)).unwrap_or(offset);
                    error(Some(offset), format!("registry `{name}`: {message}"), HELP)
                }
                None => error(Some(offset), message, HELP),
            }
        })?;
        for (name, config) in &registries {
            let at_key = |key: &str| locate_key(text, name, key);
            if !is_registry_name(name) {
                return Err(error(
                    locate_table(text, name),
                    format!("`{name}` is not a registry name"),
                    "name registries with letters, digits, `-` and `_`, such as `[gitlab]` or `[nightly-s3]`",
                ));
            }
            for (key, value) in config.values() {
                if value.trim().is_empty() {
                    return Err(error(
                        at_key(key),
                        format!("registry `{name}`: `{key}` is empty"),
                        "give it a value, or leave the key out where it is optional",
                    ));
                }
                if key.ends_with("_env") {
                    if !vars::is_var_name(value) {
                        return Err(error(
                            at_key(key),
                            format!("registry `{name}`: `{key}` = \"{value}\" is not an environment variable name"),
                            "`*_env` keys name a variable (letters, digits and `_`), such as `token_env = \"GITLAB_TOKEN\"`; the secret itself never goes in the file",
                        ));
                    }
                } else if let Err(err) = vars::check(value) {
                    return Err(error(
                        at_key(key),
                        format!("registry `{name}`: `{key}`: {err}"),
                        "write variables as `${VAR}` or `${VAR:-default}`, and `$$` for a literal `$`",
                    ));
                }
            }
            if let RegistryConfig::Webdav(c) = config
                && c.username_env.is_some() != c.password_env.is_some()
            {
                let key = if c.username_env.is_some() { "username_env" } else { "password_env" };
                return Err(error(
                    at_key(key),
                    format!("registry `{name}`: `username_env` and `password_env` go together"),
                    "set both (basic auth), or neither (no authentication)",
                ));
            }
        }
        let dir = path.parent().unwrap_or(Utf8Path::new(""));
        let base_dir = dir.parent().unwrap_or(dir).to_owned();
        Ok(Registries { path: path.to_owned(), base_dir, registries })
    }

    /// The file the registries came from.
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// The registry names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.registries.keys().map(String::as_str).collect()
    }

    /// One registry by name; an unknown name is an error listing the known ones.
    pub fn get(&self, name: &str) -> Result<&RegistryConfig, RegistryError> {
        self.registries.get(name).ok_or_else(|| RegistryError::UnknownRegistry {
            name: name.to_owned(),
            path: self.path.clone(),
            known: self.registries.keys().cloned().collect(),
        })
    }

    /// The registry to use when none is named: the only one, or the one called
    /// `default`; otherwise an error listing the names to choose from.
    pub fn default_name(&self) -> Result<&str, RegistryError> {
        if self.registries.len() == 1 {
            return Ok(self.registries.keys().next().expect("one registry"));
        }
        if let Some((name, _)) = self.registries.get_key_value("default") {
            return Ok(name);
        }
        Err(RegistryError::NoDefaultRegistry {
            path: self.path.clone(),
            known: self.registries.keys().cloned().collect(),
        })
    }

    /// Opens one registry by name, resolving `${VAR}`s and credentials with `env`.
    pub fn open(&self, name: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<crate::Registry, RegistryError> {
        let config = self.get(name)?;
        crate::Registry::open_in(name, config, &self.path, Some(&self.base_dir), env)
    }
}

fn is_registry_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The byte offset of the `[name]` header.
fn locate_table(text: &str, name: &str) -> Option<usize> {
    let headers = [format!("[{name}]"), format!("[\"{name}\"]")];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if headers.iter().any(|h| trimmed.starts_with(h.as_str())) {
            return Some(offset + (line.len() - line.trim_start().len()));
        }
        offset += line.len();
    }
    None
}

/// The name of the table whose `[name]` header is the last one at or before `offset`.
fn table_at(text: &str, offset: usize) -> Option<String> {
    let mut name = None;
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        if start > offset {
            break;
        }
        let trimmed = line.trim();
        if let Some(inner) = trimmed.strip_prefix('[').and_then(|rest| rest.split(']').next()) {
            name = Some(inner.trim().trim_matches('"').to_owned());
        }
        start += line.len();
    }
    name
}

/// The byte offset of `key = …` inside the `[name]` table, or of the table header when
/// the key is not written there.
fn locate_key(text: &str, name: &str, key: &str) -> Option<usize> {
    let start = locate_table(text, name)?;
    let mut offset = start;
    for (i, line) in text[start..].split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if i > 0 && trimmed.starts_with('[') {
            break;
        }
        let rest = trimmed.strip_prefix(key).or_else(|| trimmed.strip_prefix(&format!("\"{key}\"")));
        if rest.is_some_and(|rest| rest.trim_start().starts_with('=')) {
            return Some(offset + (line.len() - trimmed.len()));
        }
        offset += line.len();
    }
    Some(start)
}
