//! The writer thread of [`SqliteInbox`](super::SqliteInbox): it owns the connection and runs
//! every operation waiting for it in one transaction; the syncers (see [`super::sync`]) make
//! the commits durable, one `fdatasync` for all the commits written while the previous one
//! ran (group commit).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::Shared;
use super::keys::Keys;
use super::sync::{Background, Deferred};
use crate::delivery::format_from_str;
use crate::{
    Appended, DeadLetter, Delivery, DeliveryKey, Disposition, Error, LeaseToken, Leased, Result,
};

/// One request to the writer.
#[derive(Debug)]
pub(super) enum Op {
    Append(Delivery),
    /// Leases the next ready delivery. With `park`, a taker that finds none waits in the
    /// writer (unless one becomes ready soon) and gets the next delivery appended, leased as
    /// it is inserted: no second write to lease it. The caller gives up by dropping the
    /// answer's receiver.
    Take {
        park: bool,
    },
    Ack(LeaseRef),
    Fail(LeaseRef, Disposition, String),
    Extend(LeaseRef),
    DeadLetters(usize),
    Close,
}

/// A lease as the writers know it: the file, the row and the nonce (`FILE:SEQ:NONCE`).
#[derive(Clone, Copy, Debug)]
pub(super) struct LeaseRef {
    pub(super) file: usize,
    pub(super) seq: i64,
    pub(super) nonce: i64,
}

impl LeaseRef {
    pub(super) fn parse(token: &LeaseToken) -> Option<LeaseRef> {
        let mut parts = token.as_str().splitn(3, ':');
        Some(LeaseRef {
            file: parts.next()?.parse().ok()?,
            seq: parts.next()?.parse().ok()?,
            nonce: parts.next()?.parse().ok()?,
        })
    }

    fn token(self) -> LeaseToken {
        LeaseToken::new(format!("{}:{}:{}", self.file, self.seq, self.nonce))
    }
}

/// What the writer answers.
#[derive(Debug)]
pub(super) enum Reply {
    Appended(Appended),
    /// A leased delivery, or when the next one becomes ready (unix ms).
    Taken(std::result::Result<Leased, Option<i64>>),
    /// Done; `false` when the lease was not held.
    Done(bool),
    Dead(Vec<DeadLetter>),
    Closed,
}

/// Where an answer goes.
type ReplyTo = oneshot::Sender<Result<Reply>>;

pub(super) struct Request {
    pub(super) op: Op,
    pub(super) reply: oneshot::Sender<Result<Reply>>,
}

/// The longest a batch is held back to wait for a running sync.
const GATHER_FOR: Duration = Duration::from_millis(20);

/// A parked taker is answered at once when a delivery becomes ready within this many ms
/// (the taker then sleeps until it is).
const PARK_UNLESS_READY_WITHIN: i64 = 400;

/// How often, at most, finished keys older than the window are deleted (more often for a
/// window under two minutes).
const PURGE_EVERY: Duration = Duration::from_secs(60);

pub(super) struct Writer {
    conn: Connection,
    shared: Arc<Shared>,
    max_batch: usize,
    /// The deduplication keys of the file.
    keys: Keys,
    /// Takers waiting for the next append (see [`Op::Take`]).
    parked: VecDeque<ReplyTo>,
    /// The syncers (which answer appends once their commit is on disk) and the checkpointer.
    background: Option<Background>,
    /// The answer to `Close`, sent once everything is stopped.
    closing: Option<oneshot::Sender<Result<Reply>>>,
    last_purge: i64,
    /// Releases of leases whose taker went away before the answer came: the next batch
    /// makes those deliveries ready again at once.
    releases: Vec<LeaseRef>,
    /// Whether new releases should be written without waiting for a request (not after a
    /// failed batch, which would only fail again at once).
    release_now: bool,
}

impl Writer {
    pub(super) fn new(
        conn: Connection,
        shared: Arc<Shared>,
        max_batch: usize,
        keys: Keys,
        background: Background,
    ) -> Writer {
        Writer {
            conn,
            shared,
            max_batch,
            keys,
            parked: VecDeque::new(),
            background: Some(background),
            closing: None,
            last_purge: 0,
            releases: Vec::new(),
            release_now: false,
        }
    }

