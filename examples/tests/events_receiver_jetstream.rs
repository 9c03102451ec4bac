//! `events_receiver` scaled out on a real `nats-server -js`: two receivers (`--role receiver`,
//! the sender alternates between them as a load balancer would) and three workers (`--role
//! worker`) share one JetStream inbox; one worker is killed with `SIGKILL` mid-run (frozen with
//! `SIGSTOP` first, so that it surely dies holding deliveries it has taken and not handled).
//!
//! What must hold: every delivery answered `2xx` is handled, those the killed worker held by
//! another worker after the lease (attempt 2); a delivery is handled twice only when the
//! killed worker had it in flight (then by another worker, with the same key and the next
//! attempt); Harbor's retries of handled deliveries, sent to the *other* receiver, are
//! answered `2xx` and not handled again (JetStream deduplicates for both receivers).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod receiver_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use receiver_support::{
    Log, Process, answered, assert_retries_not_handled_again, deliver_all, handled_twice, payloads,
    wait_for_keys,
};

const DELIVERIES: usize = 1000;
/// Worker lanes per worker process: with four, the frozen worker surely has a pull pending
/// (each lane spends nearly all its time waiting in one), so it dies holding deliveries.
const LANES: usize = 4;
/// Handled events after which worker 2 is killed.
const KILL_AFTER: usize = 300;

#[harbor_testkit::needs("nats-server")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_receivers_three_workers_one_killed_lose_nothing() {
    // The victim is frozen at a moment it holds deliveries nearly always; when it held none
    // (it had just acknowledged its last and not pulled again yet), the run shows nothing
    // about redelivery and runs again. Everything else is checked in every run.
    for run in 1..=3 {
        let Some(nats) = harbor_testkit::NatsServer::start() else {
            return;
        };
        if one_run(&nats).await > 0 {
            return;
        }
        eprintln!("jetstream test: the killed worker held nothing when it was frozen (run {run})");
    }
    panic!("in 3 runs, nothing the killed worker held was redelivered to another");
}

/// One run on a fresh server: every check but the redelivery, whose count it returns.
async fn one_run(nats: &harbor_testkit::NatsServer) -> usize {
    let started = Instant::now();
    let inbox = [
        "--inbox".to_owned(),
        nats.url(),
        "--lease".into(),
        "1".into(),
    ];
    let log: Log = Arc::default();
    let mut receivers = Vec::new();
    let mut urls = Vec::new();
    for id in 0..2 {
        let port = harbor_testkit::free_port();
        let mut args = inbox.to_vec();
        args.extend(["--role", "receiver", "--addr"].map(String::from));
        args.push(format!("127.0.0.1:{port}"));
        receivers.push(Process::start(10 + id, &args, &log));
        urls.push(format!("http://127.0.0.1:{port}/webhook"));
    }
    let mut worker_args = inbox.to_vec();
    worker_args.extend(["--role", "worker", "--workers", &LANES.to_string()].map(String::from));
    let workers: Vec<_> = (0..3)
        .map(|id| Process::start(id, &worker_args, &log))
        .collect();
    let [w0, w1, w2] = <[Process; 3]>::try_from(workers).ok().unwrap();
    let victim = Arc::new(Mutex::new(Some(w2)));

    // Kill worker 2 once the workers have handled KILL_AFTER events.
    let killer = {
        let (log, victim) = (log.clone(), victim.clone());
        tokio::spawn(async move {
            while log.lock().unwrap().len() < KILL_AFTER {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let process = victim.lock().unwrap().take().unwrap();
            process.freeze();
            // The deliveries keep coming: its pending pulls fill up while it is frozen.
            tokio::time::sleep(Duration::from_millis(300)).await;
            tokio::task::spawn_blocking(move || process.kill())
                .await
                .unwrap();
        })
    };
    let payloads = payloads(DELIVERIES);
    let reports = deliver_all(&payloads, &urls, |i| i % 2, 32, |_| {}).await;
    let answered = answered(&payloads, &reports);
    assert_eq!(
        answered.len(),
        DELIVERIES,
        "nothing was down: every delivery gets a 2xx"
    );
    wait_for_keys(&log, &answered, Duration::from_secs(30)).await;
    killer.await.unwrap();

    let handled: Vec<_> = log.lock().unwrap().clone();
    let by_worker = |id| handled.iter().filter(|h| h.process == id).count();
    assert!(
        by_worker(2) > 0,
        "the victim handled nothing before it was killed"
    );
    assert!(by_worker(0) > 0 && by_worker(1) > 0, "a worker was idle");
    let redelivered = handled
        .iter()
        .filter(|h| h.process != 2 && h.attempt > 1)
        .count();

    // Twice only for what the killed worker had in flight, and then by another worker.
    let twice = handled_twice(&log);
    for (key, seen) in &twice {
        assert_eq!(seen.len(), 2, "{key}: {seen:?}");
        let ((first, attempt), (then, next)) = (seen[0], seen[1]);
        assert_eq!(
            first, 2,
            "{key} handled twice, not by the killed worker first: {seen:?}"
        );
        assert_ne!(then, 2, "{key}: {seen:?}");
        assert!(next > attempt, "{key}: the attempt did not grow: {seen:?}");
    }
    assert!(
        twice.len() <= LANES,
        "more duplicates than the killed worker's lanes: {twice:?}"
    );

    // Harbor's retries, each to the other receiver: 2xx, and nothing handled again.
    assert_retries_not_handled_again(&log, &payloads, &urls, |i| (i + 1) % 2).await;
    for process in [w0, w1].into_iter().chain(receivers) {
        process.kill();
    }
    eprintln!(
        "jetstream test: {DELIVERIES} delivered through 2 receivers, handled by workers \
         {}/{}/{} (worker 2 killed), {redelivered} redelivered after the kill, {} handled \
         twice, {:.1} s",
        by_worker(0),
        by_worker(1),
        by_worker(2),
        twice.len(),
        started.elapsed().as_secs_f64()
    );
    redelivered
}
