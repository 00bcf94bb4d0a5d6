//! Sources: where an artifact's bytes come from (a Maven repository, a URL, a GitLab
//! generic package, a file) and the checksums that vouch for them.

use std::fs::File;
use std::io::Read;

use camino::{Utf8Path, Utf8PathBuf};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::config::{Artifact, SourceDef, SourceKind};
use crate::error::TransferError;
use crate::http::{self, Secret};

/// A checksum algorithm a source may publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 40,
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A checksum the artifact must have, and who says so.
#[derive(Debug, Clone)]
pub(crate) struct Expected {
    pub(crate) algorithm: Algorithm,
    pub(crate) hex: String,
    pub(crate) from: String,
}

/// Where to read an artifact from, once `${VAR}`s are expanded.
#[derive(Debug)]
pub(crate) enum Origin {
    Http {
        url: String,
        /// Headers sent to the source's own host only (never along a redirect elsewhere).
        auth: Option<(&'static str, Secret)>,
        /// Checksum files to try, strongest first; the first one found counts.
        checksums: Vec<(Algorithm, String)>,
        /// GitLab (18.6 and later) reports the sha256 in `X-Checksum-SHA256`.
        checksum_header: bool,
    },
    File {
        path: Utf8PathBuf,
        checksums: Vec<(Algorithm, Utf8PathBuf)>,
    },
}

impl Origin {
    pub(crate) fn location(&self) -> String {
        match self {
            Origin::Http { url, .. } => http::redact_userinfo(url),
            Origin::File { path, .. } => path.to_string(),
        }
    }
}

/// An artifact being read.
pub(crate) struct Opened {
    pub(crate) reader: Box<dyn Read + Send>,
    pub(crate) length: Option<u64>,
    pub(crate) expected: Vec<Expected>,
}

type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

fn expand(value: &str, env: Env<'_>) -> Result<String, TransferError> {
    pad_layout::vars::expand(value, env).map_err(|source| TransferError::Var { value: value.to_owned(), source })
}

/// The checksum files Maven repositories publish beside an artifact, the ones most
/// often present first.
const MAVEN_CHECKSUMS: [Algorithm; 3] = [Algorithm::Sha256, Algorithm::Sha512, Algorithm::Sha1];

/// The path of a Maven artifact in the repository layout, from
/// `group:artifact[:type[:classifier]]:version`.
pub fn maven_path(id: &str) -> Result<String, String> {
    let parts: Vec<&str> = id.split(':').collect();
    let (group, artifact, kind, classifier, version) = match parts.as_slice() {
        [g, a, v] => (*g, *a, "jar", None, *v),
        [g, a, t, v] => (*g, *a, *t, None, *v),
        [g, a, t, c, v] => (*g, *a, *t, Some(*c), *v),
        _ => {
            return Err(format!(
                "a Maven id is `group:artifact[:type[:classifier]]:version`, and this one has {} parts",
                parts.len()
            ));
        }
    };
    for (what, part) in [("group", group), ("artifact", artifact), ("type", kind), ("version", version)] {
        if part.is_empty() || part.contains('/') || part == ".." {
            return Err(format!("its {what} `{part}` is empty or not a plain name"));
        }
    }
    let classifier = match classifier {
        Some("") | None => String::new(),
        Some(c) if c.contains('/') => return Err(format!("its classifier `{c}` is not a plain name")),
        Some(c) => format!("-{c}"),
    };
    Ok(format!("{}/{artifact}/{version}/{artifact}-{version}{classifier}.{kind}", group.replace('.', "/")))
}

/// Where `artifact` comes from, with `${VAR}`s expanded.
pub(crate) fn resolve(artifact: &Artifact, source: &SourceDef, env: Env<'_>) -> Result<Origin, TransferError> {
    let id = expand(&artifact.id, env)?;
    let bad = |reason: String| TransferError::BadId { id: id.clone(), reason };
    match &source.kind {
        SourceKind::Maven { base_uri } => {
            let base = expand(base_uri, env)?;
            let path = maven_path(&id).map_err(bad)?;
            if let Some(dir) = base.strip_prefix("file://") {
                let file = Utf8PathBuf::from(dir).join(&path);
                let checksums = MAVEN_CHECKSUMS.iter().map(|a| (*a, Utf8PathBuf::from(format!("{file}.{}", a.name())))).collect();
                return Ok(Origin::File { path: file, checksums });
            }
            if !base.starts_with("http://") && !base.starts_with("https://") {
                return Err(bad(format!("the source's base_uri `{base}` is not an http(s):// or file:// URL")));
            }
            let url = http::join_path(&base, &path);
            let checksums = MAVEN_CHECKSUMS.iter().map(|a| (*a, format!("{url}.{}", a.name()))).collect();
            Ok(Origin::Http { url, auth: None, checksums, checksum_header: false })
        }
        SourceKind::Url => url_origin(&id).ok_or_else(|| bad("a `url` source takes http://, https:// or file:// URLs".to_owned())),
        SourceKind::ByScheme => match url_origin(&id) {
            Some(origin) => Ok(origin),
            None if id.contains("://") => Err(bad("FsArtifactSource reads http://, https:// and file:// URLs and paths here (hdfs:// sources are not supported)".to_owned())),
            None => Ok(Origin::File { path: absolute(&artifact.dir, &id), checksums: Vec::new() }),
        },
        SourceKind::Fs { base_uri } => {
            let base = expand(base_uri, env)?;
            let path = id.strip_prefix("file://").unwrap_or(&id);
            Ok(Origin::File { path: absolute(Utf8Path::new(&base), path), checksums: Vec::new() })
        }
        SourceKind::Gitlab { base_uri, token_env, token_header } => {
            let url = if id.starts_with("http://") || id.starts_with("https://") {
                id.clone()
            } else {
                let Some(base) = base_uri else {
                    return Err(bad(format!("is not a URL, and source `{}` has no `base_uri` to put it under", source.name)));
                };
                http::join_path(&expand(base, env)?, &id)
            };
            let auth = match token_env {
                Some(var) => match env(var) {
                    Some(token) if !token.is_empty() => Some((header_name(token_header), Secret::new(token))),
                    _ => {
                        return Err(TransferError::Var {
                            value: format!("token_env: {var}"),
                            source: pad_layout::vars::VarError::Missing { name: var.clone() },
                        });
                    }
                },
                None => None,
            };
            // GitLab sends X-Checksum-SHA256 from 18.6 on; before that, the `.sha256` that
            // `cargo xtask publish` puts beside each file is the published checksum.
            let checksums = vec![(Algorithm::Sha256, format!("{url}.sha256"))];
            Ok(Origin::Http { url, auth, checksums, checksum_header: true })
        }
    }
}

fn header_name(header: &str) -> &'static str {
    match header {
        "JOB-TOKEN" => "JOB-TOKEN",
        "DEPLOY-TOKEN" => "DEPLOY-TOKEN",
        _ => "PRIVATE-TOKEN",
    }
}

