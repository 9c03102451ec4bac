//! [`SqliteInbox`]: the embedded, durable default.

mod keys;
mod sync;
mod writer;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension as _};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use self::keys::Keys;
use self::sync::Background;
use self::writer::{LeaseRef, Op, Reply, Request, Writer, now_ms};
use crate::inbox::{BoxFuture, DEFAULT_DEDUP_WINDOW, DEFAULT_LEASE};
use crate::{Appended, DeadLetter, Delivery, Disposition, Error, Inbox, Leased, Result};

/// The schema version this crate writes (`PRAGMA user_version`). Version 1 had a unique index
/// on `key` (see `keys`); version 2 numbered the rows with `AUTOINCREMENT` and indexed the
/// finished ones by arrival. Opening an older file rewrites its table.
const SCHEMA_VERSION: i64 = 3;

/// The table of schema 3 (without its indexes, which [`SCHEMA`] creates). The writers number
/// the rows (see `keys`): `AUTOINCREMENT` cost a read and a write of `sqlite_sequence` for
/// every append.
const TABLE: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    seq         INTEGER PRIMARY KEY,
    key         TEXT    NOT NULL,
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
";

/// The indexes: ready deliveries (for takes) and dead letters. Finished deliveries have none
/// (every acknowledgement would write it): the purge finds them by `seq` (see `writer`).
const SCHEMA: &str = "
CREATE INDEX IF NOT EXISTS deliveries_ready ON deliveries (visible_at, seq) WHERE state = 0;
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (finished_at, seq) WHERE state = 2;
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// How long a taker sleeps at most before it looks again (another process may have
/// appended to the same file).
const POLL: Duration = Duration::from_millis(500);
/// The most operations committed in one transaction unless `max_batch` says otherwise; also
/// the room the writer keeps for a batch.
const DEFAULT_MAX_BATCH: usize = 512;

/// The embedded, durable inbox: one SQLite file in WAL mode, written by one thread that
/// commits every operation waiting for it in one transaction, made durable by `fdatasync`s
/// of the write-ahead log that each cover every commit written before them (**group
/// commit**: many concurrent deliveries share one fsync, and committing never waits for the
/// disk). SQLite is compiled into the crate (`bundled`).
///
/// - **Durable before the `2xx`:** an append (and a duplicate) is answered only after a sync
///   of the log that started after its commit: an append that returned `Ok` survives
///   `kill -9` and a power cut. When the commit or the sync fails (disk full, the
///   [`max_size`](SqliteInboxBuilder::max_size) limit, the database locked by another
///   process for longer than the [`busy_timeout`](SqliteInboxBuilder::busy_timeout), an I/O
///   error), the requests get [`Error::NotDurable`] and the receiver answers `503`; after a
///   failed sync every later append does too, until the process restarts (the state of the
///   log on disk is unknown then; SQLite recovers it on open).
/// - **After a crash**, deliveries that were being handled are leased to nobody once their
///   lease runs out ([`lease`](SqliteInboxBuilder::lease), 30 s by default): the next
///   [`take`](Inbox::take) hands them out again, with the same key and one more attempt.
/// - **More than one file** ([`files`](SqliteInboxBuilder::files)): one file makes one sync
///   at a time. Deliveries spread by key over several files each have their own writer and
///   syncs, which go faster only where the storage runs syncs of different files in
///   parallel: measure yours (`benches/webhook_receiver.sh` reports `sqlite-4`). On a virtual
///   disk whose every sync flushes the whole device cache, one after another, 4 files made
///   fewer requests a second than one in that bench. Order is first-in first-out within
///   each file only.
/// - Several processes on one machine may open the same files (a receiver process and a
///   worker process, say): SQLite's locks serialise them. For several machines use
///   [`NatsInbox`](crate::NatsInbox) (feature `nats`).
/// - **Upgrades:** the file records the version of its layout. A newer release of this crate
///   rewrites an older file when it opens it (one transaction; deliveries, keys and dead
///   letters are kept), and an older release refuses a newer file with [`Error::Open`]:
///   upgrade every process that opens the same file together.
/// - Finished deliveries keep their key (not their body) for the deduplication window;
///   dead letters keep everything until you delete them (`DELETE FROM deliveries WHERE
///   state = 2`). Each file's writer also keeps the keys in memory (a 128-bit fingerprint
///   and a time, 40-odd bytes a key: some 35 MB for a day at ten deliveries a second)
///   instead of a unique index on disk, whose random pages made every append write several
///   pages of log.
/// - **Appends are leased as they are inserted** when a take wants them (one file): a
///   [`take`](Inbox::take) that finds nothing ready waits in the writer and is handed the
///   next appends (up to its `max`), as soon as they are committed (before the append's
///   sync; the `2xx` still waits for it). Appends that come while no take waits are leased
///   for the next take, as many as the last take that waited asked for, and kept in memory
///   until it comes: under load no row is written a second time to lease it. Those not taken
///   within half a lease are given back (ready at once), and so are those left when the
///   inbox closes; a process that stops taking without closing leaves them leased until
///   their lease runs out. Give a [`Worker`](crate::Worker) with a fast handler room for a
///   few commits' worth: a delivery holds its place until its acknowledgement is committed
///   ([`concurrency`](crate::Worker::concurrency); the benchmark uses 128).
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
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    files: Vec<File>,
    lease: Duration,
    /// Woken when a delivery becomes ready in any file.
    ready: Arc<Notify>,
    /// Where the next take starts looking, so that every file gets its turn.
    next: AtomicUsize,
}

