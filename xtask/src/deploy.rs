//! `cargo xtask deploy`, `releases` and `rollback`: the package into `AIRFLOW_HOME` on
//! every host of a target (`pad_deploy`), the releases there, and switching back.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use pad_deploy::{ConnectOptions, DeployOptions, DeployReport, HostState};
use pad_flow::Progress as _;
use pad_layout::Target;

use crate::flags::{DeployArgs, ReleasesArgs, RollbackArgs};
use crate::progress::Steps;

pub(crate) fn deploy(root: &Utf8Path, args: &DeployArgs) -> Result<ExitCode> {
    let repo = pad_layout::discover(root)?;
    let target = find_target(&repo, &args.target)?;
    let package = match (&args.package, &args.version, &args.from_registry) {
        (Some(file), _, _) => file.clone(),
        (None, Some(version), _) => existing_package(root, version)?,
        (None, None, Some(version)) => fetch(root, target, args.registry.as_deref(), version)?,
        (None, None, None) => {
            let version = pad_layout::version(root, &|name| std::env::var(name).ok());
            existing_package(root, &version.version)?
        }
    };
    let mut options = deploy_options(root, &package);
    options.failure_limit = args.failure_limit;
    options.connect.accept_new_host_key = args.accept_new_host_key;
    options.connect.lock_wait = Duration::from_secs(args.lock_wait);
    options.connect.io_timeout = Duration::from_secs(args.io_timeout);
    options.connect.full_verify = args.full_verify;
    deploy_package(target, &options, args.json)
}

/// The options of a deploy of `package` from the repository `root`: packed environments
/// that passed the package check are remembered in the target directory.
pub(crate) fn deploy_options(root: &Utf8Path, package: &Utf8Path) -> DeployOptions {
    let mut options = DeployOptions::new(package, root);
    options.checked_envs = Some(crate::workspace(root).checked_envs());
    options
}

/// Deploys `package` to `target` and prints the report; the exit code says whether every
/// host serves the new release. `deploy-local-build` ends with this.
pub(crate) fn deploy_package(target: &Target, options: &DeployOptions, json: bool) -> Result<ExitCode> {
    let package = &options.package;
    if !package.is_file() {
        bail!(
            "the package `{package}` does not exist: build it with `cargo xtask package`, or fetch it with `cargo xtask fetch VERSION`"
        );
    }
    let steps = Steps::new();
    let report = pad_deploy::deploy(target, options, &steps)
        .with_context(|| format!("deploying `{package}` to target `{}`", target.name))?;
    for host in &report.hosts {
        steps.done(&host.host, state_name(host.state));
    }
    if json {
        crate::print_json(&report)?;
    } else {
        print_report(&report);
    }
    if report.success() {
        return Ok(ExitCode::SUCCESS);
    }
    let failed = report.hosts.iter().filter(|h| h.state != HostState::Switched && h.state != HostState::Unchanged);
    let failed = failed.count();
    if report.aborted {
        bail!(
            "{} of {} hosts failed, more than --failure-limit {}: no host keeps release {}",
            report.failed(),
            report.hosts.len(),
            report.failure_limit,
            report.release_id
        );
    }
    bail!(
        "the deploy failed on {failed} of {} hosts (see above); the others serve {}",
        report.hosts.len(),
        report.release_id
    )
}

fn state_name(state: HostState) -> &'static str {
    match state {
        HostState::Switched => "switched",
        HostState::Unchanged => "unchanged",
        HostState::NotSwitched => "not switched",
        HostState::RolledBack => "rolled back",
        HostState::Failed => "FAILED",
    }
}

fn print_report(report: &DeployReport) {
    println!("target `{}`: release {} (version {})", report.target, report.release_id, report.version);
    for host in &report.hosts {
        let seconds: f64 = host.steps.iter().map(|s| s.seconds).sum();
        println!("  {:<20} {:<12} {:>7.2} s", host.host, state_name(host.state), seconds);
        if host.objects_uploaded > 0 || host.bytes_uploaded > 0 {
            println!(
                "    uploaded {} file(s), {} ({} on the wire); {} already on the host",
                host.objects_uploaded,
                crate::venv::human_size(host.object_bytes),
                crate::venv::human_size(host.bytes_uploaded),
                host.objects_reused
            );
        } else if host.state != HostState::Failed {
            println!("    uploaded nothing; {} file(s) already on the host", host.objects_reused);
        }
        for note in &host.notes {
            if !note.starts_with("uploaded ") {
                println!("    note: {note}");
            }
        }
        if let Some(error) = &host.error {
            println!("    error: {}", crate::error_line(error));
        }
    }
}

