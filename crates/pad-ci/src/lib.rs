//! The repository's `.gitlab-ci.yml`, read as GitLab reads it: its stages, its jobs
//! (with `default:` and `extends:` applied), their scripts, `rules`, `needs` and
//! environments.
//!
//! Three things are built on that model, for `cargo xtask ci-config` and for the tests:
//! - [`Pipeline::plan`]: which jobs a pipeline runs for an [`Event`] (a merge request, a
//!   push to the default branch, a tag), in order, with the `when` that `rules` gave
//!   them: GitLab's variable expressions are evaluated by [`expr`];
//! - [`xtask_calls`]: the `cargo xtask` command lines a script line runs;
//! - [`check`]: every problem of the file: a command or flag that does not exist (the
//!   caller passes its command-line parser, so the check can never drift from it), a
//!   target or registry that is not configured, a `needs` that a pipeline does not run,
//!   an environment whose stop job is missing, and a job the repository needs but lacks.
//!
//! Nothing here runs a job. GitLab features the model does not cover (`include`,
//! `trigger`, `parallel`, `rules:changes`, `=~` expressions) are reported as such, never
//! silently ignored.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use pad_layout::Problem;
use serde_json::Value;

pub mod check;
mod event;
pub mod expr;
mod locate;
mod script;

pub use check::check;
pub use event::{Event, ref_slug};
pub use script::{XtaskCall, xtask_calls};

#[cfg(test)]
mod tests;

/// The file name GitLab reads at the repository root.
pub const FILE_NAME: &str = ".gitlab-ci.yml";

/// GitLab's stages when the file names none.
const DEFAULT_STAGES: &[&str] = &["build", "test", "deploy"];

/// Keys of a job, as GitLab's CI/CD YAML reference lists them.
pub(crate) const JOB_KEYS: &[&str] = &[
    "after_script",
    "allow_failure",
    "artifacts",
    "before_script",
    "cache",
    "coverage",
    "dast_configuration",
    "dependencies",
    "environment",
    "except",
    "extends",
    "hooks",
    "id_tokens",
    "identity",
    "image",
    "inherit",
    "interruptible",
    "manual_confirmation",
    "needs",
    "only",
    "pages",
    "parallel",
    "release",
    "resource_group",
    "retry",
    "rules",
    "run",
    "script",
    "secrets",
    "services",
    "stage",
    "tags",
    "timeout",
    "trigger",
    "variables",
    "when",
];

/// Top-level keys that are not jobs.
pub(crate) const GLOBAL_KEYS: &[&str] = &[
    "after_script",
    "before_script",
    "cache",
    "default",
    "image",
    "include",
    "services",
    "stages",
    "variables",
    "workflow",
];

/// Job keys the model cannot follow; a file using them is reported, not half-understood.
const UNMODELLED_JOB_KEYS: &[&str] = &["trigger", "parallel", "only", "except", "run"];

#[derive(Debug, thiserror::Error)]
pub enum CiError {
    #[error("{path}: cannot read it")]
    Read {
        path: Utf8PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file, or something in it, that GitLab (or the model of it) would refuse.
    #[error("{}", render_problems(.0))]
    Invalid(Vec<Problem>),
}

fn render_problems(problems: &[Problem]) -> String {
    problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n")
}

/// When a job runs, once its rules have chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    OnSuccess,
    OnFailure,
    Always,
    /// Waits for someone to press play.
    Manual,
    Delayed,
    Never,
}

impl When {
    fn parse(text: &str) -> Option<When> {
        Some(match text {
            "on_success" => When::OnSuccess,
            "on_failure" => When::OnFailure,
            "always" => When::Always,
            "manual" => When::Manual,
            "delayed" => When::Delayed,
            "never" => When::Never,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            When::OnSuccess => "on_success",
            When::OnFailure => "on_failure",
            When::Always => "always",
            When::Manual => "manual",
            When::Delayed => "delayed",
            When::Never => "never",
        }
    }
}

/// One line of a job's script, with where it is in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptLine {
    pub text: String,
    /// 1-based line in the file (0 when the text could not be found, such as a line an
    /// anchor brought in).
    pub line: usize,
}

/// One entry of `rules:` (or `workflow:rules:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The `if:` expression; `None` matches always.
    pub condition: Option<String>,
    pub when: Option<When>,
    pub line: usize,
}

