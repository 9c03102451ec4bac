//! Conformance over the shared corpus of real Harbor payloads
//! (`../shared/fixtures/harbor-webhooks/`, relative to the workspace root): every file
//! decodes in the format of its folder, with the kind of its file-name prefix, and
//! round-trips (decode, encode, compare JSON values).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use harbor_events::{EventKind, Format, Payload, decode};

fn corpus() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/harbor-webhooks"
    ))
    .to_path_buf()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| p.extension().is_some_and(|e| e == "json"));
    out.sort();
    out
}

fn expected_kind(path: &Path) -> EventKind<'static> {
    let name = path.file_name().unwrap().to_str().unwrap();
    let prefix = name.split("__").next().unwrap();
    EventKind::parse(prefix.to_owned())
}

// The corpus lives outside the repository (a fresh clone, CI's included, may lack it): without
// it the test shows as ignored, "../shared/fixtures/harbor-webhooks not found".
#[harbor_testkit::needs(path = "../shared/fixtures/harbor-webhooks")]
#[test]
fn every_shared_fixture_decodes_with_its_format_and_kind_and_round_trips() {
    let root = corpus();
    assert!(
        root.is_dir(),
        "{} went away after the build",
        root.display()
    );
    let mut checked = 0;
    for (folder, format) in [
        ("v1", Format::V1),
        ("v2", Format::V2),
        ("cloudevents", Format::CloudEvents),
        ("docs-only", Format::V1Documented),
    ] {
        for path in files(&root.join(folder)) {
            let bytes = std::fs::read(&path).unwrap();
            let payload = decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(payload.format(), format, "{}", path.display());
            let events = payload.events();
            assert!(!events.is_empty(), "{}", path.display());
            for event in &events {
                assert_eq!(event.kind, expected_kind(&path), "{}", path.display());
                assert!(!event.kind.is_unknown(), "{}", path.display());
                assert_eq!(event.format, format);
                // The one-line summary never fails and names the kind.
                assert!(event.to_string().contains(event.kind.as_str()));
            }
            // Round trip: encode the wire type back and compare JSON values.
            let original: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let encoded = serde_json::to_value(&payload).unwrap();
            assert_eq!(encoded, original, "round trip of {}", path.display());
            // Member order does not matter (serde_json::Value sorts keys).
            let sorted = serde_json::to_vec(&original).unwrap();
            assert_eq!(
                decode(&sorted).unwrap(),
                payload,
                "{} with sorted keys",
                path.display()
            );
            // The owned form is equal and decodes the same.
            let owned: Payload<'static> = payload.clone().into_owned();
            assert_eq!(owned, payload);
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} fixtures found");
}
