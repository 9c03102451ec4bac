//! A webhook endpoint for Harbor that survives Harbor's delivery semantics.
//!
//! ```text
//! events_receiver [--addr HOST:PORT] [--auth-header VALUE] [--queue N] [--json] [--demo]
//! ```
//!
//! Harbor signs nothing: the only proof that a request comes from Harbor is the policy's
//! `auth_header`, sent verbatim as `Authorization` (compared here in constant time). Harbor
//! retries any non-2xx answer (10 attempts up to 2.7, 3 since 2.8) and, since 2.8, gives up on
//! an answer that takes more than 3 s. So this endpoint decodes and checks the request, hands
//! the payload to a worker through a bounded queue, and answers `200` at once; the worker does
//! the slow part (here: printing one line per event). When the queue is full it answers `503`
//! so that Harbor delivers the event again later: nothing is lost.
//!
//! - `--addr`: where to listen (default `127.0.0.1:8080`; `--demo` picks a free loopback port).
//! - `--auth-header`: the exact `Authorization` value to require (or env `HARBOR_WEBHOOK_AUTH`).
//! - `--queue`: how many payloads may wait for the worker (default 1024).
//! - `--json`: print each event as one line of JSON instead of a sentence.
//! - `--demo`: post one payload of every format Harbor has sent to this very endpoint, print
//!   what the worker decoded, show that a wrong secret and a broken body are refused, and exit.
//!
//! The first line on stdout is `listening on http://ADDR`; then one line per decoded event.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use harbor_events::{Decoder, Payload};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

const USAGE: &str =
    "usage: events_receiver [--addr HOST:PORT] [--auth-header VALUE] [--queue N] [--json] [--demo]";
const BODY_LIMIT: usize = 1 << 20;

#[derive(Debug)]
struct Config {
    addr: SocketAddr,
    auth_header: Option<String>,
    queue: usize,
    json: bool,
    demo: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
    let mut config = Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
        auth_header: std::env::var("HARBOR_WEBHOOK_AUTH").ok(),
        queue: 1024,
        json: false,
        demo: false,
    };
    let mut addr_given = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--addr" => {
                let text = value("--addr")?;
                config.addr = text
                    .parse()
                    .map_err(|_| format!("--addr {text:?} is not HOST:PORT"))?;
                addr_given = true;
            }
            "--auth-header" => config.auth_header = Some(value("--auth-header")?),
            "--queue" => {
                let text = value("--queue")?;
                config.queue = text
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("--queue {text:?} is not a positive number"))?;
            }
            "--json" => config.json = true,
            "--demo" => config.demo = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if config.demo {
        if !addr_given {
            config.addr = SocketAddr::from(([127, 0, 0, 1], 0));
        }
        config
            .auth_header
            .get_or_insert_with(|| "Bearer demo-secret".to_owned());
    }
    Ok(Some(config))
}

/// What the HTTP handler shares.
#[derive(Clone)]
struct App {
    decoder: Arc<Decoder>,
    queue: mpsc::Sender<Payload<'static>>,
}

