//! The worker on every backend: retries with backoff, dead letters after N failures or at
//! once for a permanent failure, a panicking handler, the key handed to the handler, and a
//! graceful shutdown that finishes what is in flight, and one that gives back what is not
//! finished after its grace. One test per backend; the NATS ones need `nats-server`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::delivery;
use harbor_receiver::{
    Delivery, DeliveryKey, HandlerError, Inbox, MemoryInbox, RetryPolicy, SqliteInbox, Worker,
};
use tokio::sync::oneshot;

const LEASE: Duration = Duration::from_secs(1);

/// Every call to the handler: (key, attempt, when).
type Calls = Arc<Mutex<Vec<(DeliveryKey, u32, Instant)>>>;

/// An inbox, and what must live as long as it (its directory, its server).
type Backend = (Arc<dyn Inbox>, Option<Box<dyn std::any::Any>>);

fn memory(lease: Duration) -> Backend {
    let inbox = MemoryInbox::with_limits(100, harbor_receiver::DEFAULT_DEDUP_WINDOW, lease);
    (Arc::new(inbox), None)
}

fn sqlite(lease: Duration) -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let inbox = SqliteInbox::builder(dir.path().join("inbox.db"))
        .lease(lease)
        .open()
        .unwrap();
    (Arc::new(inbox), Some(Box::new(dir)))
}

/// `None` (after the SKIP notice) when `nats-server` is absent outside CI; the tests that
/// use it are ignored then (`needs`).
#[cfg(feature = "nats")]
async fn nats(lease: Duration) -> Option<Backend> {
    let server = harbor_testkit::NatsServer::start()?;
    let inbox = harbor_receiver::NatsInbox::builder(server.url())
        .lease(lease)
        .open()
        .await
        .unwrap();
    Some((Arc::new(inbox), Some(Box::new(server))))
}

/// One test per backend for `scenario(inbox)`, named `scenario::memory`, `scenario::sqlite`
/// and `scenario::nats` (the last one needs `nats-server`), each inbox with lease `lease`.
macro_rules! on_every_backend {
    ($scenario:ident, $lease:expr) => {
        mod $scenario {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                let (inbox, _guard) = super::memory($lease);
                super::$scenario(inbox).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (inbox, _guard) = super::sqlite($lease);
                super::$scenario(inbox).await;
            }

            #[cfg(feature = "nats")]
            #[harbor_testkit::needs("nats-server")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn nats() {
                let Some((inbox, _guard)) = super::nats($lease).await else {
                    return;
                };
                super::$scenario(inbox).await;
            }
        }
    };
}

on_every_backend!(failures_are_retried_with_backoff_then_dead_lettered, LEASE);
on_every_backend!(
    shutdown_lets_the_handlers_in_flight_finish_and_acknowledges_them,
    LEASE
);
on_every_backend!(
    a_worker_runs_at_most_its_concurrency_and_acknowledges_every_delivery,
    LEASE
);
// A lease far longer than the test: a delivery that comes back came back because it was
// given back, not because its lease ran out.
on_every_backend!(
    a_handler_past_the_shutdown_grace_is_stopped_and_its_delivery_given_back,
    Duration::from_secs(60)
);

/// Runs a worker until `done` says so (or 10 s pass), then shuts it down.
async fn run_until(
    inbox: Arc<dyn Inbox>,
    policy: RetryPolicy,
    handler: impl harbor_receiver::Handler,
    done: impl Fn() -> bool + Send + 'static,
) -> harbor_receiver::WorkerReport {
    let (stop, stopped) = oneshot::channel::<()>();
    let watcher = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = stop.send(());
    });
    let report = Worker::new(inbox)
        .concurrency(3)
        .retry_policy(policy)
        .run(handler, async {
            let _ = stopped.await;
        })
        .await;
    watcher.await.unwrap();
    report
}

