//! `artifacts.yaml`: parsing, class names (ours and workflow_utils'), and merging several
//! files into one [`Config`], with every problem reported at once by file, line and
//! column.

use std::collections::BTreeMap;
use std::fmt;

use camino::{Utf8Path, Utf8PathBuf};
use pad_layout::Problem;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

/// The workflow_utils class of a Maven source.
pub const WU_MAVEN_SOURCE: &str = "workflow_utils.artifact.maven.MavenArtifactSource";
/// The workflow_utils class of a URL or file source, chosen by the scheme of each id.
pub const WU_FS_SOURCE: &str = "workflow_utils.artifact.FsArtifactSource";
/// The workflow_utils class of a cache, chosen by the scheme of its `base_uri`.
pub const WU_FS_CACHE: &str = "workflow_utils.artifact.FsArtifactCache";

const SOURCE_CLASSES: &str = "`maven`, `url`, `gitlab`, `fs`, `workflow_utils.artifact.maven.MavenArtifactSource` or `workflow_utils.artifact.FsArtifactSource`";
const CACHE_CLASSES: &str =
    "`fs`, `s3`, `webdav`, `webhdfs` or `workflow_utils.artifact.FsArtifactCache` (chosen by the scheme of `base_uri`)";

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    artifact_sources: BTreeMap<String, Spanned<RawSource>>,
    #[serde(default)]
    artifact_caches: BTreeMap<String, Spanned<RawCache>>,
    #[serde(default)]
    default_artifact_source: Option<Spanned<String>>,
    #[serde(default)]
    default_artifact_caches: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    artifacts: BTreeMap<String, Spanned<RawArtifact>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    class_name: Spanned<String>,
    base_uri: Option<Spanned<String>>,
    token_env: Option<Spanned<String>>,
    token_header: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCache {
    class_name: Spanned<String>,
    base_uri: Option<Spanned<String>>,
    endpoint: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    access_key_id_env: Option<Spanned<String>>,
    secret_access_key_env: Option<Spanned<String>>,
    session_token_env: Option<Spanned<String>>,
    virtual_host_style: Option<Spanned<bool>>,
    username_env: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    user_name: Option<Spanned<String>>,
    delegation_env: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArtifact {
    id: Spanned<String>,
    source: Option<Spanned<String>>,
    caches: Option<Spanned<Vec<Spanned<String>>>>,
    sha256: Option<Spanned<String>>,
}

/// Collects problems of one file.
struct FileProblems<'a> {
    display: &'a Utf8Path,
    problems: &'a mut Vec<Problem>,
}

impl FileProblems<'_> {
    fn place<T>(&self, spanned: &Spanned<T>) -> Place {
        place(self.display, spanned)
    }

    fn push<T>(&mut self, at: &Spanned<T>, message: impl Into<String>, help: impl Into<String>) {
        let mut problem = Problem::new(self.display, message, help);
        problem.line = Some(at.referenced.line() as usize);
        problem.column = Some(at.referenced.column() as usize);
        self.problems.push(problem);
    }
}

fn place<T>(file: &Utf8Path, spanned: &Spanned<T>) -> Place {
    Place {
        file: file.to_owned(),
        line: spanned.referenced.line() as usize,
        column: spanned.referenced.column() as usize,
    }
}

fn problem_at(place: &Place, message: impl Into<String>, help: impl Into<String>) -> Problem {
    let mut problem = Problem::new(&place.file, message, help);
    problem.line = Some(place.line);
    problem.column = Some(place.column);
    problem
}

/// A parsed file, before merging.
struct Parsed {
    display: Utf8PathBuf,
    dir: Utf8PathBuf,
    sources: Vec<SourceDef>,
    caches: Vec<CacheDef>,
    default_source: Option<(String, Place)>,
    default_caches: Option<(Vec<Spanned<String>>, Place)>,
    artifacts: Vec<(String, Spanned<RawArtifact>)>,
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
        if let Some(file) = parse_file(display, text, dir, &mut problems) {
            parsed.push(file);
        }
    }
    let config = merge(parsed, &mut problems);
    let mut config = config;
    config.files = texts.iter().map(|(display, _, _)| display.clone()).collect();
    if problems.is_empty() { Ok(config) } else { Err(ConfigError { problems }) }
}