/// One database file and its writer.
#[derive(Debug)]
struct File {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Request>,
}

/// What a file's writer and syncers share with the async side.
#[derive(Debug)]
struct Shared {
    /// The index of the file (0 for the one at the inbox's path).
    file: usize,
    path: PathBuf,
    window: Duration,
    lease: Duration,
    ready: Arc<Notify>,
    closed: AtomicBool,
    /// A sync of the log failed: nothing written since is known durable.
    failed: AtomicBool,
    stats: Counters,
    /// Deliveries leased as they were appended, for the next take (one-file inbox).
    handed: Mutex<Handed>,
    /// The log has grown past its limit: the writer starts it over between two batches
    /// (set by the checkpointer, cleared by the writer).
    restart_log: AtomicBool,
}

/// Deliveries the writer leased as it appended them, waiting for the next take: a take that
/// waits leaves word that it (or the next one) wants up to `wanted` more, so that under load
/// the appends between two takes cost no second write to lease them. Those older than half
/// a lease are given back instead of handed out.
#[derive(Debug, Default)]
struct Handed {
    ready: VecDeque<(Leased, std::time::Instant)>,
    /// How many more appends the writer may lease for the next take.
    wanted: usize,
}

#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    syncs: AtomicU64,
    appended: AtomicU64,
    /// Takers waiting in the writer after its last batch (a gauge for the tests, which check
    /// that takers who gave up are not kept).
    #[cfg(test)]
    parked: AtomicUsize,
}

