//! The SQLite inbox on a real file: group commit, what survives a restart, and `503` (never a
//! `2xx`) when the write cannot be made durable: a full disk (SQLite's `max_page_count`, which
//! fails exactly as `ENOSPC` does, with `SQLITE_FULL`) and a database locked by another
//! process's connection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{delivery, v2_push};
use harbor_events::Decoder;
use harbor_receiver::{Appended, Inbox, Receipt, Receiver, SqliteInbox};

fn headers() -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = SqliteInbox::open(dir.path().join("inbox.db")).unwrap();
    let appends: Vec<_> = (0..256)
        .map(|n| {
            let inbox = inbox.clone();
            tokio::spawn(async move { inbox.append(delivery(n)).await })
        })
        .collect();
    for append in appends {
        assert_eq!(append.await.unwrap().unwrap(), Appended::New);
    }
    let stats = inbox.stats();
    assert_eq!(stats.appended, 256);
    assert!(
        stats.syncs * 4 <= stats.appended && stats.commits * 4 <= stats.appended,
        "group commit did not group: {stats:?}"
    );
}

/// `n` appends at once to `inbox`; its commits.
async fn commits_for_concurrent_appends(inbox: &SqliteInbox, n: usize) -> u64 {
    let before = inbox.stats().commits;
    let appends: Vec<_> = (0..n)
        .map(|i| {
            let inbox = inbox.clone();
            tokio::spawn(async move { inbox.append(delivery(i)).await })
        })
        .collect();
    for append in appends {
        assert_eq!(append.await.unwrap().unwrap(), Appended::New);
    }
    inbox.stats().commits - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_batch_bounds_the_operations_of_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let bounded = SqliteInbox::builder(dir.path().join("bounded.db"))
        .max_batch(2)
        .open()
        .unwrap();
    let commits = commits_for_concurrent_appends(&bounded, 64).await;
    assert!(
        commits >= 32,
        "64 appends in {commits} commits of at most 2"
    );
    // The same load without the bound shares commits (so the bound is what made them).
    let free = SqliteInbox::open(dir.path().join("free.db")).unwrap();
    let commits = commits_for_concurrent_appends(&free, 64).await;
    assert!(
        commits < 32,
        "64 appends took {commits} commits without a bound"
    );
    // A bound of "no bound" is taken as such: nothing is reserved for it, and every append
    // is stored (the helper asserts each one).
    let unbounded = SqliteInbox::builder(dir.path().join("unbounded.db"))
        .max_batch(usize::MAX)
        .open()
        .unwrap();
    commits_for_concurrent_appends(&unbounded, 8).await;
}

#[tokio::test]
async fn an_append_is_answered_only_after_a_sync_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = SqliteInbox::open(dir.path().join("inbox.db")).unwrap();
    for n in 0..20 {
        let before = inbox.stats().syncs;
        let appended = inbox.append(delivery(n % 10)).await.unwrap();
        assert!(
            inbox.stats().syncs > before,
            "append {n} ({appended:?}) was answered before the log was synced"
        );
    }
}

#[tokio::test]
async fn a_reopened_inbox_keeps_pending_deliveries_and_finished_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    {
        let inbox = SqliteInbox::open(&path).unwrap();
        inbox.append(delivery(1)).await.unwrap();
        inbox.append(delivery(2)).await.unwrap();
        let first = inbox.take(1, Duration::ZERO).await.unwrap().pop().unwrap();
        inbox.ack(&[first]).await.unwrap();
        inbox.close().await.unwrap();
        assert!(
            inbox
                .append(delivery(3))
                .await
                .unwrap_err()
                .to_string()
                .contains("closed")
        );
    }
    let inbox = SqliteInbox::open(&path).unwrap();
    assert_eq!(
        inbox.append(delivery(1)).await.unwrap(),
        Appended::Duplicate
    );
    let second = inbox.take(1, Duration::ZERO).await.unwrap().pop().unwrap();
    assert_eq!(second.delivery().key(), delivery(2).key());
    assert!(inbox.take(1, Duration::ZERO).await.unwrap().is_empty());
}

#[tokio::test]
async fn two_inboxes_on_one_file_see_each_others_keys() {
    // As two processes sharing a file: each has its own connection and its own keys in memory.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let first = SqliteInbox::open(&path).unwrap();
    let second = SqliteInbox::open(&path).unwrap();
    for n in 0..10 {
        assert_eq!(first.append(delivery(n)).await.unwrap(), Appended::New);
    }
    for n in 0..10 {
        assert_eq!(
            second.append(delivery(n)).await.unwrap(),
            Appended::Duplicate,
            "delivery {n} was appended by the other inbox"
        );
    }
    assert_eq!(second.append(delivery(10)).await.unwrap(), Appended::New);
    assert_eq!(
        first.append(delivery(10)).await.unwrap(),
        Appended::Duplicate
    );
    let mut taken = 0;
    while let Some(leased) = second.take(1, Duration::ZERO).await.unwrap().pop() {
        second.ack(&[leased]).await.unwrap();
        taken += 1;
    }
    assert_eq!(taken, 11, "each delivery stored once");
}

