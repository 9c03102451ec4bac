//! [`MemoryInbox`]: everything in this process's memory. Fast, and **lost on exit**.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use foldhash::fast::RandomState;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::time::later;

use crate::inbox::{BoxFuture, DEFAULT_DEDUP_WINDOW, DEFAULT_LEASE};
use crate::{
    Appended, DeadLetter, Delivery, DeliveryKey, Disposition, Error, Inbox, LeaseToken, Leased,
    Result,
};

/// The default number of pending deliveries a [`MemoryInbox`] holds before it refuses more.
pub const DEFAULT_MEMORY_CAPACITY: usize = 100_000;

/// An inbox in memory: deduplication, leases, retries and dead letters as the durable
/// backends do them, but **everything is lost when the process exits** (a crash, a deploy,
/// Ctrl-C). Harbor does not send again what it got a `2xx` for, so use it for tests, demos
/// and events you can afford to miss; [`SqliteInbox`](crate::SqliteInbox) is the default.
///
/// It holds at most `capacity` pending deliveries; beyond that [`append`](Inbox::append)
/// fails with [`Error::Full`] (the receiver answers `503` and Harbor tries again later).
///
/// ```
/// use harbor_receiver::{Delivery, DeliveryKey, Inbox, MemoryInbox, Appended};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let inbox = MemoryInbox::new();
/// let body = bytes::Bytes::from_static(br#"{"type":"PUSH_ARTIFACT","occur_at":1,"operator":"a"}"#);
/// let delivery = Delivery::new(DeliveryKey::for_body(&body), harbor_events::Format::V2, body);
/// assert_eq!(inbox.append(delivery.clone()).await?, Appended::New);
/// assert_eq!(inbox.append(delivery).await?, Appended::Duplicate);
/// let leased = inbox.take(10, std::time::Duration::ZERO).await?;
/// assert_eq!(leased.len(), 1);
/// assert_eq!(leased[0].delivery().attempt(), 1);
/// inbox.ack(&leased).await?;
/// # Ok::<(), harbor_receiver::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct MemoryInbox {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    ready: Notify,
    capacity: usize,
    window: Duration,
    lease: Duration,
}

#[derive(Debug, Default)]
struct State {
    closed: bool,
    next_seq: u64,
    /// Pending deliveries (ready, waiting for a retry, or leased) by sequence number.
    pending: HashMap<u64, Entry, RandomState>,
    /// When each pending delivery becomes ready (entries may be stale: checked on pop).
    schedule: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Every key seen within the window, with whether it is still pending.
    keys: HashMap<DeliveryKey, bool, RandomState>,
    /// Keys in the order they were first seen, to forget them when the window has passed.
    seen: VecDeque<(Instant, DeliveryKey)>,
    dead: Vec<DeadLetter>,
}

#[derive(Debug)]
struct Entry {
    delivery: Delivery,
    attempts: u32,
    visible_at: Instant,
    /// The nonce of the current lease (0: not leased).
    lease: u64,
}

impl Default for MemoryInbox {
    fn default() -> Self {
        MemoryInbox::new()
    }
}

impl MemoryInbox {
    /// An empty inbox with the default capacity, deduplication window and lease.
    pub fn new() -> MemoryInbox {
        MemoryInbox::with_limits(DEFAULT_MEMORY_CAPACITY, DEFAULT_DEDUP_WINDOW, DEFAULT_LEASE)
    }