/// Counters of a [`SqliteInbox`] since it was opened (all files together).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteStats {
    /// Transactions committed (each holds every operation that was waiting).
    pub commits: u64,
    /// Syncs of the write-ahead logs (`fdatasync`), each making every commit before it durable.
    pub syncs: u64,
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
    files: Option<usize>,
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

    /// A size limit for each database file in bytes (SQLite's `max_page_count`): beyond it
    /// appends fail as on a full disk and the receiver answers `503`. Default: none.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// Spreads the inbox over `files` database files: the path, then `PATH.file-1` … (1 to
    /// 64; default: as many as the inbox was created with, 1 for a new one). A delivery's file
    /// follows from its key, so the count is fixed when the inbox is created.
    pub fn files(mut self, files: usize) -> Self {
        self.files = Some(files);
        self
    }

    /// The most operations committed in one transaction (default 512).
    pub fn max_batch(mut self, operations: usize) -> Self {
        self.max_batch = operations.max(1);
        self
    }

    /// Opens (or creates) the files, sets them up (WAL) and starts each file's writer, syncer
    /// and checkpointer threads. It does blocking file I/O: call it at start-up, or in
    /// `spawn_blocking`.
    ///
    /// # Errors
    ///
    /// [`Error::Open`] when a file cannot be created or opened, is not a SQLite database, was
    /// written by a newer version of this crate, cannot use WAL, or the inbox was created with
    /// another number of files; [`Error::Config`] for a number of files outside 1 to 64.
    pub fn open(self) -> Result<SqliteInbox> {
        if let Some(files) = self.files
            && !(1..=64).contains(&files)
        {
            return Err(Error::Config {
                message: format!("an inbox has 1 to 64 files, not {files}"),
            });
        }
        let ready = Arc::new(Notify::new());
        let (first, count) = self.open_file(0, &ready)?;
        let mut files = vec![first];
        for index in 1..count {
            files.push(self.open_file(index, &ready)?.0);
        }
        Ok(SqliteInbox {
            inner: Arc::new(Inner {
                files,
                lease: self.lease,
                ready,
                next: AtomicUsize::new(0),
            }),
        })
    }

    /// Opens file `index`; for file 0 also settles how many files the inbox has.
    fn open_file(&self, index: usize, ready: &Arc<Notify>) -> Result<(File, usize)> {
        let path = if index == 0 {
            self.path.clone()
        } else {
            let mut name = self.path.as_os_str().to_owned();
            name.push(format!(".file-{index}"));
            PathBuf::from(name)
        };
        let open_error = |message: String, source: Option<crate::BoxError>| Error::Open {
            backend: "sqlite",
            target: path.display().to_string(),
            message,
            source,
        };
        let sql_error = |e: rusqlite::Error| open_error(e.to_string(), Some(e.into()));
        let conn = Connection::open(&path).map_err(|e| {
            open_error(
                "check that the directory exists and is writable".into(),
                Some(e.into()),
            )
        })?;
        setup(&conn, self).map_err(sql_error)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(sql_error)?;
        if version > SCHEMA_VERSION {
            return Err(open_error(
                format!(
                    "it was written by a newer harbor-receiver (schema {version}, this one \
                     knows {SCHEMA_VERSION})"
                ),
                None,
            ));
        }
        migrate(&conn).map_err(sql_error)?;
        let count = if index == 0 {
            file_count(&conn, self.files)
                .map_err(sql_error)?
                .map_err(|message| open_error(message, None))?
        } else {
            0
        };

        let shared = Arc::new(Shared {
            file: index,
            path: path.clone(),
            window: self.window,
            lease: self.lease,
            ready: ready.clone(),
            closed: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            stats: Counters::default(),
            handed: Mutex::new(Handed::default()),
            restart_log: AtomicBool::new(false),
        });
        let background = Background::start(&path, self.busy_timeout, &shared)
            .map_err(|e| open_error(format!("cannot start the syncing threads: {e}"), Some(e)))?;
        let (tx, rx) = mpsc::channel(self.queue);
        let keys = Keys::load(&conn).map_err(sql_error)?;
        let writer = Writer::new(
            conn,
            shared.clone(),
            self.max_batch,
            keys,
            background,
            self.busy_timeout,
        );
        std::thread::Builder::new()
            .name(format!("harbor-inbox-sqlite-{index}"))
            .spawn(move || writer.run(rx))
            .map_err(|e| open_error("cannot start the writer thread".into(), Some(e.into())))?;
        Ok((File { shared, tx }, count))
    }
}

/// The number of files of the inbox whose first file `conn` is: as recorded, or `wanted`
/// (default 1) recorded now for a new inbox. `Err` when `wanted` differs from the record.
fn file_count(
    conn: &Connection,
    wanted: Option<usize>,
) -> rusqlite::Result<std::result::Result<usize, String>> {
    let recorded: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE name = 'files'", [], |row| {
            row.get(0)
        })
        .optional()?;
    Ok(match (recorded, wanted) {
        (Some(recorded), Some(wanted)) if usize::try_from(recorded) != Ok(wanted) => Err(format!(
            "the inbox was created with {recorded} file(s), not {wanted}: open it with \
             files({recorded})"
        )),
        (Some(recorded), _) => Ok(usize::try_from(recorded).unwrap_or(1).clamp(1, 64)),
        (None, wanted) => {
            let files = wanted.unwrap_or(1);
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('files', ?1)",
                [i64::try_from(files).unwrap_or(1)],
            )?;
            Ok(files)
        }
    })
}