#[tokio::test]
async fn a_failed_batch_after_another_process_appended_does_not_block_the_next_appends() {
    // As two processes on one file; the first has a size limit that one large delivery
    // passes, so that its batch fails after it has read the other's new row.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let first = SqliteInbox::builder(&path)
        .max_size(256 * 1024)
        .open()
        .unwrap();
    let second = SqliteInbox::open(&path).unwrap();
    assert_eq!(first.append(delivery(1)).await.unwrap(), Appended::New);
    assert_eq!(second.append(delivery(2)).await.unwrap(), Appended::New);
    let body = bytes::Bytes::from(format!("{{\"pad\":\"{}\"}}", "x".repeat(512 * 1024)));
    let large = harbor_receiver::Delivery::new(
        harbor_receiver::DeliveryKey::for_body(&body),
        harbor_events::Format::V2,
        body,
    );
    let error = first.append(large).await.unwrap_err();
    assert!(error.is_full(), "{error}");
    // Nobody has committed since: the first's next rows are numbered after the other's row
    // all the same (they once reused its number and failed until the other wrote again).
    for n in 3..6 {
        let appended = first.append(delivery(n)).await;
        assert_eq!(appended.unwrap(), Appended::New, "delivery {n}");
    }
    assert_eq!(
        second.append(delivery(4)).await.unwrap(),
        Appended::Duplicate
    );
    assert_eq!(
        first.append(delivery(2)).await.unwrap(),
        Appended::Duplicate
    );
}

/// The table of schema 1 (the first release: a unique index on `key`) and of schema 2
/// (`AUTOINCREMENT`, an index of finished rows), as those releases created them.
const OLD_SCHEMAS: [(i64, &str); 2] = [
    (
        1,
        "CREATE TABLE deliveries (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, \
         format TEXT NOT NULL, body BLOB, received_at INTEGER NOT NULL, \
         state INTEGER NOT NULL, attempts INTEGER NOT NULL, visible_at INTEGER NOT NULL, \
         lease INTEGER, last_error TEXT, finished_at INTEGER);",
    ),
    (
        2,
        "CREATE TABLE deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, \
         format TEXT NOT NULL, body BLOB, received_at INTEGER NOT NULL, \
         state INTEGER NOT NULL, attempts INTEGER NOT NULL, visible_at INTEGER NOT NULL, \
         lease INTEGER, last_error TEXT, finished_at INTEGER); \
         CREATE INDEX deliveries_ready ON deliveries (visible_at, seq) WHERE state = 0; \
         CREATE INDEX deliveries_done ON deliveries (received_at) WHERE state = 1; \
         CREATE INDEX deliveries_dead ON deliveries (finished_at, seq) WHERE state = 2;",
    ),
];

#[tokio::test]
async fn a_file_of_an_older_schema_is_migrated_with_its_deliveries_keys_and_numbering() {
    for (version, table) in OLD_SCHEMAS {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.db");
        let pending = delivery(1);
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(table).unwrap();
            conn.execute_batch(&format!(
                "CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL); \
                 INSERT INTO meta VALUES ('files', 1); PRAGMA user_version = {version};"
            ))
            .unwrap();
            for seq in [7, 40] {
                conn.execute(
                    "INSERT INTO deliveries (seq, key, format, body, received_at, state, \
                     attempts, visible_at) VALUES (?1, ?2, ?3, ?4, 0, 0, 0, 0)",
                    rusqlite::params![
                        seq,
                        if seq == 7 {
                            pending.key().as_str()
                        } else {
                            "gone"
                        },
                        pending.format().as_str(),
                        pending.body().as_ref()
                    ],
                )
                .unwrap();
            }
            // The newest row is gone: schema 2 still remembers its number.
            conn.execute("DELETE FROM deliveries WHERE seq = 40", [])
                .unwrap();
        }
        let inbox = SqliteInbox::open(&path).unwrap();
        assert_eq!(
            inbox.append(delivery(1)).await.unwrap(),
            Appended::Duplicate,
            "schema {version}: the pending delivery's key is known"
        );
        assert_eq!(inbox.append(delivery(2)).await.unwrap(), Appended::New);
        let leased = inbox.take(1, Duration::ZERO).await.unwrap().pop().unwrap();
        assert_eq!(leased.delivery().key(), pending.key());
        assert_eq!(leased.delivery().body(), pending.body());
        inbox.close().await.unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let query = |sql: &str| -> i64 { conn.query_row(sql, [], |row| row.get(0)).unwrap() };
        assert_eq!(query("PRAGMA user_version"), 3);
        assert_eq!(
            query("SELECT COUNT(*) FROM pragma_index_list('deliveries') WHERE \"unique\" = 1"),
            0,
            "schema {version}: the unique index on key is gone"
        );
        assert_eq!(
            query("SELECT COUNT(*) FROM sqlite_master WHERE name = 'deliveries_done'"),
            0,
            "schema {version}: the index of finished rows is gone"
        );
        assert_eq!(
            query("SELECT MAX(seq) FROM deliveries"),
            if version == 2 { 41 } else { 8 },
            "schema {version}: the new row is numbered after the highest seq ever written"
        );
    }
}

