//! The receiver over real HTTP on loopback: every answer of the status table, and a `2xx`
//! only after a durable append.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::future::IntoFuture as _;
use std::sync::Arc;
use std::time::Duration;

use common::{cloudevent, v2_push};
use harbor_events::Decoder;
use harbor_receiver::{Inbox, MemoryInbox, Receiver};
use tokio::sync::oneshot;

const SECRET: &str = "Bearer receiver-secret";

/// How the receiver is put on the network.
#[derive(Clone, Copy, Debug)]
enum Edge {
    /// `Receiver::serve`: hyper directly.
    Serve,
    /// `Receiver::router` in the user's own `axum::serve`.
    Router,
}

struct Running {
    url: String,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(inbox: impl Inbox + 'static, limit: usize) -> Running {
        Running::start_on(Edge::Serve, inbox, limit).await
    }

    async fn start_on(edge: Edge, inbox: impl Inbox + 'static, limit: usize) -> Running {
        let decoder = Decoder::new().max_body_bytes(limit).auth_header(SECRET);
        Running::serve(edge, Receiver::new(decoder, inbox)).await
    }

    async fn serve(edge: Edge, receiver: Receiver) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = stopped.await;
        };
        let server = match edge {
            Edge::Serve => tokio::spawn(receiver.serve(listener, shutdown)),
            Edge::Router => tokio::spawn(
                axum::serve(listener, receiver.router())
                    .with_graceful_shutdown(shutdown)
                    .into_future(),
            ),
        };
        Running {
            url,
            client: reqwest::Client::new(),
            stop: Some(stop),
            server,
        }
    }

    async fn post(&self, auth: &str, content_type: &str, body: &str) -> (u16, String) {
        self.post_as(Some(auth), content_type, body).await
    }

    /// A `POST` with `Authorization: auth` (none for `None`).
    async fn post_as(&self, auth: Option<&str>, content_type: &str, body: &str) -> (u16, String) {
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", content_type)
            .body(body.to_owned());
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.server.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn stores_once_and_answers_every_case_as_documented() {
    for edge in [Edge::Serve, Edge::Router] {
        answers_every_case_as_documented(edge).await;
    }
}

async fn answers_every_case_as_documented(edge: Edge) {
    let inbox = MemoryInbox::new();
    let server = Running::start_on(edge, inbox.clone(), 4096).await;
    let json = "application/json";
    let ce = "application/cloudevents+json";

    assert_eq!(server.post(SECRET, json, &v2_push(1)).await.0, 200);
    assert_eq!(inbox.pending(), 1);
    // Harbor's retry of the same delivery: 200 again, stored once.
    assert_eq!(server.post(SECRET, json, &v2_push(1)).await.0, 200);
    assert_eq!(inbox.pending(), 1);
    // CloudEvents: the id is the key, so a retry is recognised by it.
    assert_eq!(server.post(SECRET, ce, &cloudevent("id-1")).await.0, 200);
    assert_eq!(server.post(SECRET, ce, &cloudevent("id-1")).await.0, 200);
    assert_eq!(inbox.pending(), 2);
    // Harbor 1.9-2.2's "test endpoint": no body and no Authorization (research §8.4).
    assert_eq!(server.post_as(None, json, "").await, (200, String::new()));
    assert_eq!(server.post("Bearer wrong", json, "").await.0, 200);
    assert_eq!(server.post(SECRET, json, "").await.0, 200);
    // Whitespace is read only after the Authorization check.
    assert_eq!(server.post(SECRET, json, " \n").await.0, 200);
    assert_eq!(server.post_as(None, json, " \n").await.0, 401);

    let (status, text) = server.post("Bearer wrong", json, &v2_push(2)).await;
    assert_eq!(status, 401);
    assert!(!text.contains("receiver-secret"), "{text}");
    assert_eq!(server.post(SECRET, "text/plain", &v2_push(2)).await.0, 415);
    assert_eq!(
        server
            .post(SECRET, json, r#"{"type":"PUSH_ARTIFACT","#)
            .await
            .0,
        400
    );
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(5000));
    assert_eq!(server.post(SECRET, json, &big).await.0, 413);
    let get = server.client.get(&server.url).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 405);
    assert_eq!(inbox.pending(), 2, "a refused request was stored");
    server.stop().await;
    // Stored byte for byte, as sent.
    let mut bodies: Vec<_> = (inbox.take(10, Duration::ZERO).await.unwrap())
        .iter()
        .map(|leased| leased.delivery().body().clone())
        .collect();
    bodies.sort();
    let mut sent = vec![v2_push(1), cloudevent("id-1")];
    sent.sort();
    assert_eq!(bodies, sent, "{edge:?}");
}

