//! The YAML DAG format: reading one `dags/<name>.dag.yaml` into a [`DagSpec`], with every
//! mistake found (unknown keys with the nearest valid one, types, task types and their
//! parameters, `depends_on`, cycles, duplicate ids, schedules, projects) as a `Problem`
//! at its file, line and column.

use std::collections::{BTreeMap, BTreeSet};

use camino::Utf8Path;
use pad_layout::{Problem, Project};
use serde_saphyr::Spanned;

use crate::cron;
use crate::node::{Node, Value};
use crate::templates::{COMMON_KEYS, ParamType, TaskType};

/// Keys of the DAG level.
pub(crate) const DAG_KEYS: &[&str] = &[
    "dag_id",
    "description",
    "schedule",
    "start_date",
    "catchup",
    "tags",
    "max_active_runs",
    "default_args",
    "params",
    "task_groups",
    "tasks",
];
pub(crate) const DEFAULT_ARGS_KEYS: &[&str] = &["owner", "retries", "retry_delay"];
pub(crate) const GROUP_KEYS: &[&str] = &["id", "tooltip", "tasks"];

/// Names a task or group id cannot take: the generated file's own names and Python's
/// keywords.
const RESERVED_IDS: &[&str] = &[
    "dag",
    "os",
    "dt",
    "shlex",
    "pendulum",
    "annotations",
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "false",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "nonlocal",
    "none",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "true",
    "try",
    "while",
    "with",
    "yield",
];

/// One DAG as declared.
#[derive(Debug, Clone)]
pub(crate) struct DagSpec {
    pub(crate) dag_id: String,
    pub(crate) description: Option<String>,
    pub(crate) schedule: Option<String>,
    pub(crate) start_date: (u32, u32, u32),
    pub(crate) catchup: bool,
    pub(crate) tags: Vec<String>,
    pub(crate) max_active_runs: Option<i64>,
    /// `owner`, `retries`, and `retry_delay` in seconds, in that order.
    pub(crate) default_args: Vec<(String, minijinja::Value)>,
    pub(crate) params: minijinja::Value,
    pub(crate) groups: Vec<Group>,
    /// In file order, grouped tasks in their group's place.
    pub(crate) tasks: Vec<Task>,
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) tooltip: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub(crate) id: String,
    pub(crate) type_name: String,
    pub(crate) group: Option<String>,
    pub(crate) depends_on: Vec<String>,
    pub(crate) params: BTreeMap<String, minijinja::Value>,
}

/// Reads one file's text into a DAG, or every problem in it.
pub(crate) fn parse(
    file: &Utf8Path,
    text: &str,
    default_id: &str,
    types: &[TaskType],
    projects: &[Project],
    artifacts: &BTreeMap<String, String>,
) -> Result<DagSpec, Vec<Problem>> {
    let root: Node = match serde_saphyr::from_str(text) {
        Ok(root) => root,
        Err(err) => return Err(vec![yaml_problem(file, &err)]),
    };
    let mut r = Reader { file, artifacts, problems: Vec::new() };
    r.variables(&root);
    let spec = r.dag(&root, default_id, types, projects);
    if r.problems.is_empty() { Ok(spec.expect("no problems means a DAG")) } else { Err(r.problems) }
}

fn yaml_problem(file: &Utf8Path, err: &serde_saphyr::Error) -> Problem {
    let inner = err.without_snippet();
    let mut message = inner.to_string();
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    if let Some(cut) = message.find(", set DuplicateKeyPolicy") {
        message.truncate(cut);
    }
    let help = if message.contains("duplicate") {
        "each key appears once per mapping: remove or rename the repeated one"
    } else {
        "fix the YAML syntax (indentation, `:` after keys, quotes around values holding `: ` or ` #`)"
    };
    let mut problem = Problem::new(file, format!("invalid YAML: {message}"), help);
    if let Some(location) = inner.location().or_else(|| err.location()) {
        problem.line = Some(location.line() as usize);
        problem.column = Some(location.column() as usize);
    }
    problem
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
pub(crate) fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= c.len().max(word.len()).div_ceil(3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

struct Reader<'a> {
    file: &'a Utf8Path,
    /// Every artifact of the repository's artifacts.yaml files, by name: its location.
    artifacts: &'a BTreeMap<String, String>,
    problems: Vec<Problem>,
}

type Entries = [(Spanned<String>, Node)];

fn at<T>(problem: Problem, spanned: &Spanned<T>) -> Problem {
    let mut problem = problem;
    problem.line = Some(spanned.referenced.line() as usize);
    problem.column = Some(spanned.referenced.column() as usize);
    problem
}

fn get<'e>(entries: &'e Entries, key: &str) -> Option<&'e Node> {
    entries.iter().find(|(k, _)| k.value == key).map(|(_, v)| v)
}

