//! Models: one struct per object definition, one alias per map or list definition.

use std::collections::{BTreeMap, BTreeSet};

use serde_norway::Value;

use crate::Context;
use crate::describe::{FieldType, field_doc, map_doc, model_doc};
use crate::docs::{doc_lines, spec_or_own};
use crate::naming::{field_ident, plain};
use crate::sets::set_type;
use crate::spec::{refs_in, str_of};
use crate::typing::rust_type;

/// The module of every definition: the module of the first operation that uses it (through
/// any chain of references), the data's choice where it says otherwise, else `system`.
pub fn model_modules(cx: &Context<'_>) -> BTreeMap<String, String> {
    let mut order = Vec::new();
    for op in cx.spec.operations() {
        let module = cx.tag_module(op.tag());
        for r in refs_in(op.op) {
            order.push((r, module.clone()));
        }
    }
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (r, module) in order {
        walk(cx, &r, &module, &mut seen);
    }
    for name in cx.spec.definitions().keys().filter_map(Value::as_str) {
        seen.entry(name.to_owned())
            .or_insert_with(|| "system".to_owned());
    }
    for (name, module) in &cx.data.models.module {
        seen.insert(name.clone(), module.clone());
    }
    seen
}

fn walk(cx: &Context<'_>, name: &str, module: &str, seen: &mut BTreeMap<String, String>) {
    if seen.contains_key(name) {
        return;
    }
    seen.insert(name.to_owned(), module.to_owned());
    if let Some(def) = cx.spec.definition(name) {
        for r in refs_in(def) {
            walk(cx, &r, module, seen);
        }
    }
}

/// The models of each module, in spec order.
pub fn models_by_module(cx: &Context<'_>) -> BTreeMap<String, Vec<String>> {
    let modules = model_modules(cx);
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, def) in cx.spec.definitions() {
        let Some(name) = name.as_str() else { continue };
        if cx.data.models.skip.contains(name) || cx.data.models.shared.contains_key(name) {
            continue;
        }
        let module = modules
            .get(name)
            .cloned()
            .unwrap_or_else(|| "system".into());
        if def.get("properties").is_some() {
            out.entry(module)
                .or_default()
                .push(model_struct(cx, name, def, None, None));
        } else if str_of(def, "type") == Some("string") {
            // Plain string definitions are used as `String`.
        } else {
            let rn = cx.data.model_name(name);
            let doc = spec_or_own(str_of(def, "description"), || map_doc(rn), "");
            out.entry(module).or_default().push(format!(
                "{doc}pub type {rn} = {};\n",
                rust_type(cx, Some(def))
            ));
        }
    }
    out
}

