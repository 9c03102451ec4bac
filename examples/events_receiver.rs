//! A webhook endpoint for Harbor that never loses an event.
//!
//! ```text
//! events_receiver [--addr HOST:PORT] [--auth-header VALUE] [--inbox SPEC]
//!     [--role both|receiver|worker] [--concurrency N] [--lease SECONDS] [--max-attempts N]
//!     [--json] [--demo]
//! ```
//!
//! Harbor signs nothing: the only proof that a request comes from Harbor is the policy's
//! `auth_header`, sent verbatim as `Authorization` (compared here in constant time). Harbor
//! treats any `2xx` as the end of a delivery and never sends it again; anything else it
//! retries (3 attempts since 2.8, with a 3 s timeout; 10 before). So this endpoint checks and
//! decodes the request, appends it to a **durable inbox**, and only then answers `200`; when
//! the inbox cannot store it (disk full, database locked, JetStream down) it answers `503`
//! and Harbor delivers it again. A retry of a delivery already stored (Harbor did not see the
//! `200` in time) is answered `200` and stored once: its delivery key (the CloudEvents `id`,
//! else the SHA-256 of the body) is the same. Workers take deliveries from the inbox and
//! print them (the slow part of a real receiver), retrying failures with backoff.
//!
//! - `--addr`: where to listen (default `127.0.0.1:8080`; `--demo` picks a free loopback port).
//! - `--auth-header`: the exact `Authorization` value to require (or env `HARBOR_WEBHOOK_AUTH`).
//! - `--inbox`: `sqlite:PATH` (the default, `sqlite:events_receiver.db` in the working
//!   directory: survives crashes and restarts), `nats://HOST:PORT` or
//!   `nats://USER:PASSWORD@HOST:PORT` (NATS JetStream: receivers and workers on several
//!   machines share it), or `memory` (**everything accepted and not
//!   yet printed is lost when the process exits**).
//! - `--role`: `both` (default), `receiver` (HTTP only, no worker) or `worker` (no HTTP: works
//!   off a shared inbox, e.g. NATS).
//! - `--concurrency` (alias `--workers`): deliveries handled at once (default 4). `--lease`: seconds a delivery stays
//!   with a worker that stopped answering before another takes it (default 30).
//!   `--max-attempts`: attempts before a delivery is dead-lettered (default 5).
//! - `--json`: one line of JSON per event: `{"delivery_key", "attempt", "event"}`.
//! - `--demo`: post one payload of every format Harbor has sent (and one Harbor retry) to this
//!   very endpoint, with an inbox in a temporary file unless `--inbox` is given; print what the
//!   worker handled, show that a wrong secret and a broken body are refused, and exit.
//!
//! The first line on stdout is `listening on http://ADDR` (`--role worker`: `working on
//! SPEC`, the credentials of a `nats://USER:PASSWORD@HOST:PORT` shown as `***`); then one
//! line per handled event. Ctrl-C or `SIGTERM` stop it gracefully: requests
//! in flight are stored and answered, handlers in flight finish.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory as _, Parser};
use harbor_events::Decoder;
use harbor_receiver::{
    Delivery, HandlerError, Inbox, InboxOptions, InboxSpec, Receiver, RetryPolicy, Worker,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

const BODY_LIMIT: usize = 1 << 20;

/// The part this process plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Role {
    /// HTTP endpoint and workers.
    Both,
    /// HTTP only, no worker.
    Receiver,
    /// No HTTP: works off a shared inbox (e.g. NATS).
    Worker,
}

