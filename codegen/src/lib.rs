//! The Harbor REST API generator of this workspace: reads Harbor's swagger (vendored in
//! `codegen/spec/`) and the decisions in `codegen/data/`, and writes `harbor-client`'s
//! generated API code (models, operations, blocking wrappers, the operations table) and the
//! contract test's calls.
//!
//! ```text
//! cargo run -p harbor-codegen            # regenerate the committed files
//! cargo run -p harbor-codegen -- check   # regenerate into a temporary directory, fail on drift
//! ```
//!
//! Rules (how a name, a type or a doc line follows from the spec) are code here, with unit
//! tests; decisions (names, the module map, hand-written operations) are data.

pub mod data;
pub mod describe;
pub mod docs;
pub mod format;
pub mod models;
pub mod naming;
pub mod ops;
pub mod output;
pub mod sets;
pub mod since;
pub mod spec;
pub mod typing;

use std::fmt;
use std::path::{Path, PathBuf};

use data::{ClosedSet, Overrides};
use spec::Spec;

/// A generator failure, with what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Error {
        Error(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// The generator's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The spec and the data, as every rule sees them.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Harbor's swagger.
    pub spec: &'a Spec,
    /// `data/overrides.yaml`.
    pub data: &'a Overrides,
    /// `data/enums.yaml`.
    pub sets: &'a [ClosedSet],
    /// `data/since.yaml`.
    pub since: &'a since::SinceTable,
}

impl Context<'_> {
    /// The module of a tag (`system` for a tag the data does not map; [`check_data`] reports it).
    pub fn tag_module(&self, tag: &str) -> String {
        self.data
            .modules
            .by_tag
            .get(tag)
            .cloned()
            .unwrap_or_else(|| "system".to_owned())
    }

    /// The module of an operation: the data's choice, else its tag's.
    pub fn op_module(&self, operation_id: &str, tag: &str) -> String {
        self.data
            .modules
            .by_operation
            .get(operation_id)
            .cloned()
            .unwrap_or_else(|| self.tag_module(tag))
    }

    /// The closed set a model property is typed with (`definition` as the spec names it).
    pub fn set_for_field(&self, definition: &str, property: &str) -> Option<&ClosedSet> {
        let key = format!("{definition}.{property}");
        self.sets.iter().find(|s| s.fields.contains(&key))
    }

    /// The closed set an operation's parameter is typed with.
    pub fn set_for_param(&self, operation_id: &str, param: &str) -> Option<&ClosedSet> {
        let key = format!("{operation_id}.{param}");
        self.sets.iter().find(|s| s.params.contains(&key))
    }

    /// Whether `name` is a generated closed set.
    pub fn is_set(&self, name: &str) -> bool {
        self.sets.iter().any(|s| s.name == name)
    }

    /// Whether `name` is a generated model or alias (a Rust name).
    pub fn is_model(&self, name: &str) -> bool {
        self.spec.definitions().iter().any(|(k, d)| {
            k.as_str().is_some_and(|k| {
                !self.data.models.skip.contains(k)
                    && self.data.model_name(k) == name
                    && (d.get("properties").is_some() || spec::str_of(d, "type") != Some("string"))
            })
        })
    }

    /// The one-line doc of a module.
    pub fn module_doc(&self, module: &str) -> &str {
        self.data
            .modules
            .docs
            .get(module)
            .map_or("Harbor API.", String::as_str)
    }
}

/// Checks that the data covers the spec: every tag has a module, every module a doc, and
/// every operation the data names exists.
///
/// # Errors
///
/// One line per gap.
pub fn check_data(cx: &Context<'_>) -> Result<()> {
    let mut problems = Vec::new();
    let ops = cx.spec.operations();
    let ids: std::collections::BTreeSet<&str> = ops.iter().map(|o| o.id()).collect();
    for op in &ops {
        if op.id().is_empty() {
            problems.push(format!("{} {} has no operationId", op.method, op.path));
        }
        if !cx.data.modules.by_tag.contains_key(op.tag()) {
            problems.push(format!(
                "tag `{}` (of {}) has no module in modules.by_tag",
                op.tag(),
                op.id()
            ));
        }
        if cx.since.of(op.id()).is_none() {
            problems.push(format!(
                "{} has no release in data/since.yaml (run `cargo run -p harbor-codegen -- since --harbor-git DIR`)",
                op.id()
            ));
        }
        let module = cx.op_module(op.id(), op.tag());
        if !cx.data.modules.docs.contains_key(&module) {
            problems.push(format!("module `{module}` has no line in modules.docs"));
        }
    }
    let named = cx
        .data
        .operations
        .method_names
        .keys()
        .chain(cx.data.operations.hand_written.keys())
        .chain(cx.data.modules.by_operation.keys())
        .chain(
            cx.data
                .operations
                .location_params
                .iter()
                .map(|l| &l.operation),
        );
    for id in named {
        if !ids.contains(id.as_str()) {
            problems.push(format!(
                "the data names `{id}`, which the spec does not have"
            ));
        }
    }
    problems.extend(check_sets(cx));
    problems.extend(check_foreign(cx));
    problems.sort();
    problems.dedup();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::new(problems.join("\n")))
    }
}

