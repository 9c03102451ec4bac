//! The `Inbox` contract, checked on every backend: the memory inbox, a real SQLite file and a
//! real `nats-server -js`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::delivery;
use harbor_receiver::{Appended, Disposition, Inbox, Leased, MemoryInbox, SqliteInbox};

/// Long enough that the margins around it (an extension every third of it, a retake racing
/// the lease of its batch) hold on a slow, busy two-core machine; the tests run in parallel,
/// so the seconds it adds to each scenario hardly add to the suite's.
const LEASE: Duration = Duration::from_millis(1500);
const WINDOW: Duration = Duration::from_secs(3600);

async fn take(inbox: &dyn Inbox, within: Duration) -> Leased {
    let mut taken = inbox.take(1, within).await.unwrap();
    assert!(taken.len() <= 1, "took {} for a max of 1", taken.len());
    taken
        .pop()
        .unwrap_or_else(|| panic!("nothing ready within {within:?}"))
}

/// What every backend promises, in one scenario.
async fn contract(inbox: Arc<dyn Inbox>, lease_lost_detected: bool, fifo: bool) {
    let (a, b, c) = (delivery(1), delivery(2), delivery(3));
    assert_eq!(inbox.append(a.clone()).await.unwrap(), Appended::New);
    assert_eq!(inbox.append(a.clone()).await.unwrap(), Appended::Duplicate);
    assert_eq!(inbox.append(b.clone()).await.unwrap(), Appended::New);

    // One lease each, the first attempt (in order, except across the files of a
    // several-file SQLite inbox).
    let mut first = take(&*inbox, Duration::from_secs(2)).await;
    let mut second = take(&*inbox, Duration::from_secs(2)).await;
    if !fifo && first.delivery().key() == b.key() {
        std::mem::swap(&mut first, &mut second);
    }
    assert_eq!(first.delivery().key(), a.key());
    assert_eq!(first.delivery().body(), a.body());
    assert_eq!(first.delivery().attempt(), 1);
    assert_eq!(second.delivery().key(), b.key());
    assert!(
        inbox
            .take(1, Duration::from_millis(50))
            .await
            .unwrap()
            .is_empty()
    );

    // Acknowledged: never handed out again, and its key is still a duplicate.
    inbox.ack(std::slice::from_ref(&first)).await.unwrap();
    assert_eq!(inbox.append(a.clone()).await.unwrap(), Appended::Duplicate);
    assert_eq!(first.delivery().payload().unwrap().events().len(), 1);

    // A holder that went silent: once the lease runs out, the same delivery (same key) goes
    // to the next taker, one attempt further on.
    let again = take(&*inbox, LEASE * 4).await;
    assert_eq!(again.delivery().key(), b.key());
    assert_eq!(again.delivery().attempt(), 2);
    if lease_lost_detected {
        let late = inbox.ack(&[second]).await.unwrap_err();
        assert!(late.is_lease_lost(), "{late}");
    }

    // A retry comes back after its delay, not before.
    let retry_at = Instant::now();
    inbox
        .fail(
            &again,
            Disposition::RetryAfter(Duration::from_secs(1)),
            "try later",
        )
        .await
        .unwrap();
    assert!(
        inbox
            .take(1, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty()
    );
    let third = take(&*inbox, Duration::from_secs(4)).await;
    assert!(retry_at.elapsed() >= Duration::from_millis(990));
    assert_eq!(third.delivery().key(), b.key());
    assert_eq!(third.delivery().attempt(), 3);

    // Dead-lettered: kept with its reason and bytes, never handed out again.
    inbox
        .fail(&third, Disposition::DeadLetter, "the handler gave up")
        .await
        .unwrap();
    let dead = inbox.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].delivery.key(), b.key());
    assert_eq!(dead[0].delivery.body(), b.body());
    assert_eq!(dead[0].delivery.attempt(), 3);
    assert_eq!(dead[0].reason, "the handler gave up");
    assert_eq!(inbox.append(b.clone()).await.unwrap(), Appended::Duplicate);

    // A lease that is extended outlives its first term.
    assert_eq!(inbox.append(c.clone()).await.unwrap(), Appended::New);
    let long = take(&*inbox, Duration::from_secs(2)).await;
    for _ in 0..4 {
        tokio::time::sleep(LEASE / 3).await;
        inbox.extend(&long).await.unwrap();
    }
    assert!(
        inbox
            .take(1, Duration::from_millis(100))
            .await
            .unwrap()
            .is_empty(),
        "an extended lease was handed out again"
    );
    inbox.ack(&[long]).await.unwrap();
    assert!(
        inbox.take(1, LEASE + LEASE / 2).await.unwrap().is_empty(),
        "an acknowledged delivery came back"
    );

    // A taker that gave up takes nothing with it; one still waiting gets the next append.
    assert!(
        inbox
            .take(1, Duration::from_millis(30))
            .await
            .unwrap()
            .is_empty()
    );
    let waiting = {
        let inbox = inbox.clone();
        tokio::spawn(async move { inbox.take(4, Duration::from_secs(3)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let d = delivery(4);
    assert_eq!(inbox.append(d.clone()).await.unwrap(), Appended::New);
    let appended = Instant::now();
    let handed = waiting
        .await
        .unwrap()
        .unwrap()
        .pop()
        .expect("the waiting taker gets the delivery appended");
    // Woken by the append, not at the end of its wait. (Not a test of the SQLite inbox's
    // hand-over against its re-look every 500 ms: 100 ms after the taker started, that would
    // find it within 400 ms, too close to tell apart by the clock on a busy machine.)
    assert!(
        appended.elapsed() < Duration::from_secs(1),
        "the waiting taker got the delivery {:?} after its append",
        appended.elapsed()
    );
    assert_eq!(handed.delivery().key(), d.key());
    assert_eq!(handed.delivery().body(), d.body());
    assert_eq!(handed.delivery().attempt(), 1);
    inbox.ack(&[handed]).await.unwrap();

    // Many at once: up to `max`, oldest first, each under its own lease; one
    // acknowledgement for all of them, which names only the leases that were lost.
    let many: Vec<_> = (20..25).map(delivery).collect();
    for d in &many {
        assert_eq!(inbox.append(d.clone()).await.unwrap(), Appended::New);
    }
    let mut batch = inbox.take(3, Duration::from_secs(2)).await.unwrap();
    // A several-file inbox may find fewer in one sweep; never more than asked for.
    assert!((1..=3).contains(&batch.len()), "{batch:?}");
    while batch.len() < many.len() {
        let more = inbox.take(10, Duration::from_secs(2)).await.unwrap();
        assert!(!more.is_empty(), "the rest of the batch is not ready");
        batch.extend(more);
    }
    let mut keys: Vec<_> = batch.iter().map(|l| l.delivery().key().clone()).collect();
    if !fifo {
        keys.sort_by_key(|k| many.iter().position(|d| d.key() == k));
    }
    let expected: Vec<_> = many.iter().map(|d| d.key().clone()).collect();
    assert_eq!(keys, expected);
    assert!(batch.iter().all(|l| l.delivery().attempt() == 1));
    assert!(
        inbox
            .take(10, Duration::from_millis(50))
            .await
            .unwrap()
            .is_empty()
    );
    if lease_lost_detected {
        // The last one's lease runs out and goes to another taker (the others extended
        // meanwhile, every quarter of a lease): acknowledging the batch acknowledges the
        // others and names that one.
        let last = batch.len() - 1;
        let waiting = Instant::now();
        let retaken = loop {
            if let Some(one) = inbox.take(1, LEASE / 4).await.unwrap().pop() {
                break one;
            }
            assert!(waiting.elapsed() < LEASE * 4, "the lease never ran out");
            for one in &batch[..last] {
                inbox.extend(one).await.unwrap();
            }
        };
        assert_eq!(retaken.delivery().key(), batch[last].delivery().key());
        let error = inbox.ack(&batch).await.unwrap_err();
        match &error {
            harbor_receiver::Error::LeaseLost { keys, .. } => {
                assert_eq!(keys, &[batch[last].delivery().key().to_string()], "{error}");
            }
            other => panic!("expected LeaseLost, got {other}"),
        }
        inbox.ack(&[retaken]).await.unwrap();
    } else {
        inbox.ack(&batch).await.unwrap();
    }
    assert!(
        inbox.take(10, LEASE + LEASE / 2).await.unwrap().is_empty(),
        "an acknowledged delivery of the batch came back"
    );
    inbox.close().await.unwrap();
}

#[tokio::test]
async fn memory_inbox_keeps_the_contract() {
    contract(
        Arc::new(MemoryInbox::with_limits(100, WINDOW, LEASE)),
        true,
        true,
    )
    .await;
}

#[tokio::test]
async fn sqlite_inbox_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = SqliteInbox::builder(dir.path().join("inbox.db"))
        .lease(LEASE)
        .open()
        .unwrap();
    contract(Arc::new(inbox), true, true).await;
}

#[tokio::test]
async fn sqlite_inbox_over_three_files_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = SqliteInbox::builder(dir.path().join("inbox.db"))
        .lease(LEASE)
        .files(3)
        .open()
        .unwrap();
    contract(Arc::new(inbox), true, false).await;
}

#[cfg(feature = "nats")]
#[harbor_testkit::needs("nats-server")]
#[tokio::test]
async fn nats_inbox_keeps_the_contract() {
    let Some(server) = harbor_testkit::NatsServer::start() else {
        return;
    };
    let inbox = harbor_receiver::NatsInbox::builder(server.url())
        .lease(LEASE)
        .dedup_window(WINDOW)
        .open()
        .await
        .unwrap();
    // JetStream does not report a lease that ran out: a late ack still acknowledges.
    contract(Arc::new(inbox), false, true).await;
}

#[tokio::test]
async fn keys_are_forgotten_after_the_window_but_never_while_pending() {
    let window = Duration::from_millis(300);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteInbox::builder(dir.path().join("inbox.db"))
        .dedup_window(window)
        .open()
        .unwrap();
    let memory = MemoryInbox::with_limits(100, window, LEASE);
    for inbox in [Arc::new(sqlite) as Arc<dyn Inbox>, Arc::new(memory)] {
        let (done, pending) = (delivery(10), delivery(11));
        inbox.append(done.clone()).await.unwrap();
        let leased = take(&*inbox, Duration::from_secs(1)).await;
        inbox.ack(&[leased]).await.unwrap();
        inbox.append(pending.clone()).await.unwrap();
        tokio::time::sleep(window * 2).await;
        // Housekeeping runs with writes: give it one.
        inbox.append(delivery(12)).await.unwrap();
        assert_eq!(
            inbox.append(pending).await.unwrap(),
            Appended::Duplicate,
            "{inbox:?}: a pending delivery lost its key"
        );
        assert_eq!(
            inbox.append(done).await.unwrap(),
            Appended::New,
            "{inbox:?}: a finished key outlived the window"
        );
    }
}

/// Everything an error shows: its message, its `Debug` and those of its sources.
#[cfg(feature = "nats")]
fn shown(error: &harbor_receiver::Error) -> String {
    let mut shown = format!("{error} {error:?}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        shown.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    shown
}

/// A server that requires credentials: those of the URL (user and password, or a token,
/// percent-encoded) authenticate, and no `Display`, `Debug` or error shows them.
#[cfg(feature = "nats")]
#[harbor_testkit::needs("nats-server")]
#[tokio::test]
async fn nats_credentials_in_the_url_authenticate_and_are_never_shown() {
    use harbor_receiver::{InboxOptions, InboxSpec, NatsInbox};
    let Some(server) =
        harbor_testkit::NatsServer::start_with(&["--user", "worker", "--pass", "s3c@ret-pw"])
    else {
        return;
    };
    let url = format!("nats://worker:s3c%40ret-pw@{}", server.addr);
    let spec: InboxSpec = url.parse().unwrap();
    let builder = NatsInbox::builder(url.clone());
    let text = format!("{spec} {spec:?} {builder:?}");
    assert!(!text.contains("s3c") && !text.contains("ret-pw"), "{text}");
    assert!(
        text.contains(&format!("nats://***@{}", server.addr)),
        "{text}"
    );
    let inbox = spec.open(&InboxOptions::new()).await.unwrap();
    assert_eq!(inbox.append(delivery(1)).await.unwrap(), Appended::New);
    for refused in [
        format!("nats://worker:wrong-pw@{}", server.addr),
        format!("nats://{}", server.addr),
    ] {
        let error = NatsInbox::builder(refused).open().await.unwrap_err();
        let text = shown(&error);
        assert!(
            matches!(error, harbor_receiver::Error::Open { .. }),
            "{text}"
        );
        assert!(
            !text.contains("wrong-pw") && !text.contains("s3c"),
            "{text}"
        );
    }

    let Some(server) = harbor_testkit::NatsServer::start_with(&["--auth", "s3cret-token"]) else {
        return;
    };
    let inbox = NatsInbox::builder(format!("nats://s3cret-token@{}", server.addr))
        .open()
        .await
        .unwrap();
    assert_eq!(inbox.append(delivery(2)).await.unwrap(), Appended::New);
}

/// JetStream's `duplicate_window` counts from a key's first arrival, whatever became of its
/// delivery: a key is forgotten after the window even while its delivery is pending (the
/// SQLite and memory inboxes keep it, above), and a retry then is stored a second time.
#[cfg(feature = "nats")]
#[harbor_testkit::needs("nats-server")]
#[tokio::test]
async fn nats_forgets_keys_after_the_window_even_while_pending() {
    let Some(server) = harbor_testkit::NatsServer::start() else {
        return;
    };
    let window = Duration::from_millis(300);
    let inbox = harbor_receiver::NatsInbox::builder(server.url())
        .dedup_window(window)
        .open()
        .await
        .unwrap();
    assert_eq!(inbox.dedup_window(), window);
    let (done, pending) = (delivery(10), delivery(11));
    inbox.append(done.clone()).await.unwrap();
    let leased = take(&inbox, Duration::from_secs(1)).await;
    inbox.ack(&[leased]).await.unwrap();
    inbox.append(pending.clone()).await.unwrap();
    assert_eq!(
        inbox.append(pending.clone()).await.unwrap(),
        Appended::Duplicate,
        "within the window"
    );
    // The server forgets ids on a timer, at the window at the earliest.
    tokio::time::sleep(window * 4).await;
    assert_eq!(
        inbox.append(pending.clone()).await.unwrap(),
        Appended::New,
        "JetStream kept the key of a pending delivery past the window"
    );
    assert_eq!(inbox.append(done).await.unwrap(), Appended::New);
    // The pending delivery is there twice now, under one key.
    let mut keys = Vec::new();
    while let Some(one) = inbox
        .take(1, Duration::from_millis(200))
        .await
        .unwrap()
        .pop()
    {
        keys.push(one.delivery().key().clone());
        inbox.ack(&[one]).await.unwrap();
    }
    let twice = keys.iter().filter(|k| *k == pending.key()).count();
    assert_eq!(twice, 2, "{keys:?}");
}

/// An existing consumer and stream keep their `ack_wait` and `duplicate_window`: the inbox
/// reports the server's, which the worker paces its lease extensions by.
#[cfg(feature = "nats")]
#[harbor_testkit::needs("nats-server")]
#[tokio::test]
async fn nats_reports_the_lease_and_window_the_server_has() {
    let Some(server) = harbor_testkit::NatsServer::start() else {
        return;
    };
    let open = |lease: u64, window: u64| {
        harbor_receiver::NatsInbox::builder(server.url())
            .lease(Duration::from_secs(lease))
            .dedup_window(Duration::from_secs(window))
            .open()
    };
    let first = open(5, 60).await.unwrap();
    assert_eq!(first.lease(), Duration::from_secs(5));
    assert_eq!(first.dedup_window(), Duration::from_secs(60));
    let second = open(30, 3600).await.unwrap();
    assert_eq!(
        second.lease(),
        Duration::from_secs(5),
        "the consumer's ack_wait"
    );
    assert_eq!(second.dedup_window(), Duration::from_secs(60));
    // And through `InboxSpec`, as the example opens it.
    let spec: harbor_receiver::InboxSpec = server.url().parse().unwrap();
    let options = harbor_receiver::InboxOptions::new().lease(Duration::from_secs(30));
    assert_eq!(
        spec.open(&options).await.unwrap().lease(),
        Duration::from_secs(5)
    );
}

/// "Never" as `Duration::MAX`, for the lease, the window, a take's wait and a retry's delay:
/// the inbox works as with very long ones, and nothing panics on adding them to a clock.
async fn durations_of_never(inbox: Arc<dyn Inbox>) {
    let (a, b) = (delivery(20), delivery(21));
    inbox.append(a.clone()).await.unwrap();
    inbox.append(b.clone()).await.unwrap();
    // Something is ready: an endless wait returns at once.
    let first = inbox.take(1, Duration::MAX).await.unwrap().pop().unwrap();
    inbox
        .fail(
            &first,
            Disposition::RetryAfter(Duration::MAX),
            "never again",
        )
        .await
        .unwrap();
    let second = inbox.take(1, Duration::MAX).await.unwrap().pop().unwrap();
    assert_ne!(second.delivery().key(), first.delivery().key());
    inbox.extend(&second).await.unwrap();
    inbox.ack(&[second]).await.unwrap();
    // The retried one waits for ever, the acknowledged one is remembered for ever.
    assert!(inbox.take(1, Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(inbox.append(a).await.unwrap(), Appended::Duplicate);
    assert_eq!(inbox.append(b).await.unwrap(), Appended::Duplicate);
    inbox.close().await.unwrap();
}

#[tokio::test]
async fn durations_of_never_work_and_never_panic() {
    durations_of_never(Arc::new(MemoryInbox::with_limits(
        100,
        Duration::MAX,
        Duration::MAX,
    )))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteInbox::builder(dir.path().join("inbox.db"))
        .lease(Duration::MAX)
        .dedup_window(Duration::MAX)
        .open()
        .unwrap();
    durations_of_never(Arc::new(sqlite)).await;
    // And the retry policy's delay at its largest.
    let policy = harbor_receiver::RetryPolicy::new(3)
        .unwrap()
        .initial_delay(Duration::MAX)
        .max_delay(Duration::MAX);
    for jitter in [0.0, 0.5, 1.0] {
        assert!(matches!(
            policy.decide(2, jitter),
            Disposition::RetryAfter(d) if d >= Duration::MAX / 2
        ));
    }
}

#[cfg(feature = "nats")]
#[harbor_testkit::needs("nats-server")]
#[tokio::test]
async fn nats_durations_of_never_work() {
    let Some(server) = harbor_testkit::NatsServer::start() else {
        return;
    };
    // JetStream takes at most 292 years (i64 nanoseconds): longer ones are capped there.
    let inbox = harbor_receiver::NatsInbox::builder(server.url())
        .lease(Duration::MAX)
        .dedup_window(Duration::MAX)
        .open()
        .await
        .unwrap();
    durations_of_never(Arc::new(inbox)).await;
}

/// A pull whose answer never comes (the server gone, the answer lost with the connection)
/// ends the take within a bound, with a retryable error: a worker's single take never
/// hangs its processing or its shutdown.
#[cfg(feature = "nats")]
#[harbor_testkit::needs("nats-server")]
#[tokio::test]
async fn a_nats_take_returns_when_the_server_is_gone() {
    let Some(server) = harbor_testkit::NatsServer::start() else {
        return;
    };
    let inbox = harbor_receiver::NatsInbox::builder(server.url())
        .lease(LEASE)
        .open()
        .await
        .unwrap();
    // The server dies during a take's long pull.
    let waiting = {
        let inbox = inbox.clone();
        tokio::spawn(async move { inbox.take(1, Duration::from_secs(1)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(server);
    let outcome = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("a take outlived its server by 10 s")
        .unwrap();
    if let Err(error) = outcome {
        assert!(error.is_retryable(), "{error}");
    }
    // And a take on the stopped server: nothing answers its pull.
    let started = Instant::now();
    let error = tokio::time::timeout(
        Duration::from_secs(10),
        inbox.take(4, Duration::from_millis(200)),
    )
    .await
    .expect("a take on a stopped server never returned")
    .unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
