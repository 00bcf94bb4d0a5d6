//! `cargo xtask lint [--fix]`: the pinned ruff over dags/ and projects/ (`pad_flow::lint`),
//! each finding shown with its file, line and rule.

use std::process::ExitCode;

use anyhow::{Result, bail};
use camino::Utf8Path;
use pad_flow::LintPlan;
use pad_venv::LintReport;

use crate::flags::LintArgs;
use crate::progress::Steps;

pub(crate) fn run(root: &Utf8Path, args: &LintArgs) -> Result<ExitCode> {
    let plan = LintPlan { fix: args.fix, locked: args.locked, junit_dir: args.junit.clone() };
    let report = pad_flow::lint(&crate::workspace(root), &plan, &Steps::new())?;
    if args.json {
        crate::print_json(&report)?;
    } else {
        print_text(&report);
    }
    if !report.findings.is_empty() {
        let fixable = report.findings.iter().filter(|f| f.fixable).count();
        let hint = if fixable > 0 && !args.fix {
            format!("; `cargo xtask lint --fix` fixes {fixable} of them safely")
        } else {
            String::new()
        };
        bail!("ruff found {} problem(s) in dags/ and projects/{hint}", report.findings.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows a lint: a summary line, then one line per finding (file:line:column: rule message).
pub(crate) fn print_text(report: &LintReport) {
    let status = if report.findings.is_empty() { "passed" } else { "FAILED" };
    let extra =
        if report.extra_rules.is_empty() { String::new() } else { format!(", with {}", report.extra_rules.join(", ")) };
    println!("{:<24} {status}  {} findings ({}{extra})", "lint", report.findings.len(), report.ruff_version);
    for finding in &report.findings {
        let fix = if finding.fixable { " [fixable]" } else { "" };
        println!("    {finding}{fix}");
    }
}
