//! The test flow: the generated DAG files checked against their YAML (`pad-render`), the
//! lint, then each project's pytest suite in its environment, two projects at a time,
//! while every DAG file is loaded by each pinned Airflow series, all series at once.

use std::collections::BTreeMap;
use std::thread;

use camino::Utf8PathBuf;
use pad_venv::{AirflowPin, BuiltEnv, DagCheckOptions, DagReport, LintReport, TestOptions, TestReport};

use crate::{FlowError, Progress, Workspace};

/// What to test.
#[derive(Debug, Clone, Default)]
pub struct TestPlan {
    /// Projects to test (default: all). The DAG check always covers all of `dags/`.
    pub projects: Vec<String>,
    /// Where JUnit XML goes: `<project>.xml` (pytest's) and `dags-airflow-<series>.xml`.
    pub junit_dir: Option<Utf8PathBuf>,
    /// Rerun tests whose inputs have not changed since they last passed.
    pub force: bool,
    /// Fail on a stale lock instead of updating it.
    pub locked: bool,
    /// Only these pinned Airflow series (default: all).
    pub airflow: Vec<String>,
    /// Airflow Variables and Connections the DAGs read while loading.
    pub variables: BTreeMap<String, String>,
    pub connections: BTreeMap<String, String>,
    /// Leave out the DAG check.
    pub skip_dags: bool,
    /// Leave out ruff.
    pub skip_lint: bool,
    /// Check the DAGs as for namespaces (their findings fail the check) even when no
    /// remote target sets `data_root`: this run deploys into a namespace.
    pub namespaces: bool,
}

/// What a test run found.
#[derive(Debug)]
pub struct TestRun {
    pub projects: Vec<TestReport>,
    pub dags: Vec<DagReport>,
    /// Ruff's findings over dags/ and projects/ (none when it was left out).
    pub lint: Option<LintReport>,
    /// Projects or Airflow series that could not be tested at all.
    pub errors: Vec<FlowError>,
    /// What the environments and test runs had to say (a lock written, a cached result).
    pub notes: Vec<String>,
}

impl TestRun {
    /// Whether everything that ran passed and nothing failed to run.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
            && self.projects.iter().all(|r| r.passed)
            && self.dags.iter().all(|r| r.problems.is_empty())
            && self.lint.as_ref().is_none_or(|r| r.findings.is_empty())
    }

    /// One line per failure: a failed project with its failing tests, a DAG problem, or
    /// a project or series that could not be tested.
    pub fn failures(&self) -> Vec<String> {
        let mut failed = Vec::new();
        for report in self.projects.iter().filter(|r| !r.passed) {
            let names = if report.failures.is_empty() { report.summary.clone() } else { report.failures.join("; ") };
            failed.push(format!("project {}: {names}", report.project));
        }
        for report in &self.dags {
            for problem in &report.problems {
                failed.push(format!(
                    "Airflow {}: {}: {} ({})",
                    report.airflow_version, problem.file, problem.message, problem.kind
                ));
            }
        }
        for finding in self.lint.iter().flat_map(|r| &r.findings) {
            failed.push(format!("lint: {finding}"));
        }
        failed.extend(self.errors.iter().map(|err| pad_layout::error_chain(err)));
        failed
    }

    /// [`FlowError::TestsFailed`] with every [failure](TestRun::failures), if there is one.
    pub fn check(&self) -> Result<(), FlowError> {
        let failures = self.failures();
        if failures.is_empty() { Ok(()) } else { Err(FlowError::TestsFailed(failures)) }
    }
}

/// Runs the projects' tests and the DAG check of `plan`. A project that fails or cannot
/// be tested does not stop the others; the run says what failed.
pub fn test(ws: &Workspace, plan: &TestPlan, progress: &dyn Progress) -> Result<TestRun, FlowError> {
    test_handing_over(ws, plan, progress, &|_| {})
}