/// Creates the schema, or brings a file of an older schema up to date, in one transaction
/// (another process may be opening the same file).
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let migrated = (|| {
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        if version == 0 {
            conn.execute_batch(TABLE)?;
            conn.execute_batch(SCHEMA)?;
        } else {
            // Schema 1 (a unique index on `key`) or 2 (`AUTOINCREMENT`, an index of finished
            // rows): the rows move to a new table and keep their `seq`; the highest `seq`
            // ever written (schema 2 kept it in `sqlite_sequence`) goes to `meta`.
            let last_seq: i64 = if version == 2 {
                conn.query_row(
                    "SELECT MAX(seq) FROM sqlite_sequence WHERE name = 'deliveries'",
                    [],
                    |row| row.get::<_, Option<i64>>(0),
                )?
                .unwrap_or(0)
            } else {
                0
            };
            conn.execute_batch("ALTER TABLE deliveries RENAME TO deliveries_old")?;
            conn.execute_batch(TABLE)?;
            conn.execute_batch(
                "INSERT INTO deliveries SELECT * FROM deliveries_old; DROP TABLE deliveries_old;",
            )?;
            conn.execute_batch(SCHEMA)?;
            conn.execute(
                "INSERT INTO meta (name, value) \
                 SELECT 'last_seq', MAX(?1, IFNULL(MAX(seq), 0)) FROM deliveries WHERE true \
                 ON CONFLICT (name) DO UPDATE SET value = MAX(value, excluded.value)",
                [last_seq],
            )?;
        }
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
    })();
    conn.execute_batch(if migrated.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    })
    .and(migrated)
}

/// WAL, the sync policy, the busy timeout and the size limit.
fn setup(conn: &Connection, settings: &SqliteInboxBuilder) -> rusqlite::Result<()> {
    conn.busy_timeout(settings.busy_timeout)?;
    // Room for every statement the writer runs, so that none is compiled twice.
    conn.set_prepared_statement_cache_capacity(32);
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the database refused WAL mode (journal_mode is {mode})"
        )));
    }
    // The commit does not wait for the disk: the syncers sync the log before any answer that
    // promises durability (see `sync`). Checkpoints run on the checkpointer's connection.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // One plan per statement whatever its bound values: else a statement that may use a
    // partial index is compiled again each time its parameters change (every take).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
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
            files: None,
            max_batch: DEFAULT_MAX_BATCH,
            queue: 4096,
        }
    }

    /// The first database file (the inbox's path).
    pub fn path(&self) -> &Path {
        &self.first().shared.path
    }

    /// How many database files the inbox has.
    pub fn files(&self) -> usize {
        self.inner.files.len()
    }

    /// Counters since the inbox was opened: syncs against stored deliveries show how many
    /// deliveries shared each fsync.
    pub fn stats(&self) -> SqliteStats {
        let sum = |counter: fn(&Counters) -> &AtomicU64| {
            self.inner
                .files
                .iter()
                .map(|f| counter(&f.shared.stats).load(Ordering::Relaxed))
                .sum()
        };
        SqliteStats {
            commits: sum(|c| &c.commits),
            syncs: sum(|c| &c.syncs),
            appended: sum(|c| &c.appended),
        }
    }

    fn first(&self) -> &File {
        // `open` makes at least one file.
        &self.inner.files[0]
    }

    /// The file of a key: FNV-1a of its bytes (the same in every process and version).
    fn file_of(&self, key: &str) -> &File {
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let files = &self.inner.files;
        &files[(hash % files.len() as u64) as usize]
    }

    /// Sends a lease operation to the lease's file; a lease the writer no longer knows is
    /// [`Error::LeaseLost`].
    async fn on_lease(
        &self,
        leased: &Leased,
        op: impl FnOnce(LeaseRef) -> Op,
        operation: &'static str,
    ) -> Result<()> {
        let lost = || Error::LeaseLost {
            keys: vec![leased.delivery().key().to_string()],
            lease: self.inner.lease,
        };
        let lease = LeaseRef::parse(leased.token()).ok_or_else(lost)?;
        let file = self.inner.files.get(lease.file).ok_or_else(lost)?;
        match file.call(op(lease), operation).await? {
            Reply::Done(true) => Ok(()),
            _ => Err(lost()),
        }
    }
}

