//! `cargo xtask namespace list` and `namespace rm`: the side-by-side deploys on a
//! target's hosts (`pad_deploy::list_namespaces`, `pad_deploy::remove_namespaces`).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use camino::Utf8Path;
use pad_deploy::{ConnectOptions, Removal};

use crate::flags::{NamespaceCommand, NamespaceListArgs, NamespaceRmArgs};
use crate::progress::Steps;

pub(crate) fn run(root: &Utf8Path, command: &NamespaceCommand) -> Result<ExitCode> {
    match command {
        NamespaceCommand::List(args) => list(root, args),
        NamespaceCommand::Rm(args) => rm(root, args),
    }
}

fn list(root: &Utf8Path, args: &NamespaceListArgs) -> Result<ExitCode> {
    let repo = pad_layout::discover(root)?;
    let target = pad_flow::find_target(&repo, &args.target)?;
    let listed = pad_deploy::list_namespaces(target, &ConnectOptions::new(root))?;
    if args.json {
        crate::print_json(&listed)?;
    } else {
        for host in &listed {
            println!("{}:", host.host);
            if host.namespaces.is_empty() && host.error.is_none() {
                println!("  nothing deployed");
            }
            for ns in &host.namespaces {
                let age = ns.age_secs.map_or_else(|| "never switched".to_owned(), age_text);
                let release = ns.release.as_deref().unwrap_or("no current release");
                let name = if ns.plain { format!("{} (plain)", ns.name) } else { ns.name.clone() };
                println!("  {name:<28} {release:<36} {age:>16} {:>10}", pad_stdx::human_size(ns.size_bytes));
            }
            if let Some(error) = &host.error {
                println!("  error: {}", crate::error_line(error));
            }
        }
    }
    let failed = listed.iter().filter(|h| h.error.is_some()).count();
    if failed > 0 {
        bail!("could not list the namespaces of {failed} of {} hosts", listed.len());
    }
    Ok(ExitCode::SUCCESS)
}

fn rm(root: &Utf8Path, args: &NamespaceRmArgs) -> Result<ExitCode> {
    let repo = pad_layout::discover(root)?;
    let target = pad_flow::find_target(&repo, &args.target)?;
    let which = match (&args.name, args.older_than) {
        // `auto` names what `deploy --namespace auto` deployed into (a 63-character
        // CI_COMMIT_REF_SLUG is cut to 40 there, so a stop job should say `auto` too).
        (Some(name), _) => Removal::Named(crate::deploy::namespace(root, Some(name))?.unwrap_or_default()),
        (None, Some(age)) => Removal::OlderThan(age),
        (None, None) => bail!("name a namespace, or pass --older-than AGE"),
    };
    let mut connect = ConnectOptions::new(root);
    connect.lock_wait = Duration::from_secs(args.lock_wait);
    let steps = Steps::new();
    let reports = pad_deploy::remove_namespaces(target, &connect, &which, &steps)?;
    if args.json {
        crate::print_json(&reports)?;
    } else {
        for report in &reports {
            match (&report.error, report.removed.is_empty()) {
                (Some(error), _) => println!("{}: error: {}", report.host, crate::error_line(error)),
                (None, true) => println!("{}: nothing removed", report.host),
                (None, false) => println!("{}: removed {}", report.host, report.removed.join(", ")),
            }
        }
    }
    let failed = reports.iter().filter(|r| r.error.is_some()).count();
    if failed > 0 {
        bail!("removing namespaces failed on {failed} of {} hosts", reports.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// `3d 4h`, `5h 12m`, `40s`.
fn age_text(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if d > 0 {
        format!("{d}d {h}h ago")
    } else if h > 0 {
        format!("{h}h {m}m ago")
    } else if m > 0 {
        format!("{m}m ago")
    } else {
        format!("{secs}s ago")
    }
}