/// The gaps of `models.shared` and `models.field_types`: a definition or property the spec
/// lacks, a field typed by the data and by a closed set, a shared definition still generated.
fn check_foreign(cx: &Context<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    for name in cx.data.models.shared.keys() {
        if cx.spec.definition(name).is_none() {
            problems.push(format!(
                "models.shared names `{name}`, which the spec does not have"
            ));
        }
        if cx.data.models.skip.contains(name) {
            problems.push(format!("`{name}` is both shared and skipped"));
        }
    }
    for field in cx.data.models.field_types.keys() {
        let (def, prop) = field.split_once('.').unwrap_or((field, ""));
        let schema = cx
            .spec
            .definition(def)
            .and_then(|d| d["properties"].get(prop));
        if schema.is_none() {
            problems.push(format!(
                "models.field_types names {field}, which the spec does not have"
            ));
        }
        if cx.data.models.shared.contains_key(def) {
            problems.push(format!(
                "models.field_types names {field} of a shared model"
            ));
        }
        if cx.set_for_field(def, prop).is_some() {
            problems.push(format!("{field} is typed by the data and by a closed set"));
        }
    }
    for set in cx.sets {
        for field in &set.fields {
            let def = field.split_once('.').map_or(field.as_str(), |(d, _)| d);
            if cx.data.models.shared.contains_key(def) {
                problems.push(format!(
                    "{}: {field} belongs to a shared model (type it where the model lives)",
                    set.name
                ));
            }
        }
    }
    problems
}

/// The closed sets' gaps: a field or parameter the spec lacks or that is not a string, a
/// set used twice for one place, a name that clashes with a model, a bad or repeated variant.
fn check_sets(cx: &Context<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut places = std::collections::BTreeSet::new();
    for set in cx.sets {
        if cx.is_model(&set.name) {
            problems.push(format!("closed set `{}` has the name of a model", set.name));
        }
        let mut variants = std::collections::BTreeSet::new();
        let mut values = std::collections::BTreeSet::new();
        for v in &set.values {
            let variant = v.variant();
            let ident = variant.starts_with(|c: char| c.is_ascii_uppercase())
                && variant.chars().all(|c| c.is_ascii_alphanumeric());
            if !ident || variant == "Other" || !variants.insert(variant.clone()) {
                problems.push(format!(
                    "{}: `{variant}` cannot be a variant (give `variant:`)",
                    set.name
                ));
            }
            if !values.insert(v.value.clone()) {
                problems.push(format!("{}: `{}` is listed twice", set.name, v.value));
            }
        }
        for def in &set.definitions {
            if !places.insert(def.clone()) {
                problems.push(format!("{def} is replaced by two closed sets"));
            }
            let ok = cx.spec.definition(def).is_some_and(|d| {
                spec::str_of(d, "type") == Some("string") && d.get("properties").is_none()
            });
            if !ok {
                problems.push(format!(
                    "{}: {def} is not a string definition of the spec",
                    set.name
                ));
            }
        }
        for field in &set.fields {
            if !places.insert(field.clone()) {
                problems.push(format!("{field} is typed by two closed sets"));
            }
            let (def, prop) = field.split_once('.').unwrap_or((field, ""));
            let schema = cx
                .spec
                .definition(def)
                .and_then(|d| d["properties"].get(prop));
            let is_text = schema.is_some_and(|s| {
                spec::str_of(s, "type") == Some("string")
                    || (spec::str_of(s, "type") == Some("array")
                        && spec::str_of(&s["items"], "type") == Some("string"))
            });
            if !is_text {
                problems.push(format!(
                    "{}: {field} is not a string property of the spec",
                    set.name
                ));
            }
        }
        for param in &set.params {
            if !places.insert(param.clone()) {
                problems.push(format!("{param} is typed by two closed sets"));
            }
            let (oid, name) = param.split_once('.').unwrap_or((param, ""));
            let found = cx.spec.operations().into_iter().any(|op| {
                op.id() == oid
                    && op.op["parameters"]
                        .as_sequence()
                        .into_iter()
                        .flatten()
                        .any(|p| {
                            let p = cx.spec.resolve_param(p);
                            spec::str_of(p, "name") == Some(name)
                                && spec::str_of(p, "type") == Some("string")
                        })
            });
            if !found {
                problems.push(format!(
                    "{}: {param} is not a string parameter of the spec",
                    set.name
                ));
            }
        }
    }
    problems
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// Reads a file.
///
/// # Errors
///
/// When it cannot be read.
pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::new(format!("{}: {e}", path.display())))
}