/// A struct for an object schema: every field optional unless required, unknown fields
/// ignored, `#[non_exhaustive]`, and a `new` taking the required fields when there are any.
pub fn model_struct(
    cx: &Context<'_>,
    name: &str,
    def: &Value,
    rust_name: Option<&str>,
    extra_doc: Option<&str>,
) -> String {
    let rn = rust_name.unwrap_or_else(|| cx.data.model_name(name));
    let required: BTreeSet<&str> = def["required"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut out = String::new();
    let described = str_of(def, "description")
        .filter(|d| !d.trim().is_empty())
        .or_else(|| str_of(def, "title"));
    out.push_str(&spec_or_own(described, || model_doc(rn), ""));
    if let Some(extra) = extra_doc {
        out.push_str(&doc_lines(extra, ""));
    }
    let mut derive = "Debug, Clone, PartialEq, Serialize, Deserialize".to_owned();
    if required.is_empty() {
        derive.push_str(", Default");
    }
    out.push_str(&format!(
        "#[derive({derive})]\n#[non_exhaustive]\npub struct {rn} {{\n"
    ));
    let props: Vec<(&str, &Value)> = def["properties"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?, v)))
        .collect();
    for &(pn, pp) in &props {
        let fid = field_ident(pn);
        let mut ty = field_type(cx, name, pn, pp);
        if ty == rn {
            ty = format!("Box<{ty}>");
        }
        out.push_str(&spec_or_own(
            str_of(pp, "description"),
            || {
                let inner = inner_type(&ty);
                let model = (cx.is_model(inner) || cx.is_set(inner)).then_some(inner);
                field_doc(rn, pn, FieldType { rust: &ty, model })
            },
            "    ",
        ));
        let quoted = pn.len() > 1 && pn.starts_with('\'') && pn.ends_with('\'');
        let mut ren = if plain(&fid) != pn {
            format!("rename = \"{pn}\", ")
        } else {
            String::new()
        };
        if quoted {
            // The spec quotes these names (`'os.version'`), so Harbor's generated models and
            // Prism send them quoted; accept the plain spelling as well.
            ren.push_str(&format!("alias = \"{}\", ", pn.trim_matches('\'')));
        }
        if required.contains(pn) {
            if !ren.is_empty() {
                out.push_str(&format!("    #[serde({})]\n", ren.trim_end_matches(", ")));
            }
            out.push_str(&format!("    pub {fid}: {ty},\n"));
        } else {
            out.push_str(&format!(
                "    #[serde({ren}default, skip_serializing_if = \"Option::is_none\")]\n"
            ));
            out.push_str(&format!("    pub {fid}: Option<{ty}>,\n"));
        }
    }
    out.push_str("}\n");
    if !required.is_empty() {
        let args = props
            .iter()
            .filter(|(p, _)| required.contains(p))
            .map(|(p, s)| {
                format!(
                    "{}: impl Into<{}>",
                    field_ident(p),
                    field_type(cx, name, p, s)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let inits = props
            .iter()
            .map(|(p, _)| {
                let f = field_ident(p);
                if required.contains(p) {
                    format!("{f}: {f}.into()")
                } else {
                    format!("{f}: None")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "\nimpl {rn} {{\n    /// Creates the value with its required fields; the others are unset.\n    pub fn new({args}) -> Self {{\n        Self {{ {inits} }}\n    }}\n}}\n"
        ));
    }
    out
}

/// The type a field holds: `Vec<T>`, `Box<T>` and `BTreeMap<String, T>` unwrapped.
fn inner_type(ty: &str) -> &str {
    let mut t = ty;
    loop {
        let next = t
            .strip_prefix("Vec<")
            .or_else(|| t.strip_prefix("Box<"))
            .or_else(|| t.strip_prefix("BTreeMap<String, "))
            .and_then(|r| r.strip_suffix('>'));
        match next {
            Some(n) => t = n,
            None => return t,
        }
    }
}

/// The Rust type of property `prop` (schema `schema`) of model `model`: the spec's type, then
/// a closed set, the data's own type, or a secret where the data names one.
fn field_type(cx: &Context<'_>, model: &str, prop: &str, schema: &Value) -> String {
    let mut ty = rust_type(cx, Some(schema));
    if let Some(set) = cx.set_for_field(model, prop) {
        ty = set_type(&ty, &set.name);
    }
    if let Some(own) = cx.data.field_type(model, prop) {
        ty = set_type(&ty, own);
    }
    if cx.data.models.secret_fields.contains(prop)
        && let Some(secret) = secret_type(&ty)
    {
        ty = secret;
    }
    ty
}

/// The type of a field the data names a secret (`models.secret_fields`): a string becomes
/// `Secret`, a map of strings a map of `Secret`s (a provider's `auth_info`); `None` for any
/// other type, left as it is.
fn secret_type(ty: &str) -> Option<String> {
    match ty {
        "String" => Some("Secret".into()),
        "BTreeMap<String, String>" => Some("BTreeMap<String, Secret>".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_strings_or_maps_of_strings() {
        assert_eq!(secret_type("String").as_deref(), Some("Secret"));
        assert_eq!(
            secret_type("BTreeMap<String, String>").as_deref(),
            Some("BTreeMap<String, Secret>")
        );
        assert_eq!(secret_type("i64"), None);
        assert_eq!(secret_type("BTreeMap<String, serde_json::Value>"), None);
        assert_eq!(secret_type("Vec<String>"), None);
    }
}
