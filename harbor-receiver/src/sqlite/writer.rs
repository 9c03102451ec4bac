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
use rusqlite::{Connection, OptionalExtension as _, params};
use tokio::sync::{mpsc, oneshot};

use super::Shared;
use super::keys::Keys;
use super::sync::{Background, Deferred, EveryMinute, average};
use crate::delivery::format_from_str;
use crate::{
    Appended, DeadLetter, Delivery, DeliveryKey, Disposition, Error, LeaseToken, Leased, Result,
};

/// One request to the writer.
#[derive(Debug)]
pub(super) enum Op {
    Append(Delivery),
    /// Leases up to `max` ready deliveries. With `park`, a taker that finds none waits in the
    /// writer (unless one becomes ready soon) and gets the next deliveries appended (up to
    /// `max` from one batch), leased as they are inserted: no second write to lease them.
    /// The caller gives up by dropping the answer's receiver.
    Take {
        max: usize,
        park: bool,
    },
    /// Acknowledges leased deliveries of this file.
    Ack(Vec<LeaseRef>),
    /// Gives leases back: the deliveries are ready again at once, this attempt not counted.
    Release(Vec<LeaseRef>),
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
        LeaseToken::formatted(format_args!("{}:{}:{}", self.file, self.seq, self.nonce))
    }
}

/// What the writer answers.
#[derive(Debug)]
pub(super) enum Reply {
    Appended(Appended),
    /// Leased deliveries (at least one), or when the next one becomes ready (unix ms).
    Taken(std::result::Result<Vec<Leased>, Option<i64>>),
    /// Done; `false` when the lease was not held.
    Done(bool),
    /// Acknowledged: the positions (in the request) of the leases that were not held.
    Acked(Vec<usize>),
    Dead(Vec<DeadLetter>),
    Closed,
}

/// Where an answer goes.
type ReplyTo = oneshot::Sender<Result<Reply>>;

/// A taker waiting in the writer for the next appends.
struct Parked {
    reply: ReplyTo,
    max: usize,
}

/// A parked taker being handed the appends of the current batch, answered at its end.
struct Handing {
    reply: ReplyTo,
    max: usize,
    leased: Vec<Leased>,
}

pub(super) struct Request {
    pub(super) op: Op,
    pub(super) reply: oneshot::Sender<Result<Reply>>,
}

/// The longest a batch is held back to wait for a running sync.
const GATHER_FOR: Duration = Duration::from_millis(20);

/// How much longer the writer may gather requests before it commits (`None`: commit now),
/// when the running sync ends in about `sync_ends_in` (`None`: no sync is running or
/// waiting), a commit takes about `commit_takes`, and the batch has been gathered for
/// `gathered_for`. The commit should end as the sync does: the next sync then starts at
/// once, with this batch.
fn gather_longer(
    sync_ends_in: Option<Duration>,
    commit_takes: Duration,
    gathered_for: Duration,
) -> Option<Duration> {
    let left = sync_ends_in?
        .saturating_sub(commit_takes)
        .min(GATHER_FOR.saturating_sub(gathered_for));
    (!left.is_zero()).then_some(left)
}

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
    parked: VecDeque<Parked>,
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
    /// How long a batch takes to commit, lately (a moving average).
    typical_commit: Duration,
    /// The connection's busy timeout, put back after a restart of the log.
    busy_timeout: Duration,
    /// A failed restart of the log is reported once a minute at most.
    restart_warning: EveryMinute,
}