fn yaml_problem(display: &Utf8Path, err: &serde_saphyr::Error) -> Problem {
    let inner = err.without_snippet();
    let mut message = inner.to_string();
    // The message repeats the position we give separately.
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    let help = if message.contains("unknown field") {
        "remove or rename the key: artifacts.yaml takes `artifact_sources`, `artifact_caches`, `default_artifact_source`, `default_artifact_caches` and `artifacts`; a source takes `class_name`, `base_uri`, `token_env`, `token_header`; a cache `class_name`, `base_uri` and its class's settings; an artifact `id`, `source`, `caches`, `sha256`"
    } else if message.contains("duplicate") {
        "each name appears once per mapping: rename or remove the repeated key"
    } else {
        "fix the YAML syntax (indentation, `:` after keys, quotes around values with `: ` or `#`)"
    };
    if let Some(cut) = message.find(", set DuplicateKeyPolicy") {
        message.truncate(cut);
    }
    let message = if message.contains("unknown field") {
        message.replacen("unknown field", "unknown key", 1)
    } else {
        format!("invalid YAML: {message}")
    };
    let mut problem = Problem::new(display, message, help);
    if let Some(location) = inner.location().or_else(|| err.location()) {
        problem.line = Some(location.line() as usize);
        problem.column = Some(location.column() as usize);
    }
    problem
}

fn parse_file(display: &Utf8Path, text: &str, dir: &Utf8Path, problems: &mut Vec<Problem>) -> Option<Parsed> {
    let raw: RawFile = if text.trim().is_empty() {
        RawFile {
            artifact_sources: BTreeMap::new(),
            artifact_caches: BTreeMap::new(),
            default_artifact_source: None,
            default_artifact_caches: None,
            artifacts: BTreeMap::new(),
        }
    } else {
        match serde_saphyr::from_str(text) {
            Ok(raw) => raw,
            Err(err) => {
                problems.push(yaml_problem(display, &err));
                return None;
            }
        }
    };
    let mut out = FileProblems { display, problems };
    let mut sources = Vec::new();
    for (name, raw) in &raw.artifact_sources {
        check_name(&mut out, raw, "source", name);
        if let Some(kind) = source_kind(&mut out, &raw.value, dir) {
            sources.push(SourceDef { name: name.clone(), kind, place: out.place(raw), dir: dir.to_owned() });
        }
    }
    let mut caches = Vec::new();
    for (name, raw) in &raw.artifact_caches {
        check_name(&mut out, raw, "cache", name);
        if let Some(kind) = cache_kind(&mut out, &raw.value, dir) {
            caches.push(CacheDef { name: name.clone(), kind, place: out.place(raw), dir: dir.to_owned() });
        }
    }
    let default_source = raw.default_artifact_source.as_ref().map(|s| (s.value.clone(), out.place(s)));
    let default_caches = raw.default_artifact_caches.as_ref().map(|s| (s.value.clone(), out.place(s)));
    let artifacts = raw.artifacts.into_iter().collect();
    Some(Parsed {
        display: display.to_owned(),
        dir: dir.to_owned(),
        sources,
        caches,
        default_source,
        default_caches,
        artifacts,
    })
}

fn check_name<T>(out: &mut FileProblems<'_>, at: &Spanned<T>, what: &str, name: &str) {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        out.push(
            at,
            format!("`{name}` is not a valid {what} name"),
            format!("name the {what} with letters, digits, `-`, `_` and `.`"),
        );
    }
}

