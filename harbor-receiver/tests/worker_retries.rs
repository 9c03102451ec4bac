//! The worker on every backend: retries with backoff, dead letters after N failures or at
//! once for a permanent failure, a panicking handler, the key handed to the handler, and a
//! graceful shutdown that finishes what is in flight.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
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

async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteInbox::builder(dir.path().join("inbox.db"))
        .lease(LEASE)
        .open()
        .unwrap();
    let mut all: Vec<Backend> = vec![
        (
            Arc::new(MemoryInbox::with_limits(
                100,
                harbor_receiver::DEFAULT_DEDUP_WINDOW,
                LEASE,
            )),
            None,
        ),
        (Arc::new(sqlite), Some(Box::new(dir))),
    ];
    #[cfg(feature = "nats")]
    if let Some(server) = harbor_testkit::NatsServer::start() {
        let inbox = harbor_receiver::NatsInbox::builder(server.url())
            .lease(LEASE)
            .open()
            .await
            .unwrap();
        all.push((Arc::new(inbox), Some(Box::new(server))));
    }
    all
}

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

#[tokio::test]
async fn failures_are_retried_with_backoff_then_dead_lettered() {
    for (inbox, _guard) in backends().await {
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
}

#[tokio::test]
async fn shutdown_lets_the_handlers_in_flight_finish_and_acknowledges_them() {
    for (inbox, _guard) in backends().await {
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_runs_at_most_its_concurrency_and_acknowledges_every_delivery() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    for (inbox, _guard) in backends().await {
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
}