async fn receive(
    State(app): State<App>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST")]).into_response();
    }
    let payload = match app.decoder.decode_with_headers(&headers, &body) {
        Ok(payload) => payload.into_owned(),
        Err(err) => {
            let status = err.status().unwrap_or(StatusCode::BAD_REQUEST);
            eprintln!("refused a delivery ({status}): {err}");
            return (status, err.to_string()).into_response();
        }
    };
    match app.queue.try_send(payload) {
        Ok(()) => StatusCode::OK.into_response(),
        // Harbor will deliver it again: answering 503 loses nothing.
        Err(mpsc::error::TrySendError::Full(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "30")],
        )
            .into_response(),
        Err(mpsc::error::TrySendError::Closed(_)) => {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// The slow part, off the request path: here it only prints.
async fn work(
    mut queue: mpsc::Receiver<Payload<'static>>,
    json: bool,
    mut seen: Option<mpsc::Sender<usize>>,
) {
    while let Some(payload) = queue.recv().await {
        let events = payload.events();
        for event in &events {
            if json {
                match serde_json::to_string(event) {
                    Ok(line) => println!("{line}"),
                    Err(err) => eprintln!("cannot print an event as JSON: {err}"),
                }
            } else {
                println!("{event}");
            }
        }
        if let Some(seen) = &mut seen {
            let _ = seen.send(events.len()).await;
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("events_receiver: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut decoder = Decoder::new().max_body_bytes(BODY_LIMIT);
    if let Some(secret) = &config.auth_header {
        decoder = decoder.expect_authorization(secret.clone());
    }
    let listener = match TcpListener::bind(config.addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("events_receiver: cannot listen on {}: {err}", config.addr);
            return ExitCode::from(1);
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("events_receiver: {err}");
            return ExitCode::from(1);
        }
    };
    println!("listening on http://{addr}");

    let (tx, rx) = mpsc::channel(config.queue);
    let (seen_tx, seen_rx) = mpsc::channel(64);
    let worker = tokio::spawn(work(rx, config.json, config.demo.then_some(seen_tx)));
    let app = App {
        decoder: Arc::new(decoder),
        queue: tx,
    };
    let router = Router::new()
        .fallback(receive)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(app);

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = stop_rx => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            })
            .await
    });

    let code = if config.demo {
        let secret = config.auth_header.clone().unwrap_or_default();
        let result = demo::run(addr, &secret, seen_rx).await;
        let _ = stop_tx.send(());
        match result {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("events_receiver --demo failed: {message}");
                ExitCode::from(1)
            }
        }
    } else {
        // Serve until Ctrl-C; `stop_tx` stays alive (and unused) until the server is down.
        ExitCode::SUCCESS
    };
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            eprintln!("events_receiver: server error: {err}");
            return ExitCode::from(1);
        }
        Err(err) => {
            eprintln!("events_receiver: server task failed: {err}");
            return ExitCode::from(1);
        }
    }
    // The server is down and has dropped its sender: the worker drains what is queued.
    let _ = tokio::time::timeout(Duration::from_secs(5), worker).await;
    code
}

/// `--demo`: one delivery of every format, as Harbor would send it, to ourselves.
mod demo {
    use super::*;

