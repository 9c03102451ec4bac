//! Reading Harbor's swagger: definitions, shared parameters and operations, in spec order.

use serde_norway::{Mapping, Value};

use crate::{Error, Result};

/// A parsed Swagger 2.0 document (mappings keep the spec's order, which the output follows).
#[derive(Debug, Clone)]
pub struct Spec {
    root: Value,
}

/// One operation: a method of a path item.
#[derive(Debug, Clone, Copy)]
pub struct Operation<'a> {
    /// The path template (`/projects/{project_name_or_id}`).
    pub path: &'a str,
    /// The HTTP method, lower case as in the spec.
    pub method: &'a str,
    /// The operation object.
    pub op: &'a Value,
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

impl Spec {
    /// Parses a swagger document.
    ///
    /// # Errors
    ///
    /// When the text is not YAML or lacks `paths`/`definitions`.
    pub fn parse(text: &str) -> Result<Spec> {
        let root: Value =
            serde_norway::from_str(text).map_err(|e| Error::new(format!("spec: {e}")))?;
        for key in ["paths", "definitions"] {
            if !root[key].is_mapping() {
                return Err(Error::new(format!("spec: no `{key}` mapping")));
            }
        }
        Ok(Spec { root })
    }

    /// The `definitions`, in spec order.
    pub fn definitions(&self) -> &Mapping {
        static EMPTY: std::sync::OnceLock<Mapping> = std::sync::OnceLock::new();
        self.root["definitions"]
            .as_mapping()
            .unwrap_or_else(|| EMPTY.get_or_init(Mapping::new))
    }

    /// One definition by name.
    pub fn definition(&self, name: &str) -> Option<&Value> {
        self.definitions().get(name)
    }

    /// A parameter with its `$ref` (to the shared `parameters`) resolved.
    pub fn resolve_param<'a>(&'a self, p: &'a Value) -> &'a Value {
        resolve_param(&self.root, p)
    }

    /// Every operation, in spec order.
    pub fn operations(&self) -> Vec<Operation<'_>> {
        let mut out = Vec::new();
        let Some(paths) = self.root["paths"].as_mapping() else {
            return out;
        };
        for (path, item) in paths {
            let (Some(path), Some(item)) = (path.as_str(), item.as_mapping()) else {
                continue;
            };
            for (method, op) in item {
                let Some(method) = method.as_str() else {
                    continue;
                };
                if METHODS.contains(&method) {
                    out.push(Operation { path, method, op });
                }
            }
        }
        out
    }
}

impl Operation<'_> {
    /// The `operationId`.
    pub fn id(&self) -> &str {
        self.op["operationId"].as_str().unwrap_or_default()
    }

    /// The first tag.
    pub fn tag(&self) -> &str {
        self.op["tags"][0].as_str().unwrap_or_default()
    }
}

/// The names of every `#/definitions/X` reference inside `v`, in document order (repeats kept).
pub fn refs_in(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_refs(v, &mut out);
    out
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix("#/definitions/") {
                out.push(name.to_owned());
            }
        }
        Value::Sequence(items) => items.iter().for_each(|i| collect_refs(i, out)),
        Value::Mapping(m) => m.iter().for_each(|(k, v)| {
            collect_refs(k, out);
            collect_refs(v, out);
        }),
        Value::Tagged(t) => collect_refs(&t.value, out),
        _ => {}
    }
}

/// A string field of a mapping.
pub fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A scalar as text, as the spec writes it (`10`, `false`, `name`).
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// A parameter of the swagger document `root` with its `$ref` (to the shared `parameters`)
/// resolved.
pub fn resolve_param<'a>(root: &'a Value, p: &'a Value) -> &'a Value {
    match p["$ref"].as_str() {
        Some(r) => &root["parameters"][r.rsplit('/').next().unwrap_or(r)],
        None => p,
    }
}
