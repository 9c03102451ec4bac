//! Doc rules: rustdoc text from the spec's descriptions.

/// The spec's text made safe for rustdoc: lines trimmed, `& < > [ ]` escaped (they are
/// prose, not HTML or links), bare URLs in backticks, a leading `#` escaped (not a heading).
pub fn doc_text(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let joined = t.lines().map(str::trim).collect::<Vec<_>>().join("\n");
    let escaped = joined
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('[', "\\[")
        .replace(']', "\\]");
    let with_urls = quote_urls(&escaped);
    Some(
        with_urls
            .split('\n')
            .map(|l| {
                if l.starts_with('#') {
                    format!("\\{l}")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// `http(s)://…` runs (up to whitespace, `)`, quotes or `,`) wrapped in backticks.
fn quote_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    loop {
        let at = [rest.find("http://"), rest.find("https://")]
            .into_iter()
            .flatten()
            .min();
        let Some(at) = at else {
            out.push_str(rest);
            return out;
        };
        let scheme = if rest[at..].starts_with("https://") {
            8
        } else {
            7
        };
        let tail = &rest[at + scheme..];
        let len = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '\'' | '"' | ','))
            .unwrap_or(tail.len());
        if len == 0 {
            // `http://` alone is not a URL; keep it and go on after it.
            out.push_str(&rest[..at + scheme]);
            rest = tail;
            continue;
        }
        out.push_str(&rest[..at]);
        out.push('`');
        out.push_str(&rest[at..at + scheme + len]);
        out.push('`');
        rest = &tail[len..];
    }
}

/// `///` lines for a text (empty when there is none), each indented by `indent`.
pub fn doc_lines(text: &str, indent: &str) -> String {
    let Some(t) = doc_text(text) else {
        return String::new();
    };
    t.split('\n')
        .map(|l| format!("{indent}/// {l}").trim_end().to_owned() + "\n")
        .collect()
}

/// `///` lines for a text the generator wrote itself (already rustdoc: links and code spans
/// stay as they are), each indented by `indent`.
pub fn own_doc_lines(text: &str, indent: &str) -> String {
    text.trim()
        .split('\n')
        .map(|l| format!("{indent}/// {}", l.trim()).trim_end().to_owned() + "\n")
        .collect()
}

/// The doc lines of a spec description when there is one, else of the generator's own text.
pub fn spec_or_own(
    description: Option<&str>,
    own: impl FnOnce() -> String,
    indent: &str,
) -> String {
    match description.filter(|d| !d.trim().is_empty()) {
        Some(d) => doc_lines(d, indent),
        None => own_doc_lines(&own(), indent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_is_escaped_for_rustdoc() {
        assert_eq!(
            doc_text("  range(k=[min~max]) <b> & co  ").as_deref(),
            Some("range(k=\\[min~max\\]) &lt;b&gt; &amp; co")
        );
        assert_eq!(doc_text("   "), None);
    }

    #[test]
    fn urls_are_code_and_headings_are_not_headings() {
        assert_eq!(
            doc_text("See https://goharbor.io/docs, then\n# not a heading").as_deref(),
            Some("See `https://goharbor.io/docs`, then\n\\# not a heading")
        );
    }

    #[test]
    fn doc_lines_trim_and_indent() {
        assert_eq!(
            doc_lines("One.\n\nTwo.", "    "),
            "    /// One.\n    ///\n    /// Two.\n"
        );
        assert_eq!(doc_lines("", ""), "");
    }
}