#[tokio::test]
async fn finished_deliveries_leave_the_file_after_the_window_pending_and_dead_ones_stay() {
    let window = Duration::from_millis(300);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let inbox = SqliteInbox::builder(&path)
        .dedup_window(window)
        .open()
        .unwrap();
    for n in 0..3 {
        inbox.append(delivery(n)).await.unwrap();
    }
    let mut leased = inbox.take(3, Duration::from_secs(1)).await.unwrap();
    assert_eq!(leased.len(), 3);
    let (dead, done) = (leased.remove(0), leased);
    inbox
        .fail(&dead, harbor_receiver::Disposition::DeadLetter, "bad")
        .await
        .unwrap();
    inbox.ack(&done).await.unwrap();
    inbox.append(delivery(3)).await.unwrap(); // pending
    tokio::time::sleep(window * 2).await;
    // The purge runs with a write; the new row is younger than the window.
    inbox.append(delivery(4)).await.unwrap();
    inbox.close().await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let states: Vec<i64> = conn
        .prepare("SELECT state FROM deliveries ORDER BY seq")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(states, [2, 0, 0], "dead, pending, and the young one");
    let inbox = SqliteInbox::open(&path).unwrap();
    assert_eq!(inbox.append(delivery(1)).await.unwrap(), Appended::New);
    assert_eq!(
        inbox.append(delivery(0)).await.unwrap(),
        Appended::Duplicate,
        "a dead letter keeps its key"
    );
}

#[tokio::test]
async fn an_inbox_over_several_files_keeps_its_file_count_and_its_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let inbox = SqliteInbox::builder(&path).files(3).open().unwrap();
    for n in 0..30 {
        inbox.append(delivery(n)).await.unwrap();
    }
    inbox.close().await.unwrap();
    assert!(dir.path().join("inbox.db.file-2").is_file());

    let wrong = SqliteInbox::builder(&path).files(2).open().unwrap_err();
    assert!(
        wrong.to_string().contains("created with 3 file(s)"),
        "{wrong}"
    );
    let inbox = SqliteInbox::open(&path).unwrap();
    assert_eq!(inbox.files(), 3);
    for n in 0..30 {
        assert_eq!(
            inbox.append(delivery(n)).await.unwrap(),
            Appended::Duplicate
        );
    }
    let mut taken = std::collections::HashSet::new();
    while let Some(leased) = inbox.take(1, Duration::ZERO).await.unwrap().pop() {
        taken.insert(leased.delivery().key().clone());
    }
    assert_eq!(taken.len(), 30);
    assert!(SqliteInbox::builder(&path).files(0).open().is_err());
}

