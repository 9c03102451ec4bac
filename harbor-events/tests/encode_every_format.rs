//! Users build events and serialise them into any format to test their own endpoints:
//! built events round-trip through every format that can express them, the others give
//! a typed error, and decoded events re-encode into their original format unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use harbor_events::report::NativeReportSummary;
use harbor_events::v2::{ArtifactInfo, Replication, Retention};
use harbor_events::{Event, EventKind, Format, Payload, Severity, decode};

const DIGEST: &str = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4";

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_714_557_609, 0).unwrap()
}

#[test]
fn artifact_events_round_trip_through_every_format() {
    for kind in [
        EventKind::PushArtifact,
        EventKind::PullArtifact,
        EventKind::DeleteArtifact,
    ] {
        let event = Event::artifact_event(kind.clone(), "team/app", DIGEST, Some("v1"))
            .with_occurred_at(at())
            .with_operator("alice")
            .with_id("id-1");
        for format in Format::ALL {
            let body = event.encode(format).unwrap();
            let payload = decode(&body).unwrap();
            assert_eq!(payload.format(), format);
            let back = &payload.events()[0];
            assert_eq!(back.kind, kind, "{format}");
            assert_eq!(back.occurred_at, at(), "{format}");
            assert_eq!(back.repository(), Some("team/app"), "{format}");
            let a = back.artifact().unwrap();
            assert_eq!((a.digest, a.tag), (Some(DIGEST), Some("v1")), "{format}");
            if format != Format::V1Documented {
                assert_eq!(back.operator, "alice", "{format}");
            }
        }
    }
}

#[test]
fn v2_and_cloudevents_keep_everything() {
    let mut report = NativeReportSummary::default();
    report.scan_status = "Success".into();
    report.severity = Some(Severity::High);
    let scan = Event::scan_event(
        EventKind::ScanningCompleted,
        "team/app",
        DIGEST,
        None,
        report,
    )
    .with_occurred_at(at())
    .with_id("scan-1")
    .with_source("/projects/1/webhook/policies/2")
    .with_request_id("req-9");
    let mut info = ArtifactInfo::default();
    info.name_tag = "app [1 item(s) in total]".into();
    let mut replication = Replication::default();
    replication.job_status = Some("Success".into());
    replication.successful_artifact = vec![info];
    let mut retention = Retention::default();
    retention.total = 3;
    let events = [
        scan,
        Event::quota_event(
            EventKind::QuotaWarning,
            "team/app",
            DIGEST,
            "quota usage reach 85%",
        )
        .with_occurred_at(at()),
        Event::replication_event(replication)
            .with_occurred_at(at())
            .with_operator("admin"),
        Event::retention_event(retention).with_occurred_at(at()),
        Event::new(EventKind::Unknown("SOMETHING_NEW".into())).with_occurred_at(at()),
    ];
    for event in &events {
        for format in [Format::V2, Format::CloudEvents] {
            let body = event.encode(format).unwrap();
            let mut back = decode(&body).unwrap().into_events().remove(0);
            back.format = event.format;
            if format == Format::CloudEvents {
                // Defaults are filled for a CloudEvent.
                assert!(back.id.is_some() && back.source.is_some());
            }
            // v2 has no id, source or request id; CloudEvents carry them.
            back.id.clone_from(&event.id);
            back.source.clone_from(&event.source);
            back.request_id.clone_from(&event.request_id);
            if back.kind.is_unknown() {
                back.data.raw = None;
            }
            assert_eq!(&back, event, "{format}");
        }
    }
    assert_eq!(
        events[0].scan_summary().unwrap().severity,
        Some(Severity::High)
    );
}

#[test]
fn kinds_a_format_cannot_express_are_typed_errors() {
    let cases = [
        (EventKind::Replication, Format::V1),
        (EventKind::QuotaWarning, Format::V1),
        (EventKind::ScanningStopped, Format::V1),
        (EventKind::UploadChart, Format::CloudEvents),
        (EventKind::QuotaExceed, Format::Distribution),
        (EventKind::TestEndpoint, Format::V2),
        (EventKind::Unknown("X".into()), Format::Distribution),
    ];
    for (kind, format) in cases {
        let err = Event::new(kind.clone()).encode(format).unwrap_err();
        assert!(
            matches!(err, harbor_events::Error::UnsupportedKind { .. }),
            "{kind} {format}: {err}"
        );
        assert!(err.to_string().contains(format.as_str()));
    }
}

#[test]
fn decoded_events_re_encode_in_their_own_format_to_the_same_json() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json")
            || path.to_string_lossy().contains("unknown-fields")
        {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let payload = decode(&bytes).unwrap();
        let event = &payload.events()[0];
        let again: Payload<'_> = event.to_payload(Format::V2).unwrap();
        assert_eq!(again, payload, "{}", path.display());
        assert_eq!(event.encode_default().unwrap(), payload.to_vec().unwrap());
    }
}