/// A job's `environment:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    /// `start` (the default), `stop`, `prepare`, `verify` or `access`.
    pub action: String,
    pub on_stop: Option<String>,
    pub auto_stop_in: Option<String>,
}

/// A job, with `default:` and `extends:` applied.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    /// The line of its key in the file.
    pub line: usize,
    pub stage: String,
    pub before_script: Vec<ScriptLine>,
    pub script: Vec<ScriptLine>,
    pub after_script: Vec<ScriptLine>,
    /// `None` when the job has no `rules:` (it then runs in every pipeline).
    pub rules: Option<Vec<Rule>>,
    pub when: When,
    pub needs: Vec<String>,
    pub variables: BTreeMap<String, String>,
    pub environment: Option<Environment>,
    /// `artifacts:reports:junit`.
    pub junit_reports: Vec<String>,
    /// `artifacts:paths`.
    pub artifact_paths: Vec<String>,
    /// Every `cache:` entry's paths.
    pub cache_paths: Vec<String>,
}

impl Job {
    /// Every script line the job runs: `before_script`, then `script`.
    pub fn lines(&self) -> impl Iterator<Item = &ScriptLine> {
        self.before_script.iter().chain(&self.script)
    }

    /// The `cargo xtask` calls its scripts make, with their lines (a line whose quoting
    /// is broken has none; [`check`] reports it).
    pub fn xtask_calls(&self) -> Vec<(&ScriptLine, XtaskCall)> {
        self.lines()
            .flat_map(|line| xtask_calls(&line.text).unwrap_or_default().into_iter().map(move |call| (line, call)))
            .collect()
    }

    /// Whether one of its `cargo xtask` calls is `command` (words, such as
    /// `["cache", "warm"]`) and satisfies `also`.
    pub fn calls(&self, command: &[&str], also: impl Fn(&XtaskCall) -> bool) -> bool {
        self.xtask_calls().iter().any(|(_, call)| {
            let words: Vec<&str> = call.args.iter().map(String::as_str).filter(|a| !a.starts_with('-')).collect();
            words.starts_with(command) && also(call)
        })
    }
}

/// A job a pipeline runs, as [`Pipeline::plan`] chose it.
#[derive(Debug, Clone, Copy)]
pub struct Planned<'a> {
    pub job: &'a Job,
    pub when: When,
}

/// A `.gitlab-ci.yml`.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// As shown in problems (relative to the repository root).
    pub file: Utf8PathBuf,
    pub stages: Vec<String>,
    pub variables: BTreeMap<String, String>,
    /// `workflow:rules`; `None` runs a pipeline for every event.
    pub workflow_rules: Option<Vec<Rule>>,
    /// In file order.
    pub jobs: Vec<Job>,
}

/// Reads `<root>/.gitlab-ci.yml`.
pub fn load(root: &Utf8Path) -> Result<Pipeline, CiError> {
    let path = root.join(FILE_NAME);
    let text = std::fs::read_to_string(&path).map_err(|source| CiError::Read { path, source })?;
    parse(&text, Utf8Path::new(FILE_NAME))
}

/// Reads the text of a `.gitlab-ci.yml`; `file` names it in problems.
pub fn parse(text: &str, file: &Utf8Path) -> Result<Pipeline, CiError> {
    let mut problems = Vec::new();
    let pipeline = read(text, file, &mut problems);
    match pipeline {
        Some(pipeline) if problems.is_empty() => Ok(pipeline),
        _ => Err(CiError::Invalid(problems)),
    }
}