/// The keys a class takes, for messages.
fn reject_keys(out: &mut FileProblems<'_>, class: &str, takes: &str, keys: &[(&str, Option<Place>)]) -> bool {
    let mut ok = true;
    for (key, place) in keys {
        if let Some(place) = place {
            out.problems.push(problem_at(
                place,
                format!("`{key}` is not a setting of a `{class}` class"),
                format!("remove it: `{class}` takes {takes}"),
            ));
            ok = false;
        }
    }
    ok
}

fn opt_place<T>(out: &FileProblems<'_>, value: Option<&Spanned<T>>) -> Option<Place> {
    value.map(|v| out.place(v))
}

fn check_vars(out: &mut FileProblems<'_>, value: &Spanned<String>) -> bool {
    match pad_layout::vars::check(&value.value) {
        Ok(()) => true,
        Err(err) => {
            out.push(value, format!("bad `${{VAR}}` reference: {err}"), "write `${NAME}`, `${NAME:-default}` or `$$`");
            false
        }
    }
}

fn source_kind(out: &mut FileProblems<'_>, raw: &RawSource, dir: &Utf8Path) -> Option<SourceKind> {
    let class = raw.class_name.value.as_str();
    let base_uri = raw.base_uri.as_ref();
    if let Some(base) = base_uri
        && !check_vars(out, base)
    {
        return None;
    }
    let token_keys = [
        ("token_env", opt_place(out, raw.token_env.as_ref())),
        ("token_header", opt_place(out, raw.token_header.as_ref())),
    ];
    match class {
        "maven" | WU_MAVEN_SOURCE => {
            let ok = reject_keys(out, class, "`base_uri`", &token_keys);
            let Some(base) = base_uri else {
                out.push(
                    &raw.class_name,
                    "a maven source needs `base_uri`",
                    "add `base_uri: https://repo.example.org/maven2` (the repository root)",
                );
                return None;
            };
            ok.then(|| SourceKind::Maven { base_uri: base.value.trim_end_matches('/').to_owned() })
        }
        "url" | WU_FS_SOURCE => {
            let mut keys = token_keys.to_vec();
            keys.push(("base_uri", opt_place(out, base_uri)));
            let ok = reject_keys(out, class, "no settings: the id is the URL (or path)", &keys);
            ok.then(|| if class == "url" { SourceKind::Url } else { SourceKind::ByScheme })
        }
        "gitlab" => {
            let header = match &raw.token_header {
                Some(h) if ["PRIVATE-TOKEN", "JOB-TOKEN", "DEPLOY-TOKEN"].contains(&h.value.as_str()) => {
                    h.value.clone()
                }
                Some(h) => {
                    out.push(
                        h,
                        format!("`{}` is not a GitLab token header", h.value),
                        "use `PRIVATE-TOKEN` (personal, project or group tokens), `JOB-TOKEN` (CI_JOB_TOKEN) or `DEPLOY-TOKEN`",
                    );
                    return None;
                }
                None => "PRIVATE-TOKEN".to_owned(),
            };
            if let Some(var) = &raw.token_env
                && !pad_layout::vars::is_var_name(&var.value)
            {
                out.push(
                    var,
                    format!("`{}` is not an environment variable name", var.value),
                    "name the variable holding the token, such as `GITLAB_TOKEN`",
                );
                return None;
            }
            Some(SourceKind::Gitlab {
                base_uri: base_uri.map(|b| b.value.trim_end_matches('/').to_owned()),
                token_env: raw.token_env.as_ref().map(|v| v.value.clone()),
                token_header: header,
            })
        }
        "fs" => {
            let ok = reject_keys(out, class, "`base_uri` (a directory)", &token_keys);
            let base = base_uri.map_or_else(|| dir.to_string(), |b| absolute_path(&b.value, dir));
            ok.then_some(SourceKind::Fs { base_uri: base })
        }
        other => {
            out.push(&raw.class_name, format!("unknown source class `{other}`"), format!("use {SOURCE_CLASSES}"));
            None
        }
    }
}

