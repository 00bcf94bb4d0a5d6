//! `artifacts.yaml`: the model ([`Config`] and what it holds: [`SourceDef`], [`CacheDef`],
//! [`Artifact`]) and the entry points that read several files into one, with every
//! problem reported at once by file, line and column. `raw` is a file as written and
//! the reading of one; `kinds` turns a class name and its settings (ours and
//! workflow_utils') into a [`SourceKind`] or [`CacheKind`]; `merge` joins the files.

mod kinds;
mod merge;
mod raw;

use std::collections::BTreeMap;
use std::fmt;

use camino::{Utf8Path, Utf8PathBuf};
use pad_layout::Problem;
use serde::Serialize;

/// The workflow_utils class of a Maven source.
pub const WU_MAVEN_SOURCE: &str = "workflow_utils.artifact.maven.MavenArtifactSource";
/// The workflow_utils class of a URL or file source, chosen by the scheme of each id.
pub const WU_FS_SOURCE: &str = "workflow_utils.artifact.FsArtifactSource";
/// The workflow_utils class of a cache, chosen by the scheme of its `base_uri`.
pub const WU_FS_CACHE: &str = "workflow_utils.artifact.FsArtifactCache";

/// Where a source gets artifacts from. String values may hold `${VAR}` (expanded from the
/// environment when the source is used).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum SourceKind {
    /// A Maven repository: ids are `group:artifact[:type[:classifier]]:version`.
    Maven { base_uri: String },
    /// Ids are `http(s)://` or `file://` URLs.
    Url,
    /// GitLab generic packages: ids are package URLs, or `package/version/file` under
    /// `base_uri` (`…/api/v4/projects/<id>/packages/generic`).
    Gitlab {
        base_uri: Option<String>,
        /// The variable holding the token; unset means no token (public packages).
        token_env: Option<String>,
        /// `PRIVATE-TOKEN` (default), `JOB-TOKEN` or `DEPLOY-TOKEN`.
        token_header: String,
    },
    /// Ids are paths: absolute, or relative to `base_uri` (a directory, absolute or
    /// relative to the artifacts.yaml that declares the source).
    Fs { base_uri: String },
    /// workflow_utils' `FsArtifactSource`: `url` for `http(s)://` and `file://` ids, `fs`
    /// for paths.
    ByScheme,
}

/// Where a cache keeps artifacts. `base_uri` may hold `${VAR}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum CacheKind {
    /// A directory (an absolute path, `file://…`, or relative to the artifacts.yaml).
    Fs { path: String },
    /// `s3://bucket/prefix`.
    S3 {
        base_uri: String,
        endpoint: Option<String>,
        region: Option<String>,
        access_key_id_env: Option<String>,
        secret_access_key_env: Option<String>,
        session_token_env: Option<String>,
        virtual_host_style: bool,
    },
    /// A WebDAV collection, `http(s)://…`.
    Webdav { base_uri: String, username_env: Option<String>, password_env: Option<String> },
    /// `webhdfs://namenode:9870/path` (or `hdfs://…` with `endpoint`).
    Webhdfs { base_uri: String, endpoint: Option<String>, user_name: Option<String>, delegation_env: Option<String> },
}

/// Where something was declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    pub file: Utf8PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceDef {
    pub name: String,
    #[serde(flatten)]
    pub kind: SourceKind,
    pub place: Place,
    /// The directory of the declaring file: relative paths start there.
    #[serde(skip)]
    pub dir: Utf8PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheDef {
    pub name: String,
    #[serde(flatten)]
    pub kind: CacheKind,
    pub place: Place,
    #[serde(skip)]
    pub dir: Utf8PathBuf,
}

/// One artifact: its name is its file name in every cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    pub name: String,
    pub id: String,
    pub source: String,
    pub caches: Vec<String>,
    /// The sha256 the artifact must have, when the file says.
    pub sha256: Option<String>,
    pub place: Place,
    /// The directory of the declaring file (for relative `fs` ids).
    #[serde(skip)]
    pub dir: Utf8PathBuf,
}

/// Every artifacts.yaml given, merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    pub files: Vec<Utf8PathBuf>,
    pub sources: BTreeMap<String, SourceDef>,
    pub caches: BTreeMap<String, CacheDef>,
    /// Sorted by name.
    pub artifacts: Vec<Artifact>,
}

/// Every problem found in the artifacts.yaml files at once.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(f, "{n} problem{} in artifacts.yaml:", if n == 1 { "" } else { "s" })?;
        for problem in &self.problems {
            write!(f, "\n{problem}")?;
        }
        Ok(())
    }
}

/// One file to read: `path` to open, `display` to name it in messages.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: Utf8PathBuf,
    pub display: Utf8PathBuf,
}

impl ConfigFile {
    /// `path` (absolute, or relative to `base`), shown relative to `base` when under it.
    pub fn new(base: &Utf8Path, path: &Utf8Path) -> ConfigFile {
        let full = if path.is_absolute() { path.to_owned() } else { base.join(path) };
        let display = full.strip_prefix(base).map_or_else(|_| full.clone(), Utf8Path::to_owned);
        ConfigFile { path: full, display }
    }
}

/// Reads and merges `files`, failing with every problem at once.
pub fn load(files: &[ConfigFile]) -> Result<Config, ConfigError> {
    let mut texts = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file.path) {
            Ok(text) => texts.push((file.display.clone(), text, parent_dir(&file.path))),
            Err(err) => problems.push(Problem::new(
                &file.display,
                format!("cannot read the file: {err}"),
                "pass an existing, readable artifacts.yaml",
            )),
        }
    }
    let parsed = parse_texts(&texts);
    match parsed {
        Ok(config) if problems.is_empty() => Ok(config),
        Ok(_) => Err(ConfigError { problems }),
        Err(mut err) => {
            problems.append(&mut err.problems);
            Err(ConfigError { problems })
        }
    }
}

fn parent_dir(path: &Utf8Path) -> Utf8PathBuf {
    path.parent().map_or_else(|| Utf8PathBuf::from("."), Utf8Path::to_owned)
}

/// Parses and merges file texts: `(display name, text, directory of the file)`.
pub fn parse_texts(texts: &[(Utf8PathBuf, String, Utf8PathBuf)]) -> Result<Config, ConfigError> {
    let mut problems = Vec::new();
    let mut parsed = Vec::new();
    for (display, text, dir) in texts {
        if let Some(file) = raw::parse_file(display, text, dir, &mut problems) {
            parsed.push(file);
        }
    }
    let config = merge::merge(parsed, &mut problems);
    let mut config = config;
    config.files = texts.iter().map(|(display, _, _)| display.clone()).collect();
    if problems.is_empty() { Ok(config) } else { Err(ConfigError { problems }) }
}
