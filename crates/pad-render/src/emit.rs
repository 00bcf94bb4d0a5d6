//! Writing Python from a [`DagSpec`] through minijinja: the `py` filter that turns any
//! value into a Python literal (with `${VAR}` as a run-time lookup of the worker's
//! environment), each task rendered by its type's template, then the DAG file template.

use std::collections::BTreeMap;

use camino::Utf8Path;
use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, Value, context};
use pad_layout::Problem;

use crate::spec::DagSpec;
use crate::templates::{DAG_TEMPLATE, TaskType};

const DAG_NAME: &str = "dag.py.j2";

/// A minijinja environment holding the DAG template and every task type that compiled.
pub(crate) struct Emitter {
    env: Environment<'static>,
}

impl Emitter {
    /// Compiles the templates; a repository template that does not compile is a problem
    /// at its line, and its type is left out of `types`.
    pub(crate) fn new(types: &mut Vec<TaskType>, problems: &mut Vec<Problem>) -> Emitter {
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("the default delimiters"),
        );
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.add_filter("py", py_filter);
        env.add_filter("docstring", |s: String| s.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\""));
        env.add_template(DAG_NAME, DAG_TEMPLATE).expect("the DAG template compiles");
        types.retain(|t| match env.add_template_owned(task_template(&t.name), t.source.clone()) {
            Ok(()) => true,
            Err(err) => {
                let mut problem = Problem::new(
                    &t.origin,
                    format!("the template does not compile: {}", err.detail().unwrap_or(&err.to_string())),
                    "fix the Jinja syntax ({{ … }}, {% … %}); to pass Airflow's own {{ … }} through, write it inside a string the `py` filter quotes",
                );
                problem.line = err.line();
                problems.push(problem);
                false
            }
        });
        Emitter { env }
    }

    /// The Python file of one DAG.
    pub(crate) fn dag_file(&self, source: &Utf8Path, spec: &DagSpec, types: &[TaskType]) -> Result<String, Problem> {
        let mut tasks = Vec::new();
        let mut imports: Vec<String> = Vec::new();
        for task in &spec.tasks {
            let task_type = types.iter().find(|t| t.name == task.type_name).expect("validated type");
            if !task_type.imports.is_empty() && !imports.contains(&task_type.imports) {
                imports.push(task_type.imports.clone());
            }
            let placement = match &task.group {
                Some(group) => format!("dag=dag, task_group={group}"),
                None => "dag=dag".to_owned(),
            };
            let template = self.env.get_template(&task_template(&task.type_name)).expect("compiled type");
            let params: BTreeMap<&str, Value> = task.params.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            let text = template
                .render(context! {
                    task => context! { id => task.id.clone(), group => task.group.clone(), placement => placement },
                    params => params,
                })
                .map_err(|err| template_problem(&task_type.origin, &err))?;
            tasks.push(text.trim_end().to_owned());
        }
        let edges: Vec<Value> = spec
            .tasks
            .iter()
            .filter(|t| !t.depends_on.is_empty())
            .map(|t| context! { upstream => t.depends_on.clone(), downstream => t.id.clone() })
            .collect();
        let default_args: Vec<(String, Value)> = spec.default_args.clone();
        let text = self
            .env
            .get_template(DAG_NAME)
            .expect("added")
            .render(context! {
                source => source.as_str(),
                imports => imports,
                dag => context! {
                    id => spec.dag_id.clone(),
                    description => spec.description.clone(),
                    schedule => spec.schedule.clone(),
                    start_date => [spec.start_date.0, spec.start_date.1, spec.start_date.2],
                    catchup => spec.catchup,
                    tags => spec.tags.clone(),
                    max_active_runs => spec.max_active_runs,
                    default_args => default_args,
                    params => spec.params.clone(),
                },
                groups => spec.groups.iter().map(|g| context! { id => g.id.clone(), tooltip => g.tooltip.clone() }).collect::<Vec<_>>(),
                uses => context! {
                    dt => spec.default_args.iter().any(|(k, _)| k == "retry_delay"),
                    shlex => tasks.iter().any(|t| t.contains("shlex.")),
                },
                tasks => tasks,
                edges => edges,
            })
            .map_err(|err| template_problem(Utf8Path::new("built-in dag.py.j2"), &err))?;
        Ok(tidy(&text))
    }
}

fn task_template(name: &str) -> String {
    format!("task:{name}")
}

