//! The reader against the reference: wherever it answers, it answers as the serde path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::payload;
use crate::Format;

/// No hint (detection), then each format.
fn hints() -> impl Iterator<Item = Option<Format>> {
    std::iter::once(None).chain(Format::ALL.map(Some))
}

/// Checks one body under one hint; `true` when the reader answered.
fn agrees(text: &str, hint: Option<Format>) -> bool {
    let Some(fast) = payload(text, hint) else {
        return false;
    };
    let reference = crate::decode::decode_reference(text.as_bytes(), Some(text), hint)
        .unwrap_or_else(|e| panic!("reader took what the reference refuses ({e}): {text}"));
    // Debug shows every field, in order (map entries too): stricter than `==`.
    assert_eq!(
        format!("{fast:?}"),
        format!("{reference:?}"),
        "{hint:?}: {text}"
    );
    assert_eq!(fast, reference);
    true
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

fn corpus() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    json_files(&root.join("tests/fixtures"), &mut paths);
    let shared = root.join("../../shared/fixtures/harbor-webhooks");
    if shared.is_dir() {
        json_files(&shared, &mut paths);
    }
    paths.sort();
    paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

#[test]
fn every_fixture_is_read_by_the_reader_and_agrees() {
    let corpus = corpus();
    assert!(corpus.len() >= 45, "fixtures not found");
    let mut declined = Vec::new();
    for text in &corpus {
        for hint in hints() {
            let answered = agrees(text, hint);
            // Every payload the crate accepts as it detects takes the fast path: a
            // fixture falling back would be a silent slowdown.
            if hint.is_none() && !answered && crate::decode(text.as_bytes()).is_ok() {
                declined.push(text.chars().take(120).collect::<String>());
            }
        }
    }
    assert!(declined.is_empty(), "the reader declined: {declined:#?}");
}

#[test]
fn odd_inputs_agree_or_go_to_the_reference() {
    let cases = [
        // escapes, surrogates, control characters
        r#"{"type":"PUSH_ARTIFACT","occur_at":1,"operator":"a\u00e9\ud83d\ude00\n\"b\\/"}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1,"operator":"\ud83d"}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1,"operator":"\ude00"}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1,"operator":"\x"}"#,
        "{\"type\":\"PUSH_ARTIFACT\",\"occur_at\":1,\"operator\":\"a\u{1}b\"}",
        r#"{"typ\u0065":"PUSH_ARTIFACT","occur_at":1}"#,
        // numbers
        r#"{"type":"PUSH_ARTIFACT","occur_at":-0}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1.0}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1e3}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":01}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":99999999999999999999}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":-9223372036854775808}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":9223372036854775807}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1,"x":[1.5e-3,-0.0,1E+2,{"a":[true,false,null]}]}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1,"x":1.}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1,"x":-}"#,
        // duplicates, structure
        r#"{"type":"PUSH_ARTIFACT","type":"PULL_ARTIFACT","occur_at":1}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{"resources":[{"tag":"a","tag":"b"}]}}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{"custom_attributes":{"a":"1","a":"2"}}}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1,}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1} x"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1}  "#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{"resources":[{},]}}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{"resources":null,"repository":null}}"#,
        r#"{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{"repository":{"name":null}}}"#,
        r#"{"type":"pushImage","occur_at":1,"event_data":{"repository":null}}"#,
        r#"{"event_data":{"repository":null},"type":"pushImage","occur_at":1}"#,
        r#"{"event_data":null,"type":"FUTURE","occur_at":1}"#,
        r#"{"type":"FUTURE","occur_at":1,"event_data":null}"#,
        r#"{"type":"FUTURE","occur_at":1,"event_data":{"resources":[{"tag":1}]}}"#,
        r#"{"event_data":{"x":1},"type":"FUTURE","occur_at":1}"#,
        r#"{"specversion":"1.0","id":"i","source":"s","type":"harbor.artifact.pushed","time":"2024-01-01T00:00:00Z","data":null,"ext":{"a":1},"ext":2}"#,
        r#"{"specversion":"1.0","id":"i","source":"s","type":"harbor.future","time":"2024-01-01T00:00:00+02:00","data":{"a":[1]}}"#,
        r#"{"specversion":"1.0","id":"i","source":"s","type":"harbor.artifact.pushed","time":"nope"}"#,
        r#"{"events":[{"timestamp":"2024-01-01T00:00:00Z","action":"push","target":{"references":null}}]}"#,
        r#"{"events":[{"timestamp":"2024-01-01T00:00:00Z","action":"push"}]}"#,
        r#"{"events":null}"#,
        r#"{"event_type":"pushImage","events":[{"trigger_time":1}]}"#,
        r#"{"events":[],"event_type":"pushImage"}"#,
        r#"{"type":"SCANNING_COMPLETED","occur_at":1,"event_data":{"resources":[{"scan_overview":{"job_id":1,"job_id":2,"x":{},"components":null}}]}}"#,
        r#"{"type":"SCANNING_COMPLETED","occur_at":1,"event_data":{"resources":[{"scan_overview":{"m":{"severity":""},"m":{"severity":"HIGH","summary":{"summary":{"High":1,"High":2}}}}}]}}"#,
        r#"[]"#,
        r#"{}"#,
        r#""x""#,
    ];
    for text in cases {
        for hint in hints() {
            agrees(text, hint);
        }
    }
    let deep = format!(
        r#"{{"type":"PUSH_ARTIFACT","occur_at":1,"x":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert!(
        !agrees(&deep, None),
        "nesting beyond the limit goes to the reference"
    );
}

/// Every list Harbor may send as `null` (Go's nil slice) reads as an empty list, and the
/// reader answers it itself (no fall back), as the reference does.
#[test]
fn null_lists_are_empty_in_both_readers() {
    let cases = [
        r#"{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{"resources":null}}"#,
        r#"{"type":"pushImage","occur_at":1,"event_data":{"resources":null,"repository":{}}}"#,
        r#"{"type":"REPLICATION","occur_at":1,"event_data":{"replication":{"successful_artifact":null,"failed_artifact":null}}}"#,
        r#"{"type":"REPLICATION","occur_at":1,"event_data":{"replication":{"failed_artifact":[{"type":"image","status":"Error","name_tag":"a","references":null}]}}}"#,
        r#"{"type":"TAG_RETENTION","occur_at":1,"event_data":{"retention":{"retention_rule":null,"deleted_artifact":null}}}"#,
        r#"{"type":"TAG_RETENTION","occur_at":1,"event_data":{"retention":{"retention_rule":[{"tag_selectors":null,"scope_selectors":{"repository":null}}]}}}"#,
        r#"{"type":"scanningCompleted","occur_at":1,"event_data":{"repository":{},"resources":[{"tag":"","scan_overview":{"image_digest":"d","components":{"total":0,"summary":null}}}]}}"#,
        r#"{"event_type":"pushImage","events":null}"#,
        r#"{"events":null}"#,
    ];
    for text in cases {
        assert!(agrees(text, None), "the reader declined: {text}");
        let payload = crate::decode(text.as_bytes()).unwrap();
        // Re-encoded and decoded again: the same payload (null lists stay empty).
        assert_eq!(
            crate::decode(&payload.to_vec().unwrap()).unwrap(),
            payload,
            "{text}"
        );
    }
}

fn edited(seed: &str, edits: &[(prop::sample::Index, u8, u8)]) -> Option<String> {
    const BYTES: &[u8] = b" \n{}[],:\"\\0123456789-.eEtrufalsn_axyz";
    let mut bytes = seed.as_bytes().to_vec();
    for (at, op, byte) in edits {
        let b = BYTES[usize::from(*byte) % BYTES.len()];
        match op % 3 {
            0 => {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            1 => bytes.insert(at.index(bytes.len() + 1), b),
            _ => {
                bytes.remove(at.index(bytes.len()));
            }
        }
        if bytes.is_empty() {
            return None;
        }
    }
    String::from_utf8(bytes).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// JSON-ish edits (structural bytes, digits, escapes) to every kind of fixture:
    /// whatever the reader answers, the reference answers the same.
    #[test]
    fn edited_fixtures_agree(
        seed in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(
            (any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..6),
        hint in 0..=Format::ALL.len(),
    ) {
        let corpus = corpus();
        let seed = &corpus[seed.index(corpus.len())];
        if let Some(text) = edited(seed, &edits) {
            agrees(&text, hints().nth(hint).flatten());
        }
    }
}
