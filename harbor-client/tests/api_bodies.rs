//! The request-body builders: the JSON each writes (what Harbor's UI and handlers send and
//! read), and every body accepted by Prism validating requests against Harbor's own spec.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_support;

use harbor_client::api::models::{
    ImmutableRule, PermissionAction, PermissionResource, ProjectReq, ReplicationFilter,
    ReplicationPolicy, ReplicationTrigger, RetentionPolicy, RetentionRule, RobotCreate,
    RobotPermission, ScannerRegistrationReq, WebhookEventType, WebhookPayloadFormat, WebhookPolicy,
    WebhookTargetObject,
};
use harbor_client::api::{CreateProjectParams, HarborClient};
use serde_json::{Value, json};

use api_support::Prism;

fn to_json<T: serde::Serialize>(body: &T) -> Value {
    serde_json::to_value(body).unwrap()
}

fn project() -> ProjectReq {
    ProjectReq::new("team")
        .public(false)
        .storage_limit(10 << 30)
        .auto_scan(true)
        .prevent_vulnerable("high")
}

fn robot() -> RobotCreate {
    RobotCreate::project("ci", RobotPermission::project("team").pull().push())
        .description("CI pushes")
        .duration_days(30)
}

fn system_robot() -> RobotCreate {
    RobotCreate::system("auditor")
        .permission(
            RobotPermission::system().allow(PermissionResource::AuditLog, PermissionAction::List),
        )
        .permission(RobotPermission::all_projects().pull())
}

fn webhook() -> WebhookPolicy {
    WebhookPolicy::new("ci")
        .description("tell CI")
        .target(
            WebhookTargetObject::http("https://ci.example/hook")
                .auth_header("Bearer abc")
                .payload_format(WebhookPayloadFormat::CloudEvents),
        )
        .events([
            WebhookEventType::PushArtifact,
            WebhookEventType::ScanningCompleted,
        ])
}

fn replication() -> ReplicationPolicy {
    ReplicationPolicy::pull("mirror-hub", 3)
        .filter(ReplicationFilter::name("library/**"))
        .filter(ReplicationFilter::tag("v*"))
        .filter(ReplicationFilter::labels(["prod"]).excluding())
        .trigger(ReplicationTrigger::scheduled("0 0 * * * *"))
        .dest_namespace("mirror")
        .override_existing(true)
}

fn retention() -> RetentionPolicy {
    RetentionPolicy::for_project(7)
        .rule(RetentionRule::latest_pushed(10).repositories("apps/**"))
        .rule(RetentionRule::pushed_within_days(30).tags_except("tmp-*"))
        .schedule("0 0 0 * * *")
}

fn immutable() -> ImmutableRule {
    ImmutableRule::new().repositories("apps/**").tags("v*")
}

fn scanner() -> ScannerRegistrationReq {
    ScannerRegistrationReq::new("trivy", "http://trivy-adapter:8080")
        .bearer("token")
        .use_internal_addr(true)
}

#[test]
fn a_project_body_carries_quota_and_metadata_as_strings() {
    assert_eq!(
        to_json(&project()),
        json!({
            "project_name": "team",
            "storage_limit": 10_737_418_240_i64,
            "metadata": {"public": "false", "auto_scan": "true", "prevent_vul": "true", "severity": "high"}
        })
    );
}

#[test]
fn a_project_robot_has_one_permission_on_its_project() {
    assert_eq!(
        to_json(&robot()),
        json!({
            "name": "ci", "description": "CI pushes", "level": "project", "disable": false,
            "duration": 30,
            "permissions": [{"kind": "project", "namespace": "team", "access": [
                {"resource": "repository", "action": "pull", "effect": "allow"},
                {"resource": "repository", "action": "push", "effect": "allow"}
            ]}]
        })
    );
    let system = to_json(&system_robot());
    assert_eq!(system["level"], "system");
    assert_eq!(system["duration"], -1, "never expires unless told");
    assert_eq!(system["permissions"][0]["kind"], "system");
    assert_eq!(system["permissions"][0]["namespace"], "/");
    assert_eq!(system["permissions"][1]["namespace"], "*");
}

#[test]
fn a_webhook_policy_is_enabled_with_its_targets_and_events() {
    assert_eq!(
        to_json(&webhook()),
        json!({
            "name": "ci", "description": "tell CI", "enabled": true,
            "targets": [{"type": "http", "address": "https://ci.example/hook",
                "auth_header": "Bearer abc", "skip_cert_verify": false,
                "payload_format": "CloudEvents"}],
            "event_types": ["PUSH_ARTIFACT", "SCANNING_COMPLETED"]
        })
    );
    assert!(
        !format!("{:?}", webhook()).contains("Bearer abc"),
        "the auth header is a secret"
    );
}