fn url_origin(id: &str) -> Option<Origin> {
    if id.starts_with("http://") || id.starts_with("https://") {
        return Some(Origin::Http { url: id.to_owned(), auth: None, checksums: Vec::new(), checksum_header: false });
    }
    id.strip_prefix("file://").map(|path| Origin::File { path: Utf8PathBuf::from(path), checksums: Vec::new() })
}

fn absolute(dir: &Utf8Path, path: &str) -> Utf8PathBuf {
    let path = Utf8Path::new(path);
    if path.is_absolute() { path.to_owned() } else { dir.join(path) }
}

/// The first word of a checksum file, when it is a checksum of that algorithm.
pub(crate) fn parse_checksum(text: &str, algorithm: Algorithm) -> Option<String> {
    pad_store::checksum::parse_hex(text, algorithm.hex_len())
}

/// Reads sources over HTTP and from files.
pub(crate) struct Fetcher {
    agent: ureq::Agent,
}

impl Fetcher {
    pub(crate) fn new() -> Fetcher {
        Fetcher { agent: http::agent() }
    }

    /// Opens the artifact for reading, after looking up its published checksum.
    pub(crate) fn open(&self, origin: &Origin, id: &str) -> Result<Opened, TransferError> {
        match origin {
            Origin::File { path, checksums } => {
                let mut expected = Vec::new();
                for (algorithm, file) in checksums {
                    match std::fs::read_to_string(file) {
                        Ok(text) => {
                            let hex = parse_checksum(&text, *algorithm).ok_or_else(|| TransferError::BadId {
                                id: id.to_owned(),
                                reason: format!("`{file}` does not hold a {} checksum", algorithm.name()),
                            })?;
                            expected.push(Expected { algorithm: *algorithm, hex, from: file.to_string() });
                            break;
                        }
                        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => return Err(TransferError::ReadFile { path: file.clone(), source }),
                    }
                }
                let file = File::open(path).map_err(|source| TransferError::ReadFile { path: path.clone(), source })?;
                let length = file.metadata().ok().map(|m| m.len());
                Ok(Opened { reader: Box::new(file), length, expected })
            }
            Origin::Http { url, auth, checksums, checksum_header } => {
                let mut expected = Vec::new();
                for (algorithm, checksum_url) in checksums {
                    if let Some(text) = self.get_small(checksum_url, auth.as_ref())? {
                        let hex = parse_checksum(&text, *algorithm).ok_or_else(|| TransferError::BadId {
                            id: id.to_owned(),
                            reason: format!("{checksum_url} does not hold a {} checksum", algorithm.name()),
                        })?;
                        expected.push(Expected { algorithm: *algorithm, hex, from: checksum_url.clone() });
                        break;
                    }
                }
                let response = self.get(url, auth.as_ref(), id)?;
                if *checksum_header {
                    let header = response.headers().get("X-Checksum-SHA256").and_then(|v| v.to_str().ok());
                    if let Some(hex) = header.and_then(|h| parse_checksum(h, Algorithm::Sha256)) {
                        expected.push(Expected {
                            algorithm: Algorithm::Sha256,
                            hex,
                            from: format!("the X-Checksum-SHA256 header of {url}"),
                        });
                    }
                }
                let length = response.body().content_length();
                let reader = response.into_body().into_reader();
                Ok(Opened { reader: Box::new(reader), length, expected })
            }
        }
    }

