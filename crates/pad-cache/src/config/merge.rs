//! Several files into one [`Config`]: sources and caches declared once serve all (two
//! different definitions of one name are a problem), defaults apply per file, and each
//! artifact gets its source and caches, checked to exist, with no two artifacts of one
//! name in one cache.

use std::collections::BTreeMap;

use pad_layout::Problem;
use pad_store::checksum::is_sha256_hex;
use serde_saphyr::Spanned;

use super::raw::{FileProblems, Parsed, RawArtifact, check_vars, problem_at};
use super::{Artifact, CacheDef, Config, Place, SourceDef};

pub(super) fn merge(parsed: Vec<Parsed>, problems: &mut Vec<Problem>) -> Config {
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