#[tokio::test]
async fn a_full_memory_inbox_answers_503_with_retry_after() {
    let inbox = MemoryInbox::with_limits(
        2,
        harbor_receiver::DEFAULT_DEDUP_WINDOW,
        harbor_receiver::DEFAULT_LEASE,
    );
    let server = Running::start(inbox.clone(), 4096).await;
    for n in 0..2 {
        assert_eq!(
            server.post(SECRET, "application/json", &v2_push(n)).await.0,
            200
        );
    }
    let response = server
        .client
        .post(&server.url)
        .header("authorization", SECRET)
        .body(v2_push(3))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "10");
    // A duplicate of something held is still acknowledged: it is stored already.
    assert_eq!(
        server.post(SECRET, "application/json", &v2_push(0)).await.0,
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn retry_after_sets_the_header_of_a_503() {
    let inbox = MemoryInbox::with_limits(
        1,
        harbor_receiver::DEFAULT_DEDUP_WINDOW,
        harbor_receiver::DEFAULT_LEASE,
    );
    let decoder = Decoder::new().auth_header(SECRET);
    let receiver = Receiver::new(decoder, inbox).retry_after(120);
    for edge in [Edge::Serve, Edge::Router] {
        let server = Running::serve(edge, receiver.clone()).await;
        // The first fills the inbox (the second edge finds it full already).
        server.post(SECRET, "application/json", &v2_push(0)).await;
        let response = server
            .client
            .post(&server.url)
            .header("authorization", SECRET)
            .body(v2_push(1))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 503, "{edge:?}");
        assert_eq!(response.headers()["retry-after"], "120", "{edge:?}");
        server.stop().await;
    }
}

/// An inbox whose appends wait at a gate, each saying first that it started: a request held
/// there is certainly in flight.
#[derive(Debug)]
struct Gated {
    inner: harbor_receiver::SqliteInbox,
    entered: tokio::sync::mpsc::UnboundedSender<()>,
    gate: Arc<tokio::sync::Semaphore>,
}

impl Inbox for Gated {
    fn append(
        &self,
        delivery: harbor_receiver::Delivery,
    ) -> harbor_receiver::BoxFuture<'_, harbor_receiver::Result<harbor_receiver::Appended>> {
        Box::pin(async move {
            let _ = self.entered.send(());
            self.gate.acquire().await.unwrap().forget();
            self.inner.append(delivery).await
        })
    }
    fn take(
        &self,
        max: usize,
        wait: Duration,
    ) -> harbor_receiver::BoxFuture<'_, harbor_receiver::Result<Vec<harbor_receiver::Leased>>> {
        self.inner.take(max, wait)
    }
    fn ack<'a>(
        &'a self,
        leased: &'a [harbor_receiver::Leased],
    ) -> harbor_receiver::BoxFuture<'a, harbor_receiver::Result<()>> {
        self.inner.ack(leased)
    }
    fn fail<'a>(
        &'a self,
        leased: &'a harbor_receiver::Leased,
        disposition: harbor_receiver::Disposition,
        reason: &'a str,
    ) -> harbor_receiver::BoxFuture<'a, harbor_receiver::Result<()>> {
        self.inner.fail(leased, disposition, reason)
    }
    fn extend<'a>(
        &'a self,
        leased: &'a harbor_receiver::Leased,
    ) -> harbor_receiver::BoxFuture<'a, harbor_receiver::Result<()>> {
        self.inner.extend(leased)
    }
    fn lease(&self) -> Duration {
        self.inner.lease()
    }
    fn dead_letters(
        &self,
        limit: usize,
    ) -> harbor_receiver::BoxFuture<'_, harbor_receiver::Result<Vec<harbor_receiver::DeadLetter>>>
    {
        self.inner.dead_letters(limit)
    }
    fn close(&self) -> harbor_receiver::BoxFuture<'_, harbor_receiver::Result<()>> {
        self.inner.close()
    }
}

#[tokio::test]
async fn shutdown_finishes_the_requests_in_flight() {
    for edge in [Edge::Serve, Edge::Router] {
        finishes_the_requests_in_flight(edge).await;
    }
}