/// A path made absolute against `dir`, `file://` removed; values starting with `${`
/// are kept (they are expanded later).
fn absolute_path(value: &str, dir: &Utf8Path) -> String {
    let path = value.strip_prefix("file://").unwrap_or(value);
    if path.starts_with('/') || path.starts_with("${") { path.to_owned() } else { dir.join(path).to_string() }
}

fn scheme(value: &str) -> Option<&str> {
    value.find("://").map(|i| &value[..i])
}

fn cache_kind(out: &mut FileProblems<'_>, raw: &RawCache, dir: &Utf8Path) -> Option<CacheKind> {
    let mut class = raw.class_name.value.as_str();
    let Some(base_uri) = &raw.base_uri else {
        out.push(&raw.class_name, "a cache needs `base_uri`", "add `base_uri`: a directory, `s3://bucket/prefix`, `https://dav.example.org/cache` or `webhdfs://namenode:9870/path`");
        return None;
    };
    if !check_vars(out, base_uri) {
        return None;
    }
    let base = base_uri.value.trim_end_matches('/').to_owned();
    if class == WU_FS_CACHE {
        class = match scheme(&base) {
            None if !base.starts_with("${") => "fs",
            Some("file") => "fs",
            Some("s3") => "s3",
            Some("hdfs" | "webhdfs") => "webhdfs",
            Some("http" | "https") => "webdav",
            _ => {
                out.push(
                    base_uri,
                    format!("cannot tell the cache class from `{}`", base_uri.value),
                    "start `base_uri` with `file://` or `/`, `s3://`, `hdfs://` or `webhdfs://`, `http(s)://`, or set `class_name` to `fs`, `s3`, `webdav` or `webhdfs`",
                );
                return None;
            }
        };
    }
    let p = |v: &Option<Spanned<String>>| v.as_ref().map(|v| out.place(v));
    let s = |v: &Option<Spanned<String>>| v.as_ref().map(|v| v.value.clone());
    let all = [
        ("endpoint", p(&raw.endpoint)),
        ("region", p(&raw.region)),
        ("access_key_id_env", p(&raw.access_key_id_env)),
        ("secret_access_key_env", p(&raw.secret_access_key_env)),
        ("session_token_env", p(&raw.session_token_env)),
        ("virtual_host_style", raw.virtual_host_style.as_ref().map(|v| out.place(v))),
        ("username_env", p(&raw.username_env)),
        ("password_env", p(&raw.password_env)),
        ("user_name", p(&raw.user_name)),
        ("delegation_env", p(&raw.delegation_env)),
    ];
    let takes: &[&str] = match class {
        "fs" => &[],
        "s3" => &[
            "endpoint",
            "region",
            "access_key_id_env",
            "secret_access_key_env",
            "session_token_env",
            "virtual_host_style",
        ],
        "webdav" => &["username_env", "password_env"],
        "webhdfs" => &["endpoint", "user_name", "delegation_env"],
        other => {
            out.push(&raw.class_name, format!("unknown cache class `{other}`"), format!("use {CACHE_CLASSES}"));
            return None;
        }
    };
    let extra: Vec<(&str, Option<Place>)> = all.iter().filter(|(key, _)| !takes.contains(key)).cloned().collect();
    let takes_text = std::iter::once("`base_uri`".to_owned())
        .chain(takes.iter().map(|k| format!("`{k}`")))
        .collect::<Vec<_>>()
        .join(", ");
    if !reject_keys(out, class, &takes_text, &extra) {
        return None;
    }
    for var in [
        &raw.access_key_id_env,
        &raw.secret_access_key_env,
        &raw.session_token_env,
        &raw.username_env,
        &raw.password_env,
        &raw.delegation_env,
    ]
    .into_iter()
    .flatten()
    {
        if !pad_layout::vars::is_var_name(&var.value) {
            out.push(
                var,
                format!("`{}` is not an environment variable name", var.value),
                "name the variable that holds the value, such as `AWS_ACCESS_KEY_ID`",
            );
            return None;
        }
    }
    let want_scheme = |schemes: &[&str], example: &str, out: &mut FileProblems<'_>| -> bool {
        let ok = base.starts_with("${") || scheme(&base).is_some_and(|s| schemes.contains(&s));
        if !ok {
            out.push(
                base_uri,
                format!("`{}` is not a `{class}` location", base_uri.value),
                format!("write it as {example}"),
            );
        }
        ok
    };
    match class {
        "fs" => {
            if scheme(&base).is_some_and(|s| s != "file") {
                out.push(
                    base_uri,
                    format!("`{}` is not a directory", base_uri.value),
                    "write an absolute path, `file:///path`, or a path relative to this file",
                );
                return None;
            }
            Some(CacheKind::Fs { path: absolute_path(&base, dir) })
        }
        "s3" => want_scheme(&["s3"], "`s3://bucket/prefix`", out).then(|| CacheKind::S3 {
            base_uri: base.clone(),
            endpoint: s(&raw.endpoint),
            region: s(&raw.region),
            access_key_id_env: s(&raw.access_key_id_env),
            secret_access_key_env: s(&raw.secret_access_key_env),
            session_token_env: s(&raw.session_token_env),
            virtual_host_style: raw.virtual_host_style.as_ref().is_some_and(|v| v.value),
        }),
        "webdav" => {
            want_scheme(&["http", "https"], "`https://dav.example.org/cache`", out).then(|| CacheKind::Webdav {
                base_uri: base.clone(),
                username_env: s(&raw.username_env),
                password_env: s(&raw.password_env),
            })
        }
        _ => {
            if !want_scheme(&["webhdfs", "hdfs"], "`webhdfs://namenode:9870/path`", out) {
                return None;
            }
            if scheme(&base) == Some("hdfs") && raw.endpoint.is_none() {
                out.push(
                    base_uri,
                    format!("`{}` names the namenode's RPC address, not its HTTP one", base_uri.value),
                    "add `endpoint: http://namenode:9870` (the WebHDFS address), or write `webhdfs://namenode:9870/path`",
                );
                return None;
            }
            Some(CacheKind::Webhdfs {
                base_uri: base.clone(),
                endpoint: s(&raw.endpoint),
                user_name: s(&raw.user_name),
                delegation_env: s(&raw.delegation_env),
            })
        }
    }
}

