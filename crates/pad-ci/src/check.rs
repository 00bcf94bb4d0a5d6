//! `ci-config --check`: every problem of a `.gitlab-ci.yml` against the repository it
//! builds, each with its line and the fix.
//!
//! - Every `cargo xtask` call parses with the front end's own parser (passed in), so a
//!   renamed command or flag fails here before it fails in a pipeline.
//! - `--target` and `--registry` name a configured target or registry.
//! - In each of the three pipelines (merge request, default branch, tag), every job a
//!   job `needs` runs too, and an environment's `on_stop` job exists, stops that
//!   environment and runs wherever the environment starts.
//! - The jobs the repository needs are there and run when they must (see [`NEEDS`]).

use camino::Utf8PathBuf;
use pad_layout::Problem;

use crate::{Event, Job, Pipeline, When, xtask_calls};

/// What the check knows of the repository.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Deploy target names (`local` included).
    pub targets: Vec<String>,
    /// Remote deploy targets (the ones review and production deploys go to).
    pub remote_targets: Vec<String>,
    /// Targets that set `data_root` (the ones a `deploy --namespace` can go to).
    pub namespace_targets: Vec<String>,
    /// Registry names in `deploy/registries.toml`.
    pub registries: Vec<String>,
    /// Every `artifacts.yaml`.
    pub artifacts_files: Vec<Utf8PathBuf>,
    /// The branch merge requests target, such as `main`.
    pub default_branch: String,
}

/// A job the repository needs.
struct Need {
    what: &'static str,
    /// The `cargo xtask` words it calls.
    command: &'static [&'static str],
    /// A flag the call must have.
    flag: Option<&'static str>,
    /// The pipelines it must run in: 0 merge request, 1 default branch, 2 tag.
    runs_in: &'static [usize],
    /// `when: manual` required.
    manual: bool,
    /// Needed only when the repository has artifacts (`warm`) or remote targets.
    only_if: Only,
    snippet: &'static str,
}

#[derive(PartialEq)]
enum Only {
    Always,
    Artifacts,
    RemoteTargets,
}

const NEEDS: &[Need] = &[
    Need {
        what: "a test job (pytest, the DAG checks and lint) in merge request and default-branch pipelines",
        command: &["test"],
        flag: Some("--locked"),
        runs_in: &[0, 1],
        manual: false,
        only_if: Only::Always,
        snippet: "test:\n  stage: test\n  script:\n    - cargo xtask test --locked --junit target/junit\n  artifacts:\n    when: always\n    reports:\n      junit: target/junit/*.xml",
    },
    Need {
        what: "a package job in default-branch and tag pipelines",
        command: &["package"],
        flag: Some("--locked"),
        runs_in: &[1, 2],
        manual: false,
        only_if: Only::Always,
        snippet: "package:\n  stage: package\n  script:\n    - cargo xtask package --locked",
    },
    Need {
        what: "a publish job in default-branch and tag pipelines",
        command: &["publish"],
        flag: None,
        runs_in: &[1, 2],
        manual: false,
        only_if: Only::Always,
        snippet: "publish:\n  stage: publish\n  rules:\n    - if: $CI_COMMIT_TAG\n    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH\n  script:\n    - cargo xtask publish --registry gitlab --locked",
    },
    Need {
        what: "a warm job (`cargo xtask cache warm`) in default-branch pipelines, because the repository has artifacts.yaml files",
        command: &["cache", "warm"],
        flag: None,
        runs_in: &[1],
        manual: false,
        only_if: Only::Artifacts,
        snippet: "warm:\n  stage: deploy\n  rules:\n    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH\n  script:\n    - cargo xtask cache warm",
    },
    Need {
        what: "a review job deploying each merge request into its own namespace, because the repository has remote deploy targets",
        command: &["deploy"],
        flag: Some("--namespace"),
        runs_in: &[0],
        manual: false,
        only_if: Only::RemoteTargets,
        snippet: "review:\n  stage: deploy\n  rules:\n    - if: $CI_PIPELINE_SOURCE == \"merge_request_event\"\n  script:\n    - cargo xtask deploy --target staging --namespace \"$CI_COMMIT_REF_SLUG\"\n  environment:\n    name: review/$CI_COMMIT_REF_SLUG\n    on_stop: stop_review\n    auto_stop_in: 1 week",
    },
    Need {
        what: "a manual production job deploying a tag's published package, because the repository has remote deploy targets",
        command: &["deploy"],
        flag: Some("--from-registry"),
        runs_in: &[2],
        manual: true,
        only_if: Only::RemoteTargets,
        snippet: "production:\n  stage: deploy\n  rules:\n    - if: $CI_COMMIT_TAG\n      when: manual\n  script:\n    - cargo xtask deploy --target prod --from-registry \"$CI_COMMIT_TAG\"",
    },
];

