//! Doc rules for what the spec leaves undescribed: a sentence said from the name of the
//! field, parameter or model (and the model it belongs to), never a placeholder such as
//! "The `x` field.".

use crate::naming::snake;

/// Words written in capitals (`id` → `ID`).
const ACRONYMS: [(&str, &str); 27] = [
    ("id", "ID"),
    ("ids", "IDs"),
    ("url", "URL"),
    ("uri", "URI"),
    ("cve", "CVE"),
    ("cves", "CVEs"),
    ("oidc", "OIDC"),
    ("ldap", "LDAP"),
    ("uaa", "UAA"),
    ("gc", "GC"),
    ("sbom", "SBOM"),
    ("api", "API"),
    ("uuid", "UUID"),
    ("http", "HTTP"),
    ("https", "HTTPS"),
    ("os", "OS"),
    ("dn", "DN"),
    ("tls", "TLS"),
    ("ca", "CA"),
    ("cli", "CLI"),
    ("cpu", "CPU"),
    ("ip", "IP"),
    ("json", "JSON"),
    ("p2p", "P2P"),
    ("mime", "MIME"),
    ("cnab", "CNAB"),
    ("v1", "v1"),
];

/// Abbreviations of Harbor's names, written out.
const ABBREVIATIONS: [(&str, &str); 8] = [
    ("req", "request"),
    ("resp", "response"),
    ("obj", "object"),
    ("ext", "extension"),
    ("exts", "extensions"),
    ("exec", "execution"),
    ("immu", "immutable"),
    ("sec", "secret"),
];

/// One word of a name as prose: acronyms in capitals, abbreviations written out.
fn word(w: &str) -> String {
    let lower = w.to_ascii_lowercase();
    if let Some((_, a)) = ACRONYMS.iter().find(|(k, _)| *k == lower) {
        return (*a).to_owned();
    }
    if let Some((_, a)) = ABBREVIATIONS.iter().find(|(k, _)| *k == lower) {
        return (*a).to_owned();
    }
    if w.len() > 1
        && w.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return w.to_owned();
    }
    lower
}

