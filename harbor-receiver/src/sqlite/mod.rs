//! [`SqliteInbox`]: the embedded, durable default.

mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use self::writer::{LeaseRef, Op, Reply, Request, Writer, now_ms};
use crate::inbox::{BoxFuture, DEFAULT_DEDUP_WINDOW, DEFAULT_LEASE};
use crate::{Appended, DeadLetter, Delivery, Disposition, Error, Inbox, Leased, Result};

/// The schema version this crate writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    seq         INTEGER PRIMARY KEY,
    key         TEXT    NOT NULL UNIQUE,
    format      TEXT    NOT NULL,
    body        BLOB,
    received_at INTEGER NOT NULL,
    state       INTEGER NOT NULL,
    attempts    INTEGER NOT NULL,
    visible_at  INTEGER NOT NULL,
    lease       INTEGER,
    last_error  TEXT,
    finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_ready ON deliveries (visible_at, seq) WHERE state = 0;
CREATE INDEX IF NOT EXISTS deliveries_done ON deliveries (received_at) WHERE state = 1;
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (finished_at, seq) WHERE state = 2;
";

/// How long a taker sleeps at most before it looks again (another process may have
/// appended to the same file).
const POLL: Duration = Duration::from_millis(500);

/// The embedded, durable inbox: one SQLite file in WAL mode, written by one thread that
/// commits every operation waiting for it in one transaction (**group commit**: many
/// concurrent deliveries share one fsync). SQLite is compiled into the crate (`bundled`).
///
/// - **Durable before the `2xx`:** `synchronous = FULL`, so a commit returns after the
///   write-ahead log is synced: an append that returned `Ok` survives `kill -9` and a power
///   cut. When the commit fails (disk full, the [`max_size`](SqliteInboxBuilder::max_size)
///   limit, the database locked by another process for longer than the
///   [`busy_timeout`](SqliteInboxBuilder::busy_timeout), an I/O error), every request of the
///   batch gets [`Error::NotDurable`] and the receiver answers `503`.
/// - **After a crash**, deliveries that were being handled are leased to nobody once their
///   lease runs out ([`lease`](SqliteInboxBuilder::lease), 30 s by default): the next
///   [`take`](Inbox::take) hands them out again, with the same key and one more attempt.
/// - Several processes on one machine may open the same file (a receiver process and a
///   worker process, say): SQLite's locks serialise them. For several machines use
///   [`NatsInbox`](crate::NatsInbox) (feature `nats`).
/// - Finished deliveries keep their key (not their body) for the deduplication window;
///   dead letters keep everything until you delete them (`DELETE FROM deliveries WHERE
///   state = 2`).
///
/// ```no_run
/// use std::time::Duration;
/// use harbor_receiver::SqliteInbox;
///
/// let inbox = SqliteInbox::builder("webhooks.db")
///     .dedup_window(Duration::from_secs(6 * 3600))
///     .max_size(512 * 1024 * 1024)
///     .open()?;
/// # Ok::<(), harbor_receiver::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SqliteInbox {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Request>,
}

#[derive(Debug)]
struct Shared {
    path: PathBuf,
    window: Duration,
    lease: Duration,
    ready: Notify,
    closed: AtomicBool,
    stats: Counters,
}

#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    appended: AtomicU64,
}

/// Counters of a [`SqliteInbox`] since it was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteStats {
    /// Transactions committed (each one fsync of the write-ahead log).
    pub commits: u64,
    /// Deliveries stored (duplicates not counted).
    pub appended: u64,
}

/// Settings of a [`SqliteInbox`]; [`SqliteInboxBuilder::open`] opens it.
#[derive(Clone, Debug)]
#[must_use]
pub struct SqliteInboxBuilder {
    path: PathBuf,
    window: Duration,
    lease: Duration,
    busy_timeout: Duration,
    max_size: Option<u64>,
    max_batch: usize,
    queue: usize,
}