/// Every problem of `pipeline`; `parse` is the front end's parser for the words after
/// `cargo xtask` (its error text when they do not parse).
pub fn check(pipeline: &Pipeline, facts: &Facts, parse: &dyn Fn(&[String]) -> Result<(), String>) -> Vec<Problem> {
    let mut out = Out { pipeline, problems: Vec::new() };
    for job in &pipeline.jobs {
        calls(&mut out, job, facts, parse);
    }
    let events = Event::canonical(&facts.default_branch);
    let mut plans = Vec::new();
    for event in &events {
        let vars = event.variables(&facts.default_branch, "0123456789abcdef0123456789abcdef01234567");
        match pipeline.plan(&vars) {
            Ok(plan) => plans.push(plan.unwrap_or_default()),
            Err(err) => {
                out.at(
                    0,
                    format!("the rules cannot be evaluated for {}: {err}", event.describe(&facts.default_branch)),
                    "fix the `if:` expression",
                );
                return out.problems;
            }
        }
    }
    for (event, plan) in events.iter().zip(&plans) {
        let runs = |name: &str| plan.iter().any(|p| p.job.name == name);
        for planned in plan {
            let job = planned.job;
            for need in &job.needs {
                if pipeline.job(need).is_none() {
                    out.at(
                        job.line,
                        format!("job `{}` needs `{need}`, which is not a job in the file", job.name),
                        "fix the name in `needs:`",
                    );
                } else if !runs(need) {
                    out.at(
                        job.line,
                        format!("job `{}` needs `{need}`, which {} does not run (GitLab refuses such a pipeline)", job.name, event.describe(&facts.default_branch)),
                        format!("give `{need}` rules that include this pipeline, or write `needs: [{{job: {need}, optional: true}}]`"),
                    );
                }
            }
            if let Some(env) = &job.environment
                && env.action == "start"
                && let Some(stop) = &env.on_stop
            {
                match pipeline.job(stop) {
                    None => out.at(
                        job.line,
                        format!("job `{}`: `on_stop: {stop}` names no job", job.name),
                        format!("add a `{stop}` job with `environment: {{name: {}, action: stop}}`", env.name),
                    ),
                    Some(stop_job) => {
                        let stops =
                            stop_job.environment.as_ref().is_some_and(|e| e.action == "stop" && e.name == env.name);
                        if !stops {
                            out.at(
                                stop_job.line,
                                format!(
                                    "job `{stop}` is `{}`'s on_stop job but does not stop environment `{}`",
                                    job.name, env.name
                                ),
                                format!("give `{stop}` `environment: {{name: {}, action: stop}}`", env.name),
                            );
                        }
                        if !runs(stop) {
                            out.at(stop_job.line, format!("job `{stop}` (on_stop of `{}`) is not in {}, so the environment can never be stopped", job.name, event.describe(&facts.default_branch)), format!("give `{stop}` the same `rules:` as `{}`, with `when: manual`", job.name));
                        }
                    }
                }
            }
        }
    }
    needs(&mut out, &plans, facts);
    out.problems
}

struct Out<'a> {
    pipeline: &'a Pipeline,
    problems: Vec<Problem>,
}

impl Out<'_> {
    fn at(&mut self, line: usize, message: impl Into<String>, help: impl Into<String>) {
        let mut problem = Problem::new(&self.pipeline.file, message, help);
        if line > 0 {
            problem.line = Some(line);
        }
        self.problems.push(problem);
    }
}

