//! The generator's data: the decisions of `data/overrides.yaml`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::{Error, Result};

/// Everything in `data/overrides.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Model decisions.
    #[serde(default)]
    pub models: Models,
    /// Module decisions.
    #[serde(default)]
    pub modules: Modules,
    /// Operation decisions.
    #[serde(default)]
    pub operations: Operations,
    /// Placeholder arguments of the contract test.
    #[serde(default)]
    pub contract: Contract,
}

/// `models:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Models {
    /// Definition name to Rust type name.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// Definitions not generated.
    #[serde(default)]
    pub skip: BTreeSet<String>,
    /// Definition name to module, where the first use is the wrong home.
    #[serde(default)]
    pub module: BTreeMap<String, String>,
    /// Fields that carry secrets: a string is typed `Secret`, a map of strings
    /// `BTreeMap<String, Secret>`.
    #[serde(default)]
    pub secret_fields: BTreeSet<String>,
    /// Definitions the SDK defines once elsewhere (in `harbor-types`): used by name instead of
    /// generated, and re-exported from `models`.
    #[serde(default)]
    pub shared: BTreeMap<String, ForeignType>,
    /// `Definition.property` to a type defined elsewhere (one vocabulary: `Severity`).
    #[serde(default)]
    pub field_types: BTreeMap<String, ForeignType>,
}

/// A type the generated code uses but does not define.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ForeignType {
    /// The path the generated files import (`harbor_types::Severity`).
    #[serde(rename = "use")]
    pub path: String,
    /// The type as written in a field (`Scanner<'static>`).
    #[serde(rename = "type")]
    pub ty: String,
}

/// `modules:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modules {
    /// First tag to module.
    #[serde(default)]
    pub by_tag: BTreeMap<String, String>,
    /// operationId to module, overriding the tag.
    #[serde(default)]
    pub by_operation: BTreeMap<String, String>,
    /// Module to its one-line doc.
    #[serde(default)]
    pub docs: BTreeMap<String, String>,
}

/// `operations:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operations {
    /// operationId to method name, where the rule's name would mislead.
    #[serde(default)]
    pub method_names: BTreeMap<String, String>,
    /// Operations with a hand-written method.
    #[serde(default)]
    pub hand_written: BTreeMap<String, HandWritten>,
    /// Path parameter name to its kind (`project`, `repository`, `reference`).
    #[serde(default)]
    pub path_params: BTreeMap<String, String>,
    /// Required query parameters taking an `ArtifactLocation`.
    #[serde(default)]
    pub location_params: Vec<OperationParam>,
    /// Headers never exposed as arguments.
    #[serde(default)]
    pub skip_headers: BTreeSet<String>,
    /// Optional parameter name to a note added to its docs (which Harbor versions know it:
    /// a server ignores a query parameter it does not know).
    #[serde(default)]
    pub param_notes: BTreeMap<String, String>,
    /// Operations answering `201 Created` whose `Location` ends in a name or reference, never
    /// the new resource's id.
    #[serde(default)]
    pub location_names: BTreeSet<String>,
}

/// A hand-written operation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandWritten {
    /// The expression the contract test evaluates for it (`c` is the client).
    pub contract_call: String,
}

/// An (operation, parameter) pair.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OperationParam {
    /// The operationId.
    pub operation: String,
    /// The parameter name.
    pub param: String,
}

/// `contract:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// `&str` argument name to the Rust literal passed.
    #[serde(default)]
    pub string_args: BTreeMap<String, String>,
    /// Model with required fields to the arguments of its `new`.
    #[serde(default)]
    pub required_new: BTreeMap<String, String>,
}

impl Overrides {
    /// Parses `overrides.yaml`.
    ///
    /// # Errors
    ///
    /// When the text does not match the expected shape (unknown keys included).
    pub fn parse(text: &str) -> Result<Overrides> {
        serde_norway::from_str(text).map_err(|e| Error::new(format!("overrides: {e}")))
    }

    /// The type a definition shared with another crate is used as, when it is one.
    pub fn shared_type(&self, definition: &str) -> Option<&str> {
        self.models.shared.get(definition).map(|f| f.ty.as_str())
    }

    /// The type the data gives `definition.property`, when it gives one.
    pub fn field_type(&self, definition: &str, property: &str) -> Option<&str> {
        self.models
            .field_types
            .get(&format!("{definition}.{property}"))
            .map(|f| f.ty.as_str())
    }

    /// The Rust name of a definition.
    pub fn model_name<'a>(&'a self, definition: &'a str) -> &'a str {
        self.models
            .rename
            .get(definition)
            .map_or(definition, String::as_str)
    }
}

/// The distinct paths the generated files import for `types`, sorted.
pub fn import_paths(types: &BTreeMap<String, ForeignType>) -> BTreeSet<&str> {
    types.values().map(|f| f.path.as_str()).collect()
}

/// One closed set of `data/enums.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosedSet {
    /// The Rust enum name.
    pub name: String,
    /// Its doc.
    pub doc: String,
    /// Where Harbor defines the values.
    pub source: String,
    /// The known values.
    pub values: Vec<SetValue>,
    /// String definitions it replaces wherever they are referenced.
    #[serde(default)]
    pub definitions: Vec<String>,
    /// `Definition.property` typed with it.
    #[serde(default)]
    pub fields: Vec<String>,
    /// `operationId.parameter` typed with it.
    #[serde(default)]
    pub params: Vec<String>,
}

/// A known value of a closed set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetValue {
    /// The wire text.
    pub value: String,
    /// The variant, when the rule's (PascalCase of the value) would not do.
    #[serde(default)]
    pub variant: Option<String>,
    /// What it means.
    pub doc: String,
}

impl SetValue {
    /// The variant name: the data's, else the PascalCase of the value.
    pub fn variant(&self) -> String {
        self.variant
            .clone()
            .unwrap_or_else(|| crate::naming::pascal(&self.value))
    }
}

/// Parses `enums.yaml`.
///
/// # Errors
///
/// When the text does not match the expected shape.
pub fn parse_closed_sets(text: &str) -> Result<Vec<ClosedSet>> {
    serde_norway::from_str(text).map_err(|e| Error::new(format!("enums: {e}")))
}
