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
//! stderr how long appends took as the server saw them (from the call to the durable
//! answer: the inbox's own latency, without the load generator's), how many deliveries the
//! SQLite inbox stored in how many commits and syncs, and the worker's counts.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use harbor_events::Decoder;
use harbor_receiver::{
    Appended, BoxFuture, DeadLetter, Delivery, Disposition, Inbox, InboxOptions, InboxSpec, Leased,
    Receiver, Result, SqliteInbox, SqliteStats, Worker,
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
        decoder = decoder.auth_header(auth);
    }
    let (stop, stopped) = watch::channel(false);
    let on_stop = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let timed = Timed::new(inbox.clone());
    let appends = timed.latencies.clone();
    let server =
        tokio::spawn(Receiver::new(decoder, timed).serve(listener, on_stop(stopped.clone())));
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
    eprintln!("{}", appends.summary());
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

/// Append latencies in buckets of 100 µs, the last one for 100 ms and more.
#[derive(Debug)]
struct Latencies {
    buckets: Vec<AtomicU64>,
}

impl Latencies {
    const BUCKET: Duration = Duration::from_micros(100);

    fn new() -> Latencies {
        Latencies {
            buckets: (0..=1000).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn record(&self, took: Duration) {
        let bucket = (took.as_micros() / Self::BUCKET.as_micros()).min(1000) as usize;
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// `append: n=N p50=X p99=Y p99.9=Z` (milliseconds, each the upper edge of its bucket).
    fn summary(&self) -> String {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let mut line = format!("append: n={total}");
        for (name, q) in [("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999)] {
            let wanted = (q * total as f64).ceil() as u64;
            let mut seen = 0;
            let bucket = counts
                .iter()
                .position(|n| {
                    seen += n;
                    seen >= wanted.max(1)
                })
                .unwrap_or(counts.len() - 1);
            let ms = (bucket + 1) as f64 * Self::BUCKET.as_secs_f64() * 1000.0;
            line += &format!(" {name}={ms:.1}");
        }
        line
    }
}

/// The inbox, with each append timed.
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn Inbox>,
    latencies: Arc<Latencies>,
}

impl Timed {
    fn new(inner: Arc<dyn Inbox>) -> Timed {
        Timed {
            inner,
            latencies: Arc::new(Latencies::new()),
        }
    }
}

impl Inbox for Timed {
    fn append(&self, delivery: Delivery) -> BoxFuture<'_, Result<Appended>> {
        let started = Instant::now();
        Box::pin(async move {
            let appended = self.inner.append(delivery).await;
            self.latencies.record(started.elapsed());
            appended
        })
    }

    fn take(&self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Leased>>> {
        self.inner.take(max, wait)
    }

    fn ack<'a>(&'a self, leased: &'a [Leased]) -> BoxFuture<'a, Result<()>> {
        self.inner.ack(leased)
    }

    fn fail<'a>(
        &'a self,
        leased: &'a Leased,
        disposition: Disposition,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        self.inner.fail(leased, disposition, reason)
    }

    fn extend<'a>(&'a self, leased: &'a Leased) -> BoxFuture<'a, Result<()>> {
        self.inner.extend(leased)
    }

    fn lease(&self) -> Duration {
        self.inner.lease()
    }

    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>>> {
        self.inner.dead_letters(limit)
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        self.inner.close()
    }
}