fn calls(out: &mut Out<'_>, job: &Job, facts: &Facts, parse: &dyn Fn(&[String]) -> Result<(), String>) {
    for line in job.lines() {
        let calls = match xtask_calls(&line.text) {
            Ok(calls) => calls,
            Err(err) => {
                out.at(line.line, format!("job `{}`: {err}", job.name), "close the quote");
                continue;
            }
        };
        for call in calls {
            if let Err(err) = parse(&call.args) {
                let first = err
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .to_owned();
                let tip = err.lines().find(|l| l.trim_start().starts_with("tip:")).map(|t| format!("{}; ", t.trim()));
                let help_of = call
                    .command()
                    .map_or_else(|| "cargo xtask --help".to_owned(), |c| format!("cargo xtask {c} --help"));
                out.at(
                    line.line,
                    format!("job `{}`: `{}`: {first}", job.name, call.display()),
                    format!("{}see `{help_of}`", tip.unwrap_or_default()),
                );
                continue;
            }
            for (flag, known, kind) in
                [("--target", &facts.targets, "deploy target"), ("--registry", &facts.registries, "registry")]
            {
                if let Some(value) = call.flag(flag)
                    && !value.contains('$')
                    && !known.iter().any(|k| k == value)
                {
                    let file = if kind == "registry" {
                        "deploy/registries.toml".to_owned()
                    } else {
                        format!("deploy/{value}.toml")
                    };
                    out.at(
                        line.line,
                        format!("job `{}`: {kind} `{value}` is not configured (known: {})", job.name, known.join(", ")),
                        format!("add `{file}`, or use one of the known names"),
                    );
                }
            }
            if call.command() == Some("deploy")
                && call.has("--namespace")
                && let Some(target) = call.flag("--target")
                && facts.targets.iter().any(|t| t == target)
                && !facts.namespace_targets.iter().any(|t| t == target)
            {
                out.at(
                    line.line,
                    format!("job `{}` deploys into a namespace, but target `{target}` sets no `data_root`, so the deploy would fail", job.name),
                    format!("add `data_root = \"/srv/data/${{namespace}}\"` to deploy/{target}.toml (where each namespace's data goes)"),
                );
            }
            if call.command() == Some("test")
                && let Some(junit) = call.flag("--junit")
                && !job
                    .junit_reports
                    .iter()
                    .any(|r| r == junit || r.starts_with(&format!("{}/", junit.trim_end_matches('/'))))
            {
                out.at(line.line, format!("job `{}` writes JUnit to `{junit}` but does not report it", job.name), format!("add `artifacts: {{when: always, reports: {{junit: {}}}}}` so merge requests show the test results", junit_glob(junit)));
            }
        }
    }
}

fn needs(out: &mut Out<'_>, plans: &[Vec<crate::Planned<'_>>], facts: &Facts) {
    const PIPELINES: [&str; 3] = ["merge request", "default-branch", "tag"];
    for need in NEEDS {
        let wanted = match need.only_if {
            Only::Always => true,
            Only::Artifacts => !facts.artifacts_files.is_empty(),
            Only::RemoteTargets => !facts.remote_targets.is_empty(),
        };
        if !wanted {
            continue;
        }
        let candidates: Vec<&Job> = out
            .pipeline
            .jobs
            .iter()
            .filter(|job| job.calls(need.command, |call| need.flag.is_none_or(|f| call.has(f))))
            .collect();
        if candidates.is_empty() {
            let flag = need.flag.map(|f| format!(" with {f}")).unwrap_or_default();
            out.at(
                0,
                format!(
                    "no job calls `cargo xtask {}`{flag}: the repository needs {}",
                    need.command.join(" "),
                    need.what
                ),
                format!("add a job such as:\n{}", indent(need.snippet)),
            );
            continue;
        }
        for &index in need.runs_in {
            let planned = plans[index].iter().find(|p| candidates.iter().any(|c| c.name == p.job.name));
            match planned {
                None => {
                    let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
                    out.at(
                        candidates[0].line,
                        format!(
                            "`{}` does not run in {} pipelines: the repository needs {}",
                            names.join("`, `"),
                            PIPELINES[index],
                            need.what
                        ),
                        "widen its `rules:`",
                    );
                }
                Some(p) if need.manual && p.when != When::Manual => {
                    out.at(
                        p.job.line,
                        format!("job `{}` runs without a person pressing play: {}", p.job.name, need.what),
                        "add `when: manual` to its rule",
                    );
                }
                Some(p)
                    if need.command == ["test"]
                        && !p.job.cache_paths.iter().any(|c| c.trim_end_matches('/') == "target") =>
                {
                    out.at(p.job.line, format!("job `{}` does not cache `target/`: every pipeline would rebuild every environment", p.job.name), "add `cache: {key: pad-target, paths: [target/]}` (environments are keyed by content, so a stale cache is never wrong)");
                }
                Some(_) => {}
            }
        }
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// What `artifacts:reports:junit` takes for a `--junit` value: `--junit` names a
/// directory of XML files.
fn junit_glob(junit: &str) -> String {
    if junit.ends_with(".xml") { junit.to_owned() } else { format!("{}/*.xml", junit.trim_end_matches('/')) }
}