#[test]
fn a_replication_policy_has_filters_and_a_trigger() {
    assert_eq!(
        to_json(&replication()),
        json!({
            "name": "mirror-hub", "enabled": true, "override": true,
            "src_registry": {"id": 3}, "dest_namespace": "mirror",
            "trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 0 * * * *"}},
            "filters": [
                {"type": "name", "value": "library/**"},
                {"type": "tag", "value": "v*", "decoration": "matches"},
                {"type": "label", "value": ["prod"], "decoration": "excludes"}
            ]
        })
    );
    let push =
        to_json(&ReplicationPolicy::push("dr", 4).trigger(ReplicationTrigger::event_based()));
    assert_eq!(push["dest_registry"], json!({"id": 4}));
    assert_eq!(push["trigger"], json!({"type": "event_based"}));
}

#[test]
fn a_retention_policy_has_its_rules_scope_and_schedule() {
    let body = to_json(&retention());
    assert_eq!(body["algorithm"], "or");
    assert_eq!(body["scope"], json!({"level": "project", "ref": 7}));
    assert_eq!(
        body["trigger"],
        json!({"kind": "Schedule", "settings": {"cron": "0 0 0 * * *"}, "references": {}})
    );
    assert_eq!(
        body["rules"][0],
        json!({
            "disabled": false, "action": "retain", "template": "latestPushedK",
            "params": {"latestPushedK": 10},
            "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**",
                "extras": "{\"untagged\":true}"}],
            "scope_selectors": {"repository": [{"kind": "doublestar",
                "decoration": "repoMatches", "pattern": "apps/**"}]}
        })
    );
    assert_eq!(body["rules"][1]["template"], "nDaysSinceLastPush");
    assert_eq!(
        body["rules"][1]["params"],
        json!({"nDaysSinceLastPush": 30})
    );
    assert_eq!(
        body["rules"][1]["tag_selectors"][0]["decoration"],
        "excludes"
    );
    assert_eq!(to_json(&RetentionRule::always())["params"], json!({}));
}

#[test]
fn an_immutable_rule_selects_repositories_and_tags() {
    assert_eq!(
        to_json(&immutable()),
        json!({
            "disabled": false, "action": "immutable", "template": "immutable_template",
            "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*",
                "extras": "{\"untagged\":true}"}],
            "scope_selectors": {"repository": [{"kind": "doublestar",
                "decoration": "repoMatches", "pattern": "apps/**"}]}
        })
    );
}

#[test]
fn a_scanner_registration_carries_its_auth_scheme_and_secret() {
    assert_eq!(
        to_json(&scanner()),
        json!({
            "name": "trivy", "url": "http://trivy-adapter:8080", "auth": "Bearer",
            "access_credential": "token", "use_internal_addr": true
        })
    );
    let basic = to_json(&ScannerRegistrationReq::new("s", "http://s").basic("u", "p"));
    assert_eq!(basic["auth"], "Basic");
    assert_eq!(basic["access_credential"], "u:p");
    let key = to_json(&ScannerRegistrationReq::new("s", "http://s").api_key("k"));
    assert_eq!(key["auth"], "X-ScannerAdapter-API-Key");
}

fn prism() -> Option<&'static Prism> {
    api_support::shared_prism()
}

fn client(prism: &Prism) -> HarborClient {
    api_support::admin_client(prism)
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn every_built_body_passes_prism_validation() {
    let Some(prism) = prism() else { return };
    let c = client(prism);
    c.create_project(&project(), &CreateProjectParams::default())
        .await
        .expect("project");
    c.create_robot(&robot()).await.expect("project robot");
    c.create_robot(&system_robot()).await.expect("system robot");
    c.create_webhook_policy("team", &webhook())
        .await
        .expect("webhook policy");
    c.create_replication_policy(&replication())
        .await
        .expect("replication policy");
    // Harbor's spec types a retention rule's `params` values as objects, but Harbor reads
    // them as JSON integers and refuses anything else ("latestPushedK type error",
    // src/pkg/retention/policy/rule/latestps/evaluator.go `Valid`); the builder writes what
    // Harbor reads, so Prism's one complaint here is that spec error and nothing else.
    let err = c.create_retention(&retention()).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400), "{err}");
    let mut spec_error = RetentionPolicy::for_project(7).rule(RetentionRule::latest_pushed(10));
    if let Some(rules) = spec_error.rules.as_mut() {
        for rule in rules {
            rule.params = Some([("latestPushedK".to_owned(), json!({}))].into());
        }
    }
    c.create_retention(&spec_error)
        .await
        .expect("everything else of the retention body passes");
    c.create_immutable_rule("team", &immutable())
        .await
        .expect("immutable rule");
    c.create_scanner(&scanner()).await.expect("scanner");
    let violations = prism.violations();
    assert!(
        violations
            .iter()
            .all(|v| v.contains("params.") && v.contains("must be object")),
        "{violations:?}"
    );
    assert_eq!(violations.len(), 2, "{violations:?}");
}