impl SqliteInboxBuilder {
    /// How long a key is remembered after its delivery arrived (default 24 h). Pending
    /// deliveries and dead letters keep their key for as long as they exist.
    pub fn dedup_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How long a [`take`](Inbox::take) leases a delivery (default 30 s).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a write waits for a lock held by another connection before it fails with
    /// [`Error::NotDurable`] (default 1 s: Harbor gives up on an answer after 3 s).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// A size limit for the database file in bytes (SQLite's `max_page_count`): beyond it
    /// appends fail as on a full disk and the receiver answers `503`. Default: none.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// The most operations committed in one transaction (default 512).
    pub fn max_batch(mut self, operations: usize) -> Self {
        self.max_batch = operations.max(1);
        self
    }

    /// Opens (or creates) the file, sets it up (WAL, `synchronous = FULL`) and starts the
    /// writer thread. It does blocking file I/O: call it at start-up, or in
    /// `spawn_blocking`.
    ///
    /// # Errors
    ///
    /// [`Error::Open`] when the file cannot be created or opened, is not a SQLite database,
    /// was written by a newer version of this crate, or cannot use WAL.
    pub fn open(self) -> Result<SqliteInbox> {
        let open_error = |message: String, source: Option<rusqlite::Error>| Error::Open {
            backend: "sqlite",
            target: self.path.display().to_string(),
            message,
            source: source.map(Into::into),
        };
        let conn = Connection::open(&self.path).map_err(|e| {
            open_error(
                "check that the directory exists and is writable".into(),
                Some(e),
            )
        })?;
        setup(&conn, &self).map_err(|e| open_error(e.to_string(), Some(e)))?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| open_error(e.to_string(), Some(e)))?;
        if version > SCHEMA_VERSION {
            return Err(open_error(
                format!(
                    "it was written by a newer harbor-receiver (schema {version}, this one \
                     knows {SCHEMA_VERSION})"
                ),
                None,
            ));
        }
        conn.execute_batch(SCHEMA)
            .and_then(|()| conn.pragma_update(None, "user_version", SCHEMA_VERSION))
            .map_err(|e| open_error(e.to_string(), Some(e)))?;

        let shared = Arc::new(Shared {
            path: self.path.clone(),
            window: self.window,
            lease: self.lease,
            ready: Notify::new(),
            closed: AtomicBool::new(false),
            stats: Counters::default(),
        });
        let (tx, rx) = mpsc::channel(self.queue);
        let writer = Writer::new(conn, shared.clone(), self.max_batch);
        std::thread::Builder::new()
            .name("harbor-inbox-sqlite".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| Error::Open {
                backend: "sqlite",
                target: self.path.display().to_string(),
                message: "cannot start the writer thread".into(),
                source: Some(e.into()),
            })?;
        Ok(SqliteInbox { shared, tx })
    }
}

