//! Naming the resource a request addressed, for error messages ("project `p` not found").
//!
//! A pure function of the method and the path the client sent: the path is matched against
//! the templates of [`OPERATIONS`], and the last path parameter names the resource (the
//! operation's own object, or for a list the parent whose children it lists). Nothing here
//! sends a request.

use super::OPERATIONS;

/// Paths of hand-written methods that the spec no longer lists (robot accounts v1).
const HAND_WRITTEN: &[(&str, &str)] = &[
    ("GET", "/projects/{project_name_or_id}/robots"),
    ("POST", "/projects/{project_name_or_id}/robots"),
    ("GET", "/projects/{project_name_or_id}/robots/{robot_id}"),
    ("PUT", "/projects/{project_name_or_id}/robots/{robot_id}"),
    ("DELETE", "/projects/{project_name_or_id}/robots/{robot_id}"),
];

/// The resource a request addressed, such as `` project `team` `` or
/// `` artifact `team/app@sha256:…` ``; `None` when the path matches no operation or has no
/// path parameter.
pub(crate) fn addressed_resource(method: &str, path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let sent: Vec<&str> = segments(path).collect();
    let template = OPERATIONS
        .iter()
        .map(|op| (op.method, op.path))
        .chain(HAND_WRITTEN.iter().copied())
        .find(|(m, path)| m.eq_ignore_ascii_case(method) && template_matches(segments(path), &sent))
        .map(|(_, path)| path)?;
    let mut found: Vec<(String, String)> = Vec::new();
    // The literal segments since the last parameter (`replication`, `policies`).
    let mut literals: Vec<&str> = Vec::new();
    for (template, value) in segments(template).zip(sent.iter().copied()) {
        let Some(param) = template.strip_prefix('{').and_then(|t| t.strip_suffix('}')) else {
            literals.push(template);
            continue;
        };
        let value = if param == "repository_name" {
            // Encoded twice (`team%252Fapp`).
            percent_decode(&percent_decode(value))
        } else {
            percent_decode(value)
        };
        found.push((noun(param, &literals), value));
        literals.clear();
    }
    describe(&found)
}

/// A name for what a parameter holds: from its name (`robot_id` → robot), or for a bare id
/// (`id`, `eid`, `mid`, ...) from the literal segments before it (`/registries/{id}` →
/// registry, `/replication/policies/{id}` → replication policy).
fn noun(param: &str, literals: &[&str]) -> String {
    let stem = param
        .strip_suffix("_name_or_id")
        .or_else(|| param.strip_suffix("_name"))
        .or_else(|| param.strip_suffix("_id"))
        .unwrap_or(param);
    let stem = match stem {
        "reference" => "artifact",
        "meta" => "metadata",
        "purge" => "purge job",
        "gc" => "GC job",
        "registration" => "scanner",
        s if s.len() <= 3 && s.ends_with("id") => "",
        s => s,
    };
    if !stem.is_empty() {
        return stem.replace('_', " ");
    }
    let previous = literals.last().copied().unwrap_or_default();
    let singular = if let Some(s) = previous.strip_suffix("ies") {
        format!("{s}y")
    } else {
        previous.strip_suffix('s').unwrap_or(previous).to_owned()
    };
    match (literals.len(), singular.as_str()) {
        (_, "retention") => "retention policy".to_owned(),
        (_, "") => "resource".to_owned(),
        (n, s) if n >= 2 => format!("{} {s}", literals.get(n - 2).copied().unwrap_or_default()),
        (_, s) => s.to_owned(),
    }
}

/// The last resource, qualified: artifacts and repositories by their full name, resources
/// inside a project with `of project …`.
fn describe(found: &[(String, String)]) -> Option<String> {
    let (last_noun, last_value) = found.last()?;
    let project = found
        .iter()
        .find(|(n, _)| n == "project")
        .map(|(_, v)| v.as_str());
    let repository = found
        .iter()
        .find(|(n, _)| n == "repository")
        .map(|(_, v)| v.as_str());
    Some(match (last_noun.as_str(), project, repository) {
        ("artifact", Some(p), Some(r)) => {
            let sep = if last_value.contains(':') { '@' } else { ':' };
            format!("artifact `{p}/{r}{sep}{last_value}`")
        }
        ("repository", Some(p), _) => format!("repository `{p}/{last_value}`"),
        (_, _, Some(r)) if found.len() > 3 => {
            // A tag, label or accessory of an artifact.
            let reference = found.get(2).map(|(_, v)| v.as_str()).unwrap_or_default();
            let p = project.unwrap_or_default();
            format!("{last_noun} `{last_value}` of artifact `{p}/{r}@{reference}`")
        }
        ("project", _, _) => format!("project `{last_value}`"),
        (_, Some(p), _) => format!("{last_noun} `{last_value}` of project `{p}`"),
        _ => match found.first() {
            Some((n, v)) if found.len() > 1 => {
                format!("{last_noun} `{last_value}` of {n} `{v}`")
            }
            _ => format!("{last_noun} `{last_value}`"),
        },
    })
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

fn template_matches<'a>(template: impl Iterator<Item = &'a str>, sent: &[&str]) -> bool {
    let template: Vec<&str> = template.collect();
    template.len() == sent.len()
        && template
            .iter()
            .zip(sent)
            .all(|(t, s)| (t.starts_with('{') && t.ends_with('}')) || t == s)
}

/// Decodes `%XX` escapes; invalid escapes and non-UTF-8 results are kept as text.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_addressed_resource_is_named_from_the_operation_and_its_arguments() {
        for (method, path, want) in [
            ("GET", "/projects/team", Some("project `team`")),
            ("DELETE", "/projects/42", Some("project `42`")),
            ("GET", "/projects/team/repositories", Some("project `team`")),
            (
                "GET",
                "/projects/team/repositories/a%252Fb",
                Some("repository `team/a/b`"),
            ),
            (
                "GET",
                "/projects/team/repositories/app/artifacts/v1",
                Some("artifact `team/app:v1`"),
            ),
            (
                "POST",
                "/projects/team/repositories/app/artifacts/sha256:ab12/scan",
                Some("artifact `team/app@sha256:ab12`"),
            ),
            (
                "DELETE",
                "/projects/team/repositories/app/artifacts/sha256:ab12/tags/latest",
                Some("tag `latest` of artifact `team/app@sha256:ab12`"),
            ),
            (
                "GET",
                "/projects/team/webhook/policies/3",
                Some("webhook policy `3` of project `team`"),
            ),
            ("GET", "/robots/7", Some("robot `7`")),
            ("GET", "/registries/5", Some("registry `5`")),
            ("GET", "/retentions/9", Some("retention policy `9`")),
            (
                "GET",
                "/retentions/9/executions/2/tasks",
                Some("execution `2` of retention policy `9`"),
            ),
            (
                "GET",
                "/replication/policies/4",
                Some("replication policy `4`"),
            ),
            ("GET", "/scanners/abc", Some("scanner `abc`")),
            ("GET", "/system/gc/8", Some("GC job `8`")),
            ("GET", "/users/3?x=1", Some("user `3`")),
            // No path parameter, or no operation.
            ("GET", "/projects", None),
            ("GET", "/no/such/path", None),
            ("PATCH", "/projects/team", None),
        ] {
            assert_eq!(
                addressed_resource(method, path).as_deref(),
                want,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn bad_escapes_do_not_panic() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%ff"), "%ff");
    }
}
