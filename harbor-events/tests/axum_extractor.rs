//! The axum extractor on a real axum server (loopback, port chosen by the OS) driven by a
//! real HTTP client (reqwest): every format decodes, and each failure gets its status.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "axum")]

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use harbor_events::Decoder;
use harbor_events::axum::HarborWebhook;
use tokio::sync::mpsc;

struct Server {
    url: String,
    events: mpsc::Receiver<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct AppState {
    decoder: Decoder,
    tx: mpsc::Sender<String>,
}

impl axum::extract::FromRef<AppState> for Decoder {
    fn from_ref(state: &AppState) -> Decoder {
        state.decoder.clone()
    }
}

async fn receive(State(state): State<AppState>, webhook: HarborWebhook) -> &'static str {
    for event in webhook.into_events() {
        let _ = state.tx.try_send(format!(
            "{} {} {}",
            event.format,
            event.kind,
            event.repository().unwrap_or("-")
        ));
    }
    "ok"
}

async fn start(decoder: Decoder) -> Server {
    let (tx, events) = mpsc::channel(64);
    let app = Router::new()
        .route("/webhook", post(receive))
        .with_state(AppState { decoder, tx });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server { url, events, task }
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_is_accepted_and_each_failure_gets_its_status() {
    let mut server = start(
        Decoder::new()
            .max_body_bytes(4096)
            .auth_header("Bearer hook-secret"),
    )
    .await;
    let client = reqwest::Client::new();
    let cases = [
        (
            "v1/pushImage__1.10.json",
            "application/json",
            "v1 PUSH_ARTIFACT team/app/web",
        ),
        (
            "v2/SCANNING_COMPLETED__2.11-two-reports-scan-type.json",
            "application/json",
            "v2 SCANNING_COMPLETED team/app/web",
        ),
        (
            "cloudevents/QUOTA_EXCEED__harbor.quota.exceeded.json",
            "application/cloudevents+json",
            "cloudevents QUOTA_EXCEED team/app/web",
        ),
        (
            "docs-only/pullImage__one-event.json",
            "application/json",
            "v1-documented PULL_ARTIFACT prj/repo1",
        ),
        (
            "distribution/DELETE_ARTIFACT__delete.json",
            harbor_events::CONTENT_TYPE_DISTRIBUTION,
            "distribution DELETE_ARTIFACT team/app",
        ),
    ];
    for (path, content_type, expected) in cases {
        let response = client
            .post(&server.url)
            .header("authorization", "Bearer hook-secret")
            .header("content-type", content_type)
            .body(fixture(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "{path}: {}",
            response.text().await.unwrap()
        );
        assert_eq!(server.events.recv().await.unwrap(), expected);
    }

    let push = fixture("v2/PUSH_ARTIFACT__tagged.json");
    let send = |auth: Option<&'static str>, ct: &'static str, body: Vec<u8>| {
        let mut request = client
            .post(&server.url)
            .header("content-type", ct)
            .body(body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    let status = |r: &reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(&send(None, "application/json", push.clone()).await.unwrap()),
        401
    );
    assert_eq!(
        status(
            &send(Some("Bearer nope"), "application/json", push.clone())
                .await
                .unwrap()
        ),
        401
    );
    assert_eq!(
        status(
            &send(Some("Bearer hook-secret"), "text/plain", push.clone())
                .await
                .unwrap()
        ),
        415
    );
    assert_eq!(
        status(
            &send(
                Some("Bearer hook-secret"),
                "application/json",
                b"{\"type\":1}".to_vec()
            )
            .await
            .unwrap()
        ),
        400
    );
    // Harbor 1.9-2.2's "test endpoint": an empty body and no Authorization. 200, with no
    // body, and the handler is not called.
    for auth in [None, Some("Bearer hook-secret")] {
        let response = send(auth, "application/json", Vec::new()).await.unwrap();
        assert_eq!(status(&response), 200, "{auth:?}");
        assert_eq!(response.text().await.unwrap(), "");
    }
    assert_eq!(
        status(
            &send(
                Some("Bearer hook-secret"),
                "application/json",
                b" \n".to_vec()
            )
            .await
            .unwrap()
        ),
        200
    );
    assert!(
        server.events.try_recv().is_err(),
        "an empty body reached the handler"
    );
    let big = send(
        Some("Bearer hook-secret"),
        "application/json",
        vec![b' '; 10_000],
    )
    .await
    .unwrap();
    assert_eq!(status(&big), 413);
    // The rejection text says what is wrong and never echoes the secret.
    let text = send(Some("Bearer nope"), "application/json", push.clone())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("Authorization") && !text.contains("hook-secret"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_the_limit_is_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start(Decoder::new().max_body_bytes(1000)).await;
    let addr = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/webhook")
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut request = format!(
        "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for _ in 0..20 {
        request.push_str(&format!("64\r\n{}\r\n", " ".repeat(100)));
    }
    request.push_str("0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
}

/// The extractor on one request, without a server: what it rejects with, and the answer.
async fn extract(body: axum::body::Body, auth: Option<&str>) -> (String, u16, String) {
    use axum::extract::FromRequest as _;
    use axum::response::IntoResponse as _;
    let mut request = http::Request::post("/webhook").header("content-type", "application/json");
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let decoder = Decoder::new().auth_header("Bearer hook-secret");
    let rejection = HarborWebhook::from_request(request.body(body).unwrap(), &decoder)
        .await
        .expect_err("rejected");
    let error = format!("{:?}", rejection.0);
    let response = rejection.into_response();
    let status = response.status().as_u16();
    let text = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (error, status, String::from_utf8_lossy(&text).into_owned())
}

#[tokio::test]
async fn a_body_that_breaks_is_400_and_not_taken_for_the_endpoint_test() {
    // The body stream fails after its first bytes (here a limit in front of the extractor,
    // as a proxy's or a layer's would): not Harbor's empty test request.
    let broken = http_body_util::Limited::new(
        http_body_util::Full::new(axum::body::Bytes::from_static(
            b"{\"type\":\"PUSH_ARTIFACT\"}",
        )),
        4,
    );
    let (error, status, text) =
        extract(axum::body::Body::new(broken), Some("Bearer hook-secret")).await;
    assert!(error.starts_with("IncompleteBody"), "{error}");
    assert_eq!(status, 400);
    assert!(text.contains("did not arrive whole"), "{text}");
    // Harbor's endpoint test: no body, no Authorization: 200 and nothing in it.
    let (error, status, text) = extract(axum::body::Body::empty(), None).await;
    assert_eq!(
        (error.as_str(), status, text.as_str()),
        ("EmptyBody", 200, "")
    );
}
