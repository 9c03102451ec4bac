//! The blocking Harbor client has every method of the async one, hand-written ones included,
//! and nothing else: read from the sources of both `impl HarborClient` blocks, so a method
//! added to one without the other fails here.
//!
//! The naming rule it also checks (README, "Naming"): `list_x` is one page; each `x_stream`
//! (async) becomes both `x_iter` (an iterator) and `x_all` (a `Vec` of every item) in the
//! blocking client, the fan-out streams included.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;

/// The `pub fn` / `pub async fn` names inside `impl HarborClient {` blocks of the `.rs` files
/// under `dir` (not descending into `skip`).
fn methods(dir: &Path, skip: &[&str]) -> BTreeSet<String> {
    methods_of("impl HarborClient {", dir, skip)
}

fn methods_of(header: &str, dir: &Path, skip: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !skip.contains(&name.as_str()) {
                    dirs.push(path);
                }
                continue;
            }
            if !name.ends_with(".rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mut inside = false;
            for line in text.lines() {
                if line.starts_with(header) {
                    inside = true;
                } else if line == "}" {
                    inside = false;
                } else if inside {
                    let rest = line
                        .strip_prefix("    pub async fn ")
                        .or_else(|| line.strip_prefix("    pub fn "));
                    if let Some(rest) = rest {
                        let name: String = rest
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        out.insert(name);
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_blocking_client_has_every_method_of_the_async_one() {
    let api = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let asynchronous = methods(&api, &["blocking", "v1"]);
    let blocking = methods(&api.join("blocking"), &[]);
    assert!(asynchronous.len() > 200, "{}", asynchronous.len());
    assert!(asynchronous.contains("scan_artifact_and_wait"));

    // Construction and the escape hatch differ by nature: the blocking client wraps an async
    // one (`new`, `as_async`) and runs its futures (`block_on`, e.g. for `raw`).
    let async_only = [
        "builder",
        "builder_with_api_root",
        "api_root",
        "transport",
        "raw",
    ];
    let blocking_only = ["new", "as_async", "block_on"];

    let mut missing = Vec::new();
    let mut expected = BTreeSet::new();
    for m in &asynchronous {
        if async_only.contains(&m.as_str()) {
            continue;
        }
        let twins = match m.strip_suffix("_stream") {
            Some(base) => vec![format!("{base}_iter"), format!("{base}_all")],
            None => vec![m.clone()],
        };
        for twin in twins {
            if !blocking.contains(&twin) {
                missing.push(format!("{m} (blocking {twin})"));
            }
            expected.insert(twin);
        }
    }
    assert!(missing.is_empty(), "no blocking twin: {missing:#?}");
    let extra: Vec<_> = blocking
        .iter()
        .filter(|m| !expected.contains(*m) && !blocking_only.contains(&m.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "blocking methods without an async one: {extra:#?}"
    );
}

#[test]
fn no_name_says_all_twice() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut names = methods(&src, &[]);
    let registry = methods_of("impl RegistryClient {", &src, &[]);
    assert!(registry.contains("list_tags_stream") && registry.contains("list_tags_iter"));
    names.extend(registry);
    let doubled: Vec<_> = names
        .iter()
        .filter(|n| n.matches("all").count() > 1 || n.starts_with("list_all_"))
        .collect();
    assert!(doubled.is_empty(), "{doubled:?}");
}
