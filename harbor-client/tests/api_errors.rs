//! Harbor's error answers as a caller meets them: typed codes, predicates a create-if-absent
//! script branches on, and a 404 that names what was not found. Against a loopback server
//! playing Harbor's error envelopes (real Harbor's codes and statuses, from its
//! `src/lib/errors` and API middleware; Prism answers only the spec's examples).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_support;

use harbor_client::ErrorCode;
use harbor_client::api::{CreateProjectParams, Reference, RepositoryName, models::ProjectReq};

use api_support::recorder::{Recorder, json};

/// One row per Harbor code: the status Harbor sends it with, and which predicate holds.
#[tokio::test]
async fn harbor_codes_are_typed_and_answer_the_predicates() {
    let rows: &[(u16, &str, ErrorCode, &str)] = &[
        (409, "CONFLICT", ErrorCode::Conflict, "conflict"),
        (412, "PRECONDITION", ErrorCode::Precondition, "precondition"),
        (
            412,
            "VIOLATE_FOREIGN_KEY_CONSTRAINT",
            ErrorCode::ViolateForeignKeyConstraint,
            "precondition",
        ),
        (400, "BAD_REQUEST", ErrorCode::BadRequest, "bad_request"),
        (
            422,
            "UNPROCESSABLE_ENTITY",
            ErrorCode::UnprocessableEntity,
            "bad_request",
        ),
        (403, "FORBIDDEN", ErrorCode::Forbidden, "forbidden"),
        (404, "NOT_FOUND", ErrorCode::NotFound, "not_found"),
        (
            429,
            "TOO_MANY_REQUEST",
            ErrorCode::TooManyRequest,
            "rate_limited",
        ),
        (401, "UNAUTHORIZED", ErrorCode::Unauthorized, "unauthorized"),
        (
            500,
            "INTERNAL_SERVER_ERROR",
            ErrorCode::InternalServerError,
            "server",
        ),
        (500, "UNKNOWN", ErrorCode::Unknown, "server"),
        (
            500,
            "SOMETHING_NEWER",
            ErrorCode::Other("SOMETHING_NEWER".into()),
            "server",
        ),
    ];
    for (status, code, typed, holds) in rows {
        let body = format!(r#"{{"errors":[{{"code":"{code}","message":"it failed"}}]}}"#);
        let status = *status;
        let server = Recorder::start(move |_, _| json(status, &body)).await;
        let err = server
            .client()
            .create_project(&ProjectReq::new("team"), &CreateProjectParams::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(typed), "{code}");
        assert_eq!(typed.as_str(), *code);
        let answers = [
            ("conflict", err.is_conflict()),
            ("precondition", err.is_precondition_failed()),
            ("bad_request", err.is_bad_request()),
            ("forbidden", err.is_forbidden()),
            ("not_found", err.is_not_found()),
            ("rate_limited", err.is_rate_limited()),
            ("unauthorized", err.is_unauthorized()),
            ("server", err.is_server_error()),
        ];
        for (name, answer) in answers {
            assert_eq!(answer, name == *holds, "{code}: is_{name}");
        }
    }
}

/// The code alone decides when a proxy or an old Harbor changes the status.
#[tokio::test]
async fn the_code_decides_when_the_status_is_generic() {
    let server = Recorder::start(|_, _| {
        json(
            400,
            r#"{"errors":[{"code":"CONFLICT","message":"project team already exists"}]}"#,
        )
    })
    .await;
    let err = server
        .client()
        .create_project(&ProjectReq::new("team"), &CreateProjectParams::default())
        .await
        .unwrap_err();
    assert!(err.is_conflict() && err.is_bad_request());
    assert!(!err.is_not_found());
}

#[tokio::test]
async fn a_404_names_the_resource_that_was_not_found() {
    let server = Recorder::start(|_, _| {
        json(
            404,
            r#"{"errors":[{"code":"NOT_FOUND","message":"resource not found"}]}"#,
        )
    })
    .await;
    let client = server.client();

    let err = client.get_project("team").await.unwrap_err();
    assert_eq!(err.resource(), Some("project `team`"));
    let text = err.to_string();
    assert!(text.ends_with("- project `team` not found"), "{text}");

    let repo: RepositoryName = "base/app".parse().unwrap();
    let reference = Reference::tag("v1").unwrap();
    let err = client
        .get_artifact("team", &repo, &reference, &Default::default())
        .await
        .unwrap_err();
    assert_eq!(err.resource(), Some("artifact `team/base/app:v1`"));
    assert!(
        err.to_string()
            .contains("artifact `team/base/app:v1` not found")
    );

    let err = client.get_robot(7).await.unwrap_err();
    assert!(err.to_string().ends_with("- robot `7` not found"), "{err}");

    // A list names the parent whose children it lists.
    let err = client
        .list_repositories("team", &Default::default())
        .await
        .unwrap_err();
    assert_eq!(err.resource(), Some("project `team`"));
}

#[tokio::test]
async fn other_statuses_keep_the_resource_but_say_what_happened() {
    let server = Recorder::start(|_, _| {
        json(
            412,
            r#"{"errors":[{"code":"PRECONDITION","message":"the project contains repositories"}]}"#,
        )
    })
    .await;
    let err = server.client().delete_project("team").await.unwrap_err();
    assert!(err.is_precondition_failed());
    assert_eq!(err.resource(), Some("project `team`"));
    let text = err.to_string();
    assert!(text.contains("still in use"), "{text}");
    assert!(!text.contains("not found"), "{text}");
}