/// The words of a spec or Rust name as prose: `webhook_policy_id` → `webhook policy ID`,
/// `CVEAllowlistItem` → `CVE allowlist item`.
pub fn words(name: &str) -> String {
    // Split as `snake` does, but keep each word's letters to tell acronyms apart.
    let name = name.trim_matches('\'');
    let sn = snake(name);
    let mut rest = name.chars().filter(char::is_ascii_alphanumeric);
    sn.split('_')
        .map(|w| {
            let n = w.chars().filter(char::is_ascii_alphanumeric).count();
            rest.by_ref().take(n).collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .map(|w| word(&w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `a` or `an` before a phrase, by how its first word sounds (`an ID`, `a user`, `an SBOM`).
pub fn article(phrase: &str) -> &'static str {
    let first = phrase.split(' ').next().unwrap_or_default();
    let acronym = first.len() > 1 && first.chars().all(|c| !c.is_ascii_lowercase());
    let c = first.chars().next().unwrap_or('x');
    let an = if acronym {
        "AEFHILMNORSX".contains(c)
    } else {
        matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'i' | 'o')
            || (c.eq_ignore_ascii_case(&'u')
                && !first.starts_with("us")
                && !first.starts_with("uni"))
    };
    if an { "an" } else { "a" }
}

fn capitalise(s: &str) -> String {
    let mut cs = s.chars();
    match cs.next() {
        Some(c) => c.to_uppercase().collect::<String>() + cs.as_str(),
        None => String::new(),
    }
}

/// The doc of a model the spec does not describe: `An immutable rule.`, `The
/// configurations.` (a plural name takes `the`).
pub fn model_doc(rust_name: &str) -> String {
    let w = words(rust_name);
    let last = w.rsplit(' ').next().unwrap_or_default();
    let plural = last.ends_with('s') && !last.ends_with("ss") && !last.ends_with("us");
    let a = if plural { "the" } else { article(&w) };
    capitalise(&format!("{a} {w}."))
}

/// The doc of a map definition the spec does not describe: `Extra attrs: a map keyed by
/// name.`.
pub fn map_doc(rust_name: &str) -> String {
    capitalise(&format!("{}: a map keyed by name.", words(rust_name)))
}

/// What a field holds, for the doc rules: its Rust type, and whether that type is a model of
/// the API (then the doc links it).
#[derive(Debug, Clone, Copy)]
pub struct FieldType<'a> {
    /// The Rust type without `Option`.
    pub rust: &'a str,
    /// The model the type is or holds (`Vec<Label>` → `Label`), when it is one.
    pub model: Option<&'a str>,
}

/// The doc of a field the spec does not describe, said from its name, its type and its model
/// (`model_rust_name`):
///
/// - `id` → `The ID of the webhook policy.`, `project_id` → `The ID of the project.`
/// - times: `creation_time` → `When the webhook policy was created.` (also `update_time`,
///   `start_time`, `end_time`)
/// - booleans: `enabled` → `Whether the webhook policy is enabled.`, `with_x` → `Whether to
///   include x.`, a trailing `_flag` dropped
/// - anything else: `The event types of the webhook policy.`, with a link to the field's
///   model when it has one.
pub fn field_doc(model_rust_name: &str, field: &str, ty: FieldType<'_>) -> String {
    let noun = words(model_rust_name);
    let name = field.trim_matches('\'');
    let sn = snake(name);
    if sn == "id" {
        return format!("The ID of the {noun}.");
    }
    if let Some(of) = sn.strip_suffix("_id") {
        return format!("The ID of the {}.", words(of));
    }
    match sn.as_str() {
        "creation_time" | "create_time" | "created_at" => {
            return format!("When the {noun} was created.");
        }
        "update_time" | "updated_at" => return format!("When the {noun} was last updated."),
        "start_time" => return format!("When the {noun} started."),
        "end_time" => return format!("When the {noun} ended."),
        _ => {}
    }
    if ty.rust == "bool" {
        if let Some(what) = sn.strip_prefix("with_") {
            return format!("Whether to include {}.", words(what));
        }
        if let Some(what) = sn.strip_prefix("enable_") {
            return format!("Whether {} is enabled.", words(what));
        }
        let what = sn.strip_suffix("_flag").unwrap_or(&sn);
        let what = what.strip_prefix("is_").unwrap_or(what);
        return format!("Whether the {noun} is {}.", words(what));
    }
    let mut doc = format!("The {} of the {noun}", words(name));
    if let Some(model) = ty.model {
        let a = article(&words(model));
        if ty.rust.starts_with("Vec<") {
            doc.push_str(&format!(" (each {a} [`{model}`])"));
        } else if ty.rust.starts_with("BTreeMap<") {
            doc.push_str(&format!(" (by name, each {a} [`{model}`])"));
        } else {
            doc.push_str(&format!(" ({a} [`{model}`])"));
        }
    }
    doc.push('.');
    doc
}

/// The doc of an optional parameter the spec does not describe.
pub fn param_doc(name: &str, rust_type: &str) -> String {
    let sn = snake(name);
    if rust_type == "bool"
        && let Some(what) = sn.strip_prefix("with_")
    {
        return format!("Whether to include {} in the answer.", words(what));
    }
    capitalise(&format!(
        "{} {} to send.",
        article(&words(name)),
        words(name)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: FieldType<'static> = FieldType {
        rust: "String",
        model: None,
    };

    #[test]
    fn words_keep_acronyms_and_write_out_abbreviations() {
        assert_eq!(words("CVEAllowlistItem"), "CVE allowlist item");
        assert_eq!(words("webhook_policy_id"), "webhook policy ID");
        assert_eq!(words("ProjectReq"), "project request");
        assert_eq!(words("SBOMOverview"), "SBOM overview");
        assert_eq!(words("OIDCUserInfo"), "OIDC user info");
        assert_eq!(words("'os.version'"), "OS version");
    }

    #[test]
    fn articles_follow_the_sound() {
        assert_eq!(article("ID"), "an");
        assert_eq!(article("SBOM overview"), "an");
        assert_eq!(article("user group"), "a");
        assert_eq!(article("immutable rule"), "an");
        assert_eq!(article("UUID"), "a");
        assert_eq!(article("update"), "an");
    }

    #[test]
    fn undescribed_models_say_what_they_are() {
        assert_eq!(model_doc("ImmutableRule"), "An immutable rule.");
        assert_eq!(model_doc("GCHistory"), "A GC history.");
        assert_eq!(model_doc("Configurations"), "The configurations.");
        assert_eq!(model_doc("Access"), "An access.");
        assert_eq!(map_doc("ExtraAttrs"), "Extra attrs: a map keyed by name.");
    }

    #[test]
    fn undescribed_fields_say_what_they_are() {
        let time = FieldType {
            rust: "DateTime<Utc>",
            model: None,
        };
        let flag = FieldType {
            rust: "bool",
            model: None,
        };
        assert_eq!(
            field_doc("WebhookPolicy", "id", TEXT),
            "The ID of the webhook policy."
        );
        assert_eq!(field_doc("Member", "user_id", TEXT), "The ID of the user.");
        assert_eq!(
            field_doc("WebhookPolicy", "creation_time", time),
            "When the webhook policy was created."
        );
        assert_eq!(
            field_doc("WebhookPolicy", "enabled", flag),
            "Whether the webhook policy is enabled."
        );
        assert_eq!(
            field_doc("UserResp", "sysadmin_flag", flag),
            "Whether the user response is sysadmin."
        );
        assert_eq!(
            field_doc("WebhookPolicy", "event_types", TEXT),
            "The event types of the webhook policy."
        );
        let targets = FieldType {
            rust: "Vec<WebhookTargetObject>",
            model: Some("WebhookTargetObject"),
        };
        assert_eq!(
            field_doc("WebhookPolicy", "targets", targets),
            "The targets of the webhook policy (each a [`WebhookTargetObject`])."
        );
        let info = FieldType {
            rust: "OIDCUserInfo",
            model: Some("OIDCUserInfo"),
        };
        assert_eq!(
            field_doc("UserResp", "oidc_user_meta", info),
            "The OIDC user meta of the user response (an [`OIDCUserInfo`])."
        );
        assert_eq!(field_doc("Task", "end_time", TEXT), "When the task ended.");
        for (model, field) in [("A", "x"), ("Robot", "permissions"), ("Task", "status")] {
            assert!(
                !field_doc(model, field, TEXT).contains('`'),
                "{model}.{field}"
            );
        }
    }

    #[test]
    fn undescribed_parameters_say_what_they_are() {
        assert_eq!(
            param_doc("with_tag", "bool"),
            "Whether to include tag in the answer."
        );
        assert_eq!(param_doc("name", "String"), "A name to send.");
    }
}
