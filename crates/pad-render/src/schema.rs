//! The JSON Schema of the YAML DAG format, task types included, for editors (the YAML
//! language server reads it from a `# yaml-language-server: $schema=…` line).

use serde_json::{Map, Value, json};

use crate::cron::PRESETS;
use crate::templates::{COMMON_KEYS, ParamType, TaskType};

/// The schema of `dags/<name>.dag.yaml` for a repository with these task types.
pub fn schema(types: &[TaskType]) -> Value {
    let task_variants: Vec<Value> = types.iter().map(task_schema).collect();
    debug_assert_eq!(COMMON_KEYS, ["id", "type", "depends_on"]);
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "YAML DAG (dags/<name>.dag.yaml), rendered by `cargo xtask render`",
        "type": "object",
        "additionalProperties": false,
        "required": ["schedule", "start_date"],
        "properties": {
            "dag_id": { "type": "string", "pattern": "^[A-Za-z0-9_.-]+$", "description": "Default: the file name without .dag.yaml." },
            "description": { "type": "string" },
            "schedule": {
                "description": "Five cron fields, a preset, or null for manual runs only.",
                "anyOf": [
                    { "type": "null" },
                    { "type": "string", "enum": PRESETS },
                    { "type": "string", "pattern": "^\\S+(\\s+\\S+){4}$" }
                ]
            },
            "start_date": { "type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$", "description": "YYYY-MM-DD, UTC." },
            "catchup": { "type": "boolean", "default": false },
            "tags": { "type": "array", "items": { "type": "string" } },
            "max_active_runs": { "type": "integer", "minimum": 1 },
            "default_args": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "owner": { "type": "string" },
                    "retries": { "type": "integer", "minimum": 0 },
                    "retry_delay": {
                        "description": "Seconds, or a duration such as 30s, 5m, 1h.",
                        "anyOf": [{ "type": "integer", "minimum": 0 }, { "type": "string", "pattern": "^\\d+[smhd]$" }]
                    }
                }
            },
            "params": { "type": "object", "description": "DAG params and their defaults." },
            "task_groups": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["id", "tasks"],
                    "properties": {
                        "id": { "$ref": "#/definitions/id" },
                        "tooltip": { "type": "string" },
                        "tasks": { "$ref": "#/definitions/tasks" }
                    }
                }
            },
            "tasks": { "$ref": "#/definitions/tasks" }
        },
        "definitions": {
            "id": { "type": "string", "pattern": "^[a-z][a-z0-9_]*$" },
            "tasks": { "type": "array", "items": { "oneOf": task_variants } }
        }
    })
}

fn task_schema(task_type: &TaskType) -> Value {
    let mut properties = Map::new();
    properties.insert("id".into(), json!({ "$ref": "#/definitions/id" }));
    properties.insert("type".into(), json!({ "const": task_type.name, "description": task_type.description }));
    properties.insert(
        "depends_on".into(),
        json!({ "description": "Task ids this task runs after.", "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }] }),
    );
    let mut required = vec![json!("id"), json!("type")];
    for (name, param) in &task_type.params {
        let mut schema = match param.kind {
            ParamType::String | ParamType::Project => json!({ "type": "string" }),
            ParamType::Integer => json!({ "type": "integer" }),
            ParamType::Boolean => json!({ "type": "boolean" }),
            ParamType::List => json!({ "type": "array", "items": { "type": ["string", "number"] } }),
            ParamType::Artifacts => json!({ "type": "array", "items": { "type": "string" } }),
            ParamType::Map => {
                json!({ "type": "object", "additionalProperties": { "type": ["string", "number", "boolean"] } })
            }
        };
        schema["description"] = json!(param.description);
        properties.insert(name.clone(), schema);
        if param.required {
            required.push(json!(name));
        }
    }
    json!({
        "type": "object",
        "description": task_type.description,
        "additionalProperties": false,
        "required": required,
        "properties": properties,
    })
}