/// A webhook endpoint for Harbor that never loses an event.
///
/// Checks and decodes each delivery, stores it in a durable inbox, and only then answers 200
/// (503 when it cannot be stored, so Harbor delivers it again); workers print the events.
#[derive(Debug, Parser)]
#[command(
    name = "events_receiver",
    version,
    after_help = "Logs: RUST_LOG=harbor_receiver=debug shows the inbox and the workers."
)]
struct Args {
    /// Where to listen [default: 127.0.0.1:8080; with --demo a free loopback port].
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<SocketAddr>,
    /// The exact `Authorization` value to require (the webhook policy's auth header).
    #[arg(
        long,
        env = "HARBOR_WEBHOOK_AUTH",
        hide_env_values = true,
        value_name = "VALUE"
    )]
    auth_header: Option<String>,
    /// The inbox: sqlite:PATH (survives crashes), nats://HOST:PORT (JetStream, shared by
    /// several machines) or memory (lost on exit) [default: sqlite:events_receiver.db; with
    /// --demo a temporary file].
    #[arg(long, value_name = "SPEC", value_parser = parse_inbox)]
    inbox: Option<InboxSpec>,
    /// What this process does.
    #[arg(long, value_enum, default_value_t = Role::Both)]
    role: Role,
    /// Deliveries handled at once (the worker's concurrency).
    #[arg(long, visible_alias = "workers", value_name = "N", default_value_t = 4, value_parser = positive)]
    concurrency: usize,
    /// Seconds a delivery stays with a worker that stopped answering before another takes it
    /// [default: 30].
    #[arg(long, value_name = "SECONDS", value_parser = parse_lease, allow_negative_numbers = true)]
    lease: Option<Duration>,
    /// Attempts before a delivery is dead-lettered.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// One line of JSON per event: {"delivery_key", "attempt", "event"}.
    #[arg(long)]
    json: bool,
    /// Post one payload of every format Harbor has sent (and one retry) to this very endpoint,
    /// show that bad deliveries are refused, and exit.
    #[arg(long)]
    demo: bool,
}

#[derive(Debug)]
struct Config {
    addr: SocketAddr,
    auth_header: Option<String>,
    inbox: Option<InboxSpec>,
    role: Role,
    workers: usize,
    lease: Duration,
    max_attempts: u32,
    json: bool,
    demo: bool,
}

/// The command line, with `--demo`'s defaults.
fn parse_args() -> Config {
    let args = Args::parse();
    if args.demo && args.role != Role::Both {
        Args::command()
            .error(ErrorKind::ArgumentConflict, "--demo needs --role both")
            .exit();
    }
    let default_addr = if args.demo { 0 } else { 8080 };
    let mut auth_header = args.auth_header;
    if args.demo {
        auth_header.get_or_insert_with(|| "Bearer demo-secret".to_owned());
    }
    Config {
        addr: args
            .addr
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], default_addr))),
        auth_header,
        inbox: args.inbox,
        role: args.role,
        workers: args.concurrency,
        lease: args.lease.unwrap_or(harbor_receiver::DEFAULT_LEASE),
        max_attempts: args.max_attempts,
        json: args.json,
        demo: args.demo,
    }
}

fn parse_inbox(text: &str) -> Result<InboxSpec, String> {
    text.parse()
        .map_err(|e: harbor_receiver::Error| e.to_string())
}

fn positive(text: &str) -> Result<usize, String> {
    text.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or("not a positive number".to_owned())
}

fn parse_lease(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or("not a positive number of seconds".to_owned())
}

/// Installs the log subscriber: `RUST_LOG` (default `warn`), to stderr.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing_subscriber::filter::LevelFilter::WARN.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