/// WAL, full sync, the busy timeout and the size limit.
fn setup(conn: &Connection, settings: &SqliteInboxBuilder) -> rusqlite::Result<()> {
    conn.busy_timeout(settings.busy_timeout)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the database refused WAL mode (journal_mode is {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    // After a checkpoint the log is cut back to this size instead of growing for ever.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    if let Some(bytes) = settings.max_size {
        let page: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        let pages = i64::try_from(bytes).unwrap_or(i64::MAX) / page.max(512);
        conn.pragma_update(None, "max_page_count", pages.max(1))?;
    }
    Ok(())
}

impl SqliteInbox {
    /// Opens (or creates) the inbox at `path` with the default settings.
    ///
    /// # Errors
    ///
    /// As [`SqliteInboxBuilder::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteInbox> {
        SqliteInbox::builder(path).open()
    }

    /// Settings for the inbox at `path`.
    pub fn builder(path: impl AsRef<Path>) -> SqliteInboxBuilder {
        SqliteInboxBuilder {
            path: path.as_ref().to_path_buf(),
            window: DEFAULT_DEDUP_WINDOW,
            lease: DEFAULT_LEASE,
            busy_timeout: Duration::from_secs(1),
            max_size: None,
            max_batch: 512,
            queue: 4096,
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Counters since the inbox was opened: commits against stored deliveries show how
    /// many deliveries shared each fsync.
    pub fn stats(&self) -> SqliteStats {
        SqliteStats {
            commits: self.shared.stats.commits.load(Ordering::Relaxed),
            appended: self.shared.stats.appended.load(Ordering::Relaxed),
        }
    }

    async fn call(&self, op: Op, operation: &'static str) -> Result<Reply> {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Request { op, reply }).await.is_err() {
            return Err(Error::Closed);
        }
        match answer.await {
            Ok(result) => result,
            Err(_) if self.shared.closed.load(Ordering::Relaxed) => Err(Error::Closed),
            Err(_) => Err(Error::NotDurable {
                backend: "sqlite",
                operation,
                message: "the writer thread stopped".into(),
                full: false,
                busy: false,
                source: None,
            }),
        }
    }

    /// Sends a lease operation; a lease the writer no longer knows is [`Error::LeaseLost`].
    async fn on_lease(
        &self,
        leased: &Leased,
        op: impl FnOnce(LeaseRef) -> Op,
        operation: &'static str,
    ) -> Result<()> {
        let lost = || Error::LeaseLost {
            key: leased.delivery().key().to_string(),
            lease: self.shared.lease,
        };
        let lease = LeaseRef::parse(leased.token()).ok_or_else(lost)?;
        match self.call(op(lease), operation).await? {
            Reply::Done(true) => Ok(()),
            _ => Err(lost()),
        }
    }
}

impl Inbox for SqliteInbox {
    fn append(&self, delivery: Delivery) -> BoxFuture<'_, Result<Appended>> {
        Box::pin(async move {
            match self.call(Op::Append(delivery), "append").await? {
                Reply::Appended(appended) => Ok(appended),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn take(&self, wait: Duration) -> BoxFuture<'_, Result<Option<Leased>>> {
        Box::pin(async move {
            let deadline = Instant::now() + wait;
            loop {
                let notified = self.shared.ready.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let next = match self.call(Op::Take, "take").await? {
                    Reply::Taken(Ok(leased)) => return Ok(Some(leased)),
                    Reply::Taken(Err(next)) => next,
                    other => return Err(unexpected(&other)),
                };
                let now = Instant::now();
                if now >= deadline {
                    return Ok(None);
                }
                let mut until = deadline.min(now + POLL);
                if let Some(at) = next {
                    let ms = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
                    until = until.min(now + Duration::from_millis(ms));
                }
                tokio::select! {
                    () = &mut notified => {}
                    () = tokio::time::sleep_until(until) => {}
                }
            }
        })
    }

    fn ack<'a>(&'a self, leased: &'a Leased) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.on_lease(leased, Op::Ack, "ack"))
    }

    fn fail<'a>(
        &'a self,
        leased: &'a Leased,
        disposition: Disposition,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        let reason = reason.to_owned();
        Box::pin(self.on_lease(
            leased,
            move |lease| Op::Fail(lease, disposition, reason),
            "fail",
        ))
    }

    fn extend<'a>(&'a self, leased: &'a Leased) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.on_lease(leased, Op::Extend, "extend"))
    }

    fn lease(&self) -> Duration {
        self.shared.lease
    }

    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>>> {
        Box::pin(async move {
            match self.call(Op::DeadLetters(limit), "read").await? {
                Reply::Dead(dead) => Ok(dead),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.shared.closed.store(true, Ordering::Relaxed);
            let result = self.call(Op::Close, "close").await;
            self.shared.ready.notify_waiters();
            match result {
                Ok(_) | Err(Error::Closed) => Ok(()),
                Err(error) => Err(error),
            }
        })
    }
}

fn unexpected(reply: &Reply) -> Error {
    Error::Corrupt {
        message: format!("the SQLite writer answered {reply:?} out of turn"),
    }
}

#[cfg(test)]
mod tests {
    use super::writer::sql_error;

    #[test]
    fn sql_errors_say_full_and_busy() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let error = sql_error(&full, "append");
        assert!(error.is_full() && error.is_retryable() && !error.is_busy());
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(sql_error(&busy, "append").is_busy());
    }
}
