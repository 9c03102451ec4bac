//! The threads beside the writer of [`SqliteInbox`](super::SqliteInbox).
//!
//! - **Syncers** make commits durable. The writer commits with `synchronous = NORMAL` (SQLite
//!   writes the log and does not wait for the disk) and hands the answers that promise
//!   durability (appends, close) to a syncer, which `fdatasync`s the write-ahead log and only
//!   then answers. One `fdatasync` covers every commit written before it started, so all the
//!   batches committed while the previous sync was running share the next one, and the
//!   writer never waits for the disk. There is one syncer per file ([`SYNCERS`]): a second
//!   one, overlapping its syncs with the first, made no measurable difference.
//! - The **checkpointer** copies committed pages from the log into the database file on its
//!   own connection, off the commit path, never waiting for the writer. Once the log has
//!   grown past [`RESTART_LOG_AT`] pages it asks the writer to start the log over between
//!   two batches (see `Writer::restart_log`), so that the log stays small under sustained
//!   load. Restarting it from here instead would make the writer wait on a lock, and
//!   SQLite's busy handler waits 1, 2, 5, 10, 15 ms...: tens of milliseconds added to
//!   every request of that moment.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::Shared;
use super::writer::Reply;
use crate::{Error, Result};

/// How many syncers overlap their syncs (on one file, a second one does not make the disk
/// faster; it only costs a thread).
const SYNCERS: usize = 1;
/// The shortest pause between two checkpoints. Each one ends with a sync of the database
/// file, which holds up the syncs of the log that the disk gets meanwhile: small and often
/// holds them up for less than large and seldom (measured: 10 ms gave a lower p99 than 15,
/// 25, 50, 100, 250 or 1,000 ms, at the same throughput as 25).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(10);
/// The log size (in pages, 64 MiB of 4 KiB pages) past which the checkpointer asks the
/// writer to start the log over. Each restart holds the writer up for a few milliseconds:
/// a large log makes them rare.
const RESTART_LOG_AT: i64 = 16_384;

/// An answer that waits until the commit that produced it is on disk.
pub(super) struct Deferred {
    pub(super) reply: oneshot::Sender<Result<Reply>>,
    pub(super) result: Result<Reply>,
}

/// What the writer knows of the syncs, to time its next commit.
#[derive(Debug, Default)]
struct Syncs {
    /// Batches handed to the syncers and not answered yet.
    waiting: usize,
    /// When the running sync started.
    started: Option<Instant>,
    /// How long a sync takes, lately (a moving average).
    typical: Duration,
}

/// The syncers and the checkpointer, stopped by [`Background::stop`].
pub(super) struct Background {
    syncs: Sender<Vec<Deferred>>,
    /// The syncs running and waiting, and how long one takes.
    pending: Arc<(Mutex<Syncs>, Condvar)>,
    committed: SyncSender<()>,
    threads: Vec<JoinHandle<()>>,
}

