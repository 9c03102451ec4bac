//! The Harbor 1.x client against fixtures shaped like Harbor 1.9/1.10 answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_support;

use futures_util::TryStreamExt as _;
use harbor_client::HarborClient;
use harbor_client::api::v1::{
    HarborV1Client, V1ListProjectsParams, V1WebhookPolicy, V1WebhookTarget,
};

use api_support::recorder::{Recorder, json, query_param};

fn v1(server: &Recorder) -> HarborV1Client {
    HarborClient::builder(format!("{}/api/v2.0", server.url))
        .credentials(harbor_client::transport::Credentials::basic(
            "admin",
            "Harbor12345",
        ))
        .build_v1()
        .unwrap()
}

#[tokio::test]
async fn the_api_root_is_slash_api() {
    let server = Recorder::start(|_, _| {
        json(
            200,
            r#"{"project_id":3,"name":"library","metadata":{"public":"true"}}"#,
        )
    })
    .await;
    let client = v1(&server);
    assert_eq!(client.api_root().path(), "/api");
    let p = client.get_project(3).await.unwrap();
    assert_eq!(p.metadata.unwrap()["public"], "true");
    assert_eq!(server.seen()[0].uri, "/api/projects/3");
}

#[tokio::test]
async fn repository_names_go_into_the_path_unencoded() {
    let fixture = include_str!("fixtures/api/v1_tags.json");
    let server = Recorder::start(move |_, _| json(200, fixture)).await;
    let tags = v1(&server).list_tags("library/team/nginx").await.unwrap();
    assert_eq!(tags[0].name.as_deref(), Some("1.17"));
    let overview = tags[0].scan_overview.as_ref().unwrap();
    assert_eq!(
        overview["severity"], 5,
        "1.9's Clair overview keeps its integer severity"
    );
    assert_eq!(
        server.seen()[0].uri,
        "/api/repositories/library/team/nginx/tags?detail=true"
    );
    // Invalid names never reach the server.
    assert!(v1(&server).list_tags("library/../etc").await.is_err());
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn tag_labels_scans_and_deletes_use_the_splat_routes() {
    let server = Recorder::start(|_, _| json(200, "")).await;
    let c = v1(&server);
    c.add_tag_label("library/app", "v1", 4).await.unwrap();
    c.remove_tag_label("library/app", "v1", 4).await.unwrap();
    c.scan_tag("library/app", "v1").await.unwrap();
    c.delete_tag("library/app", "v1").await.unwrap();
    let seen: Vec<String> = server
        .seen()
        .iter()
        .map(|s| format!("{} {}", s.method, s.uri))
        .collect();
    assert_eq!(
        seen,
        [
            "POST /api/repositories/library/app/tags/v1/labels",
            "DELETE /api/repositories/library/app/tags/v1/labels/4",
            "POST /api/repositories/library/app/tags/v1/scan",
            "DELETE /api/repositories/library/app/tags/v1",
        ]
    );
}

#[tokio::test]
async fn projects_page_with_total_count() {
    let server = Recorder::start(|s, _| {
        let page: usize = query_param(&s.uri, "page").unwrap().parse().unwrap();
        let body = match page {
            1 => format!(
                "[{}]",
                (0..100)
                    .map(|i| format!(r#"{{"project_id":{i}}}"#))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            _ => r#"[{"project_id":100}]"#.to_owned(),
        };
        let mut r = json(200, &body);
        r.headers_mut().insert("x-total-count", 101.into());
        r
    })
    .await;
    let all: Vec<_> = v1(&server)
        .list_projects_stream(&V1ListProjectsParams::default().public(true))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 101);
    assert_eq!(
        query_param(&server.seen()[0].uri, "public").as_deref(),
        Some("true")
    );
}

#[tokio::test]
async fn errors_sent_as_text_keep_their_message() {
    let server = Recorder::start(|_, _| {
        axum::http::Response::builder()
            .status(404)
            .header("content-type", "text/plain; charset=utf-8")
            .body(axum::body::Body::from(
                r#"{"code":404,"message":"project 9 not found"}"#,
            ))
            .unwrap()
    })
    .await;
    let err = v1(&server).get_project(9).await.unwrap_err();
    assert!(err.is_not_found());
    assert!(err.to_string().contains("project 9 not found"), "{err}");
}

#[tokio::test]
async fn webhook_policies_use_camel_case_events() {
    let server = Recorder::start(|s, _| {
        if s.method == "POST" {
            axum::http::Response::builder()
                .status(201)
                .header("location", "/api/projects/3/webhook/policies/5")
                .body(axum::body::Body::empty())
                .unwrap()
        } else {
            json(200, r#"[{"id":5,"name":"hook","project_id":3,"targets":[{"type":"http","address":"http://127.0.0.1:8080","auth_header":"Bearer x","skip_cert_verify":true}],"event_types":["pushImage","scanningCompleted"],"creator":"admin","enabled":true}]"#)
        }
    })
    .await;
    let c = v1(&server);
    let mut target = V1WebhookTarget::default();
    target.kind = Some("http".into());
    target.address = Some("http://127.0.0.1:8080".into());
    let mut policy = V1WebhookPolicy::default();
    policy.targets = Some(vec![target]);
    policy.event_types = Some(vec!["scanningCompleted".into()]);
    assert_eq!(
        c.create_webhook_policy(3, &policy).await.unwrap().id(),
        Some(5)
    );
    let list = c.list_webhook_policies(3).await.unwrap();
    assert_eq!(
        list[0].event_types.as_deref().unwrap(),
        ["pushImage", "scanningCompleted"]
    );
    assert_eq!(
        list[0].targets.as_ref().unwrap()[0].kind.as_deref(),
        Some("http")
    );
}