impl File {
    /// Up to `max` of the deliveries leased for takes; with `wanting`, asks the writer to
    /// lease up to `max` of the next appends for the next take. Those leased more than half
    /// a lease ago are given back (made ready at once).
    fn handed(&self, max: usize, wanting: bool) -> Vec<Leased> {
        let mut taken = Vec::new();
        let mut stale = Vec::new();
        {
            let Ok(mut handed) = self.shared.handed.lock() else {
                return taken;
            };
            let fresh_after = std::time::Instant::now().checked_sub(self.shared.lease / 2);
            while taken.len() < max {
                let Some((leased, at)) = handed.ready.pop_front() else {
                    break;
                };
                if fresh_after.is_some_and(|fresh| at < fresh) {
                    stale.extend(LeaseRef::parse(leased.token()));
                } else {
                    taken.push(leased);
                }
            }
            if wanting {
                handed.wanted = max.saturating_sub(handed.ready.len());
            }
        }
        if !stale.is_empty() {
            // Nobody waits for the answer: the writer writes it with its next batch.
            let request = Request {
                op: Op::Release(stale),
                reply: oneshot::channel().0,
            };
            let _ = self.tx.try_send(request);
        }
        taken
    }

    async fn call(&self, op: Op, operation: &'static str) -> Result<Reply> {
        let answer = self.send(op).await?;
        self.answer(answer.await, operation)
    }

    /// As [`File::call`], giving up on the answer at `until` (`None`): the writer sees the
    /// receiver gone and does not hand it anything more.
    async fn call_until(
        &self,
        op: Op,
        operation: &'static str,
        until: Instant,
    ) -> Result<Option<Reply>> {
        let mut answer = self.send(op).await?;
        match tokio::time::timeout_at(until, &mut answer).await {
            Ok(answer) => self.answer(answer, operation).map(Some),
            Err(_) => {
                // An answer sent just before the receiver closes is still taken (a lease
                // dropped here would wait for its expiry before anyone handles it).
                answer.close();
                match answer.try_recv() {
                    Ok(result) => result.map(Some),
                    Err(_) => Ok(None),
                }
            }
        }
    }

