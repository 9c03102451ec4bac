//! Property tests: arbitrary bytes (and mutated real payloads) never panic, and generated
//! events round-trip through every format that can express them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::DateTime;
use harbor_events::{Decoder, Event, EventKind, Format, decode};
use proptest::prelude::*;

const SEEDS: [&[u8]; 6] = [
    include_bytes!("fixtures/v1/scanningCompleted__1.9-clair-integer-severity.json"),
    include_bytes!("fixtures/v2/TAG_RETENTION__2.10-rules-null-references.json"),
    include_bytes!("fixtures/v2/SCANNING_COMPLETED__2.11-two-reports-scan-type.json"),
    include_bytes!("fixtures/cloudevents/REPLICATION__harbor.replication.status.changed.json"),
    include_bytes!("fixtures/docs-only/pushImage__two-events.json"),
    include_bytes!("fixtures/distribution/PUSH_ARTIFACT__manifest-and-blob.json"),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/cloudevents+json"));
        let _ = Decoder::new().decode_with_headers(&headers, &bytes);
    }

    #[test]
    fn mutated_real_payloads_never_panic(
        seed in 0..SEEDS.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = SEEDS[seed].to_vec();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Ok(payload) = decode(&bytes) {
            // Whatever decodes also converts, summarises and re-encodes without panicking.
            for event in payload.events() {
                let _ = event.to_string();
                let _ = event.scan_summary();
                for format in Format::ALL {
                    let _ = event.encode(format);
                }
            }
            let _ = payload.to_vec();
        }
    }

    #[test]
    fn generated_events_round_trip_through_every_format(
        kind in prop::sample::select(vec![
            EventKind::PushArtifact, EventKind::PullArtifact, EventKind::DeleteArtifact,
            EventKind::ScanningCompleted, EventKind::ScanningFailed, EventKind::ScanningStopped,
            EventKind::QuotaExceed, EventKind::QuotaWarning, EventKind::UploadChart,
        ]),
        project in "[a-z0-9][a-z0-9._-]{0,12}",
        name in "[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}",
        hex in "[0-9a-f]{64}",
        tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9._\"\\\\é-]{0,20}"),
        operator in "\\PC{0,16}",
        message in "\\PC{0,40}",
        secs in 0i64..4_102_444_800,
    ) {
        let repository = format!("{project}/{name}");
        let digest = format!("sha256:{hex}");
        let mut event = Event::artifact_event(kind.clone(), &repository, &digest, tag.as_deref())
            .with_occurred_at(DateTime::from_timestamp(secs, 0).unwrap())
            .with_operator(operator.clone())
            .with_id(format!("id-{secs}"));
        if kind.is_quota() {
            event = Event::quota_event(kind.clone(), &repository, &digest, &message)
                .with_occurred_at(event.occurred_at)
                .with_operator(operator.clone());
        }
        let mut encoded_somewhere = 0;
        for format in Format::ALL {
            let Ok(body) = event.encode(format) else {
                // Only kinds the format cannot express may fail.
                prop_assert!(kind.name(format).is_none(), "{kind} in {format}");
                continue;
            };
            encoded_somewhere += 1;
            let payload = decode(&body).map_err(|e| TestCaseError::fail(format!("{format}: {e}")))?;
            prop_assert_eq!(payload.format(), format);
            let back = payload.into_events().remove(0);
            prop_assert_eq!(&back.kind, &kind);
            prop_assert_eq!(back.occurred_at, event.occurred_at);
            prop_assert_eq!(back.repository(), Some(repository.as_str()));
            let artifact = back.artifact().unwrap();
            prop_assert_eq!(artifact.digest, Some(digest.as_str()));
            prop_assert_eq!(artifact.tag, event.artifact().unwrap().tag, "{}", format);
            if format != Format::V1Documented && !(format == Format::Distribution && operator.is_empty()) {
                prop_assert_eq!(back.operator.as_ref(), operator.as_str());
            }
            if kind.is_quota() && format != Format::V1Documented {
                prop_assert_eq!(back.quota_message(), Some(message.as_str()));
            }
            // And the wire payload itself round-trips.
            let again = payload_round_trip(&body);
            prop_assert!(again, "{} payload did not round-trip", format);
        }
        prop_assert!(encoded_somewhere >= 2);
    }
}

fn payload_round_trip(body: &[u8]) -> bool {
    let payload = decode(body).unwrap();
    let original: serde_json::Value = serde_json::from_slice(body).unwrap();
    serde_json::to_value(&payload).unwrap() == original
}
