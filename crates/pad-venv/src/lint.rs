//! Lint: ruff over `dags/` and `projects/` in a tool environment whose version is pinned
//! in the repository under `deploy/lint/requirements.txt`, configured by the root
//! `ruff.toml`, with Airflow's migration rules added when a 3.x series is pinned.

use std::time::Instant;

use camino::Utf8Path;
use pad_process::Cmd;
use serde::{Deserialize, Serialize};

use crate::env::{Context, EnvSpec};
use crate::{AirflowPin, Progress, VenvError};

/// Where the ruff version is pinned.
pub const LINT_PIN_DIR: &str = "deploy/lint";
/// Airflow 3's migration rules, selected when a 3.x series is pinned: removed (AIR301),
/// moved to a provider (AIR302), deprecated (AIR311), moved to the standard provider
/// (AIR312).
pub const AIRFLOW3_RULES: &[&str] = &["AIR301", "AIR302", "AIR311", "AIR312"];
/// What ruff checks, relative to the repository root.
pub const LINTED_DIRS: &[&str] = &["dags", "projects"];

/// How to lint.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// Apply ruff's safe fixes (never the unsafe ones), then report what is left.
    pub fix: bool,
}

/// What ruff found.
#[derive(Debug, Clone, Serialize)]
pub struct LintReport {
    pub ruff_version: String,
    /// Rules added to ruff.toml's selection for this repository (the AIR3 rules when a
    /// 3.x series is pinned).
    pub extra_rules: Vec<String>,
    pub findings: Vec<Finding>,
    pub seconds: f64,
}

/// One finding, at its file, line and column.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Relative to the repository root.
    pub file: String,
    pub line: u64,
    pub column: u64,
    /// The rule, such as `AIR301`.
    pub code: String,
    pub message: String,
    /// Whether `--fix` would fix it (ruff's safe fixes only).
    pub fixable: bool,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {} {}", self.file, self.line, self.column, self.code, self.message)
    }
}

#[derive(Deserialize)]
struct RuffFinding {
    code: Option<String>,
    message: String,
    filename: String,
    location: RuffLocation,
    fix: Option<RuffFix>,
}

#[derive(Deserialize)]
struct RuffLocation {
    row: u64,
    column: u64,
}

#[derive(Deserialize)]
struct RuffFix {
    applicability: String,
}

/// The rules to add to ruff.toml's for the Airflow series `pins`.
pub fn extra_rules(pins: &[AirflowPin]) -> Vec<String> {
    if pins.iter().any(|p| p.series.split('.').next().and_then(|major| major.parse::<u32>().ok()) >= Some(3)) {
        AIRFLOW3_RULES.iter().map(|r| (*r).to_owned()).collect()
    } else {
        Vec::new()
    }
}

/// Whether the repository at `root` pins a ruff (`deploy/lint/requirements.txt`).
pub fn lint_pinned(root: &Utf8Path) -> bool {
    root.join(LINT_PIN_DIR).join("requirements.txt").is_file()
}

/// Runs ruff over the repository at `root`, building its tool environment first.
pub fn lint(
    ctx: &Context,
    root: &Utf8Path,
    options: &LintOptions,
    progress: &dyn Progress,
) -> Result<LintReport, VenvError> {
    let started = Instant::now();
    let dir = root.join(LINT_PIN_DIR);
    if !lint_pinned(root) {
        return Err(VenvError::NoLintPin { file: dir.join("requirements.txt") });
    }
    let env = crate::env::build(
        ctx,
        &EnvSpec {
            name: "ruff",
            dir: &dir,
            shown_dir: Utf8Path::new(LINT_PIN_DIR),
            requirements: "requirements.txt",
            python: None,
            install_project: false,
            package: Some("ruff"),
            pack: false,
            compile_bytecode: false,
        },
        progress,
    )?;
    let ruff = env.venv.join("bin/ruff");
    let version = Cmd::new(ruff.as_str(), root).arg("--version").run()?.stdout.trim().to_owned();
    let extra_rules = extra_rules(&crate::airflow_pins(root));

    progress.step("ruff", if options.fix { "lint and fix" } else { "lint" });
    let cache = ctx.options.work_dir.join("ruff-cache");
    let mut cmd = Cmd::new(ruff.as_str(), root)
        .args(["check", "--output-format", "json", "--no-show-fixes", "--cache-dir", cache.as_str()])
        .env("NO_COLOR", "1");
    if !extra_rules.is_empty() {
        cmd = cmd.args(["--extend-select", &extra_rules.join(",")]);
    }
    if options.fix {
        cmd = cmd.arg("--fix");
    }
    let dirs: Vec<&str> = LINTED_DIRS.iter().copied().filter(|d| root.join(d).is_dir()).collect();
    let cmd = cmd.args(&dirs);
    let finished = cmd.run_unchecked()?;
    // 0: clean, 1: findings; anything else is ruff failing (a bad ruff.toml, say).
    if !matches!(finished.status.code(), Some(0 | 1)) {
        return Err(VenvError::Build {
            project: "ruff".to_owned(),
            step: "ruff check (is ruff.toml valid?)",
            source: Box::new(pad_process::ProcessError::Failed {
                command: cmd.to_string(),
                dir: root.to_owned(),
                status: finished.status,
                output: format!("{}{}", finished.stdout, finished.stderr),
            }),
        });
    }
    let raw: Vec<RuffFinding> = serde_json::from_str(&finished.stdout).map_err(|err| {
        VenvError::io(Utf8Path::new("ruff's JSON output"), std::io::Error::new(std::io::ErrorKind::InvalidData, err))
    })?;
    let findings = raw
        .into_iter()
        .map(|f| Finding {
            file: Utf8Path::new(&f.filename).strip_prefix(root).map_or(f.filename.clone(), |p| p.to_string()),
            line: f.location.row,
            column: f.location.column,
            code: f.code.unwrap_or_else(|| "syntax".to_owned()),
            message: f.message,
            fixable: f.fix.is_some_and(|fix| fix.applicability == "safe"),
        })
        .collect();
    Ok(LintReport { ruff_version: version, extra_rules, findings, seconds: started.elapsed().as_secs_f64() })
}