    async fn send(&self, op: Op) -> Result<oneshot::Receiver<Result<Reply>>> {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Request { op, reply }).await.is_err() {
            return Err(Error::Closed);
        }
        Ok(answer)
    }

    fn answer(
        &self,
        answer: std::result::Result<Result<Reply>, oneshot::error::RecvError>,
        operation: &'static str,
    ) -> Result<Reply> {
        match answer {
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
}

impl Inbox for SqliteInbox {
    fn append(&self, delivery: Delivery) -> BoxFuture<'_, Result<Appended>> {
        Box::pin(async move {
            let file = self.file_of(delivery.key().as_str());
            match file.call(Op::Append(delivery), "append").await? {
                Reply::Appended(appended) => Ok(appended),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn take(&self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Leased>>> {
        Box::pin(async move {
            let max = max.max(1);
            let deadline = crate::time::later(Instant::now(), wait);
            let files = &self.inner.files;
            loop {
                let notified = self.inner.ready.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let mut next: Option<i64> = None;
                let mut taken = Vec::new();
                if let [file] = files.as_slice() {
                    // One file: first what the writer leased for takes as it appended; then
                    // wait in the writer for the next appends (leased as they are stored),
                    // looking again at least every `POLL` for deliveries that become ready
                    // otherwise (a lease run out, another process's append); once the
                    // deadline has passed (at once for a zero wait), one last look without
                    // waiting.
                    let handed = file.handed(max, wait > Duration::ZERO);
                    if !handed.is_empty() {
                        return Ok(handed);
                    }
                    let now = Instant::now();
                    let until = deadline.min(now + POLL);
                    let answer = if now < deadline {
                        file.call_until(Op::Take { max, park: true }, "take", until)
                            .await?
                    } else {
                        Some(file.call(Op::Take { max, park: false }, "take").await?)
                    };
                    match answer {
                        Some(Reply::Taken(Ok(leased))) => return Ok(leased),
                        Some(Reply::Taken(Err(at))) => next = at,
                        Some(other) => return Err(unexpected(&other)),
                        None => continue,
                    }
                } else {
                    // Every file in turn, starting where the last take did not.
                    let start = self.inner.next.fetch_add(1, Ordering::Relaxed);
                    for i in 0..files.len() {
                        let file = &files[(start + i) % files.len()];
                        let op = Op::Take {
                            max: max - taken.len(),
                            park: false,
                        };
                        match file.call(op, "take").await? {
                            Reply::Taken(Ok(leased)) => taken.extend(leased),
                            Reply::Taken(Err(at)) => {
                                next = match (next, at) {
                                    (Some(a), Some(b)) => Some(a.min(b)),
                                    (a, b) => a.or(b),
                                }
                            }
                            other => return Err(unexpected(&other)),
                        }
                        if taken.len() >= max {
                            break;
                        }
                    }
                    if !taken.is_empty() {
                        return Ok(taken);
                    }
                }
                let now = Instant::now();
                if now >= deadline {
                    return Ok(taken);
                }
                let mut until = deadline.min(now + POLL);
                if let Some(at) = next {
                    let ms = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
                    until = until.min(crate::time::later(now, Duration::from_millis(ms)));
                }
                tokio::select! {
                    () = &mut notified => {}
                    () = tokio::time::sleep_until(until) => {}
                }
            }
        })
    }

    fn ack<'a>(&'a self, leased: &'a [Leased]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            // Each file's leases in one request; a token this inbox did not issue is lost.
            let mut lost = Vec::new();
            let mut by_file: Vec<(Vec<LeaseRef>, Vec<&Leased>)> = (0..self.inner.files.len())
                .map(|_| Default::default())
                .collect();
            for one in leased {
                match LeaseRef::parse(one.token()).filter(|l| l.file < by_file.len()) {
                    Some(lease) => {
                        by_file[lease.file].0.push(lease);
                        by_file[lease.file].1.push(one);
                    }
                    None => lost.push(one.delivery().key().to_string()),
                }
            }
            let calls = self
                .inner
                .files
                .iter()
                .zip(by_file)
                .filter(|(_, (l, _))| !l.is_empty());
            let answers =
                futures_util::future::join_all(calls.map(|(file, (leases, ones))| async move {
                    (file.call(Op::Ack(leases), "ack").await, ones)
                }))
                .await;
            for (answer, ones) in answers {
                match answer? {
                    Reply::Acked(positions) => lost.extend(
                        positions
                            .into_iter()
                            .filter_map(|at| ones.get(at))
                            .map(|one| one.delivery().key().to_string()),
                    ),
                    other => return Err(unexpected(&other)),
                }
            }
            Error::unless_lost(lost, self.inner.lease)
        })
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
        self.inner.lease
    }

    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>>> {
        Box::pin(async move {
            let mut dead = Vec::new();
            for file in &self.inner.files {
                match file.call(Op::DeadLetters(limit), "read").await? {
                    Reply::Dead(more) => dead.extend(more),
                    other => return Err(unexpected(&other)),
                }
            }
            dead.sort_by_key(|d| d.dead_at);
            dead.truncate(limit);
            Ok(dead)
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let mut outcome = Ok(());
            for file in &self.inner.files {
                file.shared.closed.store(true, Ordering::Relaxed);
                match file.call(Op::Close, "close").await {
                    Ok(_) | Err(Error::Closed) => {}
                    Err(error) => outcome = Err(error),
                }
            }
            self.inner.ready.notify_waiters();
            outcome
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
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    use super::SqliteInbox;
    use super::writer::sql_error;
    use crate::{Delivery, DeliveryKey, Inbox};

    fn delivery(n: usize) -> Delivery {
        let body = bytes::Bytes::from(format!(
            r#"{{"type":"PUSH_ARTIFACT","occur_at":{n},"operator":"admin"}}"#
        ));
        Delivery::new(
            DeliveryKey::for_body(&body),
            harbor_events::Format::V2,
            body,
        )
    }

    /// The checkpoint sequence number in the header of the log at `db`: SQLite adds one
    /// each time the log starts over (the header is written with the first commit after).
    fn log_starts(db: &std::path::Path) -> u32 {
        let mut log = db.as_os_str().to_owned();
        log.push("-wal");
        let header = std::fs::read(log).unwrap();
        u32::from_be_bytes(header[12..16].try_into().unwrap())
    }

    /// Asks the writer of `inbox` to start the log over, makes it run a batch, and waits
    /// until it has done so (or tried); returns how long that took.
    async fn ask_for_a_restart(inbox: &SqliteInbox, n: usize) -> Duration {
        let shared = &inbox.inner.files[0].shared;
        let started = Instant::now();
        shared.restart_log.store(true, Ordering::Release);
        inbox.append(delivery(n)).await.unwrap();
        while shared.restart_log.load(Ordering::Acquire) {
            assert!(started.elapsed() < Duration::from_secs(20), "no restart");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        started.elapsed()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_starts_the_log_over_and_never_waits_for_a_reader_to_do_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.db");
        let inbox = SqliteInbox::builder(&path)
            .busy_timeout(Duration::from_secs(10))
            .open()
            .unwrap();
        for n in 0..10 {
            inbox.append(delivery(n)).await.unwrap();
        }

        // Another process reading the log: a restart would have to wait for it. The writer
        // does not (with SQLite's busy handler it would, up to the busy timeout), and the
        // log goes on where it was. A reader that began after a checkpoint had copied the
        // whole log reads the database file alone and holds nothing back: SQLite may then
        // start the log over under it. Such a round shows nothing, so it is run again.
        let mut n = 10;
        let before = loop {
            assert!(n < 40, "the reader never held the log");
            let reader = rusqlite::Connection::open(&path).unwrap();
            inbox.append(delivery(n)).await.unwrap();
            let before = log_starts(&path);
            reader.execute_batch("BEGIN").unwrap();
            let _: i64 = reader
                .query_row("SELECT count(*) FROM deliveries", [], |row| row.get(0))
                .unwrap();
            let took = ask_for_a_restart(&inbox, n + 1).await;
            assert!(took < Duration::from_secs(5), "the writer waited {took:?}");
            inbox.append(delivery(n + 2)).await.unwrap();
            let held = log_starts(&path) == before;
            reader.execute_batch("COMMIT").unwrap();
            n += 3;
            if held {
                break before;
            }
        };

        // Without the reader it starts over, and nothing is lost (a checkpoint running at
        // that moment makes the writer give up once: ask again). In a quiet test SQLite
        // would also start a fully checkpointed log over by itself, so this part shows the
        // outcome, not that a restart checkpoint was needed for it; that is for a log that
        // keeps growing under load, which the receiver bench runs.
        while log_starts(&path) == before {
            assert!(n < 100, "the log never started over");
            ask_for_a_restart(&inbox, n).await;
            inbox.append(delivery(n + 1)).await.unwrap();
            n += 2;
        }
        let pending = inbox.take(1000, Duration::ZERO).await.unwrap();
        assert_eq!(
            pending.len(),
            n,
            "a delivery was lost when the log started over"
        );
        inbox.close().await.unwrap();
    }

    /// An idle worker takes twice a second, and each take that finds nothing parks in the
    /// writer until its timer runs out: those that gave up must not pile up there.
    #[tokio::test]
    async fn takers_that_gave_up_are_not_kept_in_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = SqliteInbox::open(dir.path().join("inbox.db")).unwrap();
        let parked = || {
            inbox.inner.files[0]
                .shared
                .stats
                .parked
                .load(Ordering::Relaxed)
        };
        for _ in 0..30 {
            let taken = inbox.take(1, Duration::from_millis(10)).await.unwrap();
            assert!(taken.is_empty());
        }
        assert!(parked() <= 1, "{} takers that gave up are kept", parked());
        // A taker still waiting is kept, and gets the next append.
        let waiting = {
            let inbox = inbox.clone();
            tokio::spawn(async move { inbox.take(1, Duration::from_secs(5)).await })
        };
        let started = Instant::now();
        while parked() == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the taker never parked"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        inbox.append(delivery(1)).await.unwrap();
        let handed = waiting.await.unwrap().unwrap();
        assert_eq!(handed.len(), 1);
        inbox.close().await.unwrap();
    }

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