fn read(text: &str, file: &Utf8Path, problems: &mut Vec<Problem>) -> Option<Pipeline> {
    let locate = locate::Locator::new(text);
    let root: Value = match serde_saphyr::from_str(text) {
        Ok(value) => value,
        Err(err) => {
            let mut problem = Problem::new(
                file,
                format!("invalid YAML: {}", err.without_snippet()),
                "fix the YAML syntax (indentation, `:` after keys, quotes around values holding `: ` or `#`)",
            );
            if let Some(location) = err.location() {
                problem.line = Some(location.line() as usize);
                problem.column = Some(location.column() as usize);
            }
            problems.push(problem);
            return None;
        }
    };
    let Value::Object(top) = root else {
        problems.push(Problem::new(
            file,
            "the file is not a mapping of keys to jobs",
            "start from the README's `.gitlab-ci.yml`",
        ));
        return None;
    };
    let mut reader = Reader { file, locate: &locate, problems };

    if top.contains_key("include") {
        reader.problem_at_key(
            "include",
            None,
            "`include:` is not followed: `ci-config --check` and the pipeline simulation read one file",
            "keep the pipeline in `.gitlab-ci.yml` itself",
        );
    }
    let stages = match top.get("stages") {
        None => DEFAULT_STAGES.iter().map(|s| (*s).to_owned()).collect(),
        Some(value) => reader.strings(value, "stages", None).unwrap_or_default(),
    };
    let mut stages_with_edges = vec![".pre".to_owned()];
    stages_with_edges.extend(stages.iter().filter(|s| *s != ".pre" && *s != ".post").cloned());
    stages_with_edges.push(".post".to_owned());
    let variables = top.get("variables").map(|v| reader.variables(v, "variables", None)).unwrap_or_default();
    let workflow_rules = match top.get("workflow") {
        Some(Value::Object(workflow)) => workflow.get("rules").map(|r| reader.rules(r, None)),
        Some(_) => {
            reader.problem_at_key(
                "workflow",
                None,
                "`workflow` must be a mapping",
                "write `workflow:` then `rules:` under it",
            );
            None
        }
        None => None,
    };
    let default = match top.get("default") {
        Some(Value::Object(map)) => map.clone(),
        _ => serde_json::Map::new(),
    };

    let mut jobs = Vec::new();
    for (name, value) in &top {
        if GLOBAL_KEYS.contains(&name.as_str()) || name.starts_with('.') {
            continue;
        }
        let Value::Object(own) = value else {
            reader.problem_at_key(
                name,
                None,
                format!("`{name}` is neither a job (a mapping with `script:`) nor a global keyword"),
                format!("global keywords are {}; a job is a mapping", GLOBAL_KEYS.join(", ")),
            );
            continue;
        };
        let merged = reader.extend(name, own, &top, &default, 0);
        if let Some(job) = reader.job(name, &merged, &stages_with_edges) {
            jobs.push(job);
        }
    }
    jobs.sort_by_key(|job| job.line);
    Some(Pipeline { file: file.to_owned(), stages: stages_with_edges, variables, workflow_rules, jobs })
}

struct Reader<'a> {
    file: &'a Utf8Path,
    locate: &'a locate::Locator,
    problems: &'a mut Vec<Problem>,
}