#[tokio::test]
async fn a_full_disk_answers_503_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    // A 64 KiB limit: the schema and a few dozen deliveries fit, then SQLITE_FULL.
    let inbox = SqliteInbox::builder(&path)
        .max_size(64 * 1024)
        .open()
        .unwrap();
    let receiver = Receiver::new(Decoder::new(), inbox.clone());
    let mut stored = Vec::new();
    let mut refused = None;
    for n in 0..1000 {
        match receiver.receive(&headers(), v2_push(n).into()).await {
            Receipt::Stored(key) => stored.push(key),
            Receipt::Unavailable(error) => {
                assert!(error.is_full(), "{error}");
                refused = Some(n);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let refused = refused.expect("the size limit was never reached");
    let receipt = receiver.receive(&headers(), v2_push(refused).into()).await;
    assert_eq!(receipt.status(), 503, "{receipt:?}");
    assert!(refused > 10, "only {refused} deliveries fit");
    inbox.close().await.unwrap();

    // Every 2xx is there, the refused delivery is not.
    let inbox: Arc<dyn Inbox> = Arc::new(SqliteInbox::open(&path).unwrap());
    let mut found = Vec::new();
    while let Some(leased) = inbox.take(1, Duration::ZERO).await.unwrap().pop() {
        found.push(leased.delivery().key().clone());
        inbox.ack(&[leased]).await.unwrap();
    }
    assert_eq!(found, stored);
    // Without the limit the refused delivery goes in: Harbor's retry succeeds.
    assert_eq!(
        inbox.append(delivery(refused)).await.unwrap(),
        Appended::New
    );
}

#[tokio::test]
async fn a_locked_database_answers_503_until_the_lock_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let inbox = SqliteInbox::builder(&path)
        .busy_timeout(Duration::from_millis(300))
        .open()
        .unwrap();
    let receiver = Receiver::new(Decoder::new(), inbox.clone());
    assert_eq!(
        receiver
            .receive(&headers(), v2_push(1).into())
            .await
            .status(),
        200
    );

    // Another process's connection (an admin shell, a backup) takes the write lock.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    match receiver.receive(&headers(), v2_push(2).into()).await {
        Receipt::Unavailable(error) => assert!(error.is_busy(), "{error}"),
        other => panic!("a locked database answered {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "slower than Harbor's timeout"
    );
    other.execute_batch("ROLLBACK").unwrap();

    assert_eq!(
        receiver
            .receive(&headers(), v2_push(2).into())
            .await
            .status(),
        200
    );
    let count: i64 = other
        .query_row("SELECT COUNT(*) FROM deliveries", [], |row| row.get(0))
        .unwrap();
    assert_eq!(count, 2, "exactly the two 200s are stored");
}

/// A take of up to 4 that waits and finds nothing: it leaves word with the writer to lease
/// the next appends for the next take.
async fn wait_for_appends_in_vain(inbox: &SqliteInbox) {
    let taken = inbox.take(4, Duration::from_millis(50)).await.unwrap();
    assert!(taken.is_empty(), "{taken:?}");
}

#[tokio::test]
async fn appends_leased_for_a_take_that_never_came_are_given_back_at_close() {
    // A take that waits asks the writer to lease the next appends for the next take; when
    // none comes before the inbox closes, they are ready at once after a restart, not when
    // their lease (30 s here) runs out.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let inbox = SqliteInbox::open(&path).unwrap();
    wait_for_appends_in_vain(&inbox).await;
    for n in 0..2 {
        inbox.append(delivery(n)).await.unwrap();
    }
    inbox.close().await.unwrap();
    let inbox = SqliteInbox::open(&path).unwrap();
    let taken = inbox.take(4, Duration::ZERO).await.unwrap();
    let keys: Vec<_> = taken.iter().map(|l| l.delivery().key().clone()).collect();
    assert_eq!(keys, [delivery(0).key().clone(), delivery(1).key().clone()]);
    assert!(
        taken.iter().all(|l| l.delivery().attempt() == 1),
        "{taken:?}"
    );
}

#[tokio::test]
async fn an_append_leased_for_a_take_long_ago_is_given_back_and_taken_at_once() {
    // Leased for the next take more than half a lease ago: given back and taken anew with
    // the whole lease ahead, instead of waiting for its first lease to run out.
    let lease = Duration::from_secs(2);
    let dir = tempfile::tempdir().unwrap();
    let inbox = SqliteInbox::builder(dir.path().join("inbox.db"))
        .lease(lease)
        .open()
        .unwrap();
    wait_for_appends_in_vain(&inbox).await;
    inbox.append(delivery(7)).await.unwrap();
    tokio::time::sleep(lease / 2 + Duration::from_millis(100)).await;
    let asked = Instant::now();
    let taken = inbox.take(4, Duration::from_secs(3)).await.unwrap();
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "taken after {:?}: the lease ran out instead of being given back",
        asked.elapsed()
    );
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(taken[0].delivery().key(), delivery(7).key());
    assert_eq!(taken[0].delivery().attempt(), 1);
    inbox.ack(&taken).await.unwrap();
}

#[tokio::test]
async fn a_row_that_cannot_be_read_back_does_not_hold_back_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let inbox = SqliteInbox::open(&path).unwrap();
    for n in 0..3 {
        inbox.append(delivery(n)).await.unwrap();
    }
    // Another program wrote a format this crate does not know into the second row.
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute(
            "UPDATE deliveries SET format = 'nonsense' WHERE key = ?1",
            [delivery(1).key().as_str()],
        )
        .unwrap();
    let taken = inbox.take(10, Duration::ZERO).await.unwrap();
    let keys: Vec<_> = taken.iter().map(|l| l.delivery().key().clone()).collect();
    assert_eq!(keys, [delivery(0).key().clone(), delivery(2).key().clone()]);
    inbox.ack(&taken).await.unwrap();
    // Once its lease runs out, the unreadable row alone is an error that names it.
    other
        .execute(
            "UPDATE deliveries SET visible_at = 0, lease = NULL WHERE format = 'nonsense'",
            [],
        )
        .unwrap();
    let error = inbox.take(10, Duration::ZERO).await.unwrap_err();
    assert!(error.to_string().contains("nonsense"), "{error}");
}
