//! What the client puts on the wire and how it reads Harbor's answers, against a local
//! recording server: double-encoded repository names, `X-Is-Resource-Name`, request ids,
//! the `q` escaping, paging, error envelopes, retries, no cookies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_support;

use axum::body::Body;
use axum::http::Response;
use futures_util::TryStreamExt as _;
use harbor_client::Error;
use harbor_client::api::{ListProjectsParams, ListRobotParams, Query, Reference, RepositoryName};

use api_support::recorder::{Recorder, json, query_param};

#[tokio::test]
async fn repository_names_are_encoded_twice_and_the_api_path_is_added() {
    let server = Recorder::start(|_, _| json(200, r#"{"id":1,"name":"library/team/app"}"#)).await;
    let repo: RepositoryName = "team/app".parse().unwrap();
    let got = server
        .client()
        .get_repository("library", &repo)
        .await
        .unwrap();
    assert_eq!(got.name.as_deref(), Some("library/team/app"));
    let seen = server.seen();
    assert_eq!(
        seen[0].uri,
        "/api/v2.0/projects/library/repositories/team%252Fapp"
    );
}

#[tokio::test]
async fn project_names_are_marked_as_names_and_ids_are_not() {
    let server = Recorder::start(|_, _| json(200, r#"{"project_id":123,"name":"123"}"#)).await;
    let client = server.client();
    client.get_project("123").await.unwrap();
    client.get_project(123).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen[0].uri, "/api/v2.0/projects/123");
    assert_eq!(seen[0].headers["x-is-resource-name"], "true");
    assert_eq!(seen[1].uri, "/api/v2.0/projects/123");
    assert!(!seen[1].headers.contains_key("x-is-resource-name"));
}

#[tokio::test]
async fn every_request_has_a_request_id_and_errors_keep_harbors_envelope() {
    let server = Recorder::start(|seen, _| {
        let mut r = json(
            404,
            r#"{"errors":[{"code":"NOT_FOUND","message":"project nope not found"}]}"#,
        );
        let id = seen.headers["x-request-id"].clone();
        r.headers_mut().insert("x-request-id", id);
        r
    })
    .await;
    let err = server.client().get_project("nope").await.unwrap_err();
    let sent = server.seen()[0].headers["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!sent.is_empty());
    assert!(err.is_not_found());
    assert_eq!(err.request_id(), Some(sent.as_str()));
    let text = err.to_string();
    assert!(
        text.contains("NOT_FOUND") && text.contains("project nope not found"),
        "{text}"
    );
    assert!(!text.contains("Harbor12345"), "no secret in errors: {text}");
}

#[tokio::test]
async fn text_errors_and_undeclared_statuses_are_errors_not_panics() {
    let server = Recorder::start(|_, n| {
        if n == 1 {
            Response::builder()
                .status(418)
                .header("content-type", "text/plain")
                .body(Body::from("I'm a teapot"))
                .unwrap()
        } else {
            Response::builder().status(204).body(Body::empty()).unwrap()
        }
    })
    .await;
    let client = server.client();
    let err = client.get_health().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(418));
    assert!(err.to_string().contains("teapot"), "{err}");
    // An empty 204 where the spec promises a JSON body is a decode error, not a panic.
    let err = client.get_health().await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err}");
}

#[tokio::test]
async fn malformed_models_name_the_json_path() {
    let server = Recorder::start(|_, _| json(200, r#"[{"name":"ok"},{"name":5}]"#)).await;
    let err = server
        .client()
        .list_projects(&Default::default())
        .await
        .unwrap_err();
    match &err {
        Error::Decode { path, .. } => assert_eq!(path, "[1].name"),
        other => panic!("expected a decode error, got {other}"),
    }
}

#[tokio::test]
async fn streams_read_every_page_at_the_maximum_page_size() {
    const TOTAL: usize = 250;
    let server = Recorder::start(|seen, _| {
        let page: usize = query_param(&seen.uri, "page").unwrap().parse().unwrap();
        let size: usize = query_param(&seen.uri, "page_size")
            .unwrap()
            .parse()
            .unwrap();
        let items: Vec<String> = ((page - 1) * size..(page * size).min(TOTAL))
            .map(|i| format!(r#"{{"project_id":{i},"name":"p{i}"}}"#))
            .collect();
        let mut r = json(200, &format!("[{}]", items.join(",")));
        r.headers_mut().insert("x-total-count", TOTAL.into());
        r
    })
    .await;
    let all: Vec<_> = server
        .client()
        .list_projects_stream(&ListProjectsParams::default().page_size(5))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), TOTAL);
    assert_eq!(all[249].name.as_deref(), Some("p249"));
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "250 items in pages of 100");
    assert!(
        seen.iter()
            .all(|s| query_param(&s.uri, "page_size").as_deref() == Some("100"))
    );
}

#[tokio::test]
async fn a_stream_whose_link_does_not_advance_stops_with_a_protocol_error() {
    // A full page, no X-Total-Count, and always the same `Link` (a server that ignores `page`).
    let server = Recorder::start(|_, _| {
        let items: Vec<String> = (0..100)
            .map(|i| format!(r#"{{"project_id":{i},"name":"p{i}"}}"#))
            .collect();
        let mut r = json(200, &format!("[{}]", items.join(",")));
        r.headers_mut().insert(
            "link",
            r#"</api/v2.0/projects?page=2&page_size=100>; rel="next""#
                .parse()
                .unwrap(),
        );
        r
    })
    .await;
    let listed = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        server
            .client()
            .list_projects_stream(&ListProjectsParams::default())
            .try_collect::<Vec<_>>(),
    )
    .await
    .expect("the stream went on for 30 s");
    let e = listed.unwrap_err();
    assert!(matches!(e, Error::Protocol { .. }), "{e}");
    assert_eq!(server.seen().len(), 2, "page 2 names page 2 again: stop");
}

#[tokio::test]
async fn one_page_keeps_total_and_next_link() {
    let server = Recorder::start(|_, _| {
        let mut r = json(200, r#"[{"name":"a"}]"#);
        r.headers_mut().insert("x-total-count", 31.into());
        r.headers_mut().insert(
            "link",
            r#"</api/v2.0/projects?page=1&page_size=1>; rel="prev" , </api/v2.0/projects?page=3&page_size=1>; rel="next""#
                .parse()
                .unwrap(),
        );
        r
    })
    .await;
    let page = server
        .client()
        .list_projects(&ListProjectsParams::default().page(2).page_size(1))
        .await
        .unwrap();
    assert_eq!(page.total, Some(31));
    assert_eq!(
        page.next.as_deref(),
        Some("/api/v2.0/projects?page=3&page_size=1")
    );
    assert!(page.has_next());
}

#[tokio::test]
async fn q_is_escaped_for_harbors_second_unescape() {
    let server = Recorder::start(|_, _| json(200, "[]")).await;
    let q = Query::new()
        .exact("name", "robot$proj+bot")
        .any_of("level", ["system", "project"]);
    server
        .client()
        .list_robots(&ListRobotParams::default().q(q))
        .await
        .unwrap();
    let uri = &server.seen()[0].uri;
    // After the normal query decoding Harbor sees `%2B`, which its extra unescape turns
    // into the `+` we meant.
    assert_eq!(
        query_param(uri, "q").as_deref(),
        Some("name=robot$proj%2Bbot,level={system project}")
    );
    let err = server
        .client()
        .list_robots(&ListRobotParams::default().q(Query::new().exact("name", "a,b")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert_eq!(server.seen().len(), 1, "an invalid query is never sent");
}

/// With `X-Resource-Name-In-Location: true` Harbor ends `Location` with the project's name,
/// `CopyArtifact` with the copied reference, preheat policies and instances with their names:
/// names that read as numbers are no ids.
#[tokio::test]
async fn a_name_or_reference_in_location_is_not_taken_for_an_id() {
    let server = Recorder::start(|s, _| {
        let location = if s.uri.contains("/artifacts") {
            "/api/v2.0/projects/team/repositories/app/artifacts/2024"
        } else {
            "/api/v2.0/projects/2024"
        };
        Response::builder()
            .status(201)
            .header("location", location)
            .body(Body::empty())
            .unwrap()
    })
    .await;
    let client = server.client();
    let mut project = harbor_client::api::models::ProjectReq::default();
    project.project_name = Some("2024".into());
    let by_name = client
        .create_project(
            &project,
            &harbor_client::api::CreateProjectParams::default().resource_name_in_location(true),
        )
        .await
        .unwrap();
    assert_eq!(by_name.id(), None, "2024 is the project's name");
    assert_eq!(by_name.last_segment().as_deref(), Some("2024"));
    let by_id = client
        .create_project(
            &project,
            &harbor_client::api::CreateProjectParams::default(),
        )
        .await
        .unwrap();
    assert_eq!(by_id.id(), Some(2024), "without the header it is the id");
    let repo: RepositoryName = "app".parse().unwrap();
    let from = harbor_client::api::ArtifactLocation::new(
        "library",
        "app".parse().unwrap(),
        Reference::tag("2024").unwrap(),
    );
    let copied = client.copy_artifact("team", &repo, &from).await.unwrap();
    assert_eq!(copied.id(), None, "2024 is the copied tag");
    assert_eq!(copied.last_segment().as_deref(), Some("2024"));
    // Preheat policies and instances are named in their `Location` too.
    let policy = client
        .create_preheat_policy(
            "team",
            &harbor_client::api::models::PreheatPolicy::default(),
        )
        .await
        .unwrap();
    assert_eq!(policy.id(), None, "2024 is the policy's name");
    let instance = client
        .create_preheat_instance(&harbor_client::api::models::Instance::default())
        .await
        .unwrap();
    assert_eq!(instance.id(), None, "2024 is the instance's name");
    let seen = server.seen();
    assert_eq!(seen[0].headers["x-resource-name-in-location"], "true");
}

#[tokio::test]
async fn created_resources_return_their_id() {
    let server = Recorder::start(|_, _| {
        Response::builder()
            .status(201)
            .header("location", "/api/v2.0/labels/7")
            .body(Body::empty())
            .unwrap()
    })
    .await;
    let mut label = harbor_client::api::models::Label::default();
    label.name = Some("vulnerable".into());
    label.scope = Some("g".into());
    let created = server.client().create_label(&label).await.unwrap();
    assert_eq!(created.id(), Some(7));
    let seen = server.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].headers["content-type"], "application/json");
}

#[tokio::test]
async fn basic_auth_is_sent_up_front_and_cookies_are_never_returned() {
    let server = Recorder::start(|_, _| {
        let mut r = json(200, r#"{"harbor_version":"v2.11.0"}"#);
        r.headers_mut().insert(
            "set-cookie",
            "sid=abc123; Path=/; HttpOnly".parse().unwrap(),
        );
        r
    })
    .await;
    let client = server.client();
    client.get_system_info().await.unwrap();
    client.get_system_info().await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        let auth = s.headers["authorization"].to_str().unwrap();
        assert!(auth.starts_with("Basic "), "{auth}");
        assert!(
            !s.headers.contains_key("cookie"),
            "the sid cookie must not come back"
        );
    }
}

#[tokio::test]
async fn idempotent_calls_are_retried_and_posts_are_not() {
    let server =
        Recorder::start(|_, _| Response::builder().status(503).body(Body::empty()).unwrap()).await;
    let client = server.client();
    assert!(client.ping().await.is_err(), "503 every time");
    let gets = server.seen().len();
    assert_eq!(gets, 4, "one try and three retries");
    let err = client
        .scan_artifact(
            "library",
            &"app".parse().unwrap(),
            &"v1".parse().unwrap(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(server.seen().len(), gets + 1, "POST is never retried");
}

#[tokio::test]
async fn head_answers_existence() {
    let server = Recorder::start(|seen, _| {
        let status = if seen.uri.contains("project_name=there") {
            200
        } else {
            404
        };
        Response::builder()
            .status(status)
            .body(Body::empty())
            .unwrap()
    })
    .await;
    let client = server.client();
    assert!(client.project_exists("there").await.unwrap());
    assert!(!client.project_exists("gone").await.unwrap());
}

#[tokio::test]
async fn the_vulnerability_addition_decodes_as_real_harbor_sends_it() {
    let fixture = include_str!("fixtures/api/vulnerabilities.json");
    let server = Recorder::start(move |_, _| json(200, fixture)).await;
    let digest: Reference =
        "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
            .parse()
            .unwrap();
    let reports = server
        .client()
        .get_vulnerabilities("library", &"team/app".parse().unwrap(), &digest)
        .await
        .unwrap();
    let report = &reports[harbor_client::api::MIME_GENERIC_VULNERABILITY_REPORT];
    assert_eq!(report.severity, harbor_client::api::Severity::Critical);
    assert_eq!(report.vulnerabilities.len(), 2);
    assert_eq!(
        report.count_at_least(&harbor_client::api::Severity::High),
        1
    );
    assert!(
        report.vulnerabilities[1].links.is_empty(),
        "null reads as empty"
    );
    let seen = &server.seen()[0];
    assert_eq!(
        seen.uri,
        "/api/v2.0/projects/library/repositories/team%252Fapp/artifacts/sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945/additions/vulnerabilities"
    );
    let accept = seen.headers["x-accept-vulnerabilities"].to_str().unwrap();
    assert!(accept.starts_with("application/vnd.security.vulnerability.report; version=1.1"));
}

#[tokio::test]
async fn artifacts_with_scan_overview_decode_from_a_real_shaped_answer() {
    let fixture = include_str!("fixtures/api/artifact_with_scan_overview.json");
    let server = Recorder::start(move |_, _| json(200, fixture)).await;
    let params = harbor_client::api::ListArtifactsParams::default()
        .with_scan_overview(true)
        .with_label(true);
    let page = server
        .client()
        .list_artifacts("library", &"team/app".parse().unwrap(), &params)
        .await
        .unwrap();
    let a = &page.items[0];
    assert_eq!(a.tag_names(), ["v1"]);
    let summary = a.scan_summary().unwrap();
    assert_eq!(
        summary.severity,
        Some(harbor_client::api::Severity::Critical)
    );
    assert_eq!(summary.summary.as_ref().unwrap().total, 2);
    let uri = &server.seen()[0].uri;
    assert_eq!(
        query_param(uri, "with_scan_overview").as_deref(),
        Some("true")
    );
    assert_eq!(query_param(uri, "with_label").as_deref(), Some("true"));
}

#[tokio::test]
async fn robot_secrets_are_read_but_never_debug_printed() {
    let server = Recorder::start(|_, _| {
        json(
            201,
            r#"{"id":3,"name":"robot$ci","secret":"Sup3rSecretValue","creation_time":"2024-05-02T10:00:00Z","expires_at":-1}"#,
        )
    })
    .await;
    let mut req = harbor_client::api::models::RobotCreate::default();
    req.name = Some("ci".into());
    req.secret = Some("Chosen1Secret".into());
    let created = server.client().create_robot(&req).await.unwrap();
    let secret = created.secret.as_ref().unwrap();
    assert_eq!(secret.expose_secret(), "Sup3rSecretValue");
    assert!(!format!("{created:?}").contains("Sup3rSecretValue"));
    assert!(!format!("{req:?}").contains("Chosen1Secret"));
}

#[tokio::test]
async fn build_history_is_typed() {
    let server = Recorder::start(|_, _| {
        json(
            200,
            r#"[{"created":"2024-04-10T18:24:34Z","created_by":"/bin/sh -c #(nop) ADD file:abc in / "},{"created":"2024-04-10T18:24:35Z","created_by":"/bin/sh -c #(nop)  CMD [\"sh\"]","empty_layer":true}]"#,
        )
    })
    .await;
    let history = server
        .client()
        .get_build_history(
            "library",
            &"team/app".parse().unwrap(),
            &"v1".parse().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].empty_layer, Some(true));
    assert_eq!(
        server.seen()[0].uri,
        "/api/v2.0/projects/library/repositories/team%252Fapp/artifacts/v1/additions/build_history"
    );
}