async fn finishes_the_requests_in_flight(edge: Edge) {
    const IN_FLIGHT: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let inbox = harbor_receiver::SqliteInbox::open(dir.path().join("inbox.db")).unwrap();
    let (entered, mut appending) = tokio::sync::mpsc::unbounded_channel();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let gated = Gated {
        inner: inbox.clone(),
        entered,
        gate: gate.clone(),
    };
    let decoder = Decoder::new().max_body_bytes(4096).auth_header(SECRET);
    let mut server = Running::serve(edge, Receiver::new(decoder, gated)).await;
    let posts: Vec<_> = (0..IN_FLIGHT)
        .map(|n| {
            let (client, url) = (server.client.clone(), server.url.clone());
            tokio::spawn(async move {
                client
                    .post(url)
                    .header("authorization", SECRET)
                    .body(v2_push(n))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    // Every request is in its append, held at the gate: then the stop.
    for _ in 0..IN_FLIGHT {
        appending.recv().await.unwrap();
    }
    let _ = server.stop.take().unwrap().send(());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !server.server.is_finished(),
        "{edge:?}: serving ended with {IN_FLIGHT} requests in flight"
    );
    gate.add_permits(IN_FLIGHT);
    tokio::time::timeout(Duration::from_secs(10), &mut server.server)
        .await
        .unwrap_or_else(|_| panic!("{edge:?}: serving did not end"))
        .unwrap()
        .unwrap();
    for post in posts {
        let status = post.await.unwrap();
        assert_eq!(
            status.as_ref().ok(),
            Some(&200),
            "{edge:?}: a request in flight got {status:?}"
        );
    }
    let inbox: Arc<dyn Inbox> = Arc::new(inbox);
    let mut stored = 0;
    while let Some(leased) = inbox.take(1, Duration::ZERO).await.unwrap().pop() {
        inbox.ack(&[leased]).await.unwrap();
        stored += 1;
    }
    assert_eq!(
        stored, IN_FLIGHT,
        "{edge:?}: {IN_FLIGHT} answered 200 but {stored} stored"
    );
}

/// Sends `text` on a new connection to `url`, then waits (at most 5 s) for everything the
/// server sends back until it closes the connection.
async fn send_and_read(url: &str, text: &str) -> Result<String, &'static str> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/webhook");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(text.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    match tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await {
        Ok(_) => Ok(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) => Err("the connection was still open after 5 s"),
    }
}

#[tokio::test]
async fn a_request_that_stops_arriving_gets_408_and_holds_up_no_shutdown() {
    for edge in [Edge::Serve, Edge::Router] {
        let decoder = Decoder::new().auth_header(SECRET);
        let receiver =
            Receiver::new(decoder, MemoryInbox::new()).read_timeout(Duration::from_millis(300));
        let server = Running::serve(edge, receiver).await;
        let head = format!(
            "POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: {SECRET}\r\n\
             Content-Type: application/json\r\nContent-Length: 500\r\n\r\n"
        );
        // The body stops after a few bytes: 408, and the connection is closed.
        let answer = send_and_read(&server.url, &format!("{head}{{\"type\"")).await;
        let answer = answer.unwrap_or_else(|e| panic!("{edge:?}: {e}"));
        assert!(answer.starts_with("HTTP/1.1 408"), "{edge:?}: {answer}");
        assert!(answer.contains("did not arrive within 300 ms"), "{answer}");
        if let Edge::Serve = edge {
            // The head stops half way: the connection is closed.
            let half = send_and_read(&server.url, "POST /webhook HTTP/1.1\r\nHost: x\r\n").await;
            assert!(half.is_ok(), "{half:?}");
            // And a client stuck in its head does not hold up the shutdown.
            let addr = server
                .url
                .trim_start_matches("http://")
                .trim_end_matches("/webhook");
            let mut stuck = tokio::net::TcpStream::connect(addr).await.unwrap();
            tokio::io::AsyncWriteExt::write_all(&mut stuck, b"POST /webhook HTTP/1.1\r\n")
                .await
                .unwrap();
            tokio::time::timeout(Duration::from_secs(5), server.stop())
                .await
                .expect("the shutdown waited for a stuck client");
        } else {
            server.stop().await;
        }
    }
}

#[tokio::test]
async fn a_read_timeout_of_never_serves_requests() {
    for edge in [Edge::Serve, Edge::Router] {
        let decoder = Decoder::new().auth_header(SECRET);
        let receiver = Receiver::new(decoder, MemoryInbox::new()).read_timeout(Duration::MAX);
        let server = Running::serve(edge, receiver).await;
        let answer = server.post(SECRET, "application/json", &v2_push(1)).await;
        assert_eq!(answer.0, 200, "{edge:?}: {answer:?}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_body_sent_in_chunks_is_stored_whole_and_checked_against_the_limit() {
    let inbox = MemoryInbox::new();
    let decoder = Decoder::new().max_body_bytes(1000).auth_header(SECRET);
    let server = Running::serve(Edge::Serve, Receiver::new(decoder, inbox.clone())).await;
    let chunked = |body: &str| {
        let (first, second) = body.split_at(body.len() / 2);
        format!(
            "POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: {SECRET}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
             Connection: close\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
            first.len(),
            second.len()
        )
    };
    let answer = send_and_read(&server.url, &chunked(&v2_push(7)))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let leased = inbox.take(10, Duration::ZERO).await.unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].delivery().body(), &v2_push(7));
    // Over the limit in chunks (no length declared up front): 413, nothing stored.
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(1500));
    let answer = send_and_read(&server.url, &chunked(&big)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(inbox.pending(), 1);
    server.stop().await;
}