    /// Runs until a `Close` or until every sender is gone.
    pub(super) fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let mut batch: Vec<Request> = Vec::with_capacity(self.max_batch);
        loop {
            if !std::mem::take(&mut self.release_now) {
                match rx.blocking_recv() {
                    Some(request) => batch.push(request),
                    None => break,
                }
            }
            self.gather(&mut rx, &mut batch);
            let close = batch.iter().any(|r| matches!(r.op, Op::Close));
            self.execute(&mut batch);
            if close {
                break;
            }
        }
        rx.close();
        for taker in self.parked.drain(..) {
            let _ = taker.send(Err(Error::Closed));
        }
        // Whatever is still queued is refused (its senders see `Closed`).
        while let Ok(request) = rx.try_recv() {
            let _ = request.reply.send(Err(Error::Closed));
        }
        // Leases whose taker went away during the last batch are given back now, not when
        // they run out after the next start.
        if !self.releases.is_empty() {
            self.execute(&mut batch);
        }
        // The syncers answer what they hold; the checkpointer closes first, so that this
        // connection is the last one and its close checkpoints the whole log and removes it.
        if let Some(background) = self.background.take() {
            background.stop();
        }
        if let Err((_, error)) = self.conn.close() {
            tracing::warn!(%error, "closing the SQLite inbox");
        }
        if let Some(closing) = self.closing.take() {
            let _ = closing.send(Ok(Reply::Closed));
        }
    }

    /// Adds what is waiting to the batch; while a sync runs, keeps gathering until it ends
    /// (the next sync cannot start sooner anyway): fewer, larger commits write fewer pages.
    fn gather(&self, rx: &mut mpsc::Receiver<Request>, batch: &mut Vec<Request>) {
        let started = std::time::Instant::now();
        loop {
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            let background = self.background.as_ref();
            if batch.len() >= self.max_batch || !background.is_some_and(Background::syncing) {
                return;
            }
            let Some(left) = GATHER_FOR.checked_sub(started.elapsed()) else {
                return;
            };
            if let Some(background) = background {
                background.wait_for_sync(left);
            }
        }
    }

    /// Runs one batch in one transaction and answers every request after the commit.
    fn execute(&mut self, batch: &mut Vec<Request>) {
        let now = now_ms();
        let mut replies: Vec<(oneshot::Sender<Result<Reply>>, Result<Reply>)> =
            Vec::with_capacity(batch.len());
        let outcome = self.transaction(now, batch, &mut replies);
        let shared = &self.shared;
        match outcome {
            Ok(()) => {
                shared.stats.commits.fetch_add(1, Ordering::Relaxed);
                // Answers that promise durability wait for a sync of the log; the others
                // (takes, acknowledgements) go now: losing one to a power cut only means a
                // delivery is handled again.
                let mut deferred = Vec::new();
                for (reply, result) in replies {
                    match &result {
                        Ok(Reply::Appended(appended)) => {
                            if *appended == Appended::New {
                                shared.stats.appended.fetch_add(1, Ordering::Relaxed);
                            }
                            deferred.push(Deferred { reply, result });
                            continue;
                        }
                        Ok(Reply::Closed) => {
                            self.closing = Some(reply);
                            continue;
                        }
                        _ => {}
                    }
                    if let Err(Ok(Reply::Taken(Ok(leased)))) = reply.send(result) {
                        // The taker went away: give the delivery back.
                        if let Some(lease) = LeaseRef::parse(leased.token()) {
                            self.releases.push(lease);
                            self.release_now = true;
                        }
                    }
                }
                if let Some(background) = &self.background {
                    background.committed(deferred);
                }
            }
            Err(error) => {
                // Nothing of the batch is stored: every request gets the error.
                let unanswered = batch.drain(..).map(|r| r.reply);
                for reply in replies
                    .into_iter()
                    .map(|(reply, _)| reply)
                    .chain(unanswered)
                {
                    let _ = reply.send(Err(sql_error(&error, "write")));
                }
            }
        }
        batch.clear();
    }

    fn transaction(
        &mut self,
        now: i64,
        batch: &mut Vec<Request>,
        replies: &mut Vec<(oneshot::Sender<Result<Reply>>, Result<Reply>)>,
    ) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let releases = std::mem::take(&mut self.releases);
        let keys = &mut self.keys;
        let parked = &mut self.parked;
        let applied: rusqlite::Result<()> = (|| {
            keys.begin(&tx)?;
            for lease in &releases {
                tx.prepare_cached(
                    "UPDATE deliveries SET visible_at = ?1, lease = NULL, attempts = attempts - 1 \
                     WHERE seq = ?2 AND lease = ?3",
                )?
                .execute(params![now, lease.seq, lease.nonce])?;
            }
            let mut requests = std::mem::take(batch).into_iter();
            while let Some(request) = requests.next() {
                let mut state = State {
                    tx: &tx,
                    keys,
                    parked,
                    replies,
                    shared: &self.shared,
                    now,
                };
                match state.apply(request.op) {
                    Ok(Step::Reply(result)) => replies.push((request.reply, result)),
                    Ok(Step::Park) => parked.push_back(request.reply),
                    Err(error) => {
                        // Every request of the batch, this one and those after it, gets the
                        // batch's error.
                        replies.push((request.reply, Err(Error::Closed)));
                        replies.extend(requests.map(|r| (r.reply, Err(Error::Closed))));
                        return Err(error);
                    }
                }
            }
            let every = (self.shared.window / 2).clamp(Duration::from_millis(10), PURGE_EVERY);
            if now - self.last_purge >= every.as_millis() as i64 {
                let cutoff = now.saturating_sub(self.shared.window.as_millis() as i64);
                tx.prepare_cached("DELETE FROM deliveries WHERE state = 1 AND received_at < ?1")?
                    .execute(params![cutoff])?;
                keys.purge(&tx, cutoff)?;
                self.last_purge = now;
            }
            Ok(())
        })();
        match applied.and_then(|()| tx.commit()) {
            Ok(()) => Ok(()),
            Err(error) => {
                // Nothing of the batch is stored: its keys are new again, and the releases
                // are tried again with the next batch.
                self.keys.rollback();
                self.releases = releases;
                Err(error)
            }
        }
    }
}