impl Reader<'_> {
    fn problem_at_key(&mut self, key: &str, job: Option<&str>, message: impl Into<String>, help: impl Into<String>) {
        let mut problem = Problem::new(self.file, message, help);
        let line = match job {
            Some(job) => self.locate.key_in_job(job, key),
            None => self.locate.top_key(key),
        };
        if line > 0 {
            problem.line = Some(line);
            problem.column = Some(1 + self.locate.indent(line));
        }
        self.problems.push(problem);
    }

    /// `extends:` (one name or a list, hidden jobs included) then `default:`, deepest
    /// first: the job's own keys win, maps merge, everything else is replaced.
    fn extend(
        &mut self,
        name: &str,
        own: &serde_json::Map<String, Value>,
        top: &serde_json::Map<String, Value>,
        default: &serde_json::Map<String, Value>,
        depth: usize,
    ) -> serde_json::Map<String, Value> {
        let mut base = if depth == 0 { inheritable(default) } else { serde_json::Map::new() };
        let parents: Vec<String> = match own.get("extends") {
            None => Vec::new(),
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(list)) => list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            Some(_) => {
                self.problem_at_key(
                    "extends",
                    Some(name),
                    "`extends` must be a job name or a list of them",
                    "write `extends: .template`",
                );
                Vec::new()
            }
        };
        for parent in parents {
            match top.get(&parent) {
                Some(Value::Object(parent_map)) if depth < 11 => {
                    let resolved = self.extend(&parent, parent_map, top, default, depth + 1);
                    merge(&mut base, &resolved);
                }
                Some(_) if depth >= 11 => self.problem_at_key(
                    "extends",
                    Some(name),
                    format!("`extends` of `{name}` nests deeper than GitLab's 11 levels (a cycle?)"),
                    "flatten the templates",
                ),
                _ => self.problem_at_key(
                    "extends",
                    Some(name),
                    format!("`{name}` extends `{parent}`, which is not in the file"),
                    format!("define `{parent}:` (a hidden job starts with a dot), or fix the name"),
                ),
            }
        }
        let mut own = own.clone();
        own.remove("extends");
        merge(&mut base, &own);
        base
    }

    fn job(&mut self, name: &str, map: &serde_json::Map<String, Value>, stages: &[String]) -> Option<Job> {
        let line = self.locate.top_key(name);
        let before = self.problems.len();
        for key in map.keys() {
            if !JOB_KEYS.contains(&key.as_str()) {
                let help = match nearest(key, JOB_KEYS) {
                    Some(near) => format!("did you mean `{near}`? (see GitLab's CI/CD YAML syntax reference)"),
                    None => "remove it (see GitLab's CI/CD YAML syntax reference for job keywords)".to_owned(),
                };
                self.problem_at_key(key, Some(name), format!("job `{name}`: unknown key `{key}`"), help);
            } else if UNMODELLED_JOB_KEYS.contains(&key.as_str()) {
                self.problem_at_key(
                    key,
                    Some(name),
                    format!("job `{name}`: `{key}` is not followed by `ci-config --check` or the pipeline simulation"),
                    match key.as_str() {
                        "only" | "except" => "use `rules:` (GitLab's replacement for only/except)",
                        _ => "keep jobs to `script`, `rules`, `needs`, `environment`, `artifacts`, `cache`",
                    },
                );
            }
        }
        let stage = match map.get("stage") {
            None => "test".to_owned(),
            Some(Value::String(stage)) => stage.clone(),
            Some(_) => {
                self.problem_at_key(
                    "stage",
                    Some(name),
                    format!("job `{name}`: `stage` must be a string"),
                    "write `stage: test`",
                );
                "test".to_owned()
            }
        };
        if !stages.contains(&stage) {
            self.problem_at_key(
                "stage",
                Some(name),
                format!("job `{name}`: stage `{stage}` is not in `stages:` ({})", stages.join(", ")),
                format!("add `{stage}` to `stages:`, or use one of them"),
            );
        }
        let script = match map.get("script") {
            Some(value) => self.script(name, value, "script"),
            None => {
                self.problem_at_key(
                    name,
                    None,
                    format!("job `{name}` has no `script:`"),
                    "give it a `script:` list of commands",
                );
                Vec::new()
            }
        };
        let before_script = map.get("before_script").map(|v| self.script(name, v, "before_script")).unwrap_or_default();
        let after_script = map.get("after_script").map(|v| self.script(name, v, "after_script")).unwrap_or_default();
        let rules = map.get("rules").map(|r| self.rules(r, Some(name)));
        let when = match map.get("when") {
            None => When::OnSuccess,
            Some(value) => self.when(value, name),
        };
        let needs = match map.get("needs") {
            None => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|need| match need {
                    Value::String(job) => Some(job.clone()),
                    Value::Object(map) => map.get("job").and_then(Value::as_str).map(str::to_owned),
                    _ => None,
                })
                .collect(),
            Some(_) => {
                self.problem_at_key(
                    "needs",
                    Some(name),
                    format!("job `{name}`: `needs` must be a list"),
                    "write `needs: [package]`",
                );
                Vec::new()
            }
        };
        let variables = map.get("variables").map(|v| self.variables(v, "variables", Some(name))).unwrap_or_default();
        let environment = match map.get("environment") {
            None => None,
            Some(Value::String(env)) => {
                Some(Environment { name: env.clone(), action: "start".to_owned(), on_stop: None, auto_stop_in: None })
            }
            Some(Value::Object(env)) => {
                let text = |key: &str| env.get(key).and_then(Value::as_str).map(str::to_owned);
                match text("name") {
                    Some(env_name) => Some(Environment {
                        name: env_name,
                        action: text("action").unwrap_or_else(|| "start".to_owned()),
                        on_stop: text("on_stop"),
                        auto_stop_in: text("auto_stop_in"),
                    }),
                    None => {
                        self.problem_at_key(
                            "environment",
                            Some(name),
                            format!("job `{name}`: `environment` has no `name`"),
                            "add `name: review/$CI_COMMIT_REF_SLUG`",
                        );
                        None
                    }
                }
            }
            Some(_) => None,
        };
        let artifacts = map.get("artifacts").and_then(Value::as_object);
        let junit_reports = artifacts
            .and_then(|a| a.get("reports"))
            .and_then(|r| r.get("junit"))
            .map(|j| self.strings(j, "junit", Some(name)).unwrap_or_default())
            .unwrap_or_default();
        let artifact_paths = artifacts
            .and_then(|a| a.get("paths"))
            .map(|p| self.strings(p, "paths", Some(name)).unwrap_or_default())
            .unwrap_or_default();
        let cache_paths = match map.get("cache") {
            Some(Value::Array(caches)) => caches
                .iter()
                .filter_map(|c| c.get("paths"))
                .flat_map(|p| self.strings(p, "paths", Some(name)).unwrap_or_default())
                .collect(),
            Some(cache @ Value::Object(_)) => {
                cache.get("paths").map(|p| self.strings(p, "paths", Some(name)).unwrap_or_default()).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        if self.problems.len() > before {
            return None;
        }
        Some(Job {
            name: name.to_owned(),
            line,
            stage,
            before_script,
            script,
            after_script,
            rules,
            when,
            needs,
            variables,
            environment,
            junit_reports,
            artifact_paths,
            cache_paths,
        })
    }

    fn when(&mut self, value: &Value, job: &str) -> When {
        match value.as_str().and_then(When::parse) {
            Some(when) => when,
            None => {
                self.problem_at_key(
                    "when",
                    Some(job),
                    format!("job `{job}`: `when: {value}` is not one of on_success, manual, always, on_failure, delayed, never"),
                    "use one of those values",
                );
                When::OnSuccess
            }
        }
    }

    fn script(&mut self, job: &str, value: &Value, key: &str) -> Vec<ScriptLine> {
        let texts: Vec<String> = match value {
            Value::String(one) => vec![one.clone()],
            Value::Array(list) => {
                let mut out = Vec::new();
                for item in list {
                    match item {
                        Value::String(text) => out.push(text.clone()),
                        // A nested list, as a YAML anchor of a list of lines makes.
                        Value::Array(inner) => out.extend(inner.iter().filter_map(Value::as_str).map(str::to_owned)),
                        other => {
                            self.problem_at_key(
                                key,
                                Some(job),
                                format!("job `{job}`: `{key}` holds {other}, not a command"),
                                "quote the line: a `key: value` in a command is read by YAML as a mapping",
                            );
                        }
                    }
                }
                out
            }
            _ => {
                self.problem_at_key(
                    key,
                    Some(job),
                    format!("job `{job}`: `{key}` must be a list of commands"),
                    format!("write `{key}:` then `- cargo xtask …` lines"),
                );
                Vec::new()
            }
        };
        texts.into_iter().map(|text| ScriptLine { line: self.locate.text_in_job(job, &text), text }).collect()
    }

    fn rules(&mut self, value: &Value, job: Option<&str>) -> Vec<Rule> {
        let Value::Array(list) = value else {
            self.problem_at_key("rules", job, "`rules` must be a list", "write `rules:` then `- if: …` entries");
            return Vec::new();
        };
        let mut rules = Vec::new();
        for entry in list {
            let Value::Object(map) = entry else {
                self.problem_at_key(
                    "rules",
                    job,
                    "a rule must be a mapping",
                    "write `- if: '$CI_PIPELINE_SOURCE == \"merge_request_event\"'`",
                );
                continue;
            };
            for key in map.keys() {
                match key.as_str() {
                    "if" | "when" | "allow_failure" | "variables" | "interruptible" | "start_in" | "needs" => {}
                    "changes" | "exists" => self.problem_at_key(
                        key,
                        job,
                        format!("`rules:{key}` is not followed by `ci-config --check` or the pipeline simulation"),
                        "choose jobs with `if:` on GitLab's predefined variables",
                    ),
                    other => self.problem_at_key(
                        other,
                        job,
                        format!("unknown key `{other}` in a rule"),
                        "a rule takes `if`, `when`, `allow_failure`, `variables`, `changes`, `exists`",
                    ),
                }
            }
            let condition = map.get("if").and_then(Value::as_str).map(str::to_owned);
            let line = condition.as_deref().map_or(0, |c| match job {
                Some(job) => self.locate.text_in_job(job, c),
                None => self.locate.text_anywhere(c),
            });
            if let Some(condition) = &condition
                && let Err(err) = expr::parse(condition)
            {
                let mut problem = Problem::new(
                    self.file,
                    format!("rule `if: {condition}`: {err}"),
                    "write GitLab's variable expressions: `$VAR`, `==`, `!=`, `&&`, `||`, parentheses, quoted strings, `null`",
                );
                if line > 0 {
                    problem.line = Some(line);
                }
                self.problems.push(problem);
            }
            let when = map.get("when").map(|value| match job {
                Some(job) => self.when(value, job),
                None => value.as_str().and_then(When::parse).unwrap_or(When::Always),
            });
            rules.push(Rule { condition, when, line });
        }
        rules
    }

    fn strings(&mut self, value: &Value, key: &str, job: Option<&str>) -> Option<Vec<String>> {
        match value {
            Value::String(one) => Some(vec![one.clone()]),
            Value::Array(list) if list.iter().all(Value::is_string) => {
                Some(list.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            }
            _ => {
                self.problem_at_key(
                    key,
                    job,
                    format!("`{key}` must be a list of strings"),
                    format!("write `{key}: [a, b]`"),
                );
                None
            }
        }
    }

    fn variables(&mut self, value: &Value, key: &str, job: Option<&str>) -> BTreeMap<String, String> {
        let Value::Object(map) = value else {
            self.problem_at_key(
                key,
                job,
                "`variables` must be a mapping",
                "write `variables:` then `NAME: value` lines",
            );
            return BTreeMap::new();
        };
        map.iter()
            .filter_map(|(name, value)| {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Object(full) => full.get("value").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    _ => return None,
                };
                Some((name.clone(), text))
            })
            .collect()
    }
}

