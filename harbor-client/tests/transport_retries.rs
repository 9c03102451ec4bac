//! Retries with backoff and `Retry-After`, for idempotent requests only; error envelopes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::fake::{Fake, resp};
use harbor_client::transport::{Request, RetryPolicy, Transport};
use http::Method;

fn fast() -> Transport {
    Transport::builder()
        .retry_policy(
            RetryPolicy::default()
                .with_max_retries(3)
                .with_base_delay(Duration::from_millis(5))
                .with_max_delay(Duration::from_millis(20)),
        )
        .build()
        .unwrap()
}

/// Fails `failures` times with `status` (and `Retry-After: 0` for 429), then succeeds.
async fn flaky(failures: usize, status: u16) -> Fake {
    let n = Arc::new(AtomicUsize::new(0));
    Fake::start(move |_| {
        if n.fetch_add(1, Ordering::SeqCst) < failures {
            resp(
                status,
                &[("retry-after", "0"), ("x-request-id", "req-1")],
                "busy",
            )
        } else {
            resp(200, &[], "ok")
        }
    })
    .await
}

#[tokio::test]
async fn idempotent_requests_are_retried_on_5xx_and_429() {
    for status in [500, 502, 503, 504, 429, 408] {
        let f = flaky(2, status).await;
        let url = format!("http://{}/v2/", f.host()).parse().unwrap();
        let r = fast()
            .execute_checked(Request::new(Method::GET, url))
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{status}");
        assert_eq!(f.count(|_| true), 3, "{status}");
    }
}

#[tokio::test]
async fn retries_stop_at_the_limit_with_a_typed_error() {
    let f = flaky(100, 503).await;
    let url = format!("http://{}/v2/", f.host()).parse().unwrap();
    let e = fast()
        .execute_checked(Request::new(Method::GET, url))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert!(e.is_retryable());
    assert_eq!(e.request_id(), Some("req-1"));
    assert_eq!(f.count(|_| true), 4, "first attempt plus three retries");
}

#[tokio::test]
async fn post_and_patch_are_not_retried() {
    for m in [Method::POST, Method::PATCH] {
        let f = flaky(1, 503).await;
        let url = format!("http://{}/v2/a/blobs/uploads/", f.host())
            .parse()
            .unwrap();
        let e = fast()
            .execute_checked(Request::new(m.clone(), url))
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(f.count(|_| true), 1, "{m}");
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let n = Arc::new(AtomicUsize::new(0));
    let f = Fake::start(move |_| {
        if n.fetch_add(1, Ordering::SeqCst) == 0 {
            resp(429, &[("retry-after", "1")], "")
        } else {
            resp(200, &[], "ok")
        }
    })
    .await;
    let url = format!("http://{}/v2/", f.host()).parse().unwrap();
    let start = Instant::now();
    fast()
        .execute_checked(Request::new(Method::GET, url))
        .await
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "waited as asked"
    );
}

#[tokio::test]
async fn an_unreasonable_retry_after_is_not_waited_for() {
    let f2 = Fake::start(|_| resp(503, &[("retry-after", "86400")], "")).await;
    let url: url::Url = format!("http://{}/v2/", f2.host()).parse().unwrap();
    let start = Instant::now();
    let e = fast()
        .execute_checked(Request::new(Method::GET, url))
        .await
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(e.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(f2.count(|_| true), 1);
}

#[tokio::test]
async fn error_envelope_and_unknown_codes_are_kept() {
    let f = Fake::start(|_| {
        resp(
            404,
            &[("content-type", "application/json"), ("x-request-id", "abc")],
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}},{"code":"SOMETHING_NEW","message":""}]}"#,
        )
    })
    .await;
    let url = format!("http://{}/v2/a/manifests/x", f.host())
        .parse()
        .unwrap();
    let e = fast()
        .execute_checked(Request::new(Method::GET, url))
        .await
        .unwrap_err();
    assert!(e.is_not_found());
    let api = e.api().unwrap();
    assert_eq!(
        api.errors[0].code,
        harbor_client::ErrorCode::ManifestUnknown
    );
    assert_eq!(
        api.errors[1].code,
        harbor_client::ErrorCode::Other("SOMETHING_NEW".into())
    );
    assert_eq!(e.request_id(), Some("abc"));
    assert_eq!(f.count(|_| true), 1, "404 is not retried");
}

#[tokio::test]
async fn connection_refused_is_a_transport_error_not_sent() {
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}/v2/").parse().unwrap();
    let e = fast()
        .execute_checked(Request::new(Method::GET, url))
        .await
        .unwrap_err();
    assert!(matches!(e, harbor_client::Error::Transport { .. }), "{e}");
    assert!(!e.may_have_been_sent());
}
