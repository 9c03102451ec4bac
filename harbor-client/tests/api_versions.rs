//! Operations Harbor added after 2.2 are refused before sending to an older server, by the
//! version it reports in `GET /systeminfo`. A loopback server plays Harbor of several
//! versions (Prism answers `systeminfo` with a placeholder, so it cannot show this; the
//! contract of the `systeminfo` call itself is in `api_prism_contract.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_support;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Response;
use futures_util::TryStreamExt as _;
use harbor_client::Error;
use harbor_client::api::{
    GetPurgeHistoryParams, HarborClient, HarborVersion, ListArtifactsOfProjectParams,
    ListArtifactsParams, ListAuditLogExtsParams, ListProjectsParams, OPERATIONS, Query,
    RepositoryName, VersionCheck,
};

use api_support::recorder::{Recorder, json};

/// A Harbor whose `systeminfo` says what `version` holds (`None`: the field is absent, as
/// for an anonymous caller); every other path answers an empty list.
async fn harbor(version: Arc<Mutex<Option<String>>>) -> Recorder {
    Recorder::start(move |seen, _| {
        if seen.uri == "/api/v2.0/systeminfo" {
            return match version.lock().unwrap().clone() {
                Some(v) if v == "404" => json(404, r#"{"errors":[{"code":"NOT_FOUND"}]}"#),
                Some(v) => json(
                    200,
                    &format!(r#"{{"harbor_version":"{v}","auth_mode":"db_auth"}}"#),
                ),
                None => json(200, r#"{"auth_mode":"db_auth"}"#),
            };
        }
        Response::builder()
            .header("content-type", "application/json")
            .header("x-total-count", "0")
            .body(Body::from("[]"))
            .unwrap()
    })
    .await
}

fn said(v: &str) -> Arc<Mutex<Option<String>>> {
    Arc::new(Mutex::new(Some(v.to_owned())))
}

/// Asserts that `err` refused `operation`, which needs `since`, on a server at `server`.
fn assert_refused(err: &Error, operation: &str, since: (u32, u32, u32), server: (u32, u32, u32)) {
    let v = |(major, minor, patch)| HarborVersion::new(major, minor, patch);
    assert!(
        matches!(err, Error::UnsupportedByServer { operation: o, since: s, server: h }
            if *o == operation && *s == v(since) && *h == v(server)),
        "expected UnsupportedByServer for {operation}, got {err:?}"
    );
}

fn paths(server: &Recorder) -> Vec<String> {
    server
        .seen()
        .into_iter()
        .map(|s| s.uri.split('?').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_operation_newer_than_the_server_is_refused_before_sending() {
    let server = harbor(said("v2.5.1-6fa2b7ea")).await;
    let client = server.client();
    let err = client
        .list_purge_history(&GetPurgeHistoryParams::default())
        .await
        .unwrap_err();
    assert_refused(&err, "getPurgeHistory", (2, 6, 0), (2, 5, 1));
    assert!(!err.may_have_been_sent());
    assert_eq!(
        err.to_string(),
        "getPurgeHistory needs Harbor 2.6.0 or later; the server runs Harbor 2.5.1"
    );
    // The stream is refused the same way, and the version is asked once per client (clones too).
    let err = client.clone().get_permissions().await.unwrap_err();
    assert!(matches!(err, Error::UnsupportedByServer { .. }), "{err}");
    // An operation every checked Harbor has is sent without asking.
    client
        .list_projects(&ListProjectsParams::default())
        .await
        .unwrap();
    assert_eq!(
        paths(&server),
        ["/api/v2.0/systeminfo", "/api/v2.0/projects"],
        "nothing refused reached the server, and systeminfo was read once"
    );
    assert_eq!(
        client.server_version().await.unwrap(),
        Some(HarborVersion::new(2, 5, 1))
    );
}

/// The query strings the server was sent, for `path`.
fn queries(server: &Recorder, path: &str) -> Vec<String> {
    server
        .seen()
        .into_iter()
        .filter_map(|s| {
            let (p, q) = s.uri.split_once('?').unwrap_or((&s.uri, ""));
            (p == path).then(|| q.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_parameter_newer_than_the_server_is_refused_before_sending() {
    // `q` and `sort` came to listProjects in 2.3.0: Harbor 2.2 ignores them and lists every
    // project, which a tool deleting what matches must never get.
    let version = said("v2.2.4");
    let server = harbor(version.clone()).await;
    let client = server.client();
    let filtered = ListProjectsParams::default().q(Query::new().exact("name", "team"));
    let err = client.list_projects(&filtered).await.unwrap_err();
    assert_refused(&err, "listProjects with q", (2, 3, 0), (2, 2, 4));
    assert_eq!(
        err.to_string(),
        "listProjects with q needs Harbor 2.3.0 or later; the server runs Harbor 2.2.4"
    );
    let sorted = ListProjectsParams::default().sort("-creation_time");
    let err = client.list_projects(&sorted).await.unwrap_err();
    assert_refused(&err, "listProjects with sort", (2, 3, 0), (2, 2, 4));
    let streamed: Result<Vec<_>, _> = client.list_projects_stream(&filtered).try_collect().await;
    assert_refused(
        &streamed.unwrap_err(),
        "listProjects with q",
        (2, 3, 0),
        (2, 2, 4),
    );
    // The same operation without them is sent, and so are paging parameters, which every
    // stream sets.
    client
        .list_projects(&ListProjectsParams::default().page(2).page_size(5))
        .await
        .unwrap();
    assert_eq!(
        queries(&server, "/api/v2.0/projects"),
        ["page=2&page_size=5"]
    );
    // Another operation's later parameter: with_sbom_overview came to listArtifacts in 2.11.
    *version.lock().unwrap() = Some("v2.10.3".into());
    let sbom = ListArtifactsParams::default().with_sbom_overview(true);
    let app = RepositoryName::new("app").unwrap();
    let err = server
        .client()
        .list_artifacts("library", &app, &sbom)
        .await
        .unwrap_err();
    assert_refused(
        &err,
        "listArtifacts with with_sbom_overview",
        (2, 11, 0),
        (2, 10, 3),
    );
    let artifacts = "/api/v2.0/projects/library/repositories/app/artifacts";
    assert!(
        queries(&server, artifacts).is_empty(),
        "nothing refused was sent"
    );
    // A server new enough gets them.
    *version.lock().unwrap() = Some("v2.11.0".into());
    let client = server.client();
    client.list_artifacts("library", &app, &sbom).await.unwrap();
    assert_eq!(queries(&server, artifacts), ["with_sbom_overview=true"]);
    client.list_projects(&filtered).await.unwrap();
    assert_eq!(
        queries(&server, "/api/v2.0/projects")
            .last()
            .map(String::as_str),
        Some("q=name%3Dteam")
    );
}

#[tokio::test]
async fn patch_releases_count() {
    // listArtifactsOfProject arrived in 2.11.1.
    let version = said("v2.11.0-abc123");
    let server = harbor(version.clone()).await;
    let err = server
        .client()
        .list_artifacts_of_project("library", &ListArtifactsOfProjectParams::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedByServer { since, .. } if since == HarborVersion::new(2, 11, 1)),
        "{err}"
    );
    *version.lock().unwrap() = Some("v2.11.1-0b1f2c3d".into());
    // A new client reads the version again.
    server
        .client()
        .list_artifacts_of_project("library", &ListArtifactsOfProjectParams::default())
        .await
        .unwrap();
    assert_eq!(
        paths(&server).last().map(String::as_str),
        Some("/api/v2.0/projects/library/artifacts")
    );
}

#[tokio::test]
async fn a_server_new_enough_gets_the_call() {
    let server = harbor(said("v2.13.0")).await;
    server
        .client()
        .list_audit_log_exts(&ListAuditLogExtsParams::default())
        .await
        .unwrap();
    assert_eq!(
        paths(&server),
        ["/api/v2.0/systeminfo", "/api/v2.0/auditlog-exts"]
    );
}

#[tokio::test]
async fn a_server_that_hides_its_version_gets_the_call() {
    for hidden in [None, Some("dev".to_owned()), Some(String::new())] {
        let server = harbor(Arc::new(Mutex::new(hidden.clone()))).await;
        let client = server.client();
        client
            .list_purge_history(&GetPurgeHistoryParams::default())
            .await
            .unwrap_or_else(|e| panic!("{hidden:?}: {e}"));
        assert_eq!(client.server_version().await.unwrap(), None, "{hidden:?}");
        assert_eq!(
            paths(&server),
            ["/api/v2.0/systeminfo", "/api/v2.0/system/purgeaudit"],
            "{hidden:?}"
        );
    }
}

#[tokio::test]
async fn a_failed_systeminfo_is_not_cached() {
    let version = said("404");
    let server = harbor(version.clone()).await;
    let client = server.client();
    // Not knowing the version, the client sends and lets Harbor answer.
    client
        .list_purge_history(&GetPurgeHistoryParams::default())
        .await
        .unwrap();
    assert!(client.server_version().await.unwrap_err().is_not_found());
    *version.lock().unwrap() = Some("v2.5.0".into());
    let err = client
        .list_purge_history(&GetPurgeHistoryParams::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedByServer { .. }), "{err}");
}

#[tokio::test]
async fn the_check_can_be_given_a_version_or_turned_off() {
    let server = harbor(said("v2.15.0")).await;
    let assumed = HarborClient::builder(&server.url)
        .version_check(VersionCheck::Assume(HarborVersion::new(2, 5, 0)))
        .build()
        .unwrap();
    let err = assumed.get_permissions().await.unwrap_err();
    assert!(matches!(err, Error::UnsupportedByServer { .. }), "{err}");
    assert!(
        server.seen().is_empty(),
        "Assume asks nothing, sends nothing"
    );

    let off = HarborClient::builder(&server.url)
        .version_check(VersionCheck::Off)
        .build()
        .unwrap();
    off.list_purge_history(&GetPurgeHistoryParams::default())
        .await
        .unwrap();
    assert_eq!(paths(&server), ["/api/v2.0/system/purgeaudit"]);
}

#[tokio::test]
async fn the_robot_v1_api_is_refused_from_harbor_2_13_on_before_sending() {
    use futures_util::StreamExt as _;
    use harbor_client::api::models::{Robot, RobotCreateV1};

    let server = harbor(said("v2.13.0-1a2b3c4d")).await;
    let client = server.client();
    let refused = [
        client.list_project_robots_v1("team", 1, 10).await.err(),
        client
            .list_project_robots_v1_stream("team")
            .next()
            .await
            .and_then(Result::err),
        client
            .create_project_robot_v1("team", &RobotCreateV1::default())
            .await
            .err(),
        client.get_project_robot_v1("team", 3).await.err(),
        client
            .update_project_robot_v1("team", 3, &Robot::default())
            .await
            .err(),
        client.delete_project_robot_v1("team", 3).await.err(),
    ];
    let operations: Vec<&str> = refused
        .iter()
        .map(|e| match e {
            Some(Error::RemovedFromServer {
                operation,
                removed_in,
                server,
            }) => {
                assert_eq!(*removed_in, HarborVersion::new(2, 13, 0));
                assert_eq!(*server, HarborVersion::new(2, 13, 0));
                *operation
            }
            other => panic!("expected RemovedFromServer, got {other:?}"),
        })
        .collect();
    assert_eq!(
        operations,
        [
            "ListRobotV1",
            "ListRobotV1",
            "CreateRobotV1",
            "GetRobotByIDV1",
            "UpdateRobotV1",
            "DeleteRobotV1"
        ]
    );
    assert_eq!(
        refused[0].as_ref().unwrap().to_string(),
        "ListRobotV1 was removed in Harbor 2.13.0; the server runs Harbor 2.13.0"
    );
    assert_eq!(
        paths(&server),
        ["/api/v2.0/systeminfo"],
        "nothing refused reached the server"
    );

    // Harbor 2.12 still has it.
    let server = harbor(said("v2.12.3")).await;
    let page = server
        .client()
        .list_project_robots_v1("team", 1, 10)
        .await
        .unwrap();
    assert!(page.items.is_empty());
    assert_eq!(
        paths(&server),
        ["/api/v2.0/systeminfo", "/api/v2.0/projects/team/robots"]
    );
}

#[test]
fn every_gated_method_checks_before_sending() {
    api_support::on_a_roomy_stack(call_every_method_on_harbor_2_2);
}

async fn call_every_method_on_harbor_2_2() {
    let server = harbor(said("v2.2.0")).await;
    let results = api_support::calls::call_all(&server.client()).await;
    let mut gated = 0;
    for (op, err) in &results {
        let row = OPERATIONS.iter().find(|r| r.operation_id == *op).unwrap();
        if row.since > HarborVersion::BASELINE {
            gated += 1;
            assert!(
                matches!(err, Some(Error::UnsupportedByServer { since, .. }) if *since == row.since),
                "{op} (since {}) was not refused: {err:?}",
                row.since
            );
        }
    }
    assert_eq!(
        gated, 37,
        "operations Harbor added after 2.2.0 (codegen/data/since.yaml)"
    );
    // Every other operation was sent once, plus one systeminfo for the version.
    assert_eq!(server.seen().len(), results.len() - gated + 1);
}

#[cfg(feature = "blocking")]
#[tokio::test]
async fn the_blocking_client_is_checked_too() {
    let server = harbor(said("v2.8.0")).await;
    let client = server.client();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let blocking = harbor_client::api::blocking::HarborClient::new(client).unwrap();
        let result = (
            blocking.server_version(),
            blocking.get_permissions().map(|_| ()),
        );
        let _ = tx.send(result);
        drop(blocking);
    });
    let (version, call) = rx.await.unwrap();
    assert_eq!(version.unwrap(), Some(HarborVersion::new(2, 8, 0)));
    assert!(matches!(call, Err(Error::UnsupportedByServer { .. })));
}
