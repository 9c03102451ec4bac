//! The Harbor-shaped sender against a loopback endpoint that misbehaves on purpose (a fault no
//! real component shows on demand): the same bytes on every attempt, 3 attempts, a 3 s
//! timeout, a `2xx` ends it, redirects are failures.

#![cfg(feature = "sender")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use harbor_receiver::sender::{AttemptOutcome, Backoff, Sender};

/// What the endpoint does on each attempt, in order (the last one repeats).
#[derive(Clone, Copy, Debug)]
enum Answer {
    Status(u16),
    Hang(Duration),
}

#[derive(Clone, Default)]
struct Endpoint {
    script: Arc<Vec<Answer>>,
    seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

async fn answer(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Bytes) -> Response {
    let n = {
        let mut seen = endpoint.seen.lock().unwrap();
        seen.push((headers, body));
        seen.len() - 1
    };
    let step = endpoint.script[n.min(endpoint.script.len() - 1)];
    match step {
        Answer::Status(302) => (StatusCode::FOUND, [("location", "/elsewhere")]).into_response(),
        Answer::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Answer::Hang(time) => {
            tokio::time::sleep(time).await;
            StatusCode::OK.into_response()
        }
    }
}

async fn endpoint(script: Vec<Answer>) -> (String, Endpoint) {
    let endpoint = Endpoint {
        script: Arc::new(script),
        seen: Arc::default(),
    };
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(endpoint.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, endpoint)
}

fn sender() -> Sender {
    Sender::harbor()
        .auth_header("Bearer sender-secret")
        .backoff(Backoff::Fixed(Duration::from_millis(50)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_attempt_sends_the_same_bytes_and_a_timeout_counts_as_a_failure() {
    let (url, endpoint) = endpoint(vec![
        Answer::Status(500),
        Answer::Hang(Duration::from_millis(3500)),
        Answer::Status(204),
    ])
    .await;
    let body = common::cloudevent("same-id-every-time");
    let report = sender()
        .send(&url, "application/cloudevents+json", body.clone())
        .await;
    let outcomes: Vec<_> = report.attempts.iter().map(|a| a.outcome.clone()).collect();
    assert_eq!(
        outcomes,
        [
            AttemptOutcome::Status(StatusCode::INTERNAL_SERVER_ERROR),
            AttemptOutcome::TimedOut,
            AttemptOutcome::Status(StatusCode::NO_CONTENT),
        ]
    );
    assert!(report.delivered());
    let timed_out = report.attempts[1].elapsed;
    assert!(
        timed_out >= Duration::from_millis(2900) && timed_out < Duration::from_millis(3400),
        "{timed_out:?}"
    );
    let seen = endpoint.seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    for (headers, bytes) in seen.iter() {
        assert_eq!(bytes, body.as_bytes());
        assert_eq!(headers["authorization"], "Bearer sender-secret");
        assert_eq!(headers["content-type"], "application/cloudevents+json");
        assert_eq!(headers["user-agent"], "Go-http-client/1.1");
    }
}

#[tokio::test]
async fn it_gives_up_after_three_attempts_and_does_not_follow_redirects() {
    let (url, endpoint) = endpoint(vec![Answer::Status(302), Answer::Status(503)]).await;
    let report = sender()
        .send(&url, "application/json", common::v2_push(1))
        .await;
    assert!(!report.delivered());
    assert_eq!(report.attempts.len(), 3);
    assert_eq!(
        report.attempts[0].outcome,
        AttemptOutcome::Status(StatusCode::FOUND)
    );
    assert_eq!(report.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    // Three requests, all to the hook: the redirect target was never asked.
    assert_eq!(endpoint.seen.lock().unwrap().len(), 3);

    // A 2xx at once ends it after one attempt.
    let (url, endpoint) = endpoint_ok().await;
    let report = sender()
        .send(&url, "application/json", common::v2_push(2))
        .await;
    assert_eq!(report.attempts.len(), 1);
    assert_eq!(endpoint.seen.lock().unwrap().len(), 1);
}

async fn endpoint_ok() -> (String, Endpoint) {
    endpoint(vec![Answer::Status(200)]).await
}

#[tokio::test]
async fn a_refused_connection_is_a_failed_attempt() {
    let port = harbor_testkit::free_port();
    let report = sender()
        .send(
            &format!("http://127.0.0.1:{port}/hook"),
            "application/json",
            common::v2_push(3),
        )
        .await;
    assert_eq!(report.attempts.len(), 3);
    assert!(matches!(
        report.attempts[0].outcome,
        AttemptOutcome::Failed(_)
    ));
}

#[tokio::test]
async fn send_payload_uses_the_content_type_of_each_format() {
    let distribution = r#"{"events":[{"id":"e1","timestamp":"2023-04-03T06:12:52Z","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4","repository":"library/alpine","tag":"v1"}}]}"#;
    let cases = [
        (common::v2_push(1), "application/json"),
        (common::cloudevent("ct-1"), "application/cloudevents+json"),
        (
            distribution.to_owned(),
            "application/vnd.docker.distribution.events.v1+json",
        ),
    ];
    let (url, endpoint) = endpoint_ok().await;
    for (body, _) in &cases {
        let payload = harbor_events::decode(body.as_bytes()).unwrap();
        let report = sender().send_payload(&url, &payload).await.unwrap();
        assert!(report.delivered(), "{report:?}");
    }
    let seen = endpoint.seen.lock().unwrap();
    assert_eq!(seen.len(), cases.len());
    for ((headers, sent), (body, content_type)) in seen.iter().zip(&cases) {
        assert_eq!(headers["content-type"], *content_type, "{body}");
        // The payload as decoded, encoded again: still that format.
        let again = harbor_events::decode(sent).unwrap();
        assert_eq!(again.content_type(), *content_type);
    }
}

/// `attempts(u32::MAX)` is a sender that never gives up, not a reservation: a send that
/// succeeds at once makes one attempt. (Reserving room for every attempt, as the sender once
/// did, aborts the process where memory is not overcommitted; elsewhere this passes either way.)
#[tokio::test]
async fn any_number_of_attempts_still_stops_at_the_first_success() {
    let (url, endpoint) = endpoint_ok().await;
    let sender = Sender::harbor()
        .attempts(u32::MAX)
        .backoff(Backoff::Fixed(Duration::ZERO))
        .build()
        .unwrap();
    let report = sender
        .send(&url, "application/json", common::v2_push(4))
        .await;
    assert!(report.delivered());
    assert_eq!(report.attempts.len(), 1);
    assert_eq!(endpoint.seen.lock().unwrap().len(), 1);
}
