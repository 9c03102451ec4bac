//! Typed values users compute with, read from the fixtures: severities (text and 1.9
//! integers), the preferred scan report, digests hiding in `tag`, resource URLs, quota
//! messages, replication and retention parts, unknown types kept raw, escapes, `'static`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;

use harbor_events::report::{MIME_GENERIC_VULNERABILITY_REPORT, MIME_NATIVE_REPORT};
use harbor_events::{Event, EventKind, Format, Payload, Reference, ScanOverview, Severity, decode};

fn one(bytes: &[u8]) -> Event<'_> {
    let mut events = decode(bytes).unwrap().into_events();
    assert_eq!(events.len(), 1);
    events.remove(0)
}

#[test]
fn harbor_1_9_clair_overview_keeps_integer_severity_and_components() {
    let bytes = include_bytes!("fixtures/v1/scanningCompleted__1.9-clair-integer-severity.json");
    let payload = decode(bytes).unwrap();
    let Payload::V1(v1) = &payload else { panic!() };
    let resources = &v1.event_data.as_ref().unwrap().resources;
    let Some(ScanOverview::Clair(clair)) = &resources[0].scan_overview else {
        panic!()
    };
    assert_eq!((clair.severity, clair.job_id), (5, 42));
    assert_eq!(clair.severity(), Some(Severity::High));
    let event = one(bytes);
    let scan = event.scan_summary().unwrap();
    assert_eq!(scan.report_type, None);
    assert!(scan.is_success());
    assert_eq!(scan.severity, Some(Severity::High));
    assert_eq!(scan.total, Some(120));
    assert_eq!(scan.count(&Severity::High), 3);
    assert_eq!(scan.count(&Severity::Negligible), 110);

    let failed = one(include_bytes!(
        "fixtures/v1/scanningFailed__1.9-clair-fallback.json"
    ));
    let scan = failed.scan_summary().unwrap();
    assert_eq!(
        (scan.status, scan.severity.clone(), scan.total),
        ("error", None, None)
    );
    assert!(!scan.is_success());
}

#[test]
fn scan_summary_prefers_the_generic_v1_1_report() {
    let event = one(include_bytes!(
        "fixtures/v2/SCANNING_COMPLETED__2.11-two-reports-scan-type.json"
    ));
    let scan = event.scan_summary().unwrap();
    assert_eq!(scan.report_type, Some(MIME_GENERIC_VULNERABILITY_REPORT));
    assert_eq!(scan.severity, Some(Severity::Critical));
    assert_eq!((scan.total, scan.fixable), (Some(12), Some(9)));
    assert_eq!(scan.count(&Severity::High), 4);
    assert_eq!(scan.scanner, Some("Trivy"));
    assert_eq!(
        event.data.scan.as_ref().unwrap().scan_type.as_deref(),
        Some("vulnerability")
    );

    let v110 = one(include_bytes!(
        "fixtures/v1/scanningCompleted__1.10-report-map.json"
    ));
    assert_eq!(
        v110.scan_summary().unwrap().report_type,
        Some(MIME_NATIVE_REPORT)
    );
}

/// A severity Harbor (or a scanner) may add later is kept verbatim, re-encoded as sent, and
/// ranks stricter than Critical, as Harbor's `Severity.Code()` ranks unrecognised text.
#[test]
fn an_unknown_severity_is_kept_and_fails_closed() {
    let body = br#"{"type":"SCANNING_COMPLETED","occur_at":1680502375,"operator":"auto","event_data":{"resources":[{"digest":"sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4","tag":"v1","scan_overview":{"application/vnd.security.vulnerability.report; version=1.1":{"report_id":"r","scan_status":"Success","severity":"Catastrophic","duration":3,"summary":{"total":1,"fixable":0,"summary":{"Catastrophic":1}},"start_time":"2023-04-03T06:12:52Z","end_time":"2023-04-03T06:12:55Z","complete_percent":100}}}]}}"#;
    let payload = decode(body).unwrap();
    let event = &payload.events()[0];
    let scan = event.scan_summary().unwrap();
    let severity = scan.severity.clone().unwrap();
    assert_eq!(severity, Severity::Other("Catastrophic".into()));
    assert!(severity.is_at_least(&Severity::Critical));
    assert!(severity > Severity::Critical);
    assert_eq!(scan.count(&severity), 1);
    assert!(
        payload
            .to_vec()
            .unwrap()
            .windows(14)
            .any(|w| w == b"\"Catastrophic\"")
    );
}

