//! `cargo xtask publish`, `fetch VERSION` and `verify FILE`: the package in and out of
//! the registries of `deploy/registries.toml` (`pad_flow::publish`, `pad_flow::fetch`),
//! and a package checked against its manifest (`pad_bundle::verify`).

use std::process::ExitCode;

use anyhow::Result;
use camino::Utf8Path;
use pad_flow::PublishRequest;
use pad_registry::PublishOutcome;
use serde::Serialize;

use crate::flags::{FetchArgs, PublishArgs, VerifyArgs};
use crate::progress::Steps;

#[derive(Serialize)]
struct Published<'a> {
    registry: &'a str,
    kind: &'static str,
    version: &'a str,
    file: &'a str,
    location: &'a str,
    sha256: &'a str,
    /// `uploaded`, `already-present` or `replaced`.
    outcome: &'static str,
    bytes: u64,
}

pub(crate) fn publish(root: &Utf8Path, args: &PublishArgs) -> Result<ExitCode> {
    let request = PublishRequest {
        registry: args.registry.clone(),
        file: args.file.clone(),
        locked: args.locked,
        force: args.force,
    };
    let published = pad_flow::publish(&crate::workspace(root), &request, &Steps::new())?;
    let (what, location, sha256, bytes) = match &published.outcome {
        PublishOutcome::Uploaded { location, bytes, sha256 } => ("uploaded", location, sha256, *bytes),
        PublishOutcome::AlreadyPresent { location, sha256 } => ("already-present", location, sha256, 0),
        PublishOutcome::Replaced { location, bytes, sha256, .. } => ("replaced", location, sha256, *bytes),
    };
    let (file_name, version) = (&published.file_name, &published.version);
    if args.json {
        crate::print_json(&Published {
            registry: &published.registry,
            kind: published.kind,
            version,
            file: file_name,
            location,
            sha256,
            outcome: what,
            bytes,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    match &published.outcome {
        PublishOutcome::Uploaded { .. } => {
            println!("uploaded {file_name} ({}) to {location}", pad_stdx::human_size(bytes));
        }
        PublishOutcome::AlreadyPresent { .. } => {
            println!("{file_name} is already published at {location} with the same sha256: nothing uploaded");
        }
        PublishOutcome::Replaced { previous_sha256, .. } => {
            println!("replaced {location} (sha256 was {previous_sha256}): uploaded {}", pad_stdx::human_size(bytes));
        }
    }
    println!("  version {version}");
    println!("  sha256  {sha256}");
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct FetchedReport<'a> {
    registry: &'a str,
    version: &'a str,
    path: &'a Utf8Path,
    sha256: &'a str,
    size: u64,
}

pub(crate) fn fetch(root: &Utf8Path, args: &FetchArgs) -> Result<ExitCode> {
    let dir = args.out_dir.clone().unwrap_or_else(|| crate::workspace(root).dist_dir());
    let fetched = pad_flow::fetch(root, args.registry.as_deref(), &args.package_version, &dir, &Steps::new())?;
    let (registry, fetched) = (&fetched.registry, &fetched.fetched);
    if args.json {
        crate::print_json(&FetchedReport {
            registry,
            version: &args.package_version,
            path: &fetched.path,
            sha256: &fetched.sha256,
            size: fetched.bytes,
        })?;
    } else {
        println!("{} ({}), sha256 verified", fetched.path, pad_stdx::human_size(fetched.bytes));
        println!("  sha256  {}", fetched.sha256);
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Verified<'a> {
    ok: bool,
    path: &'a Utf8Path,
    version: &'a str,
    files: u64,
    bytes: u64,
    /// Packed environments whose own entries were checked.
    environments: u64,
    problems: &'a [String],
}

pub(crate) fn verify(args: &VerifyArgs) -> Result<ExitCode> {
    let manifest = pad_bundle::read_manifest(&args.file)?;
    let (report, problems) = match pad_bundle::verify(&args.file) {
        Ok(report) => (Some(report), Vec::new()),
        Err(pad_bundle::BundleError::Verify { problems, .. }) => (None, problems),
        Err(err) => return Err(err.into()),
    };
    if args.json {
        crate::print_json(&Verified {
            ok: problems.is_empty(),
            path: &args.file,
            version: &manifest.version,
            files: report.as_ref().map_or(0, |r| r.files),
            bytes: report.as_ref().map_or(0, |r| r.bytes),
            environments: report.as_ref().map_or(0, |r| r.nested),
            problems: &problems,
        })?;
    }
    match report {
        Some(report) => {
            if !args.json {
                println!(
                    "{}: {} files and the entries of {} packed environment(s) match the manifest (version {})",
                    args.file, report.files, report.nested, manifest.version
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            if !args.json {
                for problem in &problems {
                    eprintln!("  {problem}");
                }
            }
            anyhow::bail!("`{}` does not match its manifest: {} problem(s)", args.file, problems.len())
        }
    }
}
