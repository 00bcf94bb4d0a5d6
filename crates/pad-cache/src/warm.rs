//! `status` and `warm`: what each cache holds for each artifact, and copying what is
//! missing or wrong, each source read once for all its caches, several artifacts at once.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::config::{Artifact, Config};
use crate::error::TransferError;
use crate::source::{self, Algorithm, Expected, Fetcher, Hashes};
use crate::store::{Cache, CacheState, Sink};
use pad_store::{ATTEMPTS, backoff, retry};

/// How much is read from a source at a time.
const CHUNK: usize = 1024 * 1024;

/// How `status` and `warm` run.
pub struct Options<'a> {
    /// How many artifacts are worked on at once (at least 1).
    pub jobs: usize,
    /// Copy even what is present and right.
    pub force: bool,
    /// Looks environment variables up (`${VAR}`, credentials); the crate reads none itself.
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
}

/// Receives the progress of a warm. Every method has a default that does nothing.
pub trait WarmProgress: Sync {
    /// Before any work: how many artifacts there are.
    fn begin(&self, _artifacts: usize) {}
    /// A copy of `name` starts (again, on a retry), `total` bytes when known.
    fn copying(&self, _name: &str, _total: Option<u64>) {}
    /// `bytes` more were read from a source.
    fn advance(&self, _bytes: u64) {}
    /// An artifact is done.
    fn done(&self, _report: &ArtifactReport) {}
}

/// `()` reports nothing.
impl WarmProgress for () {}

