//! One `Severity` for the API and the webhooks, and it fails closed: a severity this client
//! does not recognise, or one Harbor leaves out, ranks above `Critical`, as Harbor ranks it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use harbor_client::api::models::{DangerousCVE, VulnerabilityItem};
use harbor_client::api::{Severity, VulnerabilityReport};

/// The type the webhooks use (`harbor_events::Severity` is this type too).
fn shared(s: &harbor_types::Severity) -> &harbor_types::Severity {
    s
}

#[test]
fn the_security_hub_fields_are_typed_severities() {
    let cve: DangerousCVE =
        serde_json::from_str(r#"{"cve_id":"CVE-2024-1","severity":"High"}"#).unwrap();
    assert_eq!(shared(cve.severity.as_ref().unwrap()), &Severity::High);

    let item: VulnerabilityItem =
        serde_json::from_str(r#"{"cve_id":"CVE-2024-2","severity":"critical"}"#).unwrap();
    assert_eq!(item.severity, Some(Severity::Critical));
    // Written back as Harbor writes it.
    let json = serde_json::to_value(&item).unwrap();
    assert_eq!(json["severity"], "Critical");
}

#[test]
fn an_unrecognised_severity_ranks_as_the_strictest() {
    let item: VulnerabilityItem =
        serde_json::from_str(r#"{"cve_id":"CVE-2024-3","severity":"Catastrophic"}"#).unwrap();
    let severity = item.severity.unwrap();
    assert_eq!(severity, Severity::Other("Catastrophic".into()));
    assert!(severity.is_at_least(&Severity::Critical));
    assert!(severity > Severity::Critical);
    // Kept as sent.
    assert_eq!(
        serde_json::to_value(&severity).unwrap(),
        serde_json::json!("Catastrophic")
    );
}

#[test]
fn a_gate_on_a_report_blocks_unknown_and_missing_severities() {
    let report: VulnerabilityReport = serde_json::from_str(
        r#"{"severity":"Catastrophic","vulnerabilities":[
            {"id":"CVE-1","package":"a","version":"1","severity":"Low"},
            {"id":"CVE-2","package":"b","version":"1","severity":"Catastrophic"},
            {"id":"CVE-3","package":"c","version":"1"}
        ]}"#,
    )
    .unwrap();
    assert!(report.severity.is_at_least(&Severity::Critical));
    // The unknown one and the one without a severity count as critical, the low one does not.
    assert_eq!(report.count_at_least(&Severity::Critical), 2);
    assert_eq!(report.count_at_least(&Severity::Low), 3);

    let unstated: VulnerabilityReport = serde_json::from_str("{}").unwrap();
    assert!(unstated.severity.is_at_least(&Severity::Critical));
}