#[test]
fn failed_and_stopped_scans_have_no_severity_and_no_counts() {
    let event = one(include_bytes!("fixtures/v2/SCANNING_FAILED__2.8.json"));
    let scan = event.scan_summary().unwrap();
    assert_eq!(
        (scan.status, scan.severity.clone(), scan.total),
        ("Error", None, None)
    );
    let sbom = one(include_bytes!(
        "fixtures/v2/SCANNING_STOPPED__2.11-sbom-stopped.json"
    ));
    assert!(sbom.scan_summary().is_none());
    assert_eq!(
        sbom.sbom_overview().unwrap().scan_status.as_deref(),
        Some("Stopped")
    );
}

#[test]
fn a_digest_in_tag_is_recognised_and_the_resource_url_splits() {
    let event = one(include_bytes!(
        "fixtures/v2/PULL_ARTIFACT__by-digest-tag-is-digest.json"
    ));
    let artifact = event.artifact().unwrap();
    assert_eq!(artifact.tag, None, "a digest in `tag` is not a tag");
    let Ok(Some(Reference::Digest(d))) = artifact.reference() else {
        panic!()
    };
    assert_eq!(d.algorithm(), "sha256");
    assert!(event.data.first_resource().unwrap().tag_is_digest());
    let url = artifact.resource_url().unwrap().unwrap();
    assert_eq!(
        (
            url.repository().registry(),
            url.repository().name().as_str()
        ),
        ("harbor.example.com", "team/app/web")
    );
    assert_eq!(url.digest(), Some(&d));

    // Harbor 2.0/2.1: `tag: ""` and a URL ending in ':'.
    let old = one(include_bytes!(
        "fixtures/v2/PUSH_ARTIFACT__2.0-empty-tag-unknown-fields.json"
    ));
    let a = old.artifact().unwrap();
    assert_eq!(a.tag, None);
    assert_eq!(a.resource_url().unwrap().unwrap().reference(), None);

    // Chart URLs are not image references.
    let chart = one(include_bytes!("fixtures/v2/UPLOAD_CHART__2.7.json"));
    let err = chart.artifact().unwrap().resource_url().unwrap_err();
    assert_eq!(
        err.value_kind(),
        Some(harbor_events::ValueKind::ImageReference)
    );
    assert_eq!(chart.artifact().unwrap().tag, Some("1.0.0"));
}

