//! Closed sets: one `closed_set!` enum per set of `data/enums.yaml`.

use crate::Context;
use crate::docs::own_doc_lines;

/// `models/enums.rs`: every closed set, in the data's order.
pub fn enums_file(cx: &Context<'_>) -> String {
    let mut out = String::from(
        "//! Closed sets: the enum-like strings of the API, each keeping the values it does not\n//! know (see [`closed_set`](crate::api::closed_set)).\n\nuse crate::api::closed_set::closed_set;\n",
    );
    for set in cx.sets {
        out.push_str("\nclosed_set! {\n");
        out.push_str(&own_doc_lines(&set.doc, "    "));
        out.push_str("    ///\n");
        out.push_str(&own_doc_lines(
            &format!("Values from goharbor/harbor: {}.", set.source),
            "    ",
        ));
        out.push_str(&format!("    pub enum {} {{\n", set.name));
        for v in &set.values {
            out.push_str(&own_doc_lines(
                &format!("{}: `{}`.", v.doc.trim_end_matches('.'), v.value),
                "        ",
            ));
            out.push_str(&format!("        {} = {:?},\n", v.variant(), v.value));
        }
        out.push_str("    }\n}\n");
    }
    out
}

/// The Rust type of a string (or string-array) schema typed with a closed set.
pub fn set_type(base: &str, set: &str) -> String {
    if base.starts_with("Vec<") {
        format!("Vec<{set}>")
    } else {
        set.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_of_strings_become_vecs_of_the_set() {
        assert_eq!(
            set_type("Vec<String>", "WebhookEventType"),
            "Vec<WebhookEventType>"
        );
        assert_eq!(set_type("String", "ScanKind"), "ScanKind");
    }
}
