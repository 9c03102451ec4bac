//! Shared inputs for the Harbor SDK benchmarks.
//!
//! Everything here runs before measurement starts: corpora are read or built into memory once,
//! so the benches time decoding and nothing else.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One webhook payload of the benchmark corpus.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Where it comes from (fixture path, or `large/...` for a synthesized one).
    pub name: String,
    /// The exact bytes Harbor (or the registry) would send.
    pub body: Vec<u8>,
}

/// The directory of the JSON fixtures `harbor-events` tests itself with.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../harbor-events/tests/fixtures")
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_json(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
}

/// Every fixture of every format that decodes (the error-case fixtures are left out), sorted by
/// name, plus large payloads synthesized from them (see [`enlarge`]).
pub fn webhook_corpus() -> Vec<Sample> {
    let dir = fixtures_dir();
    let mut paths = Vec::new();
    collect_json(&dir, &mut paths);
    paths.sort();
    let mut corpus: Vec<Sample> = paths
        .iter()
        .filter_map(|path| {
            let body = std::fs::read(path).ok()?;
            harbor_events::decode(&body).ok()?;
            let name = path
                .strip_prefix(&dir)
                .unwrap_or(path)
                .display()
                .to_string();
            Some(Sample { name, body })
        })
        .collect();
    let large: Vec<Sample> = corpus
        .iter()
        .filter_map(|sample| {
            let body = enlarge(&sample.body, 200)?;
            harbor_events::decode(&body).ok()?;
            Some(Sample {
                name: format!("large/{}", sample.name),
                body,
            })
        })
        .collect();
    corpus.extend(large);
    corpus
}

/// The real Harbor 2.x payloads of `../shared/fixtures/harbor-webhooks/v2` (collected from
/// Harbor's docs, source and users' reports; see its `SOURCES.md`), sorted by name: the
/// corpus the figures were taken on. Empty when that folder is not there.
pub fn shared_v2_corpus() -> Vec<Sample> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/harbor-webhooks/v2");
    let mut paths = Vec::new();
    collect_json(&dir, &mut paths);
    paths.sort();
    paths
        .iter()
        .filter_map(|path| {
            let body = std::fs::read(path).ok()?;
            harbor_events::decode(&body).ok()?;
            let name = format!("shared/v2/{}", path.file_name()?.to_string_lossy());
            Some(Sample { name, body })
        })
        .collect()
}

/// Repeat every array of objects inside a payload's data (resources, replicated artifacts,
/// deleted artifacts, registry events ...) until it holds `count` elements: the shape of a
/// busy Harbor's payloads. `None` when the payload has no such array.
pub fn enlarge(body: &[u8], count: usize) -> Option<Vec<u8>> {
    fn grow(value: &mut Value, count: usize) -> bool {
        match value {
            Value::Array(items) if items.first().is_some_and(Value::is_object) => {
                let template = items.clone();
                while items.len() < count {
                    let next = template[items.len() % template.len()].clone();
                    items.push(next);
                }
                true
            }
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |grew, v| grow(v, count) | grew),
            Value::Object(map) => map
                .values_mut()
                .fold(false, |grew, v| grow(v, count) | grew),
            _ => false,
        }
    }
    let mut value: Value = serde_json::from_slice(body).ok()?;
    grow(&mut value, count).then(|| serde_json::to_vec(&value).ok())?
}