fn merge(parsed: Vec<Parsed>, problems: &mut Vec<Problem>) -> Config {
    let mut sources: BTreeMap<String, SourceDef> = BTreeMap::new();
    let mut caches: BTreeMap<String, CacheDef> = BTreeMap::new();
    for file in &parsed {
        for def in &file.sources {
            match sources.get(&def.name) {
                Some(first) if first.kind != def.kind => problems.push(problem_at(
                    &def.place,
                    format!("source `{}` is defined differently at {}", def.name, first.place),
                    "define it once (a shared artifacts.yaml can hold it for several projects), or make both definitions equal",
                )),
                Some(_) => {}
                None => {
                    sources.insert(def.name.clone(), def.clone());
                }
            }
        }
        for def in &file.caches {
            match caches.get(&def.name) {
                Some(first) if first.kind != def.kind => problems.push(problem_at(
                    &def.place,
                    format!("cache `{}` is defined differently at {}", def.name, first.place),
                    "define it once (a shared artifacts.yaml can hold it for several projects), or make both definitions equal",
                )),
                Some(_) => {}
                None => {
                    caches.insert(def.name.clone(), def.clone());
                }
            }
        }
    }
    // A file without defaults uses the ones another file sets, when they all agree.
    let shared_source =
        shared(parsed.iter().filter_map(|f| f.default_source.as_ref().map(|(v, p)| (v.clone(), p.clone()))));
    let shared_caches = shared(parsed.iter().filter_map(|f| {
        f.default_caches.as_ref().map(|(v, p)| (v.iter().map(|s| s.value.clone()).collect::<Vec<_>>(), p.clone()))
    }));
    for file in &parsed {
        let out = FileProblems { display: &file.display, problems };
        if let Some((name, place)) = &file.default_source
            && !sources.contains_key(name)
        {
            out.problems.push(unknown("source", name, place, &sources.keys().cloned().collect::<Vec<_>>()));
        }
        if let Some((names, _)) = &file.default_caches {
            for name in names {
                if !caches.contains_key(&name.value) {
                    let place = out.place(name);
                    out.problems.push(unknown(
                        "cache",
                        &name.value,
                        &place,
                        &caches.keys().cloned().collect::<Vec<_>>(),
                    ));
                }
            }
        }
    }

    let mut artifacts: BTreeMap<String, Vec<Artifact>> = BTreeMap::new();
    for file in parsed {
        let mut out = FileProblems { display: &file.display, problems };
        for (name, raw) in file.artifacts {
            let at = out.place(&raw);
            if let Err(why) = check_artifact_name(&name) {
                out.push(&raw, format!("artifact name `{name}` {why}"), "name the artifact by its file name, such as `refinery-job-0.2.1-shaded.jar`: it is the object's name in every cache");
                continue;
            }
            let RawArtifact { id, source, caches: artifact_caches, sha256 } = raw.value;
            if id.value.trim().is_empty() {
                out.push(
                    &id,
                    format!("artifact `{name}` has an empty `id`"),
                    "set `id` to a Maven coordinate, a URL or a path",
                );
                continue;
            }
            if !check_vars(&mut out, &id) {
                continue;
            }
            let source: Option<String> = match (source, &file.default_source, &shared_source) {
                (Some(source), _, _) => {
                    if !sources.contains_key(&source.value) {
                        let place = out.place(&source);
                        out.problems.push(unknown(
                            "source",
                            &source.value,
                            &place,
                            &sources.keys().cloned().collect::<Vec<_>>(),
                        ));
                        None
                    } else {
                        Some(source.value)
                    }
                }
                (None, Some((name, _)), _) | (None, None, Shared::One(name)) => {
                    // An unknown default is reported with the default.
                    sources.contains_key(name).then(|| name.clone())
                }
                (None, None, Shared::Conflict(a, b)) => {
                    out.problems.push(problem_at(
                        &at,
                        format!(
                            "artifact `{name}` names no `source`, and the files set different defaults ({a} and {b})"
                        ),
                        "add `source:` to the artifact, or set `default_artifact_source` in this file",
                    ));
                    None
                }
                (None, None, Shared::None) => {
                    out.problems.push(problem_at(
                        &at,
                        format!("artifact `{name}` names no `source`, and no `default_artifact_source` is set"),
                        "add `source: NAME` to the artifact, or `default_artifact_source: NAME` to the file",
                    ));
                    None
                }
            };
            let names: Vec<Spanned<String>> = match (artifact_caches, &file.default_caches, &shared_caches) {
                (Some(list), _, _) => list.value,
                (None, Some((list, _)), _) => list.clone(),
                (None, None, Shared::One(list)) => list
                    .iter()
                    .map(|n| Spanned::new(n.clone(), serde_saphyr::Location::UNKNOWN, serde_saphyr::Location::UNKNOWN))
                    .collect(),
                (None, None, Shared::Conflict(_, _)) => {
                    out.problems.push(problem_at(
                        &at,
                        format!(
                            "artifact `{name}` names no `caches`, and the files set different `default_artifact_caches`"
                        ),
                        "add `caches: [NAME]` to the artifact, or set `default_artifact_caches` in this file",
                    ));
                    continue;
                }
                (None, None, Shared::None) => {
                    out.problems.push(problem_at(
                        &at,
                        format!("artifact `{name}` names no `caches`, and no `default_artifact_caches` is set"),
                        "add `caches: [NAME]` to the artifact, or `default_artifact_caches: [NAME]` to the file",
                    ));
                    continue;
                }
            };
            if names.is_empty() {
                out.problems.push(problem_at(
                    &at,
                    format!("artifact `{name}` goes to no cache"),
                    "list at least one cache in `caches` (or `default_artifact_caches`)",
                ));
                continue;
            }
            let mut cache_names = Vec::new();
            let mut ok = true;
            for cache in &names {
                if !caches.contains_key(&cache.value) {
                    // Unknown defaults are reported once, with the default.
                    if cache.referenced != serde_saphyr::Location::UNKNOWN
                        && !file
                            .default_caches
                            .as_ref()
                            .is_some_and(|(d, _)| d.iter().any(|d| d.referenced == cache.referenced))
                    {
                        let place = out.place(cache);
                        out.problems.push(unknown(
                            "cache",
                            &cache.value,
                            &place,
                            &caches.keys().cloned().collect::<Vec<_>>(),
                        ));
                    }
                    ok = false;
                } else if !cache_names.contains(&cache.value) {
                    cache_names.push(cache.value.clone());
                }
            }
            let sha256 = match sha256 {
                Some(sum) if is_sha256_hex(&sum.value) => Some(sum.value.to_ascii_lowercase()),
                Some(sum) => {
                    out.push(
                        &sum,
                        format!("`sha256` of `{name}` is not a sha256"),
                        "write the 64 hex digits `sha256sum FILE` prints",
                    );
                    continue;
                }
                None => None,
            };
            let Some(source) = source else {
                continue;
            };
            if !ok {
                continue;
            }
            artifacts.entry(name.clone()).or_default().push(Artifact {
                name,
                id: id.value,
                source,
                caches: cache_names,
                sha256,
                place: at,
                dir: file.dir.clone(),
            });
        }
    }

    let mut merged = Vec::new();
    for (name, mut defs) in artifacts {
        let mut first = defs.remove(0);
        for other in defs {
            let same = other.id == first.id && other.source == first.source && other.sha256 == first.sha256;
            if same {
                for cache in other.caches {
                    if !first.caches.contains(&cache) {
                        first.caches.push(cache);
                    }
                }
                continue;
            }
            if let Some(cache) = other.caches.iter().find(|c| first.caches.contains(c)) {
                problems.push(problem_at(
                    &other.place,
                    format!(
                        "two artifacts named `{name}` go to cache `{cache}`: this one (id `{}`) and the one at {} (id `{}`)",
                        other.id, first.place, first.id
                    ),
                    "the name is the object's name in the cache: rename one of them (by its file name, with its version)",
                ));
            }
        }
        merged.push(first);
    }
    Config { files: Vec::new(), sources, caches, artifacts: merged }
}