    /// A successful `GET`, following redirects (credentials go to the first host only).
    fn get(
        &self,
        url: &str,
        auth: Option<&(&'static str, Secret)>,
        id: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, TransferError> {
        let first = url.to_owned();
        let mut url = url.to_owned();
        for _ in 0..=http::MAX_REDIRECTS {
            let mut request = self.agent.get(&url);
            if let Some((header, secret)) = auth
                && http::origin(&url) == http::origin(&first)
            {
                request = request.header(*header, secret.expose());
            }
            let shown = http::redact_userinfo(&url);
            let mut response =
                request.call().map_err(|source| TransferError::Unreachable { url: shown.clone(), source })?;
            let status = response.status().as_u16();
            match status {
                200..=299 => return Ok(response),
                301 | 302 | 303 | 307 | 308 => {
                    let Some(location) = response.headers().get("Location").and_then(|v| v.to_str().ok()) else {
                        return Err(TransferError::Server {
                            url: shown,
                            status,
                            message: "a redirect without a Location".to_owned(),
                        });
                    };
                    url = http::resolve_location(&url, location);
                }
                404 | 410 => return Err(TransferError::NotFound { url: shown, id: id.to_owned() }),
                _ if http::retryable_status(status) => {
                    return Err(TransferError::Server {
                        url: shown,
                        status,
                        message: http::error_message(&mut response),
                    });
                }
                401 | 403 => {
                    let hint = match auth {
                        Some((header, _)) => format!(
                            "the token sent as {header} may not read it: check the variable named by `token_env` and the token's scope"
                        ),
                        None => {
                            "the source needs credentials: for a GitLab package, set `token_env` on a `gitlab` source"
                                .to_owned()
                        }
                    };
                    return Err(TransferError::Refused {
                        url: shown,
                        status,
                        message: http::error_message(&mut response),
                        hint,
                    });
                }
                _ => {
                    return Err(TransferError::Refused {
                        url: shown,
                        status,
                        message: http::error_message(&mut response),
                        hint: "a client error is not retried: check the id and the source".to_owned(),
                    });
                }
            }
        }
        Err(TransferError::TooManyRedirects { url: http::redact_userinfo(&first), max: http::MAX_REDIRECTS })
    }

    /// A small text resource (a checksum file); `None` when it does not exist.
    fn get_small(&self, url: &str, auth: Option<&(&'static str, Secret)>) -> Result<Option<String>, TransferError> {
        match self.get(url, auth, url) {
            Ok(mut response) => {
                let text = response
                    .body_mut()
                    .with_config()
                    .limit(64 * 1024)
                    .read_to_string()
                    .map_err(|source| TransferError::Unreachable { url: http::redact_userinfo(url), source })?;
                Ok(Some(text))
            }
            Err(TransferError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// Hashes what streams through: sha256 always (it is stored beside each copy), and
/// whatever else the source published.
pub(crate) struct Hashes {
    sha256: Sha256,
    sha1: Option<Sha1>,
    sha512: Option<Sha512>,
}

impl Hashes {
    pub(crate) fn new(expected: &[Expected]) -> Hashes {
        let wants = |a| expected.iter().any(|e| e.algorithm == a);
        Hashes {
            sha256: Sha256::new(),
            sha1: wants(Algorithm::Sha1).then(Sha1::new),
            sha512: wants(Algorithm::Sha512).then(Sha512::new),
        }
    }

    pub(crate) fn update(&mut self, chunk: &[u8]) {
        self.sha256.update(chunk);
        if let Some(h) = &mut self.sha1 {
            h.update(chunk);
        }
        if let Some(h) = &mut self.sha512 {
            h.update(chunk);
        }
    }

    /// The sha256, after checking every expected checksum.
    pub(crate) fn verify(self, expected: &[Expected], url: &str) -> Result<String, TransferError> {
        let sha256 = format!("{:x}", self.sha256.finalize());
        let sha1 = self.sha1.map(|h| format!("{:x}", h.finalize()));
        let sha512 = self.sha512.map(|h| format!("{:x}", h.finalize()));
        for e in expected {
            let actual = match e.algorithm {
                Algorithm::Sha256 => Some(&sha256),
                Algorithm::Sha1 => sha1.as_ref(),
                Algorithm::Sha512 => sha512.as_ref(),
            };
            if let Some(actual) = actual
                && !actual.eq_ignore_ascii_case(&e.hex)
            {
                return Err(TransferError::Mismatch {
                    url: url.to_owned(),
                    algorithm: e.algorithm.name(),
                    actual: actual.clone(),
                    expected: e.hex.clone(),
                    from: e.from.clone(),
                });
            }
        }
        Ok(sha256)
    }
}