/// [`test`], handing the projects' environments to `hand_over` as soon as every one of
/// them is built, while their tests still run (not called when one could not be built):
/// deploy-local-build packages and prepares the deploy meanwhile.
pub(crate) fn test_handing_over(
    ws: &Workspace,
    plan: &TestPlan,
    progress: &dyn Progress,
    hand_over: &(dyn Fn(Vec<BuiltEnv>) + Sync),
) -> Result<TestRun, FlowError> {
    let repo = crate::discover(&ws.root)?;
    let projects = crate::select_projects(&repo, &plan.projects)?;
    let ctx = ws.venv_context(plan.locked, false)?;
    let mut errors = Vec::new();
    // `render --check`: a YAML DAG that does not render, or a generated file that is
    // stale or was edited by hand, fails the run (the DAG check still loads the others).
    match pad_render::render(&repo.root, &repo.projects, pad_render::RenderMode::Check) {
        Ok(report) => errors.extend(report.check().err().map(FlowError::from)),
        Err(err) => errors.push(err.into()),
    }
    // A repository that pins no ruff is not linted; `notes` says so.
    let mut notes: Vec<String> = Vec::new();
    let lint = if plan.skip_lint {
        None
    } else if !pad_venv::lint_pinned(&repo.root) {
        notes.push(format!(
            "not linted: no ruff pinned in {}/requirements.txt (add `ruff==<version>` there to lint with `cargo xtask test`)",
            pad_venv::LINT_PIN_DIR
        ));
        None
    } else {
        let lint_plan = crate::LintPlan { fix: false, locked: plan.locked, junit_dir: plan.junit_dir.clone() };
        match crate::lint(ws, &lint_plan, progress) {
            Ok(report) => Some(report),
            Err(err) => {
                errors.push(err);
                None
            }
        }
    };

    // The DAG check does not depend on the projects' environments or tests: each pinned
    // series loads the DAGs on a thread of its own, alongside the environment builds and
    // pytest, so a cold run takes about as long as its slowest part.
    let pins: Vec<AirflowPin> = if plan.skip_dags {
        Vec::new()
    } else {
        let pins = pad_venv::airflow_pins(&repo.root);
        if pins.is_empty() {
            return Err(FlowError::NoAirflowPin);
        }
        pins.into_iter().filter(|p| plan.airflow.is_empty() || plan.airflow.contains(&p.series)).collect()
    };
    let dag_options = DagCheckOptions {
        variables: plan.variables.clone(),
        connections: plan.connections.clone(),
        force: plan.force,
        namespaces: plan.namespaces || uses_namespaces(&repo),
    };
    let (dag_results, (reports, project_errors, project_notes)) = thread::scope(|scope| {
        let handles: Vec<_> = pins
            .iter()
            .map(|pin| {
                let (ctx, repo, options) = (&ctx, &repo, &dag_options);
                scope.spawn(move || {
                    let result = pad_venv::check_dags(ctx, &repo.root, pin, &repo.root.join("dags"), options, progress);
                    if let Ok(report) = &result {
                        progress.done(
                            &format!("airflow-{}", pin.series),
                            if report.problems.is_empty() { "DAGs ok" } else { "DAG problems" },
                        );
                    }
                    result
                })
            })
            .collect();
        let projects_part = test_projects(&ctx, &repo.root, &projects, plan, progress, hand_over);
        let dag_results: Vec<_> = handles.into_iter().map(|h| h.join().expect("DAG check thread panicked")).collect();
        (dag_results, projects_part)
    });
    notes.extend(project_notes);
    errors.extend(project_errors);
    let mut dag_reports = Vec::new();
    for result in dag_results {
        match result {
            Ok(report) => dag_reports.push(report),
            Err(err) => errors.push(err.into()),
        }
    }
    if let Some(dir) = &plan.junit_dir {
        for report in &dag_reports {
            crate::junit::write_dag_report(dir, report)?;
        }
    }
    Ok(TestRun { projects: reports, dags: dag_reports, lint, errors, notes })
}

/// Builds (or reuses) the environments of `projects` and runs their tests, two projects at
/// a time: the reports, what could not be tested, and the notes of both.
fn test_projects(
    ctx: &pad_venv::Context,
    root: &camino::Utf8Path,
    projects: &[pad_layout::Project],
    plan: &TestPlan,
    progress: &dyn Progress,
    hand_over: &(dyn Fn(Vec<BuiltEnv>) + Sync),
) -> (Vec<TestReport>, Vec<FlowError>, Vec<String>) {
    let envs = pad_venv::build_projects(ctx, root, projects, progress);
    if let Some(built) = envs.iter().map(|env| env.as_ref().ok().cloned()).collect::<Option<Vec<_>>>() {
        hand_over(built);
    }
    let mut notes: Vec<String> = envs.iter().flatten().flat_map(|env| env.notes.clone()).collect();
    let options = TestOptions { junit_dir: plan.junit_dir.clone(), force: plan.force };
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    // Two projects at a time: pytest runs are mostly one process each.
    let jobs: Vec<_> = projects.iter().zip(envs).collect();
    for chunk in jobs.chunks(2) {
        let results: Vec<Result<TestReport, FlowError>> = thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|(project, env)| {
                    let options = &options;
                    scope.spawn(move || match env {
                        Ok(env) => Ok(pad_venv::test_project(ctx, root, project, env, options, progress)?),
                        // With its causes: uv's own words on why it could not resolve.
                        Err(err) => Err(FlowError::NoEnvironmentToTest {
                            project: project.name.clone(),
                            cause: pad_layout::error_chain(err),
                        }),
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("test thread panicked")).collect()
        });
        for ((project, _), result) in chunk.iter().zip(results) {
            match result {
                Ok(report) => {
                    progress.done(&project.name, if report.passed { "passed" } else { "FAILED" });
                    reports.push(report);
                }
                Err(err) => {
                    progress.done(&project.name, "error");
                    errors.push(err);
                }
            }
        }
    }
    notes.extend(reports.iter().flat_map(|r| r.notes.iter().cloned()));
    (reports, errors, notes)
}

/// Whether the repository deploys into namespaces: a remote target sets `data_root`
/// (the built-in local target always has one, so it does not count).
fn uses_namespaces(repo: &pad_layout::Repo) -> bool {
    repo.targets.iter().any(|t| !t.is_local() && t.data_root.is_some())
}
