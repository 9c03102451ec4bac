//! Naming rules: Rust identifiers from the spec's names.

/// Rust keywords (strict and reserved) that need `r#` as identifiers.
const KEYWORDS: [&str; 51] = [
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
    "where", "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv",
    "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// `snake_case` of a spec name: `-`, `.` and spaces become `_`, `@` goes, a capital after a
/// lower-case letter or digit starts a word (`projectName` → `project_name`), and so does the
/// last capital of a run before a lower-case letter (`CVEAllowlist` → `cve_allowlist`).
pub fn snake(name: &str) -> String {
    let cleaned: Vec<char> = name
        .chars()
        .filter(|&c| c != '@')
        .map(|c| if matches!(c, '-' | '.' | ' ') { '_' } else { c })
        .collect();
    // Words start at a capital after a lower-case letter or digit ...
    let mut first = Vec::with_capacity(cleaned.len() + 8);
    for (i, &c) in cleaned.iter().enumerate() {
        if c.is_ascii_uppercase()
            && i > 0
            && (cleaned[i - 1].is_ascii_lowercase() || cleaned[i - 1].is_ascii_digit())
        {
            first.push('_');
        }
        first.push(c);
    }
    // ... and at the last capital of a run that a lower-case letter follows.
    let mut out = String::with_capacity(first.len() + 8);
    for (i, &c) in first.iter().enumerate() {
        if c.is_ascii_uppercase()
            && i > 0
            && first[i - 1].is_ascii_uppercase()
            && first.get(i + 1).is_some_and(char::is_ascii_lowercase)
        {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    while out.contains("__") {
        out = out.replace("__", "_");
    }
    out
}

/// A field or argument identifier: [`snake`] of the name (quotes the spec puts around some
/// names dropped), `r#` before a keyword, `_` before a leading digit.
pub fn field_ident(name: &str) -> String {
    let sn = snake(name.trim_matches('\''));
    if KEYWORDS.contains(&sn.as_str()) {
        return format!("r#{sn}");
    }
    if sn.starts_with(|c: char| c.is_ascii_digit()) {
        return format!("_{sn}");
    }
    sn
}

/// The identifier without a raw prefix (`r#type` → `type`).
pub fn plain(ident: &str) -> &str {
    ident.strip_prefix("r#").unwrap_or(ident)
}

/// `PascalCase` of a spec name, through [`snake`] (`listProjects` → `ListProjects`).
pub fn pascal(name: &str) -> String {
    snake(name)
        .split('_')
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(c) => c.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// The method of an operation: the name given in the data, else [`snake`] of its id.
pub fn method_name(operation_id: &str, overrides: &crate::data::Overrides) -> String {
    overrides
        .operations
        .method_names
        .get(operation_id)
        .cloned()
        .unwrap_or_else(|| snake(operation_id))
}

/// The name of the blocking method that returns every page of a paged method as a `Vec`:
/// `list_x` → `list_x_all` (the crate's naming rule: no suffix one page, `_stream` every item
/// as a stream, `_iter` as an iterator, `_all` collected).
pub fn all_pages_name(method: &str) -> String {
    format!("{method}_all")
}

/// The name of the blocking method that returns every item of a paged method as an iterator
/// fetching the pages as it advances: `list_x` → `list_x_iter`.
pub fn iter_name(method: &str) -> String {
    format!("{method}_iter")
}

/// The name of the stream over every page of a paged method.
pub fn stream_name(method: &str) -> String {
    format!("{method}_stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_splits_words_as_harbor_names_them() {
        for (name, want) in [
            ("listProjects", "list_projects"),
            ("CVEAllowlist", "cve_allowlist"),
            ("GetRobotByID", "get_robot_by_id"),
            ("X-Accept-Vulnerabilities", "x_accept_vulnerabilities"),
            ("scan data export", "scan_data_export"),
            ("os.version", "os_version"),
            ("content-type", "content_type"),
            ("getLatestScanAllMetrics", "get_latest_scan_all_metrics"),
            ("v1Tag", "v1_tag"),
            ("with__double", "with_double"),
            ("@type", "type"),
            ("SBOMOverview", "sbom_overview"),
        ] {
            assert_eq!(snake(name), want, "{name}");
        }
    }

    #[test]
    fn identifiers_escape_keywords_and_digits() {
        assert_eq!(field_ident("type"), "r#type");
        assert_eq!(field_ident("'os.version'"), "os_version");
        assert_eq!(field_ident("2fa"), "_2fa");
        assert_eq!(plain("r#type"), "type");
        assert_eq!(pascal("listProjects"), "ListProjects");
        assert_eq!(pascal("getGCHistory"), "GetGcHistory");
    }

    #[test]
    fn paging_names_follow_one_rule() {
        assert_eq!(all_pages_name("list_projects"), "list_projects_all");
        assert_eq!(all_pages_name("search_users"), "search_users_all");
        assert_eq!(stream_name("list_projects"), "list_projects_stream");
        assert_eq!(iter_name("list_projects"), "list_projects_iter");
    }
}