/// Completes on Ctrl-C or `SIGTERM` (what `docker stop` and Kubernetes send).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The handler: one line per event. `handled` hears of each delivery (for `--demo`).
fn print_events(json: bool, handled: Option<mpsc::Sender<usize>>) -> impl harbor_receiver::Handler {
    move |delivery: Delivery| {
        let handled = handled.clone();
        async move {
            // A body that decoded when it was accepted and does not now never will.
            let events = delivery.events().map_err(HandlerError::permanent)?;
            let key = delivery.key();
            for event in &events {
                if json {
                    let line = serde_json::json!({
                        "delivery_key": key.as_str(),
                        "attempt": delivery.attempt(),
                        "event": event,
                    });
                    println!("{line}");
                } else {
                    println!("{event} [{key}]");
                }
            }
            if let Some(handled) = handled {
                let _ = handled.send(events.len()).await;
            }
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = parse_args();
    init_logs();
    // The demo's inbox lives in a temporary directory, removed on exit.
    let demo_dir = match config.demo.then(tempfile::tempdir).transpose() {
        Ok(dir) => dir,
        Err(err) => {
            eprintln!("events_receiver: cannot create a temporary directory: {err}");
            return ExitCode::from(1);
        }
    };
    let spec = match (&config.inbox, &demo_dir) {
        (Some(spec), _) => spec.clone(),
        (None, Some(dir)) => InboxSpec::Sqlite(dir.path().join("demo.db")),
        (None, None) => InboxSpec::Sqlite("events_receiver.db".into()),
    };
    let options = InboxOptions::new().lease(config.lease);
    let inbox = match spec.open(&options).await {
        Ok(inbox) => inbox,
        Err(err) => {
            eprintln!("events_receiver: {err}");
            return ExitCode::from(1);
        }
    };
    if spec.is_memory() {
        eprintln!("events_receiver: --inbox memory: deliveries not yet handled are lost on exit");
    }
    let (stop, stopped) = watch::channel(false);
    let on_stop = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };

    let mut server = None;
    let mut addr = None;
    if config.role != Role::Worker {
        let listener = match TcpListener::bind(config.addr).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("events_receiver: cannot listen on {}: {err}", config.addr);
                return ExitCode::from(1);
            }
        };
        match listener.local_addr() {
            Ok(local) => addr = Some(local),
            Err(err) => {
                eprintln!("events_receiver: {err}");
                return ExitCode::from(1);
            }
        }
        let mut decoder = Decoder::new().max_body_bytes(BODY_LIMIT);
        if let Some(secret) = &config.auth_header {
            decoder = decoder.auth_header(secret.clone());
        }
        let receiver = Receiver::new(decoder, inbox.clone());
        server = Some(tokio::spawn(
            receiver.serve(listener, on_stop(stopped.clone())),
        ));
    }
    match addr {
        Some(addr) => println!("listening on http://{addr}"),
        // `InboxSpec`'s Display shows a NATS URL's credentials as `***`.
        None => println!("working on {spec}"),
    }

    let (handled_tx, handled_rx) = mpsc::channel(64);
    let worker = (config.role != Role::Receiver).then(|| {
        let policy = RetryPolicy::new(config.max_attempts).unwrap_or_default();
        let handler = print_events(config.json, config.demo.then_some(handled_tx));
        tokio::spawn(
            Worker::new(inbox.clone())
                .concurrency(config.workers)
                .retry_policy(policy)
                .run(handler, on_stop(stopped.clone())),
        )
    });

    let code = match (config.demo, addr) {
        (true, Some(addr)) => {
            let secret = config.auth_header.clone().unwrap_or_default();
            match demo::run(addr, &secret, handled_rx).await {
                Ok(summary) => {
                    println!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(message) => {
                    eprintln!("events_receiver --demo failed: {message}");
                    ExitCode::from(1)
                }
            }
        }
        _ => {
            stop_signal().await;
            ExitCode::SUCCESS
        }
    };
    let _ = stop.send(true);
    shut_down(server, worker, &inbox).await.unwrap_or(code)
}

/// Waits for the server (requests in flight stored and answered) and the workers (handlers in
/// flight finished), then closes the inbox. `Some(code)` when something failed.
async fn shut_down(
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    worker: Option<tokio::task::JoinHandle<harbor_receiver::WorkerReport>>,
    inbox: &Arc<dyn Inbox>,
) -> Option<ExitCode> {
    let mut failed = None;
    if let Some(server) = server {
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                eprintln!("events_receiver: server error: {err}");
                failed = Some(ExitCode::from(1));
            }
            Err(err) => {
                eprintln!("events_receiver: server task failed: {err}");
                failed = Some(ExitCode::from(1));
            }
        }
    }
    if let Some(worker) = worker {
        match worker.await {
            Ok(report) if report.dead_lettered > 0 => eprintln!(
                "events_receiver: {} deliveries dead-lettered",
                report.dead_lettered
            ),
            Ok(_) => {}
            Err(err) => {
                eprintln!("events_receiver: worker task failed: {err}");
                failed = Some(ExitCode::from(1));
            }
        }
    }
    if let Err(err) = inbox.close().await {
        eprintln!("events_receiver: closing the inbox: {err}");
        failed = Some(ExitCode::from(1));
    }
    failed
}

/// `--demo`: one delivery of every format, as Harbor would send it, to ourselves.
mod demo {
    use axum::http::header;

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
        mut handled: mpsc::Receiver<usize>,
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
        // Every delivery, then Harbor's retry of the CloudEvent (the same bytes, the same id).
        let retry = DELIVERIES[3];
        for (what, content_type, body) in DELIVERIES.iter().chain([&retry]) {
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
            let wait = tokio::time::timeout(Duration::from_secs(5), handled.recv());
            match wait.await {
                Ok(Some(count)) => events += count,
                _ => return Err("the worker did not handle every delivery in time".to_owned()),
            }
        }
        // The retry was stored once: nothing more comes.
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), handled.recv()).await
        {
            return Err("Harbor's retry of a stored delivery was handled twice".to_owned());
        }
        Ok(format!(
            "demo: {} deliveries in {} formats decoded into {events} events, each stored in the \
             inbox before its 200; Harbor's retry of one was stored once; 2 bad deliveries refused",
            DELIVERIES.len(),
            DELIVERIES.len()
        ))
    }
}
