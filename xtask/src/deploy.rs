//! `cargo xtask deploy`, `releases` and `rollback`: the package into `AIRFLOW_HOME` on
//! every host of a target (`pad_flow::choose_package`, `pad_flow::deploy`), the releases
//! there, and switching back (`pad_deploy`).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use camino::Utf8Path;
use pad_deploy::{ConnectOptions, DeployReport, HostState};
use pad_flow::{PackageChoice, Progress as _};

use crate::flags::{DeployArgs, ReleasesArgs, RollbackArgs};
use crate::progress::Steps;

pub(crate) fn deploy(root: &Utf8Path, args: &DeployArgs) -> Result<ExitCode> {
    let ws = crate::workspace(root);
    let repo = pad_layout::discover(root)?;
    let target = pad_flow::find_target(&repo, &args.target)?;
    let choice = match (&args.package, &args.version, &args.from_registry) {
        (Some(file), _, _) => PackageChoice::File(file.clone()),
        (None, Some(version), _) => PackageChoice::Version(version.clone()),
        (None, None, Some(version)) => PackageChoice::Registry {
            version: version.clone(),
            registry: args.registry.clone().or_else(|| target.registry.clone()),
        },
        (None, None, None) => PackageChoice::Current,
    };
    let steps = Steps::new();
    let package = pad_flow::choose_package(&ws, &choice, &steps)?;
    let mut options = pad_flow::deploy_options(&ws, &package);
    options.failure_limit = args.failure_limit;
    options.connect.accept_new_host_key = args.accept_new_host_key;
    options.connect.lock_wait = Duration::from_secs(args.lock_wait);
    options.connect.io_timeout = Duration::from_secs(args.io_timeout);
    options.connect.full_verify = args.full_verify;
    options.connect.namespace = namespace(root, args.namespace.as_deref())?;
    options.connect.data_profile = args.data_profile.clone();
    let report = pad_flow::deploy(target, &options, &steps)?;
    render_deploy(&steps, &report, args.json)
}

/// The namespace --namespace (or PAD_NAMESPACE) names, `auto` resolved
/// (`pad_layout::resolve_namespace`); `None` for the plain deploy.
pub(crate) fn namespace(root: &Utf8Path, flag: Option<&str>) -> Result<Option<String>> {
    match flag.filter(|ns| !ns.is_empty()) {
        None => Ok(None),
        Some(value) => pad_layout::resolve_namespace(root, value, &pad_layout::vars::from_process_env)
            .map(Some)
            .map_err(|why| anyhow::anyhow!("--namespace: {why}")),
    }
}

/// Shows a deploy's report; the exit code says whether every host serves the new
/// release. `deploy-local-build` ends with this.
pub(crate) fn render_deploy(steps: &Steps, report: &DeployReport, json: bool) -> Result<ExitCode> {
    for host in &report.hosts {
        steps.done(&host.host, state_name(host.state));
    }
    if json {
        crate::print_json(report)?;
    } else {
        print_report(report);
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
    let ns = report.namespace.as_deref().map(|ns| format!(", namespace {ns}")).unwrap_or_default();
    println!("target `{}`{ns}: release {} (version {})", report.target, report.release_id, report.version);
    for host in &report.hosts {
        let seconds: f64 = host.steps.iter().map(|s| s.seconds).sum();
        println!("  {:<20} {:<12} {:>7.2} s", host.host, state_name(host.state), seconds);
        if host.objects_uploaded > 0 || host.bytes_uploaded > 0 {
            println!(
                "    uploaded {} file(s), {} ({} on the wire); {} already on the host",
                host.objects_uploaded,
                pad_stdx::human_size(host.object_bytes),
                pad_stdx::human_size(host.bytes_uploaded),
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
    let target = pad_flow::find_target(&repo, &args.target)?;
    let mut connect = ConnectOptions::new(root);
    connect.namespace = namespace(root, args.namespace.as_deref())?;
    let listed = pad_deploy::releases(target, &connect)?;
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
    let target = pad_flow::find_target(&repo, &args.target)?;
    let steps = Steps::new();
    let mut connect = ConnectOptions::new(root);
    connect.lock_wait = Duration::from_secs(args.lock_wait);
    connect.full_verify = args.full_verify;
    connect.namespace = namespace(root, args.namespace.as_deref())?;
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
