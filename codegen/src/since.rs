//! Which Harbor release first has each operation, and each optional query parameter that came
//! after its operation: the tables in `data/since.yaml`, and the command that derives them from
//! a clone of goharbor/harbor.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::process::Command;

use serde::Deserialize;
use serde_norway::Value;

use crate::spec::{Spec, resolve_param};
use crate::{Error, Result};

/// A Harbor release, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// Parses `2.11.1` or a tag `v2.11.1`; anything with a suffix (`-rc1`) is not a release.
    pub fn parse(text: &str) -> Option<Version> {
        let t = text.strip_prefix('v').unwrap_or(text);
        let mut parts = t.split('.');
        let mut next = || parts.next().and_then(|p| p.parse::<u32>().ok());
        let v = Version(next()?, next()?, next()?);
        (t.split('.').count() == 3).then_some(v)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// `data/since.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinceTable {
    /// The oldest release read; an operation it has is available "since" it (or earlier).
    pub baseline: String,
    /// The release tags read, oldest first.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Where the derived version is wrong, with why.
    #[serde(default)]
    pub corrections: BTreeMap<String, Correction>,
    /// operationId → the first release whose spec has it (derived).
    pub since: BTreeMap<String, String>,
    /// operationId → optional query parameter → the first release whose spec has it on that
    /// operation, where that is later than the operation's own (derived).
    #[serde(default)]
    pub params: BTreeMap<String, BTreeMap<String, String>>,
}

/// A hand-made correction of the derived table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// The version to use.
    pub since: String,
    /// Why the derived one is wrong.
    pub why: String,
}

impl SinceTable {
    /// Parses `since.yaml`.
    ///
    /// # Errors
    ///
    /// When the text does not match the expected shape or a version does not parse.
    pub fn parse(text: &str) -> Result<SinceTable> {
        let t: SinceTable =
            serde_norway::from_str(text).map_err(|e| Error::new(format!("since: {e}")))?;
        for v in std::iter::once(&t.baseline)
            .chain(t.since.values())
            .chain(t.corrections.values().map(|c| &c.since))
            .chain(t.params.values().flat_map(BTreeMap::values))
        {
            Version::parse(v).ok_or_else(|| Error::new(format!("since: bad version `{v}`")))?;
        }
        Ok(t)
    }

    /// The baseline release.
    pub fn baseline(&self) -> Version {
        Version::parse(&self.baseline).unwrap_or(Version(2, 2, 0))
    }

    /// The first release that has an operation (a correction wins over the derived value).
    pub fn of(&self, operation_id: &str) -> Option<Version> {
        self.corrections
            .get(operation_id)
            .map(|c| c.since.as_str())
            .or_else(|| self.since.get(operation_id).map(String::as_str))
            .and_then(Version::parse)
    }

    /// The first release that has the optional query parameter `name` of an operation, when
    /// that is later than the operation's own.
    pub fn of_param(&self, operation_id: &str, name: &str) -> Option<Version> {
        self.params
            .get(operation_id)?
            .get(name)
            .and_then(|v| Version::parse(v))
    }
}

/// What [`derive()`] finds.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    /// The release tags read, oldest first.
    pub tags: Vec<String>,
    /// operationId → the first release whose spec has it.
    pub since: BTreeMap<String, String>,
    /// operationId → query parameter → the first release whose spec has it on the operation,
    /// where later than the operation's own. A parameter no release has is left out.
    pub params: BTreeMap<String, BTreeMap<String, String>>,
}

