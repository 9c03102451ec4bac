//! Typing rules: the Rust type of a schema or a parameter.

use serde_norway::Value;

use crate::Context;
use crate::spec::str_of;

/// The Rust type of a schema, not wrapped in `Option`.
///
/// - `$ref` to an object or map: its model, or the type the data shares it as
///   (`models.shared`); to a plain string definition: `String`, or the closed set that
///   replaces the definition.
/// - `integer` → `i64` (Harbor mixes int32 and int64 ids), `number` → `f64`, `boolean` → `bool`.
/// - `string` → `String`, or `DateTime<Utc>` with `format: date-time`.
/// - `array` → `Vec<item>`; a map (`additionalProperties`) → `BTreeMap<String, value>`.
/// - an inline object with properties, or anything else → `serde_json::Value`.
pub fn rust_type(cx: &Context<'_>, schema: Option<&Value>) -> String {
    let Some(sch) = schema else {
        return "serde_json::Value".into();
    };
    if let Some(r) = str_of(sch, "$ref") {
        let name = r.rsplit('/').next().unwrap_or(r);
        if let Some(shared) = cx.data.shared_type(name) {
            return shared.to_owned();
        }
        if let Some(def) = cx.spec.definition(name)
            && str_of(def, "type") == Some("string")
            && def.get("properties").is_none()
        {
            if let Some(set) = cx
                .sets
                .iter()
                .find(|s| s.definitions.iter().any(|d| d == name))
            {
                return set.name.clone();
            }
            return "String".into();
        }
        return cx.data.model_name(name).to_owned();
    }
    match str_of(sch, "type") {
        Some("integer") => "i64".into(),
        Some("number") => "f64".into(),
        Some("boolean") => "bool".into(),
        Some("string") => {
            if str_of(sch, "format") == Some("date-time") {
                "DateTime<Utc>".into()
            } else {
                "String".into()
            }
        }
        Some("array") => format!("Vec<{}>", rust_type(cx, sch.get("items"))),
        Some("object") | None => {
            if sch.get("properties").is_some() {
                return "serde_json::Value".into();
            }
            match sch.get("additionalProperties") {
                None | Some(Value::Bool(false)) => "serde_json::Value".into(),
                Some(Value::Bool(true)) => "BTreeMap<String, serde_json::Value>".into(),
                Some(Value::Mapping(m)) if m.is_empty() => {
                    "BTreeMap<String, serde_json::Value>".into()
                }
                Some(ap) => format!("BTreeMap<String, {}>", rust_type(cx, Some(ap))),
            }
        }
        Some("file") => "Bytes".into(),
        Some(_) => "serde_json::Value".into(),
    }
}

/// The Rust type of a non-body parameter: `i64`, `bool`, `Vec<String>` or `String`.
pub fn scalar_type(param: &Value) -> &'static str {
    match str_of(param, "type") {
        Some("integer") => "i64",
        Some("boolean") => "bool",
        Some("array") => "Vec<String>",
        _ => "String",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ClosedSet, Overrides};
    use crate::since::SinceTable;
    use crate::spec::Spec;

    const SPEC: &str = r##"
paths: {}
definitions:
  Label: {type: object, properties: {id: {type: integer}}}
  Labels: {type: object, additionalProperties: {$ref: '#/definitions/Label'}}
  EventType: {type: string}
  Reference: {type: object, properties: {id: {type: integer}}}
  Scanner: {type: object, properties: {name: {type: string}}}
"##;

    fn ty(schema: &str) -> String {
        let spec = Spec::parse(SPEC).unwrap();
        let mut data = Overrides::default();
        data.models
            .rename
            .insert("Reference".into(), "ArtifactReference".into());
        data.models.shared.insert(
            "Scanner".into(),
            crate::data::ForeignType {
                path: "harbor_types::report::Scanner".into(),
                ty: "Scanner<'static>".into(),
            },
        );
        let sets: Vec<ClosedSet> = crate::data::parse_closed_sets(
            "- {name: WebhookEventType, doc: d, source: s, values: [{value: A, doc: a}], definitions: [EventType]}",
        )
        .unwrap();
        let since = SinceTable::default();
        let cx = Context {
            spec: &spec,
            data: &data,
            sets: &sets,
            since: &since,
        };
        let v: Value = serde_norway::from_str(schema).unwrap();
        rust_type(&cx, Some(&v))
    }

    #[test]
    fn scalars_and_times() {
        assert_eq!(ty("{type: integer, format: int32}"), "i64");
        assert_eq!(ty("{type: number}"), "f64");
        assert_eq!(ty("{type: boolean}"), "bool");
        assert_eq!(ty("{type: string}"), "String");
        assert_eq!(ty("{type: string, format: date-time}"), "DateTime<Utc>");
        assert_eq!(ty("{type: file}"), "Bytes");
    }

    #[test]
    fn references_lists_and_maps() {
        assert_eq!(ty("{$ref: '#/definitions/Label'}"), "Label");
        assert_eq!(ty("{$ref: '#/definitions/Reference'}"), "ArtifactReference");
        assert_eq!(
            ty("{type: array, items: {$ref: '#/definitions/Label'}}"),
            "Vec<Label>"
        );
        assert_eq!(
            ty("{type: object, additionalProperties: {type: integer}}"),
            "BTreeMap<String, i64>"
        );
        assert_eq!(
            ty("{type: object, additionalProperties: {}}"),
            "BTreeMap<String, serde_json::Value>"
        );
        assert_eq!(
            ty("{type: object, properties: {a: {type: string}}}"),
            "serde_json::Value"
        );
        assert_eq!(ty("{type: object}"), "serde_json::Value");
    }

    #[test]
    fn a_shared_definition_is_used_as_the_data_types_it() {
        assert_eq!(ty("{$ref: '#/definitions/Scanner'}"), "Scanner<'static>");
        assert_eq!(
            ty("{type: object, additionalProperties: {$ref: '#/definitions/Scanner'}}"),
            "BTreeMap<String, Scanner<'static>>"
        );
    }

    #[test]
    fn a_string_definition_is_text_or_its_closed_set() {
        assert_eq!(ty("{$ref: '#/definitions/EventType'}"), "WebhookEventType");
        assert_eq!(
            ty("{type: array, items: {$ref: '#/definitions/EventType'}}"),
            "Vec<WebhookEventType>"
        );
    }

    #[test]
    fn parameters() {
        let p = |s: &str| scalar_type(&serde_norway::from_str::<Value>(s).unwrap());
        assert_eq!(p("{type: integer}"), "i64");
        assert_eq!(p("{type: boolean}"), "bool");
        assert_eq!(p("{type: array, items: {type: string}}"), "Vec<String>");
        assert_eq!(p("{type: string}"), "String");
    }
}