/// What a batch's operations work on.
struct State<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    keys: &'a mut Keys,
    parked: &'a mut VecDeque<ReplyTo>,
    /// Answers sent after the commit (an append's hand-over to a parked taker goes here).
    replies: &'a mut Vec<(ReplyTo, Result<Reply>)>,
    shared: &'a Shared,
    now: i64,
}

/// What becomes of one request.
enum Step {
    Reply(Result<Reply>),
    /// A take that waits for the next append.
    Park,
}

impl State<'_> {
    /// Applies one operation inside the batch's transaction. An `Err` aborts the whole batch;
    /// a logical failure (a lost lease) is an `Ok(Step::Reply(Err(..)))` for this request alone.
    fn apply(&mut self, op: Op) -> rusqlite::Result<Step> {
        let (tx, shared, now) = (self.tx, self.shared, self.now);
        let lease_ms = shared.lease.as_millis() as i64;
        Ok(Step::Reply(match op {
        Op::Append(delivery) => {
            let received_at = delivery.received_at().timestamp_millis();
            if !self.keys.insert(delivery.key().as_str(), received_at) {
                return Ok(Step::Reply(Ok(Reply::Appended(Appended::Duplicate))));
            }
            // A parked taker gets it leased as it is inserted (one write instead of two).
            while self.parked.front().is_some_and(oneshot::Sender::is_closed) {
                self.parked.pop_front();
            }
            let handover = self
                .parked
                .pop_front()
                .map(|taker| (taker, fastrand::i64(1..)));
            let leased = handover.is_some();
            tx.prepare_cached(
                "INSERT INTO deliveries (key, format, body, received_at, state, attempts, \
                 visible_at, lease) VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7)",
            )?
            .execute(params![
                delivery.key().as_str(),
                delivery.format().as_str(),
                delivery.body().as_ref(),
                received_at,
                i64::from(leased),
                if leased { now + lease_ms } else { now },
                handover.as_ref().map(|(_, nonce)| *nonce),
            ])?;
            let seq = tx.last_insert_rowid();
            self.keys.stored(seq);
            if let Some((taker, nonce)) = handover {
                let lease = LeaseRef {
                    file: shared.file,
                    seq,
                    nonce,
                };
                let delivery = delivery.with_attempt(1);
                self.replies.push((
                    taker,
                    Ok(Reply::Taken(Ok(Leased::new(delivery, lease.token())))),
                ));
            } else {
                // One new delivery wakes one taker (or leaves a permit).
                shared.ready.notify_one();
            }
            Ok(Reply::Appended(Appended::New))
        }
        Op::Take { park } => {
            let nonce = fastrand::i64(1..);
            let row = tx
                .prepare_cached(
                    "UPDATE deliveries SET attempts = attempts + 1, visible_at = ?1, lease = ?2 \
                     WHERE seq = (SELECT seq FROM deliveries WHERE state = 0 AND visible_at <= ?3 \
                     ORDER BY visible_at, seq LIMIT 1) \
                     RETURNING seq, key, format, body, received_at, attempts",
                )?
                .query_row(params![now + lease_ms, nonce, now], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, Option<Vec<u8>>>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                })
                .optional()?;
            match row {
                Some((seq, key, format, body, received_at, attempts)) => {
                    let lease = LeaseRef {
                        file: shared.file,
                        seq,
                        nonce,
                    };
                    restore(&key, &format, body, received_at, attempts)
                        .map(|delivery| Reply::Taken(Ok(Leased::new(delivery, lease.token()))))
                }
                None => {
                    let next: Option<i64> = tx
                        .prepare_cached("SELECT MIN(visible_at) FROM deliveries WHERE state = 0")?
                        .query_row([], |row| row.get(0))?;
                    // Parked unless a delivery becomes ready before the taker looks again
                    // anyway (a retry after a short delay).
                    if park && next.is_none_or(|at| at - now >= PARK_UNLESS_READY_WITHIN) {
                        return Ok(Step::Park);
                    }
                    Ok(Reply::Taken(Err(next)))
                }
            }
        }
        Op::Ack(lease) => Ok(Reply::Done(
            tx.prepare_cached(
                "UPDATE deliveries SET state = 1, finished_at = ?1, body = NULL, lease = NULL, \
                 last_error = NULL WHERE seq = ?2 AND lease = ?3 AND state = 0",
            )?
            .execute(params![now, lease.seq, lease.nonce])?
                == 1,
        )),
        Op::Fail(lease, Disposition::RetryAfter(delay), reason) => {
            let at = now.saturating_add(delay.as_millis() as i64);
            let changed = tx
                .prepare_cached(
                    "UPDATE deliveries SET visible_at = ?1, lease = NULL, last_error = ?2 \
                     WHERE seq = ?3 AND lease = ?4 AND state = 0",
                )?
                .execute(params![at, reason, lease.seq, lease.nonce])?;
            if changed == 1 {
                shared.ready.notify_one();
            }
            Ok(Reply::Done(changed == 1))
        }
        Op::Fail(lease, _, reason) => Ok(Reply::Done(
            tx.prepare_cached(
                "UPDATE deliveries SET state = 2, finished_at = ?1, lease = NULL, last_error = ?2 \
                 WHERE seq = ?3 AND lease = ?4 AND state = 0",
            )?
            .execute(params![now, reason, lease.seq, lease.nonce])?
                == 1,
        )),
        Op::Extend(lease) => Ok(Reply::Done(
            tx.prepare_cached(
                "UPDATE deliveries SET visible_at = ?1 WHERE seq = ?2 AND lease = ?3 AND state = 0",
            )?
            .execute(params![now + lease_ms, lease.seq, lease.nonce])?
                == 1,
        )),
        Op::DeadLetters(limit) => {
            let mut statement = tx.prepare_cached(
                "SELECT key, format, body, received_at, attempts, last_error, finished_at \
                 FROM deliveries WHERE state = 2 ORDER BY finished_at, seq LIMIT ?1",
            )?;
            let rows = statement.query_map(params![limit as i64], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<Vec<u8>>>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, Option<i64>>(6)?,
                ))
            })?;
            let mut dead = Vec::new();
            for row in rows {
                let (key, format, body, received_at, attempts, reason, dead_at) = row?;
                match restore(&key, &format, body, received_at, attempts) {
                    Ok(delivery) => dead.push(DeadLetter::new(
                        delivery,
                        reason.unwrap_or_default(),
                        from_ms(dead_at.unwrap_or(received_at)),
                    )),
                    Err(error) => return Ok(Step::Reply(Err(error))),
                }
            }
            Ok(Reply::Dead(dead))
        }
        Op::Close => Ok(Reply::Closed),
        }))
    }
}

