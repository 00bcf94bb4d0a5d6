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
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use camino::Utf8PathBuf;
use pad_cache::{CacheState, ConfigFile, Options, Outcome, Summary};

const USAGE: &str = "usage: pad-cache (warm|status) [--jobs N] [--force] [--json] FILE...

  warm     copy every artifact that is missing or wrong into its caches
  status   show what each cache holds (existence and stored sha256; no download)

  --jobs N   artifacts worked on at once (default 8)
  --force    (warm) copy even what is present
  --json     print the report as JSON on stdout";

struct Args {
    command: String,
    jobs: usize,
    force: bool,
    json: bool,
    files: Vec<Utf8PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let command = args.next().ok_or("no command given")?;
    if command == "-h" || command == "--help" {
        return Err(String::new());
    }
    if command != "warm" && command != "status" {
        return Err(format!("unknown command `{command}`"));
    }
    let mut parsed = Args { command, jobs: 8, force: false, json: false, files: Vec::new() };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--jobs" | "-j" => {
                let value = args.next().ok_or("--jobs needs a number")?;
                parsed.jobs =
                    value.parse().ok().filter(|n| *n > 0).ok_or(format!("--jobs {value}: not a positive number"))?;
            }
            "--force" => parsed.force = true,
            "--json" => parsed.json = true,
            "-h" | "--help" => return Err(String::new()),
            other if other.starts_with('-') => return Err(format!("unknown option `{other}`")),
            file => parsed.files.push(Utf8PathBuf::from(file)),
        }
    }
    if parsed.files.is_empty() {
        return Err("name at least one artifacts.yaml".to_owned());
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let cwd = std::env::current_dir().ok().and_then(|p| Utf8PathBuf::from_path_buf(p).ok()).unwrap_or_default();
    let files: Vec<ConfigFile> = args.files.iter().map(|f| ConfigFile::new(&cwd, f)).collect();
    let config = match pad_cache::load(&files) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    let options = Options { jobs: args.jobs, force: args.force, env: &env };
    let ok = if args.command == "warm" {
        let report = pad_cache::warm(&config, &options, &pad_cache::NoProgress);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        } else {
            for artifact in &report.artifacts {
                for cache in &artifact.caches {
                    let what = match &cache.outcome {
                        Outcome::Present => "present".to_owned(),
                        Outcome::Copied { bytes, seconds, .. } => format!("copied {bytes} bytes in {seconds:.2}s"),
                        Outcome::Failed { error, attempts } => format!("FAILED after {attempts} attempt(s): {error}"),
                    };
                    println!("{} -> {}: {what}", artifact.name, cache.cache);
                }
            }
            println!(
                "{} artifacts: {} copied, {} present, {} failed ({} bytes in {:.2}s)",
                report.artifacts.len(),
                report.count(Summary::Copied),
                report.count(Summary::Present),
                report.count(Summary::Failed),
                report.bytes,
                report.seconds
            );
        }
        report.ok()
    } else {
        let report = pad_cache::status(&config, &options);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        } else {
            for artifact in &report.artifacts {
                for cache in &artifact.caches {
                    let what = match &cache.state {
                        CacheState::Present { .. } => "present".to_owned(),
                        CacheState::Missing => "missing".to_owned(),
                        CacheState::Wrong { reason } => format!("wrong: {reason}"),
                        CacheState::Error { error } => format!("error: {error}"),
                    };
                    println!("{} -> {}: {what}", artifact.name, cache.cache);
                }
            }
        }
        report.warm()
    };
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