    /// An empty inbox holding at most `capacity` pending deliveries, remembering keys for
    /// `window` after their first arrival (and for as long as their delivery is pending),
    /// leasing for `lease`.
    pub fn with_limits(capacity: usize, window: Duration, lease: Duration) -> MemoryInbox {
        MemoryInbox {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                ready: Notify::new(),
                capacity,
                window,
                lease,
            }),
        }
    }

    /// How many deliveries are pending (ready, waiting for a retry, or leased).
    pub fn pending(&self) -> usize {
        self.lock().pending.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every update is a few
        // infallible collection operations), so a poisoned lock is still usable.
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn append_now(&self, delivery: Delivery) -> Result<Appended> {
        let now = Instant::now();
        let mut state = self.lock();
        if state.closed {
            return Err(Error::Closed);
        }
        state.forget_older_than(now, self.shared.window);
        if state.keys.contains_key(delivery.key()) {
            return Ok(Appended::Duplicate);
        }
        if state.pending.len() >= self.shared.capacity {
            return Err(Error::Full {
                capacity: self.shared.capacity,
            });
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.keys.insert(delivery.key().clone(), true);
        state.seen.push_back((now, delivery.key().clone()));
        state.schedule.push(Reverse((now, seq)));
        state.pending.insert(
            seq,
            Entry {
                delivery,
                attempts: 0,
                visible_at: now,
                lease: 0,
            },
        );
        drop(state);
        // One new delivery wakes one taker (or leaves a permit for the next).
        self.shared.ready.notify_one();
        Ok(Appended::New)
    }

    /// Leases up to `max` ready deliveries, or says when the next one becomes ready.
    fn try_take(&self, max: usize) -> Result<std::result::Result<Vec<Leased>, Option<Instant>>> {
        let now = Instant::now();
        let mut state = self.lock();
        if state.closed {
            return Err(Error::Closed);
        }
        let mut taken = Vec::new();
        while let Some(Reverse((at, seq))) = state.schedule.peek().copied() {
            let current = state.pending.get(&seq).map(|e| e.visible_at);
            if current != Some(at) {
                state.schedule.pop(); // stale: acknowledged, or rescheduled
                continue;
            }
            if at > now {
                if taken.is_empty() {
                    return Ok(Err(Some(at)));
                }
                break;
            }
            state.schedule.pop();
            let lease_until = later(now, self.shared.lease);
            let nonce = fastrand::u64(1..);
            state.schedule.push(Reverse((lease_until, seq)));
            let Some(entry) = state.pending.get_mut(&seq) else {
                continue;
            };
            entry.attempts += 1;
            entry.visible_at = lease_until;
            entry.lease = nonce;
            let delivery = entry.delivery.clone().with_attempt(entry.attempts);
            taken.push(Leased::new(
                delivery,
                LeaseToken::formatted(format_args!("{seq}:{nonce}")),
            ));
            if taken.len() >= max {
                break;
            }
        }
        if taken.is_empty() {
            return Ok(Err(None));
        }
        Ok(Ok(taken))
    }

    fn with_lease<T>(
        &self,
        leased: &Leased,
        change: impl FnOnce(&mut State, u64) -> T,
    ) -> Result<T> {
        let mut state = self.lock();
        if state.closed {
            return Err(Error::Closed);
        }
        match state.held(leased) {
            Some(seq) => Ok(change(&mut state, seq)),
            None => Err(Error::LeaseLost {
                keys: vec![leased.delivery().key().to_string()],
                lease: self.shared.lease,
            }),
        }
    }
}

impl State {
    /// The row of a lease that is still held. A new lease changes the nonce: a matching
    /// nonce means nobody else holds it, even when the lease ran out a moment ago.
    fn held(&self, leased: &Leased) -> Option<u64> {
        let (seq, nonce) = parse_token(leased.token())?;
        self.pending
            .get(&seq)
            .is_some_and(|entry| entry.lease == nonce)
            .then_some(seq)
    }

    fn forget_older_than(&mut self, now: Instant, window: Duration) {
        while let Some((at, _)) = self.seen.front() {
            if now.saturating_duration_since(*at) < window {
                break;
            }
            if let Some((_, key)) = self.seen.pop_front() {
                // A pending delivery keeps its key: a retry of it is still a duplicate.
                if self.keys.get(&key).copied().unwrap_or(false) {
                    self.seen.push_back((now, key));
                } else {
                    self.keys.remove(&key);
                }
            }
        }
    }
}

fn parse_token(token: &LeaseToken) -> Option<(u64, u64)> {
    let (seq, nonce) = token.as_str().split_once(':')?;
    Some((seq.parse().ok()?, nonce.parse().ok()?))
}

impl Inbox for MemoryInbox {
    fn append(&self, delivery: Delivery) -> BoxFuture<'_, Result<Appended>> {
        let result = self.append_now(delivery);
        Box::pin(std::future::ready(result))
    }

    fn take(&self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Leased>>> {
        Box::pin(async move {
            let deadline = later(Instant::now(), wait);
            loop {
                let notified = self.shared.ready.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let next = match self.try_take(max.max(1))? {
                    Ok(leased) => return Ok(leased),
                    Err(next) => next,
                };
                if Instant::now() >= deadline {
                    return Ok(Vec::new());
                }
                let until = next.map_or(deadline, |at| at.min(deadline));
                tokio::select! {
                    () = &mut notified => {}
                    () = tokio::time::sleep_until(until) => {}
                }
            }
        })
    }

    fn ack<'a>(&'a self, leased: &'a [Leased]) -> BoxFuture<'a, Result<()>> {
        let result = (|| {
            let mut state = self.lock();
            if state.closed {
                return Err(Error::Closed);
            }
            let mut lost = Vec::new();
            for one in leased {
                match state.held(one).and_then(|seq| state.pending.remove(&seq)) {
                    Some(entry) => {
                        state.keys.insert(entry.delivery.key().clone(), false);
                    }
                    None => lost.push(one.delivery().key().to_string()),
                }
            }
            Error::unless_lost(lost, self.shared.lease)
        })();
        Box::pin(std::future::ready(result))
    }

    fn fail<'a>(
        &'a self,
        leased: &'a Leased,
        disposition: Disposition,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        let result = self.with_lease(leased, |state, seq| match disposition {
            Disposition::RetryAfter(delay) => {
                let at = later(Instant::now(), delay);
                if let Some(entry) = state.pending.get_mut(&seq) {
                    entry.visible_at = at;
                    entry.lease = 0;
                }
                state.schedule.push(Reverse((at, seq)));
                true
            }
            Disposition::DeadLetter => {
                if let Some(entry) = state.pending.remove(&seq) {
                    state.keys.insert(entry.delivery.key().clone(), false);
                    let delivery = entry.delivery.with_attempt(entry.attempts);
                    state
                        .dead
                        .push(DeadLetter::new(delivery, reason.to_owned(), Utc::now()));
                }
                false
            }
        });
        if let Ok(true) = result {
            self.shared.ready.notify_one();
        }
        Box::pin(std::future::ready(result.map(|_| ())))
    }

    fn extend<'a>(&'a self, leased: &'a Leased) -> BoxFuture<'a, Result<()>> {
        let lease = self.shared.lease;
        let result = self.with_lease(leased, |state, seq| {
            let at = later(Instant::now(), lease);
            if let Some(entry) = state.pending.get_mut(&seq) {
                entry.visible_at = at;
            }
            state.schedule.push(Reverse((at, seq)));
        });
        Box::pin(std::future::ready(result))
    }

    fn lease(&self) -> Duration {
        self.shared.lease
    }

    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>>> {
        let dead = self.lock().dead.iter().take(limit).cloned().collect();
        Box::pin(std::future::ready(Ok(dead)))
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        self.lock().closed = true;
        self.shared.ready.notify_waiters();
        Box::pin(std::future::ready(Ok(())))
    }
}