#[test]
fn v1_quirks_resources_null_and_empty_tag() {
    let pull = decode(include_bytes!(
        "fixtures/v1/pullImage__by-digest-resources-null.json"
    ))
    .unwrap();
    let Payload::V1(p) = &pull else { panic!() };
    assert!(p.event_data.as_ref().unwrap().resources.is_empty());
    assert!(pull.events()[0].artifact().is_none());
    // Written back as Harbor 1.x writes an empty list: `null`.
    assert!(
        String::from_utf8(pull.to_vec().unwrap())
            .unwrap()
            .contains(r#""resources":null"#)
    );
    assert_eq!(pull.events()[0].repository(), Some("team/app/web"));

    let quota = one(include_bytes!(
        "fixtures/v1/projectQuota__1.10-empty-tag.json"
    ));
    assert_eq!(quota.kind, EventKind::QuotaExceed);
    assert!(quota.quota_message().unwrap().starts_with("Quota exceeded"));
    assert_eq!(quota.artifact().unwrap().tag, None);
    assert_eq!(quota.operator, "");
}

#[test]
fn replication_and_retention_parts() {
    let rep = one(include_bytes!(
        "fixtures/v2/REPLICATION__2.13-failed-references-ids.json"
    ));
    let r = rep.replication().unwrap();
    assert_eq!((r.execution_id, r.task_id), (Some(77), Some(901)));
    let failed = &r.failed_artifact[0];
    assert_eq!(
        failed.references,
        Some(vec![Cow::Borrowed("v1.0"), Cow::Borrowed("v1.1")])
    );
    assert_eq!(rep.repository(), None);

    let ret = one(include_bytes!(
        "fixtures/v2/TAG_RETENTION__2.10-rules-null-references.json"
    ));
    let r = ret.retention().unwrap();
    assert_eq!((r.total, r.retained), (5, 3));
    assert_eq!(ret.repository(), Some("team"));
    let rule = &r.retention_rule[0];
    assert_eq!(
        rule.params
            .as_ref()
            .unwrap()
            .get("latestPushedK")
            .unwrap()
            .get(),
        "3"
    );
    assert_eq!(
        rule.scope_selectors
            .as_ref()
            .unwrap()
            .get("repository")
            .unwrap()[0]
            .pattern,
        "app/**"
    );
    // `references: null` reads as an empty list (present, unlike before 2.10) and is
    // written back as `null`.
    assert_eq!(r.deleted_artifact[0].references, Some(vec![]));
}

/// Harbor stores a retention policy created through its API with a `null` selector list and
/// echoes it in the webhook (`map[string][]*rule.Selector` with a nil slice): the payload
/// decodes, in both readers, and the list is empty.
#[test]
fn a_retention_rule_with_a_null_scope_selector_list_decodes_as_empty() {
    let bytes = include_bytes!("fixtures/v2/TAG_RETENTION__api-policy-null-scope-selectors.json");
    let payload = decode(bytes).unwrap();
    let event = &payload.events()[0];
    let retention = event.retention().unwrap();
    let rule = &retention.retention_rule[0];
    let scopes = rule.scope_selectors.as_ref().unwrap();
    assert_eq!(scopes.get("repository").map(Vec::len), Some(0));
    assert_eq!(rule.tag_selectors.len(), 1);
    assert_eq!(retention.deleted_artifact.len(), 1);
    // The serde path (the reference the fast reader is checked against) agrees.
    let reference: harbor_events::v2::Payload<'_> = serde_json::from_slice(bytes).unwrap();
    assert_eq!(Payload::V2(reference), payload);
}

#[test]
fn unknown_types_keep_their_text_and_raw_data() {
    let bytes = include_bytes!("fixtures/v2/FUTURE_EVENT__unknown-type-kept-raw.json");
    let event = one(bytes);
    assert_eq!(
        event.kind,
        EventKind::Unknown(Cow::Borrowed("FUTURE_EVENT"))
    );
    let raw: serde_json::Value = serde_json::from_str(event.raw_data().unwrap()).unwrap();
    assert_eq!(raw["something"]["new"][2], 3);
    // Typed members that match are filled too.
    assert_eq!(event.repository(), Some("p/x"));

    let ce = one(include_bytes!(
        "fixtures/cloudevents/FUTURE_EVENT__unknown-type-extension.json"
    ));
    assert_eq!(ce.kind.as_str(), "harbor.project.created");
    let Payload::CloudEvent(c) = decode(include_bytes!(
        "fixtures/cloudevents/FUTURE_EVENT__unknown-type-extension.json"
    ))
    .unwrap() else {
        panic!()
    };
    assert!(
        c.extensions
            .get("traceparent")
            .unwrap()
            .get()
            .starts_with("\"00-")
    );
}

#[test]
fn strings_borrow_unless_escaped_and_into_owned_is_static() {
    let bytes = include_bytes!("fixtures/v2/PUSH_ARTIFACT__alphabetical-order-escapes.json");
    let event = one(bytes);
    assert_eq!(event.artifact().unwrap().tag, Some("v\"2\""));
    assert_eq!(event.repository(), Some("team/caf\u{e9}/web"));
    assert!(
        matches!(event.operator, Cow::Borrowed(_)),
        "plain strings borrow from the body"
    );
    let owned: Event<'static> = event.clone().into_owned();
    assert_eq!(owned, event);
    let stored: Vec<Event<'static>> = {
        let body = bytes.to_vec();
        decode(&body).unwrap().into_owned().into_events()
    };
    assert_eq!(stored[0], event);
}