/// A stored row back into a [`Delivery`].
fn restore(
    key: &str,
    format: &str,
    body: Option<Vec<u8>>,
    received_at: i64,
    attempts: i64,
) -> Result<Delivery> {
    let key: DeliveryKey = key.parse()?;
    let format = format_from_str(format).ok_or_else(|| Error::Corrupt {
        message: format!("delivery {key} has the unknown format {format:?}"),
    })?;
    let body = body.ok_or_else(|| Error::Corrupt {
        message: format!("delivery {key} has no body"),
    })?;
    Ok(Delivery::restore(
        key,
        format,
        Bytes::from(body),
        from_ms(received_at),
        u32::try_from(attempts).unwrap_or(u32::MAX),
    ))
}

/// Maps a SQLite error to the crate's error, saying whether the disk was full or the
/// database locked.
pub(super) fn sql_error(error: &rusqlite::Error, operation: &'static str) -> Error {
    let code = error.sqlite_error_code();
    let full = matches!(code, Some(rusqlite::ErrorCode::DiskFull));
    let busy = matches!(
        code,
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    let hint = if full {
        ": the disk (or the inbox's size limit) is full"
    } else if busy {
        ": another connection holds the database lock"
    } else {
        ""
    };
    Error::NotDurable {
        backend: "sqlite",
        operation,
        message: format!("{error}{hint}"),
        full,
        busy,
        source: None,
    }
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