pub(crate) fn releases(root: &Utf8Path, args: &ReleasesArgs) -> Result<ExitCode> {
    let repo = pad_layout::discover(root)?;
    let target = find_target(&repo, &args.target)?;
    let listed = pad_deploy::releases(target, &ConnectOptions::new(root))?;
    if args.json {
        crate::print_json(&listed)?;
    } else {
        for host in &listed {
            println!("{}:", host.host);
            if host.releases.is_empty() && host.error.is_none() {
                println!("  no releases");
            }
            for release in &host.releases {
                let marker = if release.current {
                    "current"
                } else if release.previous {
                    "previous"
                } else {
                    ""
                };
                let when =
                    release.deployed_at.map_or_else(|| "never current".to_owned(), |t| format!("first current at {t}"));
                let version = release.version.as_deref().unwrap_or("?");
                println!("  {:<9} {:<40} version {version}, {when}", marker, release.id);
            }
            if let Some(error) = &host.error {
                println!("  error: {}", crate::error_line(error));
            }
        }
    }
    let failed = listed.iter().filter(|h| h.error.is_some()).count();
    if failed > 0 {
        bail!("could not list the releases of {failed} of {} hosts", listed.len());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn rollback(root: &Utf8Path, args: &RollbackArgs) -> Result<ExitCode> {
    let repo = pad_layout::discover(root)?;
    let target = find_target(&repo, &args.target)?;
    let steps = Steps::new();
    let mut connect = ConnectOptions::new(root);
    connect.lock_wait = Duration::from_secs(args.lock_wait);
    connect.full_verify = args.full_verify;
    let reports = pad_deploy::rollback(target, &connect, args.to.as_deref(), &steps)?;
    for report in &reports {
        steps.done(&report.host, if report.error.is_none() { "switched back" } else { "FAILED" });
    }
    if args.json {
        crate::print_json(&reports)?;
    } else {
        for report in &reports {
            match &report.error {
                None => println!(
                    "{}: {} -> {}",
                    report.host,
                    report.from.as_deref().unwrap_or("none"),
                    report.to.as_deref().unwrap_or("none")
                ),
                Some(error) => println!("{}: error: {}", report.host, crate::error_line(error)),
            }
        }
    }
    let failed = reports.iter().filter(|r| r.error.is_some()).count();
    if failed > 0 {
        bail!("the rollback failed on {failed} of {} hosts", reports.len());
    }
    Ok(ExitCode::SUCCESS)
}

fn find_target<'a>(repo: &'a pad_layout::Repo, name: &str) -> Result<&'a Target> {
    repo.target(name).with_context(|| {
        let known: Vec<&str> = repo.targets.iter().map(|t| t.name.as_str()).collect();
        format!("there is no target `{name}`: add deploy/{name}.toml, or use one of: {}", known.join(", "))
    })
}

/// The package of `version` built (or fetched) before, in target/dist.
fn existing_package(root: &Utf8Path, version: &str) -> Result<Utf8PathBuf> {
    let path = pad_flow::package_path(&crate::workspace(root), version);
    if !path.is_file() {
        bail!(
            "there is no package for version `{version}` at `{path}`: build it with `cargo xtask package`, fetch it with `cargo xtask fetch {version}`, or pass --from-registry {version}"
        );
    }
    Ok(path)
}

/// Downloads the package of `version` from the registry named, the target's, or the
/// default one of deploy/registries.toml, into target/dist.
fn fetch(root: &Utf8Path, target: &Target, registry: Option<&str>, version: &str) -> Result<Utf8PathBuf> {
    let dir = crate::workspace(root).dist_dir();
    let (_, fetched) = crate::publish::fetch_package(root, registry.or(target.registry.as_deref()), version, &dir)?;
    Ok(fetched.path)
}