async fn failures_are_retried_with_backoff_then_dead_lettered(inbox: Arc<dyn Inbox>) {
    let policy = RetryPolicy::new(3)
        .unwrap()
        .initial_delay(Duration::from_millis(200));
    let calls: Calls = Arc::default();
    // Delivery 1 fails twice then succeeds; 2 always fails; 3 fails permanently; 4 panics
    // once.
    let (flaky, broken, bad, panics) = (delivery(1), delivery(2), delivery(3), delivery(4));
    for d in [&flaky, &broken, &bad, &panics] {
        inbox.append(d.clone()).await.unwrap();
    }
    let keys = [flaky.key(), broken.key(), bad.key(), panics.key()].map(Clone::clone);
    let seen = calls.clone();
    let handler = move |d: Delivery| {
        let calls = seen.clone();
        let keys = keys.clone();
        async move {
            calls
                .lock()
                .unwrap()
                .push((d.key().clone(), d.attempt(), Instant::now()));
            match keys.iter().position(|k| k == d.key()) {
                Some(0) if d.attempt() < 3 => Err(HandlerError::retry("not yet")),
                Some(1) => Err(HandlerError::retry("always broken")),
                Some(2) => Err(HandlerError::permanent("no such project")),
                Some(3) if d.attempt() == 1 => panic!("handler bug"),
                _ => Ok(()),
            }
        }
    };
    let counted = calls.clone();
    let report = run_until(inbox.clone(), policy, handler, move || {
        counted.lock().unwrap().len() >= 3 + 3 + 1 + 2
    })
    .await;

    let calls = calls.lock().unwrap().clone();
    let mut by_key: HashMap<DeliveryKey, Vec<(u32, Instant)>> = HashMap::new();
    for (key, attempt, at) in calls {
        by_key.entry(key).or_default().push((attempt, at));
    }
    let attempts = |d: &Delivery| by_key[d.key()].iter().map(|a| a.0).collect::<Vec<_>>();
    assert_eq!(attempts(&flaky), [1, 2, 3], "{inbox:?}");
    assert_eq!(attempts(&broken), [1, 2, 3], "{inbox:?}");
    assert_eq!(attempts(&bad), [1], "{inbox:?}");
    assert_eq!(attempts(&panics), [1, 2], "{inbox:?}");
    // The backoff: at least half of 200 ms, then of 400 ms.
    let times = &by_key[flaky.key()];
    assert!(
        times[1].1 - times[0].1 >= Duration::from_millis(100),
        "{inbox:?}"
    );
    assert!(
        times[2].1 - times[1].1 >= Duration::from_millis(200),
        "{inbox:?}"
    );

    assert_eq!(report.acknowledged, 2, "{inbox:?} {report:?}");
    assert_eq!(report.dead_lettered, 2, "{inbox:?} {report:?}");
    assert_eq!(report.retried, 5, "{inbox:?} {report:?}");
    let mut dead = inbox.dead_letters(10).await.unwrap();
    dead.sort_by_key(|d| d.reason.clone());
    let reasons: Vec<_> = dead.iter().map(|d| d.reason.as_str()).collect();
    assert_eq!(reasons, ["always broken", "no such project"], "{inbox:?}");
    inbox.close().await.unwrap();
}

async fn shutdown_lets_the_handlers_in_flight_finish_and_acknowledges_them(inbox: Arc<dyn Inbox>) {
    for n in 0..3 {
        inbox.append(delivery(100 + n)).await.unwrap();
    }
    let (started_tx, started) = tokio::sync::mpsc::channel::<()>(8);
    let finished: Arc<Mutex<Vec<DeliveryKey>>> = Arc::default();
    let done = finished.clone();
    let handler = move |d: Delivery| {
        let started = started_tx.clone();
        let done = done.clone();
        async move {
            let _ = started.send(()).await;
            tokio::time::sleep(Duration::from_millis(400)).await;
            done.lock().unwrap().push(d.key().clone());
            Ok(())
        }
    };
    let mut started = started;
    let report = Worker::new(inbox.clone())
        .concurrency(3)
        .run(handler, async move {
            // Stop as soon as all three handlers are running.
            for _ in 0..3 {
                started.recv().await;
            }
        })
        .await;
    assert_eq!(finished.lock().unwrap().len(), 3, "{inbox:?}");
    assert_eq!(report.acknowledged, 3, "{inbox:?} {report:?}");
    assert!(
        inbox.take(1, LEASE + LEASE / 2).await.unwrap().is_empty(),
        "{inbox:?}: a drained delivery came back"
    );
    inbox.close().await.unwrap();
}