/// `(METHOD, path)` with every `{parameter}` written `{}`, so that a renamed parameter
/// (`{project_id}` → `{project_name_or_id}`) is the same operation.
fn route(method: &str, path: &str) -> (String, String) {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0;
    for c in path.trim_end_matches('/').chars() {
        match c {
            '{' => {
                depth += 1;
                out.push_str("{}");
            }
            '}' => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    (method.to_uppercase(), out)
}

/// The routes of a swagger document, each with the names of its query parameters (missing
/// `operationId`s are fine: early 2.x specs lack some).
fn routes(text: &str) -> Result<BTreeMap<(String, String), BTreeSet<String>>> {
    let root: Value = serde_norway::from_str(text).map_err(|e| Error::new(e.to_string()))?;
    let mut out = BTreeMap::new();
    for (path, item) in root["paths"].as_mapping().into_iter().flatten() {
        let Some(path) = path.as_str() else { continue };
        let shared = item["parameters"].as_sequence().into_iter().flatten();
        for (method, op) in item.as_mapping().into_iter().flatten() {
            if let Some(m) = method.as_str()
                && ["get", "put", "post", "delete", "patch", "head"].contains(&m)
            {
                let names = shared
                    .clone()
                    .chain(op["parameters"].as_sequence().into_iter().flatten())
                    .map(|p| resolve_param(&root, p))
                    .filter(|p| p["in"].as_str() == Some("query"))
                    .filter_map(|p| p["name"].as_str().map(str::to_owned))
                    .collect();
                out.insert(route(m, path), names);
            }
        }
    }
    Ok(out)
}

fn git(git_dir: &Path, args: &[&str]) -> Result<Option<String>> {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(args)
        .output()
        .map_err(|e| Error::new(format!("cannot run git: {e}")))?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Derives the tables from a goharbor/harbor git directory: for every operation of `spec`, the
/// first release tag at or after `baseline` whose `api/v2.0/swagger.yaml` or
/// `legacy_swagger.yaml` (Harbor 2.0 to 2.7 served part of the API from the latter) has the
/// same method and path; for each of its optional query parameters, the first release that
/// has it on that route, where later.
///
/// # Errors
///
/// When git fails, a spec does not parse, or an operation is in no release.
pub fn derive(git_dir: &Path, spec: &Spec, baseline: Version) -> Result<Derived> {
    let tags = git(git_dir, &["tag"])?.ok_or_else(|| Error::new("git tag failed"))?;
    let mut releases: Vec<(Version, String)> = tags
        .lines()
        .filter_map(|t| Some((Version::parse(t)?, t.to_owned())))
        .filter(|(v, t)| *v >= baseline && t.starts_with('v'))
        .collect();
    releases.sort();
    let mut by_release = Vec::new();
    for (v, tag) in &releases {
        let mut all: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for file in ["swagger.yaml", "legacy_swagger.yaml"] {
            if let Some(text) = git(git_dir, &["show", &format!("{tag}:api/v2.0/{file}")])? {
                let routes = routes(&text).map_err(|e| Error::new(format!("{tag} {file}: {e}")))?;
                for (route, names) in routes {
                    all.entry(route).or_default().extend(names);
                }
            }
        }
        by_release.push((*v, all));
    }
    let mut derived = Derived {
        tags: releases.into_iter().map(|(_, t)| t).collect(),
        ..Derived::default()
    };
    for op in spec.operations() {
        let key = route(op.method, op.path);
        let optional_queries = op.op["parameters"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|p| spec.resolve_param(p))
            .filter(|p| p["in"].as_str() == Some("query") && p["required"].as_bool() != Some(true))
            .filter_map(|p| p["name"].as_str());
        let (since, later) = releases_of(&by_release, &key, optional_queries).ok_or_else(|| {
            Error::new(format!(
                "{} ({} {}) is in no release tag",
                op.id(),
                op.method,
                op.path
            ))
        })?;
        derived.since.insert(op.id().to_owned(), since.to_string());
        if !later.is_empty() {
            let later = later
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v.to_string()));
            derived.params.insert(op.id().to_owned(), later.collect());
        }
    }
    Ok(derived)
}

/// Each release with its routes and their query parameters, oldest first.
type Releases = [(Version, BTreeMap<(String, String), BTreeSet<String>>)];

/// The first release that has `route`, and each of `params` that a later release added to
/// it, with that release; `None` when no release has the route. A parameter no release has
/// is left out.
fn releases_of<'p>(
    releases: &Releases,
    route: &(String, String),
    params: impl IntoIterator<Item = &'p str>,
) -> Option<(Version, BTreeMap<&'p str, Version>)> {
    let first = releases.iter().position(|(_, r)| r.contains_key(route))?;
    let since = releases[first].0;
    let later = params
        .into_iter()
        .filter_map(|name| {
            let (v, _) = releases[first..]
                .iter()
                .find(|(_, r)| r.get(route).is_some_and(|names| names.contains(name)))?;
            (*v > since).then_some((name, *v))
        })
        .collect();
    Some((since, later))
}

