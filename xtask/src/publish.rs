//! `cargo xtask publish`, `fetch VERSION` and `verify FILE`: the package in and out of
//! the registries of `deploy/registries.toml`, and a package checked against its
//! manifest.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use camino::Utf8Path;
use pad_flow::PACKAGE_NAME;
use pad_registry::{PublishOutcome, Registries, Registry};
use serde::Serialize;

use crate::flags::{FetchArgs, PublishArgs, VerifyArgs};
use crate::progress::{Steps, Transfer};

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
    // Open the registry first: a bad name or missing credentials fail before a build.
    let registry = open(root, args.registry.as_deref())?;
    let (file, version) = match &args.file {
        Some(file) => {
            let manifest = pad_bundle::read_manifest(file)
                .with_context(|| format!("`{file}` is not a package made by `cargo xtask package`"))?;
            (file.clone(), manifest.version)
        }
        None => {
            let package = pad_flow::package(&crate::workspace(root), args.locked, None, &Steps::new())?;
            (package.path, package.manifest.version)
        }
    };
    let file_name = file.file_name().context("the package path has no file name")?.to_owned();
    let transfer = Transfer::new(&format!("uploading {file_name} to {}", registry.name()));
    let outcome = registry.publish(&file, PACKAGE_NAME, &version, args.force, &transfer);
    transfer.finish();
    let outcome = outcome?;
    let (what, location, sha256, bytes) = match &outcome {
        PublishOutcome::Uploaded { location, bytes, sha256 } => ("uploaded", location, sha256, *bytes),
        PublishOutcome::AlreadyPresent { location, sha256 } => ("already-present", location, sha256, 0),
        PublishOutcome::Replaced { location, bytes, sha256, .. } => ("replaced", location, sha256, *bytes),
    };
    if args.json {
        crate::print_json(&Published {
            registry: registry.name(),
            kind: registry.kind(),
            version: &version,
            file: &file_name,
            location,
            sha256,
            outcome: what,
            bytes,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    match &outcome {
        PublishOutcome::Uploaded { .. } => {
            println!("uploaded {file_name} ({}) to {location}", crate::venv::human_size(bytes));
        }
        PublishOutcome::AlreadyPresent { .. } => {
            println!("{file_name} is already published at {location} with the same sha256: nothing uploaded");
        }
        PublishOutcome::Replaced { previous_sha256, .. } => {
            println!("replaced {location} (sha256 was {previous_sha256}): uploaded {}", crate::venv::human_size(bytes));
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
    let (registry, fetched) = fetch_package(root, args.registry.as_deref(), &args.package_version, &dir)?;
    if args.json {
        crate::print_json(&FetchedReport {
            registry: &registry,
            version: &args.package_version,
            path: &fetched.path,
            sha256: &fetched.sha256,
            size: fetched.bytes,
        })?;
    } else {
        println!("{} ({}), sha256 verified", fetched.path, crate::venv::human_size(fetched.bytes));
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

/// Downloads the package of `version` from a registry (the one named, or the default
/// one) into `dir`, its SHA-256 checked; returns the registry's name and the file.
pub(crate) fn fetch_package(
    root: &Utf8Path,
    registry: Option<&str>,
    version: &str,
    dir: &Utf8Path,
) -> Result<(String, pad_registry::Fetched)> {
    let registry = open(root, registry)?;
    let file_name = pad_bundle::package_file_name(PACKAGE_NAME, version);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {dir}"))?;
    let transfer = Transfer::new(&format!("downloading {file_name} from {}", registry.name()));
    let fetched = registry.fetch(PACKAGE_NAME, version, &file_name, dir, &transfer);
    transfer.finish();
    Ok((registry.name().to_owned(), fetched?))
}

/// Opens a registry of `deploy/registries.toml`: the one named, or the default one.
fn open(root: &Utf8Path, name: Option<&str>) -> Result<Registry> {
    let registries = Registries::load(&root.join("deploy").join(pad_layout::REGISTRIES_FILE))?;
    let name = match name {
        Some(name) => name,
        None => registries.default_name()?,
    };
    Ok(registries.open(name, &pad_layout::vars::from_process_env)?)
}