/// The keys of `default:` a job inherits (GitLab's list).
fn inheritable(default: &serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    const KEYS: &[&str] = &[
        "after_script",
        "artifacts",
        "before_script",
        "cache",
        "hooks",
        "id_tokens",
        "image",
        "interruptible",
        "retry",
        "services",
        "tags",
        "timeout",
    ];
    default.iter().filter(|(k, _)| KEYS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// GitLab's `extends` merge: maps merge key by key, anything else is replaced.
fn merge(base: &mut serde_json::Map<String, Value>, over: &serde_json::Map<String, Value>) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(Value::Object(into)), Value::Object(from)) => merge(into, from),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// The candidate closest to `word`, when one is close enough to be a typo of it.
pub(crate) fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb { previous } else { 1 + previous.min(row[j]).min(row[j + 1]) };
            previous = current;
        }
    }
    row[b.len()]
}

impl Pipeline {
    /// The jobs a pipeline for `event` runs, in stage order (file order within a stage),
    /// with the `when` their rules gave them; `Ok(None)` when `workflow:rules` starts no
    /// pipeline for it. `vars` are the predefined variables of the event
    /// ([`Event::variables`]) and any set in the project's CI/CD settings.
    pub fn plan(&self, vars: &BTreeMap<String, String>) -> Result<Option<Vec<Planned<'_>>>, expr::ExprError> {
        let global = |name: &str| vars.get(name).or_else(|| self.variables.get(name)).cloned();
        if let Some(rules) = &self.workflow_rules {
            match first_match(rules, &global)? {
                Some(rule) if rule.when != Some(When::Never) => {}
                _ => return Ok(None),
            }
        }
        let mut planned = Vec::new();
        for job in &self.jobs {
            let lookup = |name: &str| {
                vars.get(name).or_else(|| job.variables.get(name)).or_else(|| self.variables.get(name)).cloned()
            };
            let when = match &job.rules {
                None => job.when,
                Some(rules) => match first_match(rules, &lookup)? {
                    None => continue,
                    Some(rule) => rule.when.unwrap_or(job.when),
                },
            };
            if when != When::Never {
                planned.push(Planned { job, when });
            }
        }
        planned.sort_by_key(|p| (self.stages.iter().position(|s| *s == p.job.stage).unwrap_or(usize::MAX), p.job.line));
        Ok(Some(planned))
    }

    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|job| job.name == name)
    }
}

fn first_match<'r>(
    rules: &'r [Rule],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<&'r Rule>, expr::ExprError> {
    for rule in rules {
        let matched = match &rule.condition {
            None => true,
            Some(condition) => expr::evaluate(condition, lookup)?,
        };
        if matched {
            return Ok(Some(rule));
        }
    }
    Ok(None)
}