/// `since.yaml` with a freshly derived table, keeping the corrections of `previous`.
pub fn render(previous: &SinceTable, derived: &Derived) -> String {
    let (tags, table) = (&derived.tags, &derived.since);
    let mut out = String::from(
        "# The first Harbor release that has each operation of codegen/spec (\"since\").\n#\n# Derived, not written by hand: `cargo run -p harbor-codegen -- since --harbor-git DIR`, where\n# DIR is the git directory of a goharbor/harbor clone. For each operation it takes the first\n# release tag (vMAJOR.MINOR.PATCH, no pre-releases) from `baseline` on whose\n# api/v2.0/swagger.yaml or api/v2.0/legacy_swagger.yaml (Harbor 2.0 to 2.7 served part of the\n# API from the latter) has the same method and path, path parameters compared by position.\n# `corrections` are kept as written and win over the derived value. Operations at the\n# baseline are in every Harbor the client checks; later ones are refused before sending to\n# an older server.\n\n",
    );
    out.push_str(&format!("baseline: {}\n", previous.baseline));
    out.push_str(&format!(
        "# {} tags, {} to {}.\ntags: [{}]\n",
        tags.len(),
        tags.first().map_or("", String::as_str),
        tags.last().map_or("", String::as_str),
        tags.join(", ")
    ));
    out.push_str("corrections:\n");
    if previous.corrections.is_empty() {
        out.push_str("  {}\n");
    }
    for (id, c) in &previous.corrections {
        out.push_str(&format!(
            "  {id}:\n    since: {}\n    why: {}\n",
            c.since,
            serde_norway::to_string(&c.why)
                .unwrap_or_default()
                .trim_end()
        ));
    }
    out.push_str("since:\n");
    for (id, v) in table {
        out.push_str(&format!("  {id}: {v}\n"));
    }
    out.push_str(
        "# Optional query parameters that came after their operation: the first release whose\n# spec has each on that operation. A call that sets one is refused before sending to an\n# older server, which would ignore it without an error; `page` and `page_size` are not,\n# since every stream sets them (UNGATED_PARAMS in codegen/src/ops.rs).\nparams:\n",
    );
    if derived.params.is_empty() {
        out.push_str("  {}\n");
    }
    for (id, names) in &derived.params {
        out.push_str(&format!("  {id}:\n"));
        for (name, v) in names {
            out.push_str(&format!("    {name}: {v}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_releases_only() {
        assert_eq!(Version::parse("v2.11.1"), Some(Version(2, 11, 1)));
        assert_eq!(Version::parse("2.2.0"), Some(Version(2, 2, 0)));
        assert_eq!(Version::parse("v2.1.0-rc1"), None);
        assert_eq!(Version::parse("v2.2"), None);
        assert!(Version(2, 10, 0) > Version(2, 9, 5));
    }

    #[test]
    fn routes_compare_parameters_by_position() {
        assert_eq!(
            route("get", "/projects/{project_id}/members/"),
            route("GET", "/projects/{project_name_or_id}/members")
        );
    }

    #[test]
    fn query_parameters_are_read_through_refs_and_shared_lists() {
        let doc = "parameters:\n  query:\n    name: q\n    in: query\npaths:\n  /projects/:\n    parameters:\n      - name: X-Request-Id\n        in: header\n      - name: sort\n        in: query\n    get:\n      parameters:\n        - $ref: '#/parameters/query'\n        - name: page\n          in: query\n        - name: body\n          in: body\n";
        let r = routes(doc).unwrap();
        let names: Vec<&str> = r[&route("GET", "/projects")]
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(names, ["page", "q", "sort"]);
    }

    #[test]
    fn a_parameter_counts_from_its_operations_first_release() {
        let route = route("GET", "/projects");
        let with = |names: &[&str]| {
            BTreeMap::from([(
                route.clone(),
                names.iter().map(|n| (*n).to_owned()).collect(),
            )])
        };
        let releases = vec![
            (Version(2, 2, 0), BTreeMap::new()),
            (Version(2, 3, 0), with(&["page"])),
            (Version(2, 4, 0), with(&["page", "q"])),
        ];
        let (since, later) = releases_of(&releases, &route, ["page", "q", "unreleased"]).unwrap();
        // The operation came in 2.3 with `page`: not later. `q` came in 2.4. A parameter in
        // no release is left out.
        assert_eq!(since, Version(2, 3, 0));
        assert_eq!(later, BTreeMap::from([("q", Version(2, 4, 0))]));
        assert!(releases_of(&releases, &super::route("GET", "/nowhere"), ["q"]).is_none());
    }

    #[test]
    fn a_later_parameter_has_its_own_release() {
        let t =
            SinceTable::parse("baseline: 2.2.0\nsince:\n  a: 2.2.0\nparams:\n  a:\n    q: 2.3.0\n")
                .unwrap();
        assert_eq!(t.of_param("a", "q"), Some(Version(2, 3, 0)));
        assert_eq!(t.of_param("a", "sort"), None);
        assert_eq!(t.of_param("b", "q"), None);
        assert!(
            SinceTable::parse("baseline: 2.2.0\nsince: {}\nparams:\n  a:\n    q: soon\n").is_err()
        );
    }

    #[test]
    fn a_correction_wins() {
        let t = SinceTable::parse(
            "baseline: 2.2.0\ncorrections:\n  b:\n    since: 2.2.0\n    why: served earlier\nsince:\n  a: 2.6.0\n  b: 2.3.0\n",
        )
        .unwrap();
        assert_eq!(t.of("a"), Some(Version(2, 6, 0)));
        assert_eq!(t.of("b"), Some(Version(2, 2, 0)));
        assert_eq!(t.of("c"), None);
    }
}