enum Shared<T> {
    None,
    One(T),
    Conflict(Place, Place),
}

fn shared<T: PartialEq>(values: impl Iterator<Item = (T, Place)>) -> Shared<T> {
    let mut found: Option<(T, Place)> = None;
    for (value, place) in values {
        match &found {
            None => found = Some((value, place)),
            Some((first, first_place)) if *first != value => return Shared::Conflict(first_place.clone(), place),
            Some(_) => {}
        }
    }
    found.map_or(Shared::None, |(v, _)| Shared::One(v))
}

fn unknown(what: &str, name: &str, place: &Place, known: &[String]) -> Problem {
    let known = if known.is_empty() {
        "none is declared".to_owned()
    } else {
        format!("declared: {}", known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))
    };
    problem_at(
        place,
        format!("unknown {what} `{name}` ({known})"),
        format!(
            "declare `{name}` under `artifact_{what}s` (here or in a shared artifacts.yaml passed along), or fix the name"
        ),
    )
}

fn check_artifact_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.contains('/') || name.contains('\\') {
        return Err("contains a path separator");
    }
    if name.starts_with('.') {
        return Err("starts with `.` (hidden names are the cache's temporary files)");
    }
    if name.ends_with(".sha256") {
        return Err("ends with `.sha256`, the suffix of the checksum stored beside each artifact");
    }
    if name.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    Ok(())
}

pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}