    /// (what, Content-Type, body)
    const DELIVERIES: &[(&str, &str, &str)] = &[
        (
            "Harbor 1.10 (v1)",
            "application/json",
            r#"{"type":"pushImage","occur_at":1586922308,"operator":"admin","event_data":{"resources":[{"digest":"sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8","tag":"latest","resource_url":"harbor.example.com/library/nginx:latest"}],"repository":{"date_created":1586922307,"name":"nginx","namespace":"library","repo_full_name":"library/nginx","repo_type":"public"}}}"#,
        ),
        (
            "the Harbor 1.x docs shape (never sent by Harbor)",
            "application/json",
            r#"{"event_type":"pushImage","events":[{"project":"library","repo_name":"library/nginx","tag":"latest","full_name":"library/nginx","trigger_time":1586922308,"image_id":"sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8","project_type":"Public"}]}"#,
        ),
        (
            "Harbor 2.x (Default)",
            "application/json",
            r#"{"type":"SCANNING_COMPLETED","occur_at":1680502375,"operator":"auto","event_data":{"resources":[{"digest":"sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4","tag":"latest","resource_url":"harbor.example.com/library/alpine:latest","scan_overview":{"application/vnd.security.vulnerability.report; version=1.1":{"report_id":"5f4c0b0f-7f5e-4f3b-9f53-4e0a4b0c1d2e","scan_status":"Success","severity":"High","duration":3,"summary":{"total":4,"fixable":4,"summary":{"High":1,"Medium":3}},"start_time":"2023-04-03T06:12:52Z","end_time":"2023-04-03T06:12:55Z","scanner":{"name":"Trivy","vendor":"Aqua Security","version":"v0.37.2"},"complete_percent":100}}}],"repository":{"date_created":1680502300,"name":"alpine","namespace":"library","repo_full_name":"library/alpine","repo_type":"public"}}}"#,
        ),
        (
            "CloudEvents (Harbor 2.8+)",
            "application/cloudevents+json",
            r#"{"specversion":"1.0","id":"66cd6fb3-1d1f-4f0e-9c4b-a4b3d1c0e6a1","requestid":"b2b2f7a5-4d4e-4e0a-8f5d-0f5e1f9a6c3b","source":"/projects/1/webhook/policies/2","type":"harbor.artifact.pushed","datacontenttype":"application/json","time":"2023-04-03T06:12:52Z","data":{"resources":[{"digest":"sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4","tag":"v1.0","resource_url":"harbor.example.com/library/alpine:v1.0"}],"repository":{"date_created":1680502300,"name":"alpine","namespace":"library","repo_full_name":"library/alpine","repo_type":"public"}},"operator":"admin"}"#,
        ),
        (
            "the registry's own notification (distribution)",
            "application/vnd.docker.distribution.events.v1+json",
            r#"{"events":[{"id":"320678d8-ca14-430f-8bb6-4ca139cd83f7","timestamp":"2023-04-03T06:12:52.123456789Z","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":708,"digest":"sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4","length":708,"repository":"library/alpine","url":"http://127.0.0.1:5000/v2/library/alpine/manifests/sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4","tag":"v1.0"},"request":{"id":"4c8e7c6a-1f2b-4a3d-9e8f-7a6b5c4d3e2f","addr":"127.0.0.1:40000","host":"127.0.0.1:5000","method":"PUT","useragent":"harbor-sdk"},"actor":{"name":"admin"},"source":{"addr":"registry:5000","instanceID":"4f3c1a2b-5d6e-4f70-8a9b-0c1d2e3f4a5b"}}]}"#,
        ),
    ];

    pub(super) async fn run(
        addr: SocketAddr,
        secret: &str,
        mut seen: mpsc::Receiver<usize>,
    ) -> Result<String, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(3)) // Harbor 2.8+ gives up after 3 s too.
            .build()
            .map_err(|err| format!("cannot build the HTTP client: {err}"))?;
        let url = format!("http://{addr}/webhook");
        let post = |content_type: &'static str, auth: String, body: &'static str| {
            client
                .post(&url)
                .header(header::CONTENT_TYPE, content_type)
                .header(header::AUTHORIZATION, auth)
                .body(body)
                .send()
        };
        for (what, content_type, body) in DELIVERIES {
            let response = post(content_type, secret.to_owned(), body)
                .await
                .map_err(|err| format!("posting {what}: {err}"))?;
            if response.status() != reqwest::StatusCode::OK {
                return Err(format!("{what} was answered {}", response.status()));
            }
        }
        let refusals = [
            ("a wrong secret", "Bearer wrong", DELIVERIES[0].2, 401),
            ("a broken body", secret, "{\"type\":\"PUSH_ARTIFACT\",", 400),
        ];
        for (what, auth, body, want) in refusals {
            let response = post("application/json", auth.to_owned(), body)
                .await
                .map_err(|err| format!("posting {what}: {err}"))?;
            if response.status().as_u16() != want {
                return Err(format!(
                    "{what} was answered {}, not {want}",
                    response.status()
                ));
            }
            println!("refused {what} with {}", response.status());
        }
        let mut events = 0;
        for _ in DELIVERIES {
            let wait = tokio::time::timeout(Duration::from_secs(5), seen.recv());
            match wait.await {
                Ok(Some(count)) => events += count,
                _ => return Err("the worker did not report every delivery in time".to_owned()),
            }
        }
        Ok(format!(
            "demo: {} deliveries in {} formats decoded into {events} events; 2 bad deliveries refused",
            DELIVERIES.len(),
            DELIVERIES.len()
        ))
    }
}
