//! `cargo xtask cache status|warm [FILE…]`: the artifact caches of every artifacts.yaml
//! in the repository (or of the files given), through `pad-cache`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};
use indicatif::{ProgressBar, ProgressStyle};
use pad_cache::{ArtifactReport, ConfigFile, Options, Summary, WarmProgress};

use crate::flags::{CacheCommand, CacheStatusArgs, CacheWarmArgs};

pub(crate) fn run(root: &Utf8Path, command: &CacheCommand) -> Result<ExitCode> {
    match command {
        CacheCommand::Status(args) => status(root, args),
        CacheCommand::Warm(args) => warm(root, args),
    }
}

/// The files given (relative to the current directory, as a shell user means them), or
/// every artifacts.yaml in the repository.
fn files(root: &Utf8Path, given: &[Utf8PathBuf]) -> Result<Vec<ConfigFile>> {
    if given.is_empty() {
        let files = pad_cache::repo_files(root);
        if files.is_empty() {
            eprintln!("cache: no artifacts.yaml in {root}");
        }
        return Ok(files);
    }
    given
        .iter()
        .map(|file| {
            let full = crate::absolute(file)?;
            let display = full.strip_prefix(root).map_or_else(|_| file.clone(), Utf8Path::to_owned);
            Ok(ConfigFile { path: full, display })
        })
        .collect()
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn load(root: &Utf8Path, given: &[Utf8PathBuf]) -> Result<pad_cache::Config> {
    Ok(pad_cache::load(&files(root, given)?)?)
}

fn status(root: &Utf8Path, args: &CacheStatusArgs) -> Result<ExitCode> {
    let config = load(root, &args.files)?;
    let options = Options { jobs: usize::from(args.jobs), force: false, env: &env };
    let report = pad_cache::status(&config, &options);
    if args.json {
        crate::print_json(&report)?;
    } else {
        crate::print_text(&pad_cache::render::status_text(&report));
    }
    Ok(if report.warm() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn warm(root: &Utf8Path, args: &CacheWarmArgs) -> Result<ExitCode> {
    let config = load(root, &args.files)?;
    let options = Options { jobs: usize::from(args.jobs), force: args.force, env: &env };
    let progress = Bar::new();
    let report = pad_cache::warm(&config, &options, &progress);
    progress.finish();
    if args.json {
        crate::print_json(&report)?;
    } else {
        crate::print_text(&pad_cache::render::warm_text(&report));
    }
    for error in pad_cache::render::warm_errors(&report) {
        eprintln!("error: {}", pad_store::redact(&error));
    }
    Ok(if report.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// A progress bar on stderr when it is a terminal: artifacts done, bytes read, the
/// artifact being copied. Nothing elsewhere (the report on stdout says it all).
struct Bar {
    bar: Option<ProgressBar>,
    bytes: Mutex<u64>,
}

impl Bar {
    fn new() -> Bar {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} warm [{bar:30}] {pos}/{len} artifacts, {msg} ({elapsed})")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Bar { bar, bytes: Mutex::new(0) }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl WarmProgress for Bar {
    fn begin(&self, artifacts: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(artifacts as u64);
        }
    }

    fn copying(&self, name: &str, _total: Option<u64>) {
        if let Some(bar) = &self.bar {
            let bytes = *self.bytes.lock().unwrap_or_else(|e| e.into_inner());
            bar.set_message(format!("{} read, copying {name}", pad_stdx::human_size(bytes)));
        }
    }

    fn advance(&self, bytes: u64) {
        let mut total = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        *total += bytes;
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} read", pad_stdx::human_size(*total)));
        }
    }

    fn done(&self, report: &ArtifactReport) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if report.summary() == Summary::Failed {
                bar.println(format!("failed: {}", report.name));
            }
        }
    }
}