impl Background {
    /// Starts the threads for the database at `path`, whose log the writer's connection has
    /// created already.
    pub(super) fn start(
        path: &Path,
        busy_timeout: Duration,
        shared: &Arc<Shared>,
    ) -> std::result::Result<Background, crate::BoxError> {
        let mut log_path = path.as_os_str().to_owned();
        log_path.push("-wal");
        let log = File::options().read(true).write(true).open(&log_path)?;
        let checkpoints = Connection::open(path)?;
        checkpoints.busy_timeout(busy_timeout)?;
        // This connection syncs the database file before the log may start over.
        checkpoints.pragma_update(None, "synchronous", "FULL")?;

        let (syncs, queue) = std::sync::mpsc::channel::<Vec<Deferred>>();
        let queue = Arc::new(Mutex::new(queue));
        let log = Arc::new(log);
        let pending = Arc::new((Mutex::new(Syncs::default()), Condvar::new()));
        let mut threads = Vec::new();
        for n in 0..SYNCERS {
            let (queue, log, shared) = (queue.clone(), log.clone(), shared.clone());
            let pending = pending.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("harbor-inbox-sync-{n}"))
                    .spawn(move || syncer(&queue, &log, &shared, &pending))?,
            );
        }
        let (committed, commits) = std::sync::mpsc::sync_channel(1);
        threads.push(
            std::thread::Builder::new()
                .name("harbor-inbox-checkpoint".into())
                .spawn({
                    let shared = shared.clone();
                    move || checkpointer(checkpoints, &commits, &shared)
                })?,
        );
        Ok(Background {
            syncs,
            pending,
            committed,
            threads,
        })
    }

    /// When a sync is running or waiting, about how long until it ends: the writer may
    /// gather more requests until its commit would end then, since the next sync cannot
    /// start sooner anyway. `None` when no sync is running or waiting.
    pub(super) fn sync_ends_in(&self) -> Option<Duration> {
        let syncs = self.pending.0.lock().ok()?;
        if syncs.waiting == 0 {
            return None;
        }
        let running = syncs.started.map_or(Duration::ZERO, |at| at.elapsed());
        Some(syncs.typical.saturating_sub(running))
    }

    /// Waits until no sync is running or waiting, at most `timeout`.
    pub(super) fn wait_for_sync(&self, timeout: Duration) {
        let (syncs, idle) = &*self.pending;
        if let Ok(guard) = syncs.lock() {
            let _ = idle.wait_timeout_while(guard, timeout, |s| s.waiting > 0);
        }
    }

    /// After a commit: the answers to send once it is on disk.
    pub(super) fn committed(&self, deferred: Vec<Deferred>) {
        // A full channel means the checkpointer has work waiting already.
        let _ = self.committed.try_send(());
        if deferred.is_empty() {
            return;
        }
        if let Ok(mut syncs) = self.pending.0.lock() {
            syncs.waiting += 1;
        }
        if let Err(unsent) = self.syncs.send(deferred) {
            // No syncer left (they only stop with the writer): nothing is known durable.
            for deferred in unsent.0 {
                let _ = deferred.reply.send(Err(not_synced("the syncer stopped")));
            }
        }
    }

    /// Lets the syncers answer what they hold, stops every thread and waits for them.
    pub(super) fn stop(self) {
        drop(self.syncs);
        drop(self.committed);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// Takes every batch of answers waiting, syncs the log once, answers them. After a failed
/// sync the log's state on disk is unknown, so every later answer is an error too: the
/// process must be restarted (SQLite recovers the log on open).
fn syncer(
    queue: &Mutex<Receiver<Vec<Deferred>>>,
    log: &File,
    shared: &Shared,
    pending: &(Mutex<Syncs>, Condvar),
) {
    loop {
        let (mut waiting, batches) = {
            let Ok(queue) = queue.lock() else { return };
            let Ok(first) = queue.recv() else { return };
            let (mut waiting, mut batches) = (first, 1);
            while let Ok(more) = queue.try_recv() {
                waiting.extend(more);
                batches += 1;
            }
            (waiting, batches)
        };
        let started = Instant::now();
        if let Ok(mut syncs) = pending.0.lock() {
            syncs.started = Some(started);
        }
        let outcome = if shared.failed.load(Ordering::Relaxed) {
            Err(not_synced(
                "an earlier sync of the log failed: restart the process",
            ))
        } else {
            log.sync_data().map_err(|error| {
                shared.failed.store(true, Ordering::Relaxed);
                tracing::error!(%error, "syncing the SQLite inbox's log failed");
                Error::NotDurable {
                    backend: "sqlite",
                    operation: "sync",
                    message: format!("fdatasync of the log: {error}"),
                    full: error.raw_os_error() == Some(28),
                    busy: false,
                    source: Some(error.into()),
                }
            })
        };
        shared.stats.syncs.fetch_add(1, Ordering::Relaxed);
        // The writer first (it may be holding its next batch for this sync to end), then
        // the answers.
        if let Ok(mut syncs) = pending.0.lock() {
            syncs.waiting = syncs.waiting.saturating_sub(batches);
            syncs.started = None;
            syncs.typical = average(syncs.typical, started.elapsed());
        }
        pending.1.notify_all();
        for deferred in waiting.drain(..) {
            let result = match &outcome {
                Ok(()) => deferred.result,
                Err(error) => Err(not_synced(&error.to_string())),
            };
            let _ = deferred.reply.send(result);
        }
    }
}

/// A warning repeated at most once a minute (for a failure that recurs with every commit).
#[derive(Debug, Default)]
pub(super) struct EveryMinute(Option<Instant>);

impl EveryMinute {
    /// Whether the warning is due now; if so, it is not again for a minute.
    pub(super) fn due(&mut self) -> bool {
        if self
            .0
            .is_some_and(|at| at.elapsed() < Duration::from_secs(60))
        {
            return false;
        }
        self.0 = Some(Instant::now());
        true
    }
}

/// A moving average: `recent` counts for an eighth.
pub(super) fn average(average: Duration, recent: Duration) -> Duration {
    (average * 7 + recent) / 8
}

fn not_synced(message: &str) -> Error {
    Error::NotDurable {
        backend: "sqlite",
        operation: "sync",
        message: message.to_owned(),
        full: false,
        busy: false,
        source: None,
    }
}

/// Checkpoints after commits (at most every [`CHECKPOINT_EVERY`]) without ever blocking the
/// writer; asks the writer to restart the log when it has grown past [`RESTART_LOG_AT`]
/// pages, and checkpoints no more until it has. Stops when the writer drops `committed`'s
/// sender.
fn checkpointer(conn: Connection, commits: &Receiver<()>, shared: &Shared) {
    // A failing checkpoint (a full disk) fails again after every commit: say so once a minute.
    let mut warning = EveryMinute::default();
    while commits.recv().is_ok() {
        if shared.restart_log.load(Ordering::Acquire) {
            // The writer's restart checkpoints too: two at once would make one wait.
            std::thread::sleep(CHECKPOINT_EVERY);
            continue;
        }
        // The second column: how many pages the log holds.
        let log_pages = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(1)
        });
        match log_pages {
            Ok(pages) if pages > RESTART_LOG_AT => {
                shared.restart_log.store(true, Ordering::Release);
            }
            Ok(_) => {}
            Err(error) if warning.due() => {
                tracing::warn!(%error, "checkpointing the SQLite inbox");
            }
            Err(_) => {}
        }
        std::thread::sleep(CHECKPOINT_EVERY);
    }
    if let Err((_, error)) = conn.close() {
        tracing::warn!(%error, "closing the SQLite inbox's checkpointer");
    }
}
