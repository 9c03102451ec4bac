//! The [`Inbox`] trait: what every backend does.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::{Appended, DeadLetter, Delivery, Disposition, Leased, Result};

/// A boxed, `Send` future: what [`Inbox`] methods return, so that `Arc<dyn Inbox>` works and
/// a program can choose its backend at run time.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A durable queue of webhook deliveries with deduplication, leases, retries and dead
/// letters.
///
/// The contract every backend keeps (and the tests of this crate check on each):
///
/// - [`append`](Inbox::append) returns `Ok` only once the delivery is durable (as durable as
///   the backend is: a file synced to disk, a JetStream acknowledgement; the memory inbox is
///   not durable at all). Any doubt is an error, and the receiver answers `503`.
/// - A key appended within the deduplication window (counted from the key's first arrival)
///   is [`Appended::Duplicate`] and stored once, whatever state the first delivery is in.
///   After the window the backends differ: the SQLite inbox keeps the key while its
///   delivery is pending or dead-lettered, the memory inbox while it is pending, and the
///   NATS inbox never (JetStream's `duplicate_window` is time alone: a retry after it is
///   stored again, with the same key).
/// - [`take`](Inbox::take) leases each ready delivery it returns to one caller for
///   [`lease`](Inbox::lease); when the lease runs out without an [`ack`](Inbox::ack) or [`fail`](Inbox::fail), the
///   delivery is ready again (at-least-once: a worker that crashed is replaced).
/// - [`ack`](Inbox::ack), [`fail`](Inbox::fail) and [`extend`](Inbox::extend) need the lease
///   to be still held, else [`Error::LeaseLost`](crate::Error::LeaseLost).
pub trait Inbox: Send + Sync + fmt::Debug {
    /// Stores a delivery durably, unless its key was seen within the deduplication window.
    ///
    /// # Errors
    ///
    /// [`Error::NotDurable`](crate::Error::NotDurable) or [`Error::Full`](crate::Error::Full)
    /// when it could not be stored durably (answer `503`), [`Error::Closed`](crate::Error::Closed).
    fn append(&self, delivery: Delivery) -> BoxFuture<'_, Result<Appended>>;

    /// Waits up to `wait` until a delivery is ready, then leases up to `max` ready
    /// deliveries to the caller (at least one; a `max` of 0 counts as 1), oldest first; empty
    /// when none became ready in time (`Duration::MAX` waits for ever). Taking many at once
    /// costs one request to the backend (one SQLite transaction, one JetStream pull) instead
    /// of one each.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use harbor_receiver::{Inbox, MemoryInbox};
    ///
    /// # async fn run(inbox: MemoryInbox) -> harbor_receiver::Result<()> {
    /// let leased = inbox.take(16, Duration::from_secs(1)).await?;
    /// for one in &leased {
    ///     println!("{}", one.delivery().key());
    /// }
    /// inbox.ack(&leased).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// A backend error, [`Error::Closed`](crate::Error::Closed).
    fn take(&self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Leased>>>;

    /// Marks leased deliveries done, all in one request to the backend: none is handed out
    /// again, and their keys are kept for the deduplication window. `inbox.ack(&[leased])`
    /// acknowledges one.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`](crate::Error::LeaseLost) naming the deliveries whose lease was no
    /// longer held (the others are acknowledged), or a backend error (the deliveries will be
    /// handled again when their leases run out).
    fn ack<'a>(&'a self, leased: &'a [Leased]) -> BoxFuture<'a, Result<()>>;

    /// Records a failed attempt: the delivery is ready again after a delay, or moved to the
    /// dead letters. `reason` is kept with it.
    ///
    /// # Errors
    ///
    /// As [`Inbox::ack`].
    fn fail<'a>(
        &'a self,
        leased: &'a Leased,
        disposition: Disposition,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<()>>;

    /// Extends a lease by another [`lease`](Inbox::lease) (the worker calls this while a
    /// handler runs).
    ///
    /// # Errors
    ///
    /// As [`Inbox::ack`].
    fn extend<'a>(&'a self, leased: &'a Leased) -> BoxFuture<'a, Result<()>>;

    /// How long a lease lasts without [`extend`](Inbox::extend).
    fn lease(&self) -> Duration;

    /// Up to `limit` dead letters, oldest first.
    ///
    /// # Errors
    ///
    /// A backend error.
    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>>>;

    /// Finishes what was handed to the inbox (writes in flight are completed and synced) and
    /// refuses new work with [`Error::Closed`](crate::Error::Closed).
    ///
    /// # Errors
    ///
    /// A backend error while flushing.
    fn close(&self) -> BoxFuture<'_, Result<()>>;
}

impl<T: Inbox + ?Sized> Inbox for Arc<T> {
    fn append(&self, delivery: Delivery) -> BoxFuture<'_, Result<Appended>> {
        (**self).append(delivery)
    }
    fn take(&self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Leased>>> {
        (**self).take(max, wait)
    }
    fn ack<'a>(&'a self, leased: &'a [Leased]) -> BoxFuture<'a, Result<()>> {
        (**self).ack(leased)
    }
    fn fail<'a>(
        &'a self,
        leased: &'a Leased,
        disposition: Disposition,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        (**self).fail(leased, disposition, reason)
    }
    fn extend<'a>(&'a self, leased: &'a Leased) -> BoxFuture<'a, Result<()>> {
        (**self).extend(leased)
    }
    fn lease(&self) -> Duration {
        (**self).lease()
    }
    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>>> {
        (**self).dead_letters(limit)
    }
    fn close(&self) -> BoxFuture<'_, Result<()>> {
        (**self).close()
    }
}

/// The deduplication window every backend uses unless told otherwise: 24 hours.
///
/// Harbor's job service retries a delivery at most 3 times since 2.8 (10 times before), the
/// n-th retry `n⁴ + 15 + rand(0..30)·(n+1)` seconds after the previous failure: the last of
/// 10 attempts comes 4.3 to 4.7 hours after the first. A day covers every version's schedule
/// with room to spare, and a day of keys (a few dozen bytes each) is small.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// The lease every backend uses unless told otherwise: 30 seconds. The [`Worker`](crate::Worker)
/// extends it while a handler runs, so it bounds how long a crashed worker's delivery waits
/// before another worker takes it, not how long a handler may run.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
