//! `events_receiver` with its default SQLite inbox, killed with `SIGKILL` four times while the
//! Harbor-shaped sender delivers 1,000 distinct payloads, and restarted each time on the same
//! port and file.
//!
//! What must hold: every delivery answered `2xx` is handled; a delivery is handled twice only
//! when it was in flight in a process that was killed (then again, with the same delivery key
//! and the next attempt, by the next process; at most one per worker lane per crash); and
//! Harbor's retry of a delivery already handled is answered `2xx` and not handled again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod receiver_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use receiver_support::{
    Log, Process, answered, assert_retries_not_handled_again, deliver_all, handled_twice, payloads,
    sqlite_receiver, wait_for_keys,
};

const DELIVERIES: usize = 1000;
/// The `2xx` counts at which the receiver is killed.
const KILL_AT: [usize; 4] = [150, 350, 550, 750];
const WORKERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_thousand_deliveries_loses_nothing_and_duplicates_only_in_flight_work() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (mut args, url) = sqlite_receiver(dir.path(), "1");
    args.extend(["--workers".to_owned(), WORKERS.to_string()]);
    let log: Log = Arc::default();
    let payloads = payloads(DELIVERIES);

    // The killer: at each threshold of 2xx answers, SIGKILL and restart at once.
    let delivered = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let killer = {
        let (args, log) = (args.clone(), log.clone());
        let (delivered, done) = (delivered.clone(), done.clone());
        std::thread::spawn(move || {
            let mut process = Process::start(0, &args, &log);
            for (run, threshold) in KILL_AT.iter().enumerate() {
                while delivered.load(Ordering::Relaxed) < *threshold {
                    if done.load(Ordering::Relaxed) {
                        panic!("the deliveries ended before {threshold} were answered 2xx");
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                process.kill();
                process = Process::start(run + 1, &args, &log);
            }
            process
        })
    };
    let reports = deliver_all(
        &payloads,
        std::slice::from_ref(&url),
        |_| 0,
        32,
        |n| {
            delivered.store(n, Ordering::Relaxed);
        },
    )
    .await;
    done.store(true, Ordering::Relaxed);
    let last = killer.join().unwrap();
    let runs = KILL_AT.len() + 1;

    let answered = answered(&payloads, &reports);
    let refused = DELIVERIES - answered.len();
    assert!(
        answered.len() >= DELIVERIES * 9 / 10,
        "only {} of {DELIVERIES} deliveries got a 2xx",
        answered.len()
    );

    // Every 2xx is handled, by whichever process came next; and what the last killed process
    // had in flight comes back once its lease (1 s) has run out.
    wait_for_keys(&log, &answered, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let ours: HashSet<&str> = payloads.iter().map(|p| p.key.as_str()).collect();
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .all(|h| ours.contains(h.key.as_str()))
    );

    // Twice only across a crash: handled by a killed process, then by a later one with the next
    // attempt; never twice in one process; at most one per worker lane per crash.
    let twice = handled_twice(&log);
    let mut per_crash = vec![0; runs];
    for (key, seen) in &twice {
        for pair in seen.windows(2) {
            let ((first, attempt), (then, next)) = (pair[0], pair[1]);
            assert!(
                first < then,
                "{key} handled twice by process {first}: {seen:?}"
            );
            assert!(
                first < runs - 1,
                "{key} handled twice after the last crash: {seen:?}"
            );
            assert!(next > attempt, "{key}: the attempt did not grow: {seen:?}");
            per_crash[first] += 1;
        }
    }
    assert!(
        per_crash.iter().all(|n| *n <= WORKERS),
        "more duplicates than worker lanes in one crash: {per_crash:?}"
    );

    // Harbor's retries of deliveries already handled: 2xx, and nothing is handled again.
    let again: Vec<_> = payloads
        .iter()
        .filter(|p| answered.contains(&p.key))
        .cloned()
        .collect();
    assert_retries_not_handled_again(&log, &again, &[url], |_| 0).await;
    last.kill();
    eprintln!(
        "crash test: {} of {DELIVERIES} answered 2xx ({refused} gave up after 3 attempts), {} \
         handled twice across {} SIGKILLs {per_crash:?}, {:.1} s",
        answered.len(),
        twice.len(),
        KILL_AT.len(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_work_in_flight_and_the_rest_waits_in_the_inbox() {
    let dir = tempfile::tempdir().unwrap();
    // A long lease: anything handled twice here would be a shutdown that lost track of work.
    let (args, url) = sqlite_receiver(dir.path(), "60");
    let log: Log = Arc::default();
    let payloads = payloads(200);
    let process = Process::start(0, &args, &log);
    let reports = deliver_all(&payloads, std::slice::from_ref(&url), |_| 0, 32, |_| {}).await;
    assert!(reports.iter().all(|r| r.delivered()));
    let status = process.terminate();
    assert!(status.success(), "{status}");
    let before = log.lock().unwrap().len();

    let process = Process::start(1, &args, &log);
    let all: HashSet<String> = payloads.iter().map(|p| p.key.clone()).collect();
    wait_for_keys(&log, &all, Duration::from_secs(30)).await;
    assert!(process.terminate().success());
    assert!(
        handled_twice(&log).is_empty(),
        "a graceful stop left work to be done twice"
    );
    eprintln!("graceful stop: {before} of 200 handled before SIGTERM, the rest after the restart");
}
