//! Golden tests over the fixtures in `tests/fixtures/` (every type of every format and the
//! edge cases): each file decodes in the format of its folder, its events have the kind of
//! the file-name prefix, it round-trips, and the one-line summaries match the `.txt` golden
//! file beside it. Set `UPDATE_GOLDEN=1` to rewrite the `.txt` files after a deliberate change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use harbor_events::{EventKind, Format, decode};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    out.sort();
    out
}

fn prefix_kind(path: &Path) -> EventKind<'static> {
    let name = path.file_stem().unwrap().to_str().unwrap();
    match name.split("__").next().unwrap() {
        "FUTURE_EVENT" => EventKind::Unknown("?".into()),
        "BLOB_MOUNT" => EventKind::BlobMount,
        other => EventKind::parse(other.to_owned()),
    }
}

/// Every member of `encoded` equals the same member of `original` (objects recursively).
fn is_subset(encoded: &serde_json::Value, original: &serde_json::Value) -> bool {
    match (encoded, original) {
        (serde_json::Value::Object(e), serde_json::Value::Object(o)) => e
            .iter()
            .all(|(k, v)| o.get(k).is_some_and(|ov| is_subset(v, ov))),
        (serde_json::Value::Array(e), serde_json::Value::Array(o)) => {
            e.len() == o.len() && e.iter().zip(o).all(|(a, b)| is_subset(a, b))
        }
        (e, o) => e == o,
    }
}

#[test]
fn every_fixture_decodes_round_trips_and_matches_its_golden_summary() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut checked = 0;
    for (folder, format) in [
        ("v1", Format::V1),
        ("docs-only", Format::V1Documented),
        ("v2", Format::V2),
        ("cloudevents", Format::CloudEvents),
        ("distribution", Format::Distribution),
    ] {
        for path in json_files(&fixtures().join(folder)) {
            let name = path.display().to_string();
            let bytes = std::fs::read(&path).unwrap();
            let payload = decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(payload.format(), format, "{name}");

            let events = payload.events();
            assert!(!events.is_empty(), "{name}");
            let want = prefix_kind(&path);
            if want.is_unknown() {
                assert!(events.iter().all(|e| e.kind.is_unknown()), "{name}");
                assert!(events.iter().all(|e| e.raw_data().is_some()), "{name}");
            } else {
                assert!(events.iter().any(|e| e.kind == want), "{name}: {events:?}");
            }

            let original: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let encoded = serde_json::to_value(&payload).unwrap();
            if name.contains("unknown-fields") {
                assert_ne!(encoded, original, "{name}: unknown members are not kept");
                assert!(is_subset(&encoded, &original), "{name}");
            } else {
                assert_eq!(encoded, original, "round trip of {name}");
            }
            // Member order does not matter: with keys sorted (`event_data`/`data` before
            // `type`) the payload is the same.
            let sorted = serde_json::to_vec(&original).unwrap();
            let resorted = decode(&sorted).unwrap();
            if name.contains("FUTURE_EVENT") {
                // Raw data is kept as sent: compare it as JSON, not as text.
                assert_eq!(serde_json::to_value(&resorted).unwrap(), encoded, "{name}");
            } else {
                assert_eq!(resorted, payload, "{name} with sorted keys");
            }
            // The compact bytes decode to the same payload again.
            let again = payload.to_vec().unwrap();
            assert_eq!(decode(&again).unwrap(), payload, "{name}");

            let summary: String = events.iter().map(|e| format!("{e}\n")).collect();
            let golden = path.with_extension("txt");
            if update {
                std::fs::write(&golden, &summary).unwrap();
            } else {
                let expected = std::fs::read_to_string(&golden).unwrap_or_else(|_| {
                    panic!("{} missing: run with UPDATE_GOLDEN=1", golden.display())
                });
                assert_eq!(summary, expected, "{name}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 45, "{checked}");
}