#[test]
fn cloudevents_attributes_reach_the_event() {
    let event = one(include_bytes!(
        "fixtures/cloudevents/PUSH_ARTIFACT__harbor.artifact.pushed.json"
    ));
    assert_eq!(event.format, Format::CloudEvents);
    assert_eq!(
        event.id.as_deref(),
        Some("a7f3c2d0-0000-4000-8000-000000000001")
    );
    assert_eq!(event.request_id.as_deref(), Some("req-1"));
    assert_eq!(event.project_and_policy(), Some((3, 9)));
    assert_eq!(event.occurred_at.to_rfc3339(), "2024-05-01T10:00:09+00:00");
}

#[test]
fn documented_shape_gives_one_event_per_entry() {
    let payload = decode(include_bytes!(
        "fixtures/docs-only/pushImage__two-events.json"
    ))
    .unwrap();
    assert_eq!(payload.format(), Format::V1Documented);
    let events = payload.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].artifact().unwrap().tag, Some("1.0"));
    assert_eq!(
        events[0].artifact().unwrap().digest,
        Some("sha256:9e2c9d5f44efbb6ee83aecd17a120c513047d289d142ec5738c9f02f9b24ad07")
    );
}

#[test]
fn registry_notifications_map_manifests_to_artifacts_and_blobs_to_blob_kinds() {
    let events = decode(include_bytes!(
        "fixtures/distribution/PUSH_ARTIFACT__manifest-and-blob.json"
    ))
    .unwrap()
    .into_events();
    assert_eq!(
        events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        [EventKind::BlobPush, EventKind::PushArtifact]
    );
    let push = &events[1];
    assert_eq!(push.repository(), Some("team/app"));
    assert_eq!(push.operator, "alice");
    assert_eq!(
        push.artifact().unwrap().resource_url,
        Some("127.0.0.1:5000/team/app:v1")
    );
    assert_eq!(push.registry.as_ref().unwrap().target.size, Some(1024));
    let delete = &decode(include_bytes!(
        "fixtures/distribution/DELETE_ARTIFACT__delete.json"
    ))
    .unwrap()
    .into_events()[0];
    assert_eq!(delete.kind, EventKind::DeleteArtifact);
    assert_eq!(delete.operator, "");
}

#[test]
fn events_serialise_to_a_flat_json_view() {
    let event = one(include_bytes!(
        "fixtures/cloudevents/QUOTA_EXCEED__harbor.quota.exceeded.json"
    ));
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["kind"], "QUOTA_EXCEED");
    assert_eq!(json["format"], "cloudevents");
    assert_eq!(json["occurred_at"], "2024-05-01T10:00:09Z");
    assert_eq!(json["id"], "a7f3c2d0-0000-4000-8000-000000000001");
    assert_eq!(
        json["data"]["custom_attributes"]["Details"],
        event.quota_message().unwrap()
    );
}

#[test]
fn data_before_type_decodes_whatever_the_type_turns_out_to_be() {
    // Unknown type after its data: the data is kept raw (decoded a second time).
    for data in [r#"{"x":1}"#, r#"{"resources":"not a list"}"#, "[1,2]", "7"] {
        let body = format!(r#"{{"event_data":{data},"type":"NEW_TYPE","occur_at":1}}"#);
        let event = one(body.as_bytes());
        assert!(event.kind.is_unknown());
        assert_eq!(event.raw_data(), Some(data));
        let body = format!(
            r#"{{"data":{data},"type":"harbor.new","specversion":"1.0","id":"i","source":"/s","time":"2024-01-01T00:00:00Z"}}"#
        );
        assert_eq!(one(body.as_bytes()).raw_data(), Some(data));
    }
    // 1.x data before a 1.x type: read as 1.x (tag always written, resources null kept).
    let body = br#"{"event_data":{"resources":null,"repository":{"name":"r","namespace":"p","repo_full_name":"p/r","repo_type":"public"}},"occur_at":1,"operator":"","type":"pullImage"}"#;
    let payload = decode(body).unwrap();
    let Payload::V1(p) = &payload else { panic!() };
    assert!(p.event_data.as_ref().unwrap().resources.is_empty());
    let original: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(serde_json::to_value(&payload).unwrap(), original);
}