/// What happened to one artifact in one cache.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Already there with the right checksum: nothing was copied.
    Present,
    Copied {
        bytes: u64,
        seconds: f64,
        sha256: String,
    },
    Failed {
        error: String,
        attempts: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheOutcome {
    pub cache: String,
    pub location: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArtifactReport {
    pub name: String,
    pub id: String,
    pub source: String,
    pub caches: Vec<CacheOutcome>,
}

/// The artifact as a whole: `failed` if any cache failed, else `copied` if any was
/// copied, else `present`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Summary {
    Present,
    Copied,
    Failed,
}

impl ArtifactReport {
    pub fn summary(&self) -> Summary {
        if self.caches.iter().any(|c| matches!(c.outcome, Outcome::Failed { .. })) {
            Summary::Failed
        } else if self.caches.iter().any(|c| matches!(c.outcome, Outcome::Copied { .. })) {
            Summary::Copied
        } else {
            Summary::Present
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WarmReport {
    pub artifacts: Vec<ArtifactReport>,
    /// Bytes read from sources.
    pub bytes: u64,
    pub seconds: f64,
    /// Temporary files that interrupted runs left in directory caches, removed
    /// (see [`crate::STALE_TMP`]).
    pub swept: Vec<String>,
}

impl WarmReport {
    pub fn count(&self, summary: Summary) -> usize {
        self.artifacts.iter().filter(|a| a.summary() == summary).count()
    }

    pub fn ok(&self) -> bool {
        self.count(Summary::Failed) == 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheStatus {
    pub cache: String,
    pub location: String,
    #[serde(flatten)]
    pub state: CacheState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactStatus {
    pub name: String,
    pub id: String,
    pub source: String,
    pub caches: Vec<CacheStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub artifacts: Vec<ArtifactStatus>,
    pub seconds: f64,
}

impl StatusReport {
    /// Whether every artifact is present and right in every cache.
    pub fn warm(&self) -> bool {
        self.artifacts.iter().all(|a| a.caches.iter().all(|c| matches!(c.state, CacheState::Present { .. })))
    }

    /// How many (artifact, cache) pairs are in each state: present, missing, wrong, error.
    pub fn counts(&self) -> [usize; 4] {
        let mut counts = [0; 4];
        for cache in self.artifacts.iter().flat_map(|a| &a.caches) {
            counts[match cache.state {
                CacheState::Present { .. } => 0,
                CacheState::Missing => 1,
                CacheState::Wrong { .. } => 2,
                CacheState::Error { .. } => 3,
            }] += 1;
        }
        counts
    }
}

/// The open caches of a config.
struct Caches {
    stores: BTreeMap<String, Result<Cache, String>>,
}

impl Caches {
    fn open(config: &Config, options: &Options<'_>) -> Caches {
        let stores = config
            .caches
            .values()
            .map(|def| (def.name.clone(), Cache::open(def, options.env).map_err(|err| shown(&err))))
            .collect();
        Caches { stores }
    }

    fn get(&self, name: &str) -> Result<&Cache, String> {
        match self.stores.get(name) {
            Some(Ok(store)) => Ok(store),
            Some(Err(err)) => Err(err.clone()),
            None => Err(format!("cache `{name}` is not declared")),
        }
    }
}

fn pool(jobs: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .thread_name(|i| format!("pad-cache-{i}"))
        .build()
        .expect("a thread pool can be built")
}

/// What each cache holds for each artifact: existence and the stored checksum, no
/// download.
pub fn status(config: &Config, options: &Options<'_>) -> StatusReport {
    let started = Instant::now();
    let caches = Caches::open(config, options);
    let artifacts = pool(options.jobs).install(|| {
        config
            .artifacts
            .par_iter()
            .map(|artifact| ArtifactStatus {
                name: artifact.name.clone(),
                id: artifact.id.clone(),
                source: artifact.source.clone(),
                caches: artifact
                    .caches
                    .iter()
                    .map(|cache| match caches.get(cache) {
                        Ok(store) => CacheStatus {
                            cache: cache.clone(),
                            location: store.location(&artifact.name),
                            state: retry(|_| store.state(&artifact.name, artifact.sha256.as_deref()))
                                .0
                                .unwrap_or_else(|err| CacheState::Error { error: shown(&err) }),
                        },
                        Err(error) => CacheStatus {
                            cache: cache.clone(),
                            location: String::new(),
                            state: CacheState::Error { error },
                        },
                    })
                    .collect(),
            })
            .collect()
    });
    StatusReport { artifacts, seconds: started.elapsed().as_secs_f64() }
}

/// Copies every artifact that is missing or wrong in one of its caches (all of them
/// with `force`), and reports each.
pub fn warm(config: &Config, options: &Options<'_>, progress: &dyn WarmProgress) -> WarmReport {
    let started = Instant::now();
    let caches = Caches::open(config, options);
    let swept: Vec<String> = caches.stores.values().filter_map(|s| s.as_ref().ok()).flat_map(Cache::sweep).collect();
    let fetcher = Fetcher::new();
    progress.begin(config.artifacts.len());
    let results: Vec<(ArtifactReport, u64)> = pool(options.jobs).install(|| {
        config
            .artifacts
            .par_iter()
            .map(|artifact| {
                let (report, bytes) = warm_one(config, &caches, &fetcher, artifact, options, progress);
                progress.done(&report);
                (report, bytes)
            })
            .collect()
    });
    let bytes = results.iter().map(|(_, b)| b).sum();
    WarmReport {
        artifacts: results.into_iter().map(|(r, _)| r).collect(),
        bytes,
        seconds: started.elapsed().as_secs_f64(),
        swept,
    }
}

/// A cache that needs a copy.
struct Target<'a> {
    index: usize,
    store: &'a Cache,
    /// Something is there already (wrong, or present under `force`).
    replace: bool,
}

fn warm_one(
    config: &Config,
    caches: &Caches,
    fetcher: &Fetcher,
    artifact: &Artifact,
    options: &Options<'_>,
    progress: &dyn WarmProgress,
) -> (ArtifactReport, u64) {
    let started = Instant::now();
    let name = &artifact.name;
    let mut outcomes: Vec<CacheOutcome> = Vec::new();
    let mut targets: Vec<Target<'_>> = Vec::new();
    for cache in &artifact.caches {
        let index = outcomes.len();
        let store = match caches.get(cache) {
            Ok(store) => store,
            Err(error) => {
                outcomes.push(CacheOutcome {
                    cache: cache.clone(),
                    location: String::new(),
                    outcome: Outcome::Failed { error, attempts: 1 },
                });
                continue;
            }
        };
        let location = store.location(name);
        let (state, attempts) = retry(|_| store.state(name, artifact.sha256.as_deref()));
        let outcome = match state {
            Ok(CacheState::Present { .. }) if !options.force => Outcome::Present,
            Ok(CacheState::Present { .. } | CacheState::Wrong { .. }) => {
                targets.push(Target { index, store, replace: true });
                Outcome::Present
            }
            Ok(CacheState::Missing) => {
                targets.push(Target { index, store, replace: false });
                Outcome::Present
            }
            Ok(CacheState::Error { error }) => Outcome::Failed { error, attempts },
            Err(err) => Outcome::Failed { error: shown(&err), attempts },
        };
        outcomes.push(CacheOutcome { cache: cache.clone(), location, outcome });
    }

    let mut read_total = 0;
    let mut attempt = 1;
    while !targets.is_empty() {
        let (results, source_error, read) = copy(config, fetcher, artifact, &targets, options, progress);
        read_total += read;
        let mut retry_targets = Vec::new();
        match source_error {
            Some(err) if err.is_transient() && attempt < ATTEMPTS => {
                tracing::info!(artifact = name, %err, attempt, "retrying");
                retry_targets = targets;
            }
            Some(err) => {
                let error = shown(&err);
                for target in &targets {
                    outcomes[target.index].outcome = Outcome::Failed { error: error.clone(), attempts: attempt };
                }
            }
            None => {
                for (target, result) in targets.into_iter().zip(results) {
                    match result {
                        Ok((bytes, sha256)) => {
                            outcomes[target.index].outcome =
                                Outcome::Copied { bytes, seconds: started.elapsed().as_secs_f64(), sha256 }
                        }
                        Err(err) if err.is_transient() && attempt < ATTEMPTS => {
                            tracing::info!(artifact = name, %err, attempt, "retrying");
                            retry_targets.push(target);
                        }
                        Err(err) => {
                            outcomes[target.index].outcome = Outcome::Failed { error: shown(&err), attempts: attempt }
                        }
                    }
                }
            }
        }
        targets = retry_targets;
        if !targets.is_empty() {
            std::thread::sleep(backoff(attempt));
            attempt += 1;
        }
    }
    let report = ArtifactReport {
        name: name.clone(),
        id: artifact.id.clone(),
        source: artifact.source.clone(),
        caches: outcomes,
    };
    (report, read_total)
}

type CopyResult = (Vec<Result<(u64, String), TransferError>>, Option<TransferError>, u64);

/// One attempt: reads the source once and streams it into every target. Returns the
/// result per target, or the source's error (every target then failed with it), and the
/// bytes read.
fn copy(
    config: &Config,
    fetcher: &Fetcher,
    artifact: &Artifact,
    targets: &[Target<'_>],
    options: &Options<'_>,
    progress: &dyn WarmProgress,
) -> CopyResult {
    let fail = |err| (Vec::new(), Some(err), 0);
    let Some(source) = config.sources.get(&artifact.source) else {
        return fail(TransferError::BadId {
            id: artifact.id.clone(),
            reason: format!("source `{}` is not declared", artifact.source),
        });
    };
    let origin = match source::resolve(artifact, source, options.env) {
        Ok(origin) => origin,
        Err(err) => return fail(err),
    };
    let url = origin.location();
    let mut opened = match fetcher.open(&origin, &artifact.id) {
        Ok(opened) => opened,
        Err(err) => return fail(err),
    };
    opened.expected.extend(declared(artifact));
    progress.copying(&artifact.name, opened.length);

    let mut errors: Vec<Option<TransferError>> = Vec::with_capacity(targets.len());
    let mut sinks: Vec<Option<Sink<'_>>> = Vec::with_capacity(targets.len());
    for target in targets {
        match target.store.begin(&artifact.name, opened.length, target.replace) {
            Ok(sink) => {
                sinks.push(Some(sink));
                errors.push(None);
            }
            Err(err) => {
                sinks.push(None);
                errors.push(Some(err));
            }
        }
    }
    let abort_all = |sinks: Vec<Option<Sink<'_>>>| {
        for sink in sinks.into_iter().flatten() {
            sink.abort();
        }
    };
    if sinks.iter().all(Option::is_none) {
        // Nowhere to write: the source is not read at all.
        let results = errors.into_iter().map(|e| Err(e.expect("every sink failed"))).collect();
        return (results, None, 0);
    }

    let mut hashes = Hashes::new(&opened.expected);
    let read = match stream(opened.reader.as_mut(), &mut sinks, &mut errors, &mut hashes, progress, &url) {
        Ok(read) => read,
        Err((err, read)) => {
            abort_all(sinks);
            return (Vec::new(), Some(err), read);
        }
    };
    if let Some(expected) = opened.length
        && read != expected
    {
        abort_all(sinks);
        return (Vec::new(), Some(TransferError::Truncated { url, got: read, expected }), read);
    }
    let sha256 = match hashes.verify(&opened.expected, &url) {
        Ok(sha256) => sha256,
        Err(err) => {
            abort_all(sinks);
            return (Vec::new(), Some(err), read);
        }
    };
    let results = sinks
        .into_iter()
        .zip(errors)
        .map(|(sink, error)| match (sink, error) {
            (_, Some(err)) => Err(err),
            (Some(sink), None) => sink.commit(&sha256).map(|()| (read, sha256.clone())),
            (None, None) => unreachable!("a sink is either open or failed"),
        })
        .collect();
    (results, None, read)
}

/// Streams `reader` into every sink, hashing as it goes. A sink that fails is aborted
/// and its error kept; a read error ends the stream (with the bytes read so far).
fn stream(
    reader: &mut dyn Read,
    sinks: &mut [Option<Sink<'_>>],
    errors: &mut [Option<TransferError>],
    hashes: &mut Hashes,
    progress: &dyn WarmProgress,
    url: &str,
) -> Result<u64, (TransferError, u64)> {
    let mut buf = vec![0; CHUNK];
    let mut got = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => return Err((TransferError::Broken { url: url.to_owned(), got, source }, got)),
        };
        got += n as u64;
        hashes.update(&buf[..n]);
        progress.advance(n as u64);
        for (slot, error) in sinks.iter_mut().zip(errors.iter_mut()) {
            if let Some(sink) = slot
                && let Err(err) = sink.write(&buf[..n])
            {
                if let Some(sink) = slot.take() {
                    sink.abort();
                }
                *error = Some(err);
            }
        }
    }
}

/// The checksum artifacts.yaml gives, if any.
fn declared(artifact: &Artifact) -> Option<Expected> {
    artifact.sha256.as_ref().map(|hex| Expected {
        algorithm: Algorithm::Sha256,
        hex: hex.clone(),
        from: format!("the `sha256` of `{}` at {}", artifact.name, artifact.place),
    })
}

/// An error as a report holds it: the whole chain, redacted (a server may have quoted a
/// credential back, see `pad_store::redact`).
fn shown(err: &dyn std::error::Error) -> String {
    pad_store::redact(&pad_layout::error_chain(err))
}
