//! From a webhook event (harbor-events) to the API's names (feature `events`).

#![cfg(feature = "events")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use harbor_client::api::{ArtifactLocation, PathSegment, Reference};

const DIGEST: &str = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945";

fn payload(tag: &str) -> String {
    format!(
        r#"{{"type":"SCANNING_COMPLETED","occur_at":1714644672,"operator":"auto","event_data":{{"resources":[{{"digest":"{DIGEST}","tag":"{tag}","resource_url":"harbor.example.com/library/team/app:{tag}"}}],"repository":{{"date_created":1714644600,"name":"team/app","namespace":"library","repo_full_name":"library/team/app","repo_type":"private"}}}}}}"#
    )
}

#[test]
fn a_scan_event_names_the_artifact_to_call_the_api_with() {
    let body = payload("v1");
    let events = harbor_events::decode(body.as_bytes())
        .unwrap()
        .into_events();
    let at = ArtifactLocation::try_from(&events[0].artifact().unwrap()).unwrap();
    assert_eq!(at.project, "library");
    assert_eq!(at.repository.as_str(), "team/app");
    assert_eq!(at.reference, Reference::tag("v1").unwrap());
    assert_eq!(at.repository.path_segment(), "team%252Fapp");
}

#[test]
fn an_untagged_artifact_is_addressed_by_digest() {
    // Harbor 2.x puts the digest in `tag` for untagged artifacts.
    let body = payload(DIGEST);
    let events = harbor_events::decode(body.as_bytes())
        .unwrap()
        .into_events();
    let all = ArtifactLocation::all_from_event(&events[0]);
    assert_eq!(all.len(), 1);
    let at = all[0].as_ref().unwrap();
    assert_eq!(at.reference, Reference::digest(DIGEST).unwrap());
    assert_eq!(at.to_string(), format!("library/team/app@{DIGEST}"));
}
