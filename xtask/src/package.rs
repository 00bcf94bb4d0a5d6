//! `cargo xtask package`: build or reuse every project's environment, then write (or
//! reuse) `target/dist/platform-airflow-dags-<version>.tar.gz` and its `.sha256`
//! (`pad_flow::package`).

use std::process::ExitCode;

use anyhow::Result;
use camino::Utf8Path;
use pad_bundle::Package;
use serde::Serialize;

use crate::flags::PackageArgs;
use crate::progress::Steps;

#[derive(Serialize)]
struct Report<'a> {
    path: &'a Utf8Path,
    version: &'a str,
    commit: Option<&'a str>,
    dirty: bool,
    size: u64,
    sha256: &'a str,
    inputs_sha256: &'a str,
    reused: bool,
    files: usize,
    projects: Vec<&'a str>,
}

pub(crate) fn run(root: &Utf8Path, args: &PackageArgs) -> Result<ExitCode> {
    let steps = Steps::new();
    let package = pad_flow::package(&crate::workspace(root), args.locked, args.out_dir.as_deref(), &steps)?;
    print(root, &package, args.json)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints what `pad_flow::package` made: a line of text, or JSON.
fn print(root: &Utf8Path, package: &Package, json: bool) -> Result<()> {
    let manifest = &package.manifest;
    if json {
        return crate::print_json(&Report {
            path: &package.path,
            version: &manifest.version,
            commit: manifest.commit.as_deref(),
            dirty: manifest.dirty,
            size: package.size,
            sha256: &package.sha256,
            inputs_sha256: &manifest.inputs_sha256,
            reused: package.reused,
            files: manifest.files.len(),
            projects: manifest.projects.iter().map(|p| p.name.as_str()).collect(),
        });
    }
    print_text(root, package);
    Ok(())
}

/// The package as text: its path relative to `root`, version, size and SHA-256.
/// `deploy-local-build` shows its package this way.
pub(crate) fn print_text(root: &Utf8Path, package: &Package) {
    let manifest = &package.manifest;
    let path = package.path.strip_prefix(root).unwrap_or(&package.path);
    let what = if package.reused { "unchanged" } else { "written" };
    println!("{path} ({what})");
    println!("  version {}", manifest.version);
    println!("  size    {} ({} files)", pad_stdx::human_size(package.size), manifest.files.len());
    println!("  sha256  {}", package.sha256);
}
