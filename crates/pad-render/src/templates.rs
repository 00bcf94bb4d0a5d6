//! Task types: the built-in templates (embedded from `templates/`) and a repository's own
//! (`dags/templates/<type>.py.j2`), each opening with a `{# … #}` header in YAML that
//! declares what the type does, the imports it needs and its parameters.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use pad_layout::Problem;
use serde::Deserialize;

/// Where a repository keeps its own task types.
pub const REPO_TEMPLATES_DIR: &str = "dags/templates";

/// The DAG file template every generated file comes from.
pub(crate) const DAG_TEMPLATE: &str = include_str!("../templates/dag.py.j2");

const BUILT_IN: &[(&str, &str)] = &[
    ("bash", include_str!("../templates/bash.py.j2")),
    ("project", include_str!("../templates/project.py.j2")),
    ("spark_submit", include_str!("../templates/spark_submit.py.j2")),
];

/// What a template parameter holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    String,
    Integer,
    Boolean,
    /// A list of strings.
    List,
    /// A mapping of strings to strings.
    Map,
    /// The name of a project under `projects/`; the template gets its `name`, `package`
    /// and whether it is `installed` into its environment.
    Project,
    /// Names of artifacts declared in an artifacts.yaml; the template gets each one's
    /// location in its first cache (`${VAR}`s in the cache's `base_uri` read when the
    /// DAG loads).
    Artifacts,
}

/// One declared parameter of a task type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    #[serde(rename = "type")]
    pub kind: ParamType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    description: String,
    #[serde(default)]
    imports: String,
    #[serde(default)]
    params: BTreeMap<String, Param>,
}

/// A task type: its name, header and template text.
#[derive(Debug, Clone)]
pub struct TaskType {
    pub name: String,
    pub description: String,
    /// Import lines the generated file needs for this type (the same text once per file).
    pub imports: String,
    pub params: BTreeMap<String, Param>,
    /// The template, as written (header included: Jinja comments render to nothing).
    pub source: String,
    /// Where it comes from: `built-in` or `dags/templates/<type>.py.j2`.
    pub origin: Utf8PathBuf,
}

/// Every task type of a repository, built-in ones first; problems in the repository's
/// templates are returned, the good ones kept.
pub fn task_types(root: &Utf8Path) -> (Vec<TaskType>, Vec<Problem>) {
    let mut types = Vec::new();
    let mut problems = Vec::new();
    for (name, text) in BUILT_IN {
        let origin = Utf8PathBuf::from(format!("built-in {name}.py.j2"));
        types.push(parse_type(name, text, &origin).expect("built-in templates have valid headers"));
    }
    let dir = root.join(REPO_TEMPLATES_DIR);
    let mut files: Vec<Utf8PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| Utf8PathBuf::from_path_buf(e.path()).ok())
            .filter(|p| p.as_str().ends_with(".py.j2"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    for path in files {
        let rel = path.strip_prefix(root).unwrap_or(&path).to_owned();
        let name = path.file_name().unwrap_or_default().trim_end_matches(".py.j2").to_owned();
        if BUILT_IN.iter().any(|(built_in, _)| *built_in == name) {
            problems.push(Problem::new(
                &rel,
                format!("task type `{name}` is built in"),
                format!("rename the file (the built-in `{name}` cannot be replaced)"),
            ));
            continue;
        }
        if !is_type_name(&name) {
            problems.push(Problem::new(
                &rel,
                format!("`{name}` is not a task type name"),
                "name templates <type>.py.j2 with lowercase letters, digits and `_`",
            ));
            continue;
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) => {
                problems.push(Problem::new(&rel, format!("cannot read the template: {err}"), "make it readable UTF-8"));
                continue;
            }
        };
        match parse_type(&name, &text, &rel) {
            Ok(task_type) => types.push(task_type),
            Err(problem) => problems.push(problem),
        }
    }
    (types, problems)
}

fn is_type_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Reads the `{# … #}` header that opens a template.
pub(crate) fn parse_type(name: &str, text: &str, origin: &Utf8Path) -> Result<TaskType, Problem> {
    let missing = || {
        Problem::new(
            origin,
            "the template does not open with its header",
            "start it with `{#` and YAML with `description:`, optional `imports:` and `params:` (each with `type:` string, integer, boolean, list, map, project or artifacts, and `required:`), closed by `#}`; see the built-in bash template in README.md",
        )
        .at_offset(text, 0)
    };
    let body = text.strip_prefix("{#").ok_or_else(missing)?;
    let end = body.find("#}").ok_or_else(missing)?;
    let yaml = body[..end].trim_start_matches('-').trim_end_matches('-');
    let header: Header = serde_saphyr::from_str(yaml).map_err(|err| {
        let inner = err.without_snippet();
        let mut problem = Problem::new(
            origin,
            format!("invalid template header: {inner}"),
            "the header takes `description`, `imports` and `params` (each param: `type`, `required`, `description`)",
        );
        if let Some(location) = inner.location().or_else(|| err.location()) {
            // The header's YAML starts on the template's first line.
            problem.line = Some(location.line() as usize);
            problem.column = Some(location.column() as usize);
        }
        problem
    })?;
    for param in header.params.keys() {
        if COMMON_KEYS.contains(&param.as_str()) {
            return Err(Problem::new(
                origin,
                format!("parameter `{param}` is a key every task has"),
                format!("rename it: {} are common to every task", COMMON_KEYS.join(", ")),
            ));
        }
    }
    Ok(TaskType {
        name: name.to_owned(),
        description: header.description,
        imports: header.imports.trim().to_owned(),
        params: header.params,
        source: text.to_owned(),
        origin: origin.to_owned(),
    })
}

/// Keys every task has, whatever its type.
pub(crate) const COMMON_KEYS: &[&str] = &["id", "type", "depends_on"];