async fn a_worker_runs_at_most_its_concurrency_and_acknowledges_every_delivery(
    inbox: Arc<dyn Inbox>,
) {
    for n in 0..40 {
        inbox.append(delivery(200 + n)).await.unwrap();
    }
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let handled = Arc::new(AtomicUsize::new(0));
    let (now, peak, count) = (running.clone(), most.clone(), handled.clone());
    let handler = move |_: Delivery| {
        let (now, peak, count) = (now.clone(), peak.clone(), count.clone());
        async move {
            let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(at_once, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            count.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let watched = handled.clone();
    let watcher = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(10);
        while watched.load(Ordering::SeqCst) < 40 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = stop.send(());
    });
    let report = Worker::new(inbox.clone())
        .concurrency(8)
        .run(handler, async {
            let _ = stopped.await;
        })
        .await;
    watcher.await.unwrap();
    let peak = most.load(Ordering::SeqCst);
    assert!(
        (2..=8).contains(&peak),
        "{inbox:?}: {peak} handlers ran at once"
    );
    assert_eq!(handled.load(Ordering::SeqCst), 40, "{inbox:?}");
    assert_eq!(report.acknowledged, 40, "{inbox:?} {report:?}");
    assert_eq!(report.inbox_errors, 0, "{inbox:?} {report:?}");
    assert!(
        inbox.take(40, LEASE + LEASE / 2).await.unwrap().is_empty(),
        "{inbox:?}: an acknowledged delivery came back"
    );
    inbox.close().await.unwrap();
}

/// A handler that never finishes does not keep `run` from returning after the grace: it is
/// stopped and its delivery given back, and the next worker gets it at once (the lease is a
/// minute); the handlers that finished are acknowledged, once.
async fn a_handler_past_the_shutdown_grace_is_stopped_and_its_delivery_given_back(
    inbox: Arc<dyn Inbox>,
) {
    let (stuck, quick) = (delivery(300), [delivery(301), delivery(302)]);
    for d in std::iter::once(&stuck).chain(&quick) {
        inbox.append(d.clone()).await.unwrap();
    }
    let (started_tx, mut started) = tokio::sync::mpsc::channel::<()>(8);
    let stuck_key = stuck.key().clone();
    let handler = move |d: Delivery| {
        let (started, stuck_key) = (started_tx.clone(), stuck_key.clone());
        async move {
            let _ = started.send(()).await;
            if *d.key() == stuck_key {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(())
        }
    };
    let grace = Duration::from_millis(500);
    let stopping = Instant::now();
    let report = tokio::time::timeout(
        Duration::from_secs(20),
        Worker::new(inbox.clone())
            .concurrency(3)
            .shutdown_grace(grace)
            .run(handler, async move {
                for _ in 0..3 {
                    started.recv().await;
                }
            }),
    )
    .await
    .unwrap_or_else(|_| panic!("{inbox:?}: run did not return after its grace"));
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{inbox:?}: run took {:?}",
        stopping.elapsed()
    );
    assert_eq!(report.acknowledged, 2, "{inbox:?} {report:?}");
    assert_eq!(report.abandoned, 1, "{inbox:?} {report:?}");
    assert_eq!(report.inbox_errors, 0, "{inbox:?} {report:?}");

    // The next worker: the stuck delivery at once, one attempt further; the acknowledged
    // ones never.
    let calls: Calls = Arc::default();
    let seen = calls.clone();
    let handler = move |d: Delivery| {
        let calls = seen.clone();
        async move {
            calls
                .lock()
                .unwrap()
                .push((d.key().clone(), d.attempt(), Instant::now()));
            Ok(())
        }
    };
    let counted = calls.clone();
    let again = Instant::now();
    let report = run_until(inbox.clone(), RetryPolicy::default(), handler, move || {
        !counted.lock().unwrap().is_empty()
    })
    .await;
    // Leave the acknowledged ones a chance to come back (they must not).
    assert!(
        inbox
            .take(10, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty(),
        "{inbox:?}: a delivery came back"
    );
    let calls = calls.lock().unwrap().clone();
    let handled: Vec<_> = calls.iter().map(|(k, a, _)| (k.clone(), *a)).collect();
    assert_eq!(handled, [(stuck.key().clone(), 2)], "{inbox:?}");
    assert!(
        calls[0].2 - again < Duration::from_secs(5),
        "{inbox:?}: the stuck delivery came back only after {:?}",
        calls[0].2 - again
    );
    assert_eq!(report.acknowledged, 1, "{inbox:?} {report:?}");
    inbox.close().await.unwrap();
}