impl Reader<'_> {
    fn push<T>(&mut self, spanned: &Spanned<T>, message: impl Into<String>, help: impl Into<String>) {
        let problem = at(Problem::new(self.file, message, help), spanned);
        self.problems.push(problem);
    }

    /// Every string of the file whose `${...}` is not a variable the DAG could read: an
    /// error rather than text left in the generated file as written.
    fn variables(&mut self, node: &Node) {
        match &node.value {
            Value::Str(text) => {
                if let Some(bad) = crate::emit::malformed_var(text) {
                    let shown: String = bad.chars().take(40).collect();
                    self.push(
                        node,
                        format!("`{shown}` is not a variable: write `${{NAME}}` or `${{NAME:-default}}`"),
                        "NAME is letters, digits and `_`, not starting with a digit; write `$${` for a literal `${` (a shell's `$${var%.*}`)",
                    );
                }
            }
            Value::Seq(items) => items.iter().for_each(|item| self.variables(item)),
            Value::Map(entries) => entries.iter().for_each(|(_, value)| self.variables(value)),
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
        }
    }

    fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n Entries> {
        match &node.value {
            Value::Map(entries) => Some(entries),
            other => {
                self.push(
                    node,
                    format!("{what} must be a mapping, not {}", other.kind()),
                    "write `key: value` lines under it",
                );
                None
            }
        }
    }

    /// Reports every key of `entries` not in `allowed`, with the nearest allowed one.
    fn keys(&mut self, entries: &Entries, allowed: &[&str], what: &str) {
        for (key, _) in entries {
            if !allowed.contains(&key.value.as_str()) {
                let help = match nearest(&key.value, allowed.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`? {what} takes {}", allowed.join(", ")),
                    None => format!("remove it: {what} takes {}", allowed.join(", ")),
                };
                self.push(key, format!("unknown key `{}` in {what}", key.value), help);
            }
        }
    }

    fn required<'n>(&mut self, entries: &'n Entries, key: &str, owner: &Node, what: &str) -> Option<&'n Node> {
        let found = get(entries, key);
        if found.is_none() {
            self.push(owner, format!("{what} has no `{key}`"), format!("add `{key}:`"));
        }
        found
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            other => {
                self.push(node, format!("{what} must be a string, not {}", other.kind()), "quote the value");
                None
            }
        }
    }

    fn int(&mut self, node: &Node, what: &str, min: i64) -> Option<i64> {
        match &node.value {
            Value::Int(v) if *v >= min => Some(*v),
            Value::Int(v) => {
                self.push(
                    node,
                    format!("{what} must be at least {min}, not {v}"),
                    format!("use a whole number from {min}"),
                );
                None
            }
            other => {
                self.push(
                    node,
                    format!("{what} must be a whole number, not {}", other.kind()),
                    "write a number such as 3",
                );
                None
            }
        }
    }

    fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(v) => Some(*v),
            other => {
                self.push(node, format!("{what} must be true or false, not {}", other.kind()), "write true or false");
                None
            }
        }
    }

    fn strings(&mut self, node: &Node, what: &str) -> Option<Vec<Spanned<String>>> {
        let Value::Seq(items) = &node.value else {
            self.push(
                node,
                format!("{what} must be a list, not {}", node.value.kind()),
                "write `[a, b]` or `- a` lines",
            );
            return None;
        };
        let mut out = Vec::new();
        for item in items {
            let s = self.string(item, &format!("each of {what}"))?;
            out.push(Spanned { value: s, referenced: item.referenced, defined: item.defined });
        }
        Some(out)
    }

    /// A task or group id: a lowercase Python name, as the generated file names each
    /// task's variable after its id (ruff's AIR001).
    fn id(&mut self, node: &Node, what: &str) -> Option<String> {
        let id = self.string(node, what)?;
        let valid = id.starts_with(|c: char| c.is_ascii_lowercase())
            && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            self.push(
                node,
                format!("`{id}` is not a valid {what}"),
                "use lowercase letters, digits and `_`, starting with a letter (it becomes a Python name)",
            );
            return None;
        }
        if RESERVED_IDS.contains(&id.as_str()) {
            self.push(
                node,
                format!("`{id}` is reserved"),
                "choose another id: the generated file uses this name, or Python does",
            );
            return None;
        }
        Some(id)
    }

    fn dag(&mut self, root: &Node, default_id: &str, types: &[TaskType], projects: &[Project]) -> Option<DagSpec> {
        let entries = self.map(root, "a DAG file")?;
        self.keys(entries, DAG_KEYS, "a DAG");
        let dag_id = match get(entries, "dag_id") {
            Some(node) => self.string(node, "`dag_id`").inspect(|id| {
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
                    self.push(node, format!("`{id}` is not a valid dag_id"), "use letters, digits, `_`, `-` and `.`");
                }
            }),
            None => Some(default_id.to_owned()),
        };
        let description = get(entries, "description").and_then(|n| self.string(n, "`description`"));
        let schedule = self.required(entries, "schedule", root, "the DAG").and_then(|node| match &node.value {
            Value::Null => Some(None),
            Value::Str(text) => match cron::check_schedule(text) {
                Ok(()) => Some(Some(text.clone())),
                Err(err) => {
                    self.push(
                        node,
                        format!("invalid schedule `{text}`: {}", err.message),
                        format!(
                            "write five cron fields (\"0 3 * * *\"), a preset ({}) or null for manual runs only",
                            cron::PRESETS.join(", ")
                        ),
                    );
                    None
                }
            },
            other => {
                self.push(
                    node,
                    format!("`schedule` must be a string or null, not {}", other.kind()),
                    "quote the cron expression: \"0 3 * * *\"",
                );
                None
            }
        });
        let start_date = self.required(entries, "start_date", root, "the DAG").and_then(|node| {
            let text = self.string(node, "`start_date`")?;
            let date = parse_date(&text);
            if date.is_none() {
                self.push(node, format!("invalid start_date `{text}`"), "write a date as YYYY-MM-DD (UTC)");
            }
            date
        });
        let catchup = get(entries, "catchup").map_or(Some(false), |n| self.bool(n, "`catchup`"));
        let tags = get(entries, "tags").map_or(Some(Vec::new()), |n| self.strings(n, "`tags`"));
        let max_active_runs = get(entries, "max_active_runs").map(|n| self.int(n, "`max_active_runs`", 1));
        let default_args = get(entries, "default_args").map_or(Some(Vec::new()), |n| self.default_args(n));
        let params = get(entries, "params").map_or(Some(minijinja::Value::from(())), |node| {
            let map = self.map(node, "`params`")?;
            Some(plain_value(&Value::Map(map.to_vec())))
        });

        let mut groups = Vec::new();
        let mut tasks = Vec::new();
        let mut task_nodes: Vec<&Node> = Vec::new();
        let mut ids: BTreeMap<String, &Node> = BTreeMap::new();
        if let Some(node) = get(entries, "task_groups") {
            if let Value::Seq(items) = &node.value {
                for item in items {
                    let Some(group_entries) = self.map(item, "a task group") else { continue };
                    self.keys(group_entries, GROUP_KEYS, "a task group");
                    let Some(id) = self.required(group_entries, "id", item, "the task group").and_then(|n| {
                        let id = self.id(n, "task group id")?;
                        self.unique(&mut ids, &id, n).then_some(id)
                    }) else {
                        continue;
                    };
                    let tooltip = get(group_entries, "tooltip").and_then(|n| self.string(n, "`tooltip`"));
                    if let Some(list) = self.required(group_entries, "tasks", item, "the task group") {
                        self.tasks(list, Some(&id), types, projects, &mut ids, &mut tasks, &mut task_nodes);
                    }
                    groups.push(Group { id, tooltip });
                }
            } else {
                self.push(node, "`task_groups` must be a list", "write `- id: name` items with their `tasks:`");
            }
        }
        match get(entries, "tasks") {
            Some(list) => self.tasks(list, None, types, projects, &mut ids, &mut tasks, &mut task_nodes),
            None if groups.is_empty() => {
                self.push(root, "the DAG has no `tasks`", "add `tasks:` with at least one task")
            }
            None => {}
        }
        self.dependencies(&tasks, &task_nodes, &ids);

        Some(DagSpec {
            dag_id: dag_id?,
            description,
            schedule: schedule?,
            start_date: start_date?,
            catchup: catchup?,
            tags: tags?.into_iter().map(|t| t.value).collect(),
            max_active_runs: max_active_runs.flatten(),
            default_args: default_args?,
            params: params?,
            groups,
            tasks,
        })
    }

    fn unique<'n>(&mut self, ids: &mut BTreeMap<String, &'n Node>, id: &str, node: &'n Node) -> bool {
        if let Some(first) = ids.get(id) {
            let first = format!("line {}", first.referenced.line());
            self.push(
                node,
                format!("duplicate task id `{id}` (first used on {first})"),
                "give every task and task group its own id",
            );
            return false;
        }
        ids.insert(id.to_owned(), node);
        true
    }

    fn default_args(&mut self, node: &Node) -> Option<Vec<(String, minijinja::Value)>> {
        let entries = self.map(node, "`default_args`")?;
        self.keys(entries, DEFAULT_ARGS_KEYS, "`default_args`");
        let mut out = Vec::new();
        if let Some(n) = get(entries, "owner") {
            out.push(("owner".to_owned(), self.string(n, "`owner`")?.into()));
        }
        if let Some(n) = get(entries, "retries") {
            out.push(("retries".to_owned(), self.int(n, "`retries`", 0)?.into()));
        }
        if let Some(n) = get(entries, "retry_delay") {
            let seconds = match &n.value {
                Value::Int(s) if *s >= 0 => Some(*s),
                Value::Str(text) => parse_duration(text),
                _ => None,
            };
            let Some(seconds) = seconds else {
                self.push(n, "invalid `retry_delay`", "write seconds (300) or a duration such as 30s, 5m or 1h");
                return None;
            };
            out.push(("retry_delay".to_owned(), seconds.into()));
        }
        Some(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn tasks<'n>(
        &mut self,
        list: &'n Node,
        group: Option<&str>,
        types: &[TaskType],
        projects: &[Project],
        ids: &mut BTreeMap<String, &'n Node>,
        tasks: &mut Vec<Task>,
        nodes: &mut Vec<&'n Node>,
    ) {
        let Value::Seq(items) = &list.value else {
            self.push(list, format!("`tasks` must be a list, not {}", list.value.kind()), "write `- id: name` items");
            return;
        };
        for item in items {
            if let Some(task) = self.task(item, group, types, projects, ids) {
                tasks.push(task);
                nodes.push(item);
            }
        }
    }

    fn task<'n>(
        &mut self,
        item: &'n Node,
        group: Option<&str>,
        types: &[TaskType],
        projects: &[Project],
        ids: &mut BTreeMap<String, &'n Node>,
    ) -> Option<Task> {
        let entries = self.map(item, "a task")?;
        let id = self.required(entries, "id", item, "the task").and_then(|n| {
            let id = self.id(n, "task id")?;
            self.unique(ids, &id, n).then_some(id)
        });
        let type_node = self.required(entries, "type", item, "the task")?;
        let type_name = self.string(type_node, "`type`")?;
        let Some(task_type) = types.iter().find(|t| t.name == type_name) else {
            let names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
            let near =
                nearest(&type_name, names.iter().copied()).map(|n| format!("did you mean `{n}`? ")).unwrap_or_default();
            self.push(
                type_node,
                format!("unknown task type `{type_name}`"),
                format!(
                    "{near}the types are {}; a repository adds its own as dags/templates/{type_name}.py.j2",
                    names.join(", ")
                ),
            );
            return None;
        };
        let mut allowed: Vec<&str> = COMMON_KEYS.to_vec();
        allowed.extend(task_type.params.keys().map(String::as_str));
        self.keys(entries, &allowed, &format!("a `{type_name}` task"));
        let depends_on = get(entries, "depends_on").map_or(Some(Vec::new()), |n| match &n.value {
            Value::Str(s) => Some(vec![s.clone()]),
            _ => self.strings(n, "`depends_on`").map(|v| v.into_iter().map(|s| s.value).collect()),
        });
        let mut params = BTreeMap::new();
        for (name, param) in &task_type.params {
            match get(entries, name) {
                Some(node) => {
                    if let Some(value) = self.param(node, name, param.kind, projects) {
                        params.insert(name.clone(), value);
                    }
                }
                None if param.required => {
                    self.push(
                        item,
                        format!("the `{type_name}` task has no `{name}`"),
                        format!("add `{name}:` ({})", param.description),
                    );
                }
                None => {}
            }
        }
        Some(Task { id: id?, type_name, group: group.map(str::to_owned), depends_on: depends_on?, params })
    }

    fn param(&mut self, node: &Node, name: &str, kind: ParamType, projects: &[Project]) -> Option<minijinja::Value> {
        let what = format!("`{name}`");
        match kind {
            ParamType::String => self.string(node, &what).map(Into::into),
            ParamType::Integer => self.int(node, &what, i64::MIN).map(Into::into),
            ParamType::Boolean => self.bool(node, &what).map(Into::into),
            ParamType::List => match &node.value {
                Value::Seq(items) => {
                    let mut out = Vec::new();
                    for item in items {
                        out.push(match &item.value {
                            Value::Str(s) => s.clone(),
                            Value::Int(i) => i.to_string(),
                            Value::Float(f) => f.to_string(),
                            other => {
                                self.push(
                                    item,
                                    format!("each of {what} must be a string, not {}", other.kind()),
                                    "quote the value",
                                );
                                return None;
                            }
                        });
                    }
                    Some(out.into())
                }
                other => {
                    self.push(
                        node,
                        format!("{what} must be a list, not {}", other.kind()),
                        "write `[a, b]` or `- a` lines",
                    );
                    None
                }
            },
            ParamType::Map => {
                let entries = self.map(node, &what)?;
                let mut out = BTreeMap::new();
                for (key, value) in entries {
                    let value = match &value.value {
                        Value::Str(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        Value::Bool(b) => b.to_string(),
                        other => {
                            self.push(
                                value,
                                format!("`{}` in {what} must be a string, not {}", key.value, other.kind()),
                                "quote the value",
                            );
                            return None;
                        }
                    };
                    out.insert(key.value.clone(), value);
                }
                Some(minijinja::Value::from(out))
            }
            ParamType::Artifacts => {
                let names = self.strings(node, &what)?;
                let mut locations = Vec::new();
                for name in names {
                    match self.artifacts.get(&name.value) {
                        Some(location) => locations.push(location.clone()),
                        None => {
                            let near = nearest(&name.value, self.artifacts.keys().map(String::as_str))
                                .map(|n| format!("did you mean `{n}`? "))
                                .unwrap_or_default();
                            self.push(
                                &name,
                                format!("artifact `{}` is not declared in any artifacts.yaml", name.value),
                                format!("{near}declare it under `artifacts:` in the project's artifacts.yaml (with its caches), then `cargo xtask cache warm`"),
                            );
                            return None;
                        }
                    }
                }
                Some(locations.into())
            }
            ParamType::Project => {
                let name = self.string(node, &what)?;
                let Some(project) = projects.iter().find(|p| p.name == name) else {
                    let names: Vec<&str> = projects.iter().map(|p| p.name.as_str()).collect();
                    let near = nearest(&name, names.iter().copied())
                        .map(|n| format!("did you mean `{n}`? "))
                        .unwrap_or_default();
                    self.push(
                        node,
                        format!("project `{name}` does not exist"),
                        format!(
                            "{near}the projects are {} (under projects/); `cargo xtask new-project {name}` creates one",
                            names.join(", ")
                        ),
                    );
                    return None;
                };
                let Some(package) = &project.package else {
                    self.push(
                        node,
                        format!("project `{name}` has no Python package to run"),
                        "add src/<package>/__init__.py, or set `package` in its project.toml",
                    );
                    return None;
                };
                let mut facts: BTreeMap<&str, minijinja::Value> = BTreeMap::new();
                facts.insert("name", minijinja::Value::from(name.clone()));
                facts.insert("package", minijinja::Value::from(package.clone()));
                facts.insert("installed", minijinja::Value::from(project.pyproject.is_some()));
                Some(minijinja::Value::from(facts))
            }
        }
    }

    /// `depends_on` that names no task, and cycles, each reported once.
    fn dependencies(&mut self, tasks: &[Task], nodes: &[&Node], ids: &BTreeMap<String, &Node>) {
        let task_ids: BTreeSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        for (task, node) in tasks.iter().zip(nodes) {
            let Value::Map(entries) = &node.value else { continue };
            let Some(dep_node) = get(entries, "depends_on") else { continue };
            let dep_nodes: Vec<&Node> = match &dep_node.value {
                Value::Seq(items) => items.iter().collect(),
                _ => vec![dep_node],
            };
            for (dep, at_node) in task.depends_on.iter().zip(dep_nodes) {
                if !task_ids.contains(dep.as_str()) {
                    let what = if ids.contains_key(dep) { "a task group, not a task" } else { "no task" };
                    let near = nearest(dep, task_ids.iter().copied())
                        .map(|n| format!("did you mean `{n}`? "))
                        .unwrap_or_default();
                    self.push(
                        at_node,
                        format!("task `{}` depends on `{dep}`, which is {what}", task.id),
                        format!("{near}name a task id of this DAG"),
                    );
                }
            }
        }
        if let Some(cycle) = find_cycle(tasks) {
            let first = tasks.iter().position(|t| t.id == cycle[0]).expect("cycle of known tasks");
            let Value::Map(entries) = &nodes[first].value else { return };
            let at_node = get(entries, "depends_on").expect("a task in a cycle depends on something");
            self.push(
                at_node,
                format!("dependency cycle: {}", cycle.join(" -> ")),
                "remove one of these `depends_on` entries: a DAG's tasks cannot wait on each other in a circle",
            );
        }
    }
}

/// The first cycle among `tasks` (following `depends_on`), as ids from one task back to
/// itself.
fn find_cycle(tasks: &[Task]) -> Option<Vec<String>> {
    let deps: BTreeMap<&str, Vec<&str>> =
        tasks.iter().map(|t| (t.id.as_str(), t.depends_on.iter().map(String::as_str).collect())).collect();
    // 0 unvisited, 1 on the path, 2 done.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    fn visit<'a>(
        id: &'a str,
        deps: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(id) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| *p == id).expect("on the path");
                let mut cycle: Vec<String> = path[start..].iter().map(|s| (*s).to_owned()).collect();
                cycle.push(id.to_owned());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(id, 1);
        path.push(id);
        for dep in deps.get(id).into_iter().flatten() {
            if deps.contains_key(dep)
                && let Some(cycle) = visit(dep, deps, state, path)
            {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(id, 2);
        None
    }
    for task in tasks {
        if let Some(cycle) = visit(&task.id, &deps, &mut state, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

/// A YAML value as a template value (strings, numbers, lists, mappings).
fn plain_value(value: &Value) -> minijinja::Value {
    match value {
        Value::Null => minijinja::Value::from(()),
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => (*f).into(),
        Value::Str(s) => s.clone().into(),
        Value::Seq(items) => items.iter().map(|i| plain_value(&i.value)).collect::<Vec<_>>().into(),
        Value::Map(entries) => {
            let map: BTreeMap<String, minijinja::Value> =
                entries.iter().map(|(k, v)| (k.value.clone(), plain_value(&v.value))).collect();
            minijinja::Value::from(map)
        }
    }
}

fn parse_date(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d) = (y.parse().ok()?, m.parse::<u32>().ok()?, d.parse::<u32>().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    ((1..=12).contains(&m) && d >= 1 && d <= days[m as usize - 1]).then_some((y, m, d))
}

fn parse_duration(text: &str) -> Option<i64> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = number.parse().ok()?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    Some(n * scale)
}
