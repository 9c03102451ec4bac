//! Robot accounts v1 (`/projects/{p}/robots`, Harbor 2.2 to 2.12) against a loopback server
//! playing Harbor 2.12: the spec of later Harbor releases, which Prism serves, no longer has
//! these paths (a server from 2.13 on is refused before sending: `api_versions.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_support;

use futures_util::TryStreamExt as _;
use harbor_client::api::models::{Access, PermissionAction, PermissionResource, RobotCreateV1};
use harbor_client::api::{HarborClient, HarborVersion, VersionCheck};

use api_support::recorder::{Recorder, json, query_param};

/// A client of `server`, taken for Harbor 2.12 (the last release with the v1 robots).
fn client(server: &Recorder) -> HarborClient {
    HarborClient::builder(&server.url)
        .credentials(harbor_client::transport::Credentials::basic(
            "admin",
            "Harbor12345",
        ))
        .version_check(VersionCheck::Assume(HarborVersion::new(2, 12, 0)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_v1_robot_is_created_in_its_project_and_its_secret_kept_secret() {
    let server = Recorder::start(|s, _| match s.method.as_str() {
        "POST" => json(
            201,
            r#"{"id":5,"name":"robot$team+ci","secret":"TOPSECRET","expires_at":-1}"#,
        ),
        _ => json(
            404,
            r#"{"errors":[{"code":"NOT_FOUND","message":"no robot"}]}"#,
        ),
    })
    .await;
    let mut access = Access::default();
    access.resource = Some(PermissionResource::Other("/project/1/repository".into()));
    access.action = Some(PermissionAction::Push);
    let mut body = RobotCreateV1::default();
    body.name = Some("ci".into());
    body.access = Some(vec![access]);
    let client = client(&server);
    let created = client.create_project_robot_v1("team", &body).await.unwrap();
    assert_eq!(created.name.as_deref(), Some("robot$team+ci"));
    assert!(!format!("{created:?}").contains("TOPSECRET"));
    let err = client.get_project_robot_v1("team", 5).await.unwrap_err();
    assert!(err.is_not_found());
    assert!(
        err.to_string()
            .contains("robot `5` of project `team` not found"),
        "{err}"
    );

    let seen = server.seen();
    assert_eq!(seen[0].uri, "/api/v2.0/projects/team/robots");
    assert_eq!(seen[0].headers["x-is-resource-name"], "true");
    assert_eq!(seen[1].uri, "/api/v2.0/projects/team/robots/5");
}

#[tokio::test]
async fn every_v1_robot_of_a_project_over_all_pages() {
    let server = Recorder::start(|s, _| {
        let page: usize = query_param(&s.uri, "page").unwrap().parse().unwrap();
        let items: Vec<String> = (0..if page == 1 { 100 } else { 3 })
            .map(|i| format!(r#"{{"id":{},"name":"robot$team+r{i}"}}"#, page * 1000 + i))
            .collect();
        let mut r = json(200, &format!("[{}]", items.join(",")));
        r.headers_mut()
            .insert("x-total-count", "103".parse().unwrap());
        r
    })
    .await;
    let all: Vec<_> = client(&server)
        .list_project_robots_v1_stream(7)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 103);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].uri.starts_with("/api/v2.0/projects/7/robots?"));
    assert!(!seen[0].headers.contains_key("x-is-resource-name"));
}
