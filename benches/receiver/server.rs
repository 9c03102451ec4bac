//! The receiver under load for `benches/webhook_receiver.sh`: `harbor-receiver`'s `Receiver`
//! on the inbox given, and a `Worker` that acknowledges each delivery (as the Go peer's
//! goroutine drains its channel), so the inbox is consumed while it is filled.
//!
//! ```text
//! webhook_receiver_bench --inbox memory|sqlite:PATH [--files N] [--workers N]
//!     [--addr HOST:PORT] [--auth-header VALUE]
//! ```
//!
//! Prints `listening on http://ADDR` and serves until Ctrl-C or `SIGTERM`, then prints to
//! stderr how many deliveries the SQLite inbox stored in how many commits and syncs, and the
//! worker's counts.

use std::process::ExitCode;

use harbor_events::Decoder;
use std::sync::Arc;

use harbor_receiver::{
    Delivery, Inbox, InboxOptions, InboxSpec, Receiver, SqliteInbox, SqliteStats, Worker,
};
use tokio::sync::watch;

#[tokio::main]
async fn main() -> ExitCode {
    let mut inbox = None;
    let mut addr = "127.0.0.1:0".to_owned();
    let mut auth = None;
    let mut files = 1;
    let mut lanes = 16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--inbox", Some(spec)) => inbox = spec.parse::<InboxSpec>().ok(),
            ("--addr", Some(value)) => addr = value,
            ("--auth-header", Some(value)) => auth = Some(value),
            ("--files", Some(value)) => files = value.parse().unwrap_or(0),
            ("--workers", Some(value)) => lanes = value.parse().unwrap_or(16),
            _ => {
                eprintln!(
                    "usage: webhook_receiver_bench --inbox SPEC [--addr A] [--auth-header V]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let Some(spec) = inbox else {
        eprintln!("webhook_receiver_bench: --inbox memory|sqlite:PATH is required");
        return ExitCode::from(2);
    };
    // The SQLite inbox is opened by type, to report how many deliveries shared each commit.
    let (inbox, sqlite): (Arc<dyn Inbox>, Option<SqliteInbox>) = match &spec {
        InboxSpec::Sqlite(path) => match SqliteInbox::builder(path).files(files).open() {
            Ok(inbox) => (Arc::new(inbox.clone()), Some(inbox)),
            Err(err) => {
                eprintln!("webhook_receiver_bench: {err}");
                return ExitCode::from(1);
            }
        },
        other => match other.open(&InboxOptions::new()).await {
            Ok(inbox) => (inbox, None),
            Err(err) => {
                eprintln!("webhook_receiver_bench: {err}");
                return ExitCode::from(1);
            }
        },
    };
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("webhook_receiver_bench: cannot listen on {addr}: {err}");
            return ExitCode::from(1);
        }
    };
    match listener.local_addr() {
        Ok(local) => println!("listening on http://{local}"),
        Err(err) => {
            eprintln!("webhook_receiver_bench: {err}");
            return ExitCode::from(1);
        }
    }
    let mut decoder = Decoder::new();
    if let Some(auth) = auth {
        decoder = decoder.expect_authorization(auth);
    }
    let (stop, stopped) = watch::channel(false);
    let on_stop = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let server = tokio::spawn(
        Receiver::new(decoder, inbox.clone()).serve(listener, on_stop(stopped.clone())),
    );
    let worker = (lanes > 0).then(|| {
        tokio::spawn(
            Worker::new(inbox.clone())
                .concurrency(lanes)
                .run(|_: Delivery| async { Ok(()) }, on_stop(stopped)),
        )
    });
    let report = |stats: SqliteStats| {
        eprintln!(
            "sqlite: {} deliveries stored in {} commits, made durable by {} syncs",
            stats.appended, stats.commits, stats.syncs
        );
    };
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(err) => {
            eprintln!("webhook_receiver_bench: {err}");
            return ExitCode::from(1);
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    if let Some(sqlite) = &sqlite {
        report(sqlite.stats());
    }
    let _ = stop.send(true);
    let _ = server.await;
    if let Some(worker) = worker
        && let Ok(report) = worker.await
    {
        eprintln!("worker: {report:?}");
    }
    let _ = inbox.close().await;
    ExitCode::SUCCESS
}
