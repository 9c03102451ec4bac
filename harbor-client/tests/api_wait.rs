//! Waiting for Harbor's jobs against a loopback server that plays polling sequences (a job
//! that runs, then ends; one that never ends; one that vanishes), which Prism cannot: it
//! answers every poll with the same example. Prism checks the requests' shapes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_support;

use std::time::Duration;

use axum::body::Body;
use axum::http::Response;
use harbor_client::Error;
use harbor_client::api::models::{JobStatus, ReplicationStatus, ScanDataExportRequest};
use harbor_client::api::{HarborClient, Reference, RepositoryName, ScanOutcome, WaitPolicy};

use api_support::Prism;
use api_support::recorder::{Recorder, Seen, json};

fn fast() -> WaitPolicy {
    WaitPolicy::default()
        .interval(Duration::from_millis(5), Duration::from_millis(20))
        .deadline(Duration::from_secs(10))
}

fn created(location: &str) -> Response<Body> {
    Response::builder()
        .status(201)
        .header("location", location)
        .body(Body::empty())
        .unwrap()
}

fn polls(seen: &[Seen], path: &str) -> usize {
    seen.iter()
        .filter(|s| s.method == "GET" && s.uri.split('?').next() == Some(path))
        .count()
}

#[tokio::test]
async fn a_replication_is_polled_until_it_ends() {
    let server = Recorder::start(|s, n| match (s.method.as_str(), s.uri.as_str()) {
        ("POST", "/api/v2.0/replication/executions") => {
            created("/api/v2.0/replication/executions/42")
        }
        ("GET", "/api/v2.0/replication/executions/42") => {
            let status = if n < 4 { "InProgress" } else { "Succeed" };
            json(
                200,
                &format!(r#"{{"id":42,"status":"{status}","total":3,"succeed":3}}"#),
            )
        }
        _ => json(404, "{}"),
    })
    .await;
    let done = server
        .client()
        .start_replication_and_wait(7, fast())
        .await
        .unwrap();
    assert_eq!(done.status, Some(ReplicationStatus::Succeed));
    assert_eq!(done.succeed, Some(3));
    let seen = server.seen();
    assert_eq!(polls(&seen, "/api/v2.0/replication/executions/42"), 3);
    assert_eq!(
        seen.len(),
        4,
        "one start, three polls, nothing after the end"
    );
}

#[tokio::test]
async fn a_job_that_never_ends_times_out_with_its_last_status() {
    let server = Recorder::start(|s, _| match s.method.as_str() {
        "POST" => created("/api/v2.0/system/gc/9"),
        _ => json(200, r#"{"id":9,"job_status":"Running"}"#),
    })
    .await;
    let started = std::time::Instant::now();
    let err = server
        .client()
        .run_gc_and_wait(true, fast().deadline(Duration::from_millis(200)))
        .await
        .unwrap_err();
    let took = started.elapsed();
    match &err {
        Error::WaitTimedOut {
            what, last_status, ..
        } => {
            assert_eq!(what, "GC job 9");
            assert_eq!(last_status, "Running");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_timeout());
    assert!(err.to_string().contains("still Running"), "{err}");
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(
        took < Duration::from_secs(5),
        "the deadline bounds the wait: {took:?}"
    );
    // Backoff: far fewer polls than 200 ms / 5 ms.
    let n = polls(&server.seen(), "/api/v2.0/system/gc/9");
    assert!((3..=20).contains(&n), "{n} polls");
}

#[tokio::test]
async fn a_failed_poll_ends_the_wait_with_that_error() {
    let server = Recorder::start(|s, _| match s.method.as_str() {
        "POST" => created("/api/v2.0/replication/executions/5"),
        _ => json(404, r#"{"errors":[{"code":"NOT_FOUND","message":"gone"}]}"#),
    })
    .await;
    let err = server
        .client()
        .start_replication_and_wait(1, fast())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.resource(), Some("replication execution `5`"));
}

#[tokio::test]
async fn a_start_without_an_id_is_a_protocol_error_not_a_hang() {
    let server = Recorder::start(|_, _| created("/api/v2.0/system/gc/")).await;
    let err = server
        .client()
        .run_gc_and_wait(false, fast())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
}

#[tokio::test]
async fn a_gc_run_sends_a_manual_schedule_and_returns_the_final_job() {
    let server = Recorder::start(|s, n| match s.method.as_str() {
        "POST" => created("/api/v2.0/system/gc/3"),
        _ if n < 3 => json(200, r#"{"id":3,"job_status":"Pending"}"#),
        _ => json(200, r#"{"id":3,"job_status":"Error"}"#),
    })
    .await;
    let gc = server.client().run_gc_and_wait(true, fast()).await.unwrap();
    assert_eq!(
        gc.job_status,
        Some(JobStatus::Error),
        "a failed job is a result"
    );
}

#[tokio::test]
async fn a_retention_run_is_found_among_the_executions() {
    let server = Recorder::start(|s, n| match s.method.as_str() {
        "POST" => {
            let mut r = json(200, "");
            r.headers_mut().insert(
                "location",
                "/api/v2.0/retentions/4/executions/11".parse().unwrap(),
            );
            r
        }
        // Not listed at first, then running, then done; another execution around it.
        _ if n == 2 => json(200, r#"[{"id":10,"status":"Success"}]"#),
        _ if n == 3 => json(
            200,
            r#"[{"id":11,"status":"Running"},{"id":10,"status":"Success"}]"#,
        ),
        _ => json(
            200,
            r#"[{"id":11,"status":"Success","dry_run":true},{"id":10,"status":"Success"}]"#,
        ),
    })
    .await;
    let run = server
        .client()
        .run_retention_and_wait(4, true, fast())
        .await
        .unwrap();
    assert_eq!(run.id, Some(11));
    assert_eq!(run.status, Some(JobStatus::Success));
    assert_eq!(run.dry_run, Some(true));
    assert_eq!(
        polls(&server.seen(), "/api/v2.0/retentions/4/executions"),
        3
    );
}

#[tokio::test]
async fn a_cve_export_is_polled_by_its_execution_id() {
    let server = Recorder::start(|s, n| match (s.method.as_str(), s.uri.as_str()) {
        (_, "/api/v2.0/systeminfo") => json(200, r#"{"harbor_version":"v2.11.0"}"#),
        ("POST", _) => json(200, r#"{"id":77}"#),
        _ if n < 4 => json(200, r#"{"id":77,"status":"Running"}"#),
        _ => json(200, r#"{"id":77,"status":"Success","file_present":true}"#),
    })
    .await;
    let done = server
        .client()
        .export_scan_data_and_wait(
            "application/vnd.security.vulnerability.report; version=1.1",
            &ScanDataExportRequest::default(),
            fast(),
        )
        .await
        .unwrap();
    assert_eq!(done.status, Some(JobStatus::Success));
    assert_eq!(done.file_present, Some(true));
    assert_eq!(
        polls(&server.seen(), "/api/v2.0/export/cve/execution/77"),
        2
    );
}

#[tokio::test]
async fn a_scan_waits_for_the_overview_to_end() {
    let server = Recorder::start(|s, n| {
        let path = s.uri.split('?').next().unwrap_or_default();
        match (s.method.as_str(), path) {
            ("POST", _) => json(202, ""),
            // Not scanned yet, then running, then done.
            _ if n == 2 => json(200, r#"{"id":1}"#),
            _ if n == 3 => json(200, &scanned("Running", None)),
            _ => json(200, &scanned("Success", Some("High"))),
        }
    })
    .await;
    let outcome = scan_team_app_v1(&server.client(), fast()).await.unwrap();
    assert_eq!(outcome.status, JobStatus::Success);
    assert_eq!(
        outcome.summary.severity,
        Some(harbor_client::api::Severity::High)
    );
    let seen = server.seen();
    assert_eq!(seen[0].method, "POST");
    assert!(
        seen[0].uri.ends_with("/artifacts/v1/scan"),
        "{}",
        seen[0].uri
    );
    assert!(
        seen[1].uri.contains("with_scan_overview=true"),
        "{}",
        seen[1].uri
    );
    assert_eq!(seen.len(), 4, "scan, three polls");
}

/// Right after a push to a project with `auto_scan`, Harbor refuses a second scan with 409
/// ("a previous scan process is Running"); the wait follows the scan already running.
#[tokio::test]
async fn a_scan_already_running_is_awaited_not_an_error() {
    let server = Recorder::start(|s, n| match s.method.as_str() {
        "POST" => json(
            409,
            r#"{"errors":[{"code":"CONFLICT","message":"a previous scan process is Running"}]}"#,
        ),
        _ if n < 4 => json(200, &scanned("Running", None)),
        _ => json(200, &scanned("Success", Some("Low"))),
    })
    .await;
    let outcome = scan_team_app_v1(&server.client(), fast()).await.unwrap();
    assert_eq!(outcome.status, JobStatus::Success);
    assert_eq!(
        outcome.summary.severity,
        Some(harbor_client::api::Severity::Low)
    );
    let seen = server.seen();
    assert_eq!(
        seen.iter().filter(|s| s.method == "POST").count(),
        1,
        "the refused scan is not retried"
    );
    assert_eq!(seen.len(), 4, "one refused scan, three polls");
}

/// Any other refusal of the scan still ends the wait.
#[tokio::test]
async fn a_refused_scan_other_than_a_conflict_is_an_error() {
    let server = Recorder::start(|_, _| {
        json(
            403,
            r#"{"errors":[{"code":"FORBIDDEN","message":"forbidden"}]}"#,
        )
    })
    .await;
    let err = scan_team_app_v1(&server.client(), fast())
        .await
        .unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");
    assert_eq!(server.seen().len(), 1);
}

fn prism() -> Option<&'static Prism> {
    api_support::shared_prism()
}

/// Every request the waits send passes Prism's validation and every answer decodes; Prism
/// answers each poll with the spec's example status, so the waits end or time out.
#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn the_waits_send_what_the_spec_describes() {
    let Some(prism) = prism() else { return };
    let client = api_support::admin_client(prism);
    let quick = fast().deadline(Duration::from_millis(50));
    let ok_or_timeout = |r: Result<(), Error>, what: &str| match r {
        Ok(()) => {}
        Err(e @ Error::WaitTimedOut { .. }) => {
            let _ = e;
        }
        Err(Error::Protocol { message }) if message.contains("did not say") => {
            // Prism sends no `Location` for the created job.
        }
        Err(e) => panic!("{what}: {e:?}"),
    };
    ok_or_timeout(scan_team_app_v1(&client, quick).await.map(drop), "scan");
    ok_or_timeout(
        client.start_replication_and_wait(1, quick).await.map(drop),
        "replication",
    );
    // The spec types schedule `parameters` values as objects; Harbor's GC handler reads
    // `delete_untagged` as a boolean (src/jobservice/job/impl/gc, `parseParams`), as its UI
    // sends them. Prism refuses exactly that and nothing else.
    let err = client.run_gc_and_wait(true, quick).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400), "{err}");
    ok_or_timeout(
        client
            .run_retention_and_wait(1, true, quick)
            .await
            .map(drop),
        "retention",
    );
    ok_or_timeout(
        client
            .export_scan_data_and_wait(
                "application/vnd.security.vulnerability.report; version=1.1",
                &ScanDataExportRequest::default(),
                quick,
            )
            .await
            .map(drop),
        "cve export",
    );
    let violations = prism.violations();
    assert!(
        violations
            .iter()
            .all(|v| v.contains("request.body.parameters.") && v.contains("must be object")),
        "{violations:?}"
    );
    let requests = prism.requests();
    for want in [
        "POST /projects/team/repositories/app/artifacts/v1/scan",
        "POST /replication/executions",
        "POST /system/gc/schedule",
        "POST /retentions/1/executions",
        "POST /export/cve",
    ] {
        assert!(requests.iter().any(|r| r == want), "{want} in {requests:?}");
    }
}

/// Scans `team/app:v1` and waits for the scan, as every scan test here does.
async fn scan_team_app_v1(client: &HarborClient, policy: WaitPolicy) -> Result<ScanOutcome, Error> {
    let repo: RepositoryName = "app".parse().unwrap();
    client
        .scan_artifact_and_wait("team", &repo, &Reference::tag("v1").unwrap(), policy)
        .await
}

/// An artifact whose scan overview (report v1.1) has `status` and, if given, `severity`.
fn scanned(status: &str, severity: Option<&str>) -> String {
    const MIME: &str = "application/vnd.security.vulnerability.report; version=1.1";
    let severity = severity.map_or_else(String::new, |s| format!(r#","severity":"{s}""#));
    format!(r#"{{"id":1,"scan_overview":{{"{MIME}":{{"scan_status":"{status}"{severity}}}}}}}"#)
}