impl Writer {
    pub(super) fn new(
        conn: Connection,
        shared: Arc<Shared>,
        max_batch: usize,
        keys: Keys,
        background: Background,
        busy_timeout: Duration,
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
            typical_commit: Duration::ZERO,
            busy_timeout,
            restart_warning: EveryMinute::default(),
        }
    }

    /// Runs until a `Close` or until every sender is gone.
    pub(super) fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        // Room for a typical batch, not for `max_batch(usize::MAX)`.
        let mut batch: Vec<Request> =
            Vec::with_capacity(self.max_batch.min(super::DEFAULT_MAX_BATCH));
        loop {
            if !std::mem::take(&mut self.release_now) {
                match rx.blocking_recv() {
                    Some(request) => batch.push(request),
                    None => break,
                }
            }
            self.gather(&mut rx, &mut batch);
            let close = batch.iter().any(|r| matches!(r.op, Op::Close));
            let committing = std::time::Instant::now();
            self.execute(&mut batch);
            self.typical_commit = average(self.typical_commit, committing.elapsed());
            if close {
                break;
            }
            if self.shared.restart_log.load(Ordering::Acquire) {
                self.restart_log();
            }
        }
        rx.close();
        for taker in self.parked.drain(..) {
            let _ = taker.reply.send(Err(Error::Closed));
        }
        // Whatever is still queued is refused (its senders see `Closed`).
        while let Ok(request) = rx.try_recv() {
            let _ = request.reply.send(Err(Error::Closed));
        }
        // Leases whose taker went away during the last batch, and those leased for a take
        // that never came, are given back now, not when they run out after the next start.
        if let Ok(mut handed) = self.shared.handed.lock() {
            handed.wanted = 0;
            let leases = handed.ready.drain(..);
            self.releases
                .extend(leases.filter_map(|(leased, _)| LeaseRef::parse(leased.token())));
        }
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

    /// Starts the log over, as the checkpointer asked: checkpoints what it has not copied yet
    /// (little: it has just checkpointed), syncs the database file, and makes the next
    /// commit write from the start of the log. Here, between two batches, nothing waits on a
    /// lock; with no wait allowed, a reader of another process only makes it a plain
    /// checkpoint, and the checkpointer asks again later.
    fn restart_log(&mut self) {
        let restarted = (|| {
            self.conn.busy_timeout(Duration::ZERO)?;
            let restarted = self
                .conn
                .query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| {
                    row.get::<_, i64>(0)
                });
            self.conn.busy_timeout(self.busy_timeout)?;
            restarted
        })();
        self.shared.restart_log.store(false, Ordering::Release);
        if let Err(error) = restarted
            && self.restart_warning.due()
        {
            tracing::warn!(%error, "starting the SQLite inbox's log over");
        }
    }

    /// Adds what is waiting to the batch; while a sync runs, keeps gathering until the
    /// commit, started now, would end with the sync (the next sync cannot start sooner
    /// anyway): fewer, larger commits write fewer pages, and the next sync starts at once.
    fn gather(&self, rx: &mut mpsc::Receiver<Request>, batch: &mut Vec<Request>) {
        let started = std::time::Instant::now();
        loop {
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            let Some(background) = self.background.as_ref() else {
                return;
            };
            let longer = gather_longer(
                background.sync_ends_in(),
                self.typical_commit,
                started.elapsed(),
            );
            match longer {
                Some(wait) if batch.len() < self.max_batch => background.wait_for_sync(wait),
                _ => return,
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
                let mut deferred = Vec::with_capacity(replies.len());
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
                        // The taker went away: give the deliveries back.
                        let leases = leased.iter().filter_map(|l| LeaseRef::parse(l.token()));
                        self.releases.extend(leases);
                        self.release_now = !self.releases.is_empty();
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
        // BEGIN and COMMIT as cached statements: compiled once, not parsed for every batch.
        let tx = &self.conn;
        tx.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let releases = std::mem::take(&mut self.releases);
        let keys = &mut self.keys;
        let parked = &mut self.parked;
        let mut handing: Option<Handing> = None;
        let mut for_takes = ForTakes {
            wanted: self.shared.handed.lock().map_or(0, |h| h.wanted),
            leased: Vec::new(),
        };
        // Takers that gave up (their timer ran out and dropped the answer's receiver) are
        // forgotten with every batch: an idle worker asks twice a second, and each of its
        // takes would otherwise leave one here until the next append.
        parked.retain(|p| !p.reply.is_closed());
        let applied: rusqlite::Result<()> = (|| {
            keys.begin(tx)?;
            for lease in &releases {
                release(tx, now, *lease)?;
            }
            // Releases, then takes, then the rest: a take finds what was given back, and one
            // that finds nothing parks and is handed the appends of the same batch (leased as
            // they are inserted, not by a second write later).
            batch.sort_by_key(|r| match r.op {
                Op::Release(_) => 0,
                Op::Take { .. } => 1,
                _ => 2,
            });
            let mut requests = batch.drain(..);
            while let Some(request) = requests.next() {
                let mut state = State {
                    tx,
                    keys,
                    parked,
                    handing: &mut handing,
                    for_takes: &mut for_takes,
                    replies,
                    shared: &self.shared,
                    now,
                };
                match state.apply(request.op) {
                    Ok(Step::Reply(result)) => replies.push((request.reply, result)),
                    Ok(Step::Park(max)) => parked.push_back(Parked {
                        reply: request.reply,
                        max,
                    }),
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
            if now - self.last_purge >= crate::time::millis(every) {
                let cutoff = now.saturating_sub(crate::time::millis(self.shared.window));
                purge(tx, cutoff)?;
                keys.purge(tx, cutoff)?;
                self.last_purge = now;
            }
            keys.commit(tx)
        })();
        // The taker being handed appends is answered with the batch (with its error if the
        // batch fails).
        if let Some(handing) = handing {
            replies.push((handing.reply, Ok(Reply::Taken(Ok(handing.leased)))));
        }
        #[cfg(test)]
        self.shared
            .stats
            .parked
            .store(self.parked.len(), Ordering::Relaxed);
        let committed = applied.and_then(|()| tx.prepare_cached("COMMIT")?.execute([]));
        if committed.is_err() && !tx.is_autocommit() {
            // Still open (a failed statement or a busy commit): undo all of it.
            if let Err(error) = tx
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]))
            {
                tracing::warn!(%error, "rolling back a failed batch of the SQLite inbox");
            }
        }
        match committed {
            Ok(_) => {
                if !for_takes.leased.is_empty()
                    && let Ok(mut handed) = self.shared.handed.lock()
                {
                    let now = std::time::Instant::now();
                    handed.wanted = handed.wanted.saturating_sub(for_takes.leased.len());
                    handed
                        .ready
                        .extend(for_takes.leased.into_iter().map(|leased| (leased, now)));
                }
                Ok(())
            }
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
    /// The writer's connection, inside the batch's transaction.
    tx: &'a Connection,
    keys: &'a mut Keys,
    parked: &'a mut VecDeque<Parked>,
    /// The parked taker this batch's appends are handed to.
    handing: &'a mut Option<Handing>,
    /// The appends leased for the next take when no taker is parked.
    for_takes: &'a mut ForTakes,
    /// Answers sent after the commit (an append's hand-over to a parked taker goes here).
    replies: &'a mut Vec<(ReplyTo, Result<Reply>)>,
    shared: &'a Shared,
    now: i64,
}

/// Appends leased for the next take (see `Handed` in the parent module), kept for it once
/// the batch commits.
struct ForTakes {
    /// How many more the takes want.
    wanted: usize,
    leased: Vec<Leased>,
}

/// What becomes of one request.
enum Step {
    Reply(Result<Reply>),
    /// A take (of up to this many) that waits for the next append.
    Park(usize),
}

impl State<'_> {
    /// Applies one operation inside the batch's transaction. An `Err` aborts the whole batch;
    /// a logical failure (a lost lease) is an `Ok(Step::Reply(Err(..)))` for this request alone.
    fn apply(&mut self, op: Op) -> rusqlite::Result<Step> {
        let (tx, shared, now) = (self.tx, self.shared, self.now);
        let lease_ms = crate::time::millis(shared.lease);
        Ok(Step::Reply(match op {
        Op::Append(delivery) => {
            let received_at = delivery.received_at().timestamp_millis();
            if !self.keys.insert(delivery.key().as_str(), received_at) {
                return Ok(Step::Reply(Ok(Reply::Appended(Appended::Duplicate))));
            }
            // A parked taker gets it leased as it is inserted (one write instead of two).
            let nonce = self.hand_over();
            let seq = self.keys.next_seq();
            tx.prepare_cached(
                "INSERT INTO deliveries (seq, key, format, body, received_at, state, attempts, \
                 visible_at, lease) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8)",
            )?
            .execute(params![
                seq,
                delivery.key().as_str(),
                delivery.format().as_str(),
                delivery.body().as_ref(),
                received_at,
                i64::from(nonce.is_some()),
                if nonce.is_some() { now.saturating_add(lease_ms) } else { now },
                nonce,
            ])?;
            let Some(nonce) = nonce else {
                // One new delivery wakes one taker (or leaves a permit).
                shared.ready.notify_one();
                return Ok(Step::Reply(Ok(Reply::Appended(Appended::New))));
            };
            let lease = LeaseRef {
                file: shared.file,
                seq,
                nonce,
            };
            let leased = Leased::new(delivery.with_attempt(1), lease.token());
            match self.handing.as_mut() {
                Some(handing) => {
                    handing.leased.push(leased);
                    if handing.leased.len() >= handing.max
                        && let Some(full) = self.handing.take()
                    {
                        self.replies
                            .push((full.reply, Ok(Reply::Taken(Ok(full.leased)))));
                    }
                }
                None => {
                    self.for_takes.leased.push(leased);
                    shared.ready.notify_one();
                }
            }
            Ok(Reply::Appended(Appended::New))
        }
        Op::Take { max, park } => {
            // One nonce for the rows of one take: each lease is still its row's own.
            let nonce = fastrand::i64(1..);
            let mut statement = tx.prepare_cached(
                "UPDATE deliveries SET attempts = attempts + 1, visible_at = ?1, lease = ?2 \
                 WHERE seq IN (SELECT seq FROM deliveries WHERE state = 0 AND visible_at <= ?3 \
                 ORDER BY visible_at, seq LIMIT ?4) \
                 RETURNING seq, key, format, body, received_at, attempts",
            )?;
            let rows = statement.query_map(
                params![now.saturating_add(lease_ms), nonce, now, i64::try_from(max).unwrap_or(i64::MAX)],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, Option<Vec<u8>>>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                },
            )?;
            let (mut taken, mut corrupt) = (Vec::new(), None);
            for row in rows {
                let (seq, key, format, body, received_at, attempts) = row?;
                let lease = LeaseRef {
                    file: shared.file,
                    seq,
                    nonce,
                };
                match restore(&key, &format, body, received_at, attempts) {
                    Ok(delivery) => taken.push((seq, Leased::new(delivery, lease.token()))),
                    // A row this crate did not write: the others still go to the taker.
                    Err(error) => {
                        tracing::warn!(%error, seq, "a stored delivery cannot be read back");
                        corrupt.get_or_insert(error);
                    }
                }
            }
            // RETURNING comes in no set order: in the order they arrived.
            taken.sort_by_key(|(seq, _)| *seq);
            match (taken.len(), corrupt) {
                (1.., _) => Ok(Reply::Taken(Ok(taken.into_iter().map(|(_, l)| l).collect()))),
                (0, Some(error)) => Err(error),
                (0, None) => {
                    let next: Option<i64> = tx
                        .prepare_cached("SELECT MIN(visible_at) FROM deliveries WHERE state = 0")?
                        .query_row([], |row| row.get(0))?;
                    // Parked unless a delivery becomes ready before the taker looks again
                    // anyway (a retry after a short delay).
                    if park && next.is_none_or(|at| at - now >= PARK_UNLESS_READY_WITHIN) {
                        return Ok(Step::Park(max));
                    }
                    Ok(Reply::Taken(Err(next)))
                }
            }
        }
        Op::Ack(leases) => {
            let mut statement = tx.prepare_cached(
                "UPDATE deliveries SET state = 1, finished_at = ?1, body = NULL, lease = NULL, \
                 last_error = NULL WHERE seq = ?2 AND lease = ?3 AND state = 0",
            )?;
            let mut lost = Vec::new();
            for (at, lease) in leases.iter().enumerate() {
                if statement.execute(params![now, lease.seq, lease.nonce])? != 1 {
                    lost.push(at);
                }
            }
            Ok(Reply::Acked(lost))
        }
        Op::Release(leases) => {
            for lease in leases {
                release(tx, now, lease)?;
            }
            shared.ready.notify_one();
            Ok(Reply::Done(true))
        }
        Op::Fail(lease, Disposition::RetryAfter(delay), reason) => {
            let at = now.saturating_add(crate::time::millis(delay));
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
            .execute(params![now.saturating_add(lease_ms), lease.seq, lease.nonce])?
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

impl State<'_> {
    /// For an append: the nonce of the lease it is inserted with when a parked taker gets
    /// it (the taker then is [`State::handing`]) or the next take wants it.
    fn hand_over(&mut self) -> Option<i64> {
        if self.handing.is_none() {
            // A taker that gave up is never handed one.
            while let Some(taker) = self.parked.pop_front() {
                if !taker.reply.is_closed() {
                    *self.handing = Some(Handing {
                        reply: taker.reply,
                        max: taker.max.max(1),
                        leased: Vec::new(),
                    });
                    break;
                }
            }
        }
        let for_takes = &mut self.for_takes;
        let wanted = for_takes.leased.len() < for_takes.wanted;
        (self.handing.is_some() || wanted).then(|| fastrand::i64(1..))
    }
}

/// Deletes the finished deliveries that arrived before `cutoff` (unix ms). Rows arrive in
/// about the order of `seq`, so the old ones are a prefix of the table: the first row that
/// arrived at or after `cutoff` bounds a range scan (no index on `received_at`, which every
/// acknowledgement would have had to write). The few older rows after it wait for the next
/// purge.
fn purge(tx: &Connection, cutoff: i64) -> rusqlite::Result<()> {
    let bound: Option<i64> = tx
        .prepare_cached("SELECT seq FROM deliveries WHERE received_at >= ?1 ORDER BY seq LIMIT 1")?
        .query_row(params![cutoff], |row| row.get(0))
        .optional()?;
    tx.prepare_cached("DELETE FROM deliveries WHERE seq < ?1 AND state = 1 AND received_at < ?2")?
        .execute(params![bound.unwrap_or(i64::MAX), cutoff])?;
    Ok(())
}

/// Gives a lease back: the delivery is ready at once, and the attempt is not counted.
fn release(tx: &Connection, now: i64, lease: LeaseRef) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE deliveries SET visible_at = ?1, lease = NULL, attempts = attempts - 1 \
         WHERE seq = ?2 AND lease = ?3 AND state = 0",
    )?
    .execute(params![now, lease.seq, lease.nonce])?;
    Ok(())
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
        .map_or(0, crate::time::millis)
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{GATHER_FOR, gather_longer};

    #[test]
    fn the_next_commit_is_timed_to_end_with_the_running_sync() {
        let ms = Duration::from_millis;
        let us = Duration::from_micros;
        // No sync running: commit now, a sync can start at once.
        assert_eq!(gather_longer(None, ms(1), Duration::ZERO), None);
        // The sync ends in 1 ms and a commit takes 0.4: gather 0.6 ms more.
        assert_eq!(gather_longer(Some(ms(1)), us(400), us(50)), Some(us(600)));
        // A commit started now would end after the sync: commit now.
        assert_eq!(gather_longer(Some(us(300)), us(400), us(50)), None);
        // Never longer than GATHER_FOR in all, however slow the sync.
        assert_eq!(
            gather_longer(Some(ms(500)), us(400), ms(5)),
            Some(GATHER_FOR - ms(5))
        );
        assert_eq!(gather_longer(Some(ms(500)), us(400), GATHER_FOR), None);
    }
}
