//! The lint flow: the pinned ruff over `dags/` and `projects/` (`pad_venv::lint`), with
//! JUnit XML (`lint.xml`) for CI.

use camino::Utf8PathBuf;
use pad_venv::{LintOptions, LintReport};

use crate::{FlowError, Progress, Workspace};

/// What to lint, and how.
#[derive(Debug, Clone, Default)]
pub struct LintPlan {
    /// Apply ruff's safe fixes, then report what is left.
    pub fix: bool,
    /// Fail on a stale lock of the pinned ruff instead of updating it.
    pub locked: bool,
    /// Where `lint.xml` goes.
    pub junit_dir: Option<Utf8PathBuf>,
}

/// Runs ruff over the repository of `ws`.
pub fn lint(ws: &Workspace, plan: &LintPlan, progress: &dyn Progress) -> Result<LintReport, FlowError> {
    let ctx = ws.venv_context(plan.locked, false)?;
    let report = pad_venv::lint(&ctx, &ws.root, &LintOptions { fix: plan.fix }, progress)?;
    progress.done("ruff", if report.findings.is_empty() { "lint clean" } else { "lint findings" });
    if let Some(dir) = &plan.junit_dir {
        crate::junit::write_lint_report(dir, &report)?;
    }
    Ok(report)
}