/// The vendored spec.
pub const SPEC_FILE: &str = "codegen/spec/harbor-v2.0-swagger.yaml";
/// The generator's decisions.
pub const OVERRIDES_FILE: &str = "codegen/data/overrides.yaml";
/// The closed sets.
pub const ENUMS_FILE: &str = "codegen/data/enums.yaml";
/// The first release of each operation.
pub const SINCE_FILE: &str = "codegen/data/since.yaml";

/// The generator's inputs, as text.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Harbor's swagger.
    pub spec: String,
    /// `overrides.yaml`.
    pub overrides: String,
    /// `enums.yaml`.
    pub enums: String,
    /// `since.yaml`.
    pub since: String,
}

impl Inputs {
    /// Reads the inputs from a directory holding `spec.yaml`, `overrides.yaml` and
    /// `enums.yaml` (the golden test's layout).
    ///
    /// # Errors
    ///
    /// When a file cannot be read.
    pub fn from_dir(dir: &Path) -> Result<Inputs> {
        Ok(Inputs {
            spec: read(&dir.join("spec.yaml"))?,
            overrides: read(&dir.join("overrides.yaml"))?,
            enums: read(&dir.join("enums.yaml"))?,
            since: read(&dir.join("since.yaml"))?,
        })
    }

    /// Reads the workspace's inputs (`spec` overrides the vendored spec).
    ///
    /// # Errors
    ///
    /// When a file cannot be read.
    pub fn from_workspace(root: &Path, spec: Option<&Path>) -> Result<Inputs> {
        Ok(Inputs {
            spec: read(&spec.map_or_else(|| root.join(SPEC_FILE), Path::to_path_buf))?,
            overrides: read(&root.join(OVERRIDES_FILE))?,
            enums: read(&root.join(ENUMS_FILE))?,
            since: read(&root.join(SINCE_FILE))?,
        })
    }
}

/// Every generated file, unformatted.
///
/// # Errors
///
/// When the spec or the data does not parse, or the data misses part of the spec.
pub fn generate(inputs: &Inputs) -> Result<std::collections::BTreeMap<PathBuf, String>> {
    let spec = Spec::parse(&inputs.spec)?;
    let data = Overrides::parse(&inputs.overrides)?;
    let sets = data::parse_closed_sets(&inputs.enums)?;
    let since = since::SinceTable::parse(&inputs.since)?;
    let cx = Context {
        spec: &spec,
        data: &data,
        sets: &sets,
        since: &since,
    };
    check_data(&cx)?;
    Ok(output::files(&cx))
}

/// Every generated file, formatted by `rustfmt`, from the files of the workspace at `root`
/// (`spec` overrides the vendored spec).
///
/// # Errors
///
/// As [`generate`], or when a file cannot be read or `rustfmt` fails.
pub fn generate_formatted(
    root: &Path,
    spec: Option<&Path>,
) -> Result<std::collections::BTreeMap<PathBuf, String>> {
    generate(&Inputs::from_workspace(root, spec)?)?
        .into_iter()
        .map(|(path, text)| {
            let formatted = format::format_source(&text)
                .map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
            Ok((path, formatted))
        })
        .collect()
}