fn template_problem(origin: &Utf8Path, err: &minijinja::Error) -> Problem {
    let mut problem = Problem::new(
        origin,
        format!("the template failed to render: {}", pad_layout::error_chain(err)),
        "fix the template: every value it prints should go through `| py`",
    );
    problem.line = err.line();
    problem
}

/// Collapses runs of blank lines left by template blocks into the two PEP 8 allows, and
/// ends the file with exactly one newline.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            for _ in 0..blank.min(2) {
                out.push('\n');
            }
        }
        blank = 0;
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `{{ value | py }}`: the value as a Python expression.
fn py_filter(value: Value) -> Result<String, minijinja::Error> {
    let mut out = String::new();
    python(&value, &mut out)?;
    Ok(out)
}

fn python(value: &Value, out: &mut String) -> Result<(), minijinja::Error> {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => match value.as_i64() {
            Some(i) => out.push_str(&i.to_string()),
            None => out.push_str(&f64::try_from(value.clone()).unwrap_or(f64::NAN).to_string()),
        },
        ValueKind::String => out.push_str(&python_string(value.as_str().unwrap_or_default())),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            for (i, item) in value.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python(&item, out)?;
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            for (i, key) in value.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python(&key, out)?;
                out.push_str(": ");
                python(&value.get_item(&key)?, out)?;
            }
            out.push('}');
        }
        _ => {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("cannot write {value} as a Python value"),
            ));
        }
    }
    Ok(())
}

/// One piece of a string value: literal text or a variable of the worker's environment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Text(String),
    Var { name: &'a str, default: Option<&'a str> },
}

/// Splits `${NAME}` and `${NAME:-default}` out of a string; `$${` is a literal `${`, and
/// any other `$` (a shell's `$HOME`, `$1`) is kept as written.
pub(crate) fn pieces(text: &str) -> Vec<Piece<'_>> {
    scan(text).0
}

/// The first `${` of a string that [`pieces`] keeps as literal text although it looks
/// meant as a variable: unclosed, empty, a name that is not one (`${my var}`), or an
/// operator other than `:-` (`${A:default}`, `${A%.*}`). `$${` is the literal.
pub(crate) fn malformed_var(text: &str) -> Option<&str> {
    scan(text).1
}

/// [`pieces`], and the first [`malformed_var`].
fn scan(text: &str) -> (Vec<Piece<'_>>, Option<&str>) {
    let mut out = Vec::new();
    let mut malformed = None;
    let mut literal = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        literal.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            literal.push_str("${");
            rest = tail;
            continue;
        }
        if let Some(inner) = after.strip_prefix("${") {
            let Some(end) = inner.find('}') else {
                malformed = malformed.or(Some(after));
                literal.push('$');
                rest = &after[1..];
                continue;
            };
            let (name, default) = match inner[..end].split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (&inner[..end], None),
            };
            if is_env_name(name) {
                if !literal.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut literal)));
                }
                out.push(Piece::Var { name, default });
                rest = &inner[end + 1..];
                continue;
            }
            malformed = malformed.or(Some(&after[..end + 3]));
        }
        literal.push('$');
        rest = &after[1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() || out.is_empty() {
        out.push(Piece::Text(literal));
    }
    (out, malformed)
}

fn is_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A Python expression for a string: a literal, or literals and `_env(...)` lookups
/// joined with `+`. JSON's string syntax is valid Python.
///
/// A path under a variable (`${DATA_ROOT}/matches/{{ ds }}`) is joined to it with
/// `os.path.join`, so the file holds no literal absolute path: the DAG check flags one in
/// an operator argument as outside the namespace's data root.
pub(crate) fn python_string(text: &str) -> String {
    let quote = |s: &str| serde_json::to_string(s).expect("strings serialise");
    let mut terms: Vec<String> = Vec::new();
    let mut after_var = false;
    for piece in pieces(text) {
        match &piece {
            Piece::Text(s) if after_var && s.starts_with('/') && s.len() > 1 => {
                let var = terms.pop().expect("a variable came before");
                terms.push(format!("os.path.join({var}, {})", quote(&s[1..])));
                after_var = false;
            }
            Piece::Text(s) => {
                terms.push(quote(s));
                after_var = false;
            }
            Piece::Var { name, default } => {
                terms.push(match default {
                    None => format!("_env({})", quote(name)),
                    Some(d) => format!("_env({}, {})", quote(name), quote(d)),
                });
                after_var = true;
            }
        }
    }
    terms.join(" + ")
}
