//! Classes: a source's or cache's `class_name` (ours, or workflow_utils' chosen by the
//! scheme of an id or `base_uri`) and the settings that class takes, into a
//! [`SourceKind`] or [`CacheKind`]; a setting another class takes is a problem.

use camino::Utf8Path;
use serde_saphyr::Spanned;

use super::raw::{FileProblems, RawCache, RawSource, check_vars, problem_at};
use super::{CacheKind, Place, SourceKind, WU_FS_CACHE, WU_FS_SOURCE, WU_MAVEN_SOURCE};

const SOURCE_CLASSES: &str = "`maven`, `url`, `gitlab`, `fs`, `workflow_utils.artifact.maven.MavenArtifactSource` or `workflow_utils.artifact.FsArtifactSource`";
const CACHE_CLASSES: &str =
    "`fs`, `s3`, `webdav`, `webhdfs` or `workflow_utils.artifact.FsArtifactCache` (chosen by the scheme of `base_uri`)";

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

pub(super) fn source_kind(out: &mut FileProblems<'_>, raw: &RawSource, dir: &Utf8Path) -> Option<SourceKind> {
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

pub(super) fn cache_kind(out: &mut FileProblems<'_>, raw: &RawCache, dir: &Utf8Path) -> Option<CacheKind> {
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
