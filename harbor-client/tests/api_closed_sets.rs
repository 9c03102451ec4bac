//! Enum-like strings of the API are typed, and a value a newer Harbor sends survives a round
//! trip instead of failing the decode.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use harbor_client::api::models::{
    Access, Artifact, ArtifactType, JobStatus, NotifyType, PermissionAction, PermissionResource,
    RobotCreate, RobotLevel, RobotPermission, WebhookEventType, WebhookPayloadFormat,
    WebhookPolicy,
};

#[test]
fn an_artifact_as_harbor_sends_it_has_typed_values() {
    let fixture = include_str!("fixtures/api/artifact_with_scan_overview.json");
    let artifacts: Vec<Artifact> = serde_json::from_str(fixture).unwrap();
    let a = &artifacts[0];
    assert_eq!(a.r#type, Some(ArtifactType::Image));
    let overview = a.scan_overview.as_ref().unwrap();
    let report = overview.values().next().unwrap();
    // The scan summary is the model `harbor-events` shares (its status is text); the closed
    // set reads it without loss.
    assert_eq!(
        JobStatus::from(report.scan_status.as_ref()),
        JobStatus::Success
    );
}

#[test]
fn a_webhook_policy_keeps_event_types_it_does_not_know() {
    // `ARTIFACT_SIGNED` stands for an event type of a Harbor newer than this client.
    let body = r#"{"name":"hook","event_types":["PUSH_ARTIFACT","ARTIFACT_SIGNED"],
        "targets":[{"type":"teams","address":"https://x.example","payload_format":"CloudEvents"}]}"#;
    let policy: WebhookPolicy = serde_json::from_str(body).unwrap();
    let events = policy.event_types.as_ref().unwrap();
    assert_eq!(events[0], WebhookEventType::PushArtifact);
    assert_eq!(events[1], WebhookEventType::Other("ARTIFACT_SIGNED".into()));
    assert!(!events[1].is_known());
    let target = &policy.targets.as_ref().unwrap()[0];
    assert_eq!(target.r#type, Some(NotifyType::Other("teams".into())));
    assert_eq!(
        target.payload_format,
        Some(WebhookPayloadFormat::CloudEvents)
    );

    // Written back as it came.
    let again: serde_json::Value = serde_json::to_value(&policy).unwrap();
    assert_eq!(
        again["event_types"],
        serde_json::json!(["PUSH_ARTIFACT", "ARTIFACT_SIGNED"])
    );
    assert_eq!(again["targets"][0]["type"], "teams");
}

#[test]
fn a_robot_with_pull_and_push_on_one_project_serialises_as_harbor_expects() {
    let mut access = Vec::new();
    for action in [PermissionAction::Pull, PermissionAction::Push] {
        let mut a = Access::default();
        a.resource = Some(PermissionResource::Repository);
        a.action = Some(action);
        access.push(a);
    }
    let mut permission = RobotPermission::default();
    permission.kind = Some(RobotLevel::Project);
    permission.namespace = Some("library".into());
    permission.access = Some(access);
    let mut robot = RobotCreate::default();
    robot.name = Some("ci".into());
    robot.level = Some(RobotLevel::Project);
    robot.duration = Some(-1);
    robot.permissions = Some(vec![permission]);
    assert_eq!(
        serde_json::to_value(&robot).unwrap(),
        serde_json::json!({
            "name": "ci",
            "level": "project",
            "duration": -1,
            "permissions": [{
                "kind": "project",
                "namespace": "library",
                "access": [
                    {"resource": "repository", "action": "pull"},
                    {"resource": "repository", "action": "push"}
                ]
            }]
        })
    );
}

#[test]
fn strings_convert_and_compare_both_ways() {
    assert_eq!(PermissionResource::from("*"), PermissionResource::All);
    assert_eq!(PermissionAction::ScannerPull.as_str(), "scanner-pull");
    assert_eq!(WebhookEventType::TagRetention, "TAG_RETENTION");
    assert_eq!(
        "SCANNING_STOPPED".parse::<WebhookEventType>(),
        Ok(WebhookEventType::ScanningStopped)
    );
    assert!(WebhookEventType::KNOWN.contains(&WebhookEventType::Replication));
}
