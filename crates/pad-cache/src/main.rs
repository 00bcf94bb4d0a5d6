//! `pad-cache`: warm or check artifact caches without the xtask workspace, for a git-sync
//! `--exechook-command`, a CI job or a service:
//!
//! ```text
//! pad-cache warm [--jobs N] [--force] [--json] FILE...
//! pad-cache status [--jobs N] [--json] FILE...
//! ```
//!
//! Exit codes: 0 all good (warm: nothing failed; status: everything present), 1 some
//! artifact failed or is not warm, 2 bad usage or a broken artifacts.yaml.
//!
//! Everything it prints goes through `pad_store::redact` first: the credentials the
//! caches and sources read never show, even when a server quotes them back.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use camino::Utf8PathBuf;
use clap::{Args, Parser, Subcommand};
use pad_cache::{ArtifactReport, ConfigFile, Options, Summary, WarmProgress, render};
use pad_store::redact;

/// Warm or check the artifact caches that artifacts.yaml files name.
///
/// Exit status: 0 when everything is warm (or was copied), 1 when an artifact failed or
/// is not warm, 2 on bad usage or a broken artifacts.yaml.
#[derive(Parser)]
#[command(name = "pad-cache", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Copy every artifact that is missing or wrong into its caches, checksum-verified.
    Warm {
        #[command(flatten)]
        common: Common,
        /// Copy even what is present and right.
        #[arg(long)]
        force: bool,
    },
    /// Show what each cache holds: existence and the stored sha256, no download.
    Status {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args)]
struct Common {
    /// The artifacts.yaml files (their sources and caches are merged).
    #[arg(value_name = "FILE", required = true)]
    files: Vec<Utf8PathBuf>,
    /// Artifacts worked on at once.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: u16,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// A line on standard error per artifact as it finishes, so a long warm run from a
/// git-sync hook or a CI log shows it is moving; the report still goes to stdout.
#[derive(Default)]
struct Lines {
    total: AtomicUsize,
    done: AtomicUsize,
}

impl WarmProgress for Lines {
    fn begin(&self, artifacts: usize) {
        self.total.store(artifacts, Ordering::Relaxed);
    }

    fn done(&self, report: &ArtifactReport) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let what = match report.summary() {
            Summary::Present => "present",
            Summary::Copied => "copied",
            Summary::Failed => "FAILED",
        };
        eprintln!("[{done}/{}] {}: {what}", self.total.load(Ordering::Relaxed), report.name);
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (common, force) = match &cli.command {
        Command::Warm { common, force } => (common, *force),
        Command::Status { common } => (common, false),
    };
    let cwd = std::env::current_dir().ok().and_then(|p| Utf8PathBuf::from_path_buf(p).ok()).unwrap_or_default();
    let files: Vec<ConfigFile> = common.files.iter().map(|f| ConfigFile::new(&cwd, f)).collect();
    let config = match pad_cache::load(&files) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {}", redact(&err.to_string()));
            return ExitCode::from(2);
        }
    };
    let options = Options { jobs: usize::from(common.jobs), force, env: &env };
    let ok = match cli.command {
        Command::Warm { .. } => {
            let report = pad_cache::warm(&config, &options, &Lines::default());
            if common.json {
                println!("{}", redact(&serde_json::to_string_pretty(&report).expect("a report serialises")));
            } else {
                print!("{}", redact(&render::warm_text(&report)));
            }
            for error in render::warm_errors(&report) {
                eprintln!("error: {}", redact(&error));
            }
            report.ok()
        }
        Command::Status { .. } => {
            let report = pad_cache::status(&config, &options);
            if common.json {
                println!("{}", redact(&serde_json::to_string_pretty(&report).expect("a report serialises")));
            } else {
                print!("{}", redact(&render::status_text(&report)));
            }
            report.warm()
        }
    };
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
