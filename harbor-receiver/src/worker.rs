//! [`Worker`]: takes deliveries from an inbox, runs a handler, acknowledges or fails them.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::inbox::BoxFuture;
use crate::{BoxError, Delivery, Disposition, Inbox, Leased, RetryPolicy};

/// How long a worker waits after an inbox error before it asks again.
const ERROR_PAUSE: Duration = Duration::from_millis(500);

/// What a worker runs for each delivery. Implemented for every
/// `Fn(Delivery) -> impl Future<Output = Result<(), HandlerError>>`.
///
/// A delivery may reach the handler more than once (at-least-once): when a worker crashed
/// after the handler's side effect and before the acknowledgement, or when Harbor's retry
/// arrived after the deduplication window. Use [`Delivery::key`] as the idempotency key of
/// the side effect (a unique column, an API's idempotency header) to make that harmless.
pub trait Handler: Send + Sync + 'static {
    /// Handles one delivery: `Ok` acknowledges it; an error retries it later (or dead-letters
    /// it, see [`HandlerError::permanent`] and [`RetryPolicy`]).
    fn handle(&self, delivery: Delivery) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

impl<F, Fut> Handler for F
where
    F: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    fn handle(&self, delivery: Delivery) -> impl Future<Output = Result<(), HandlerError>> + Send {
        self(delivery)
    }
}

/// Why a handler failed, and whether trying again may help.
///
/// Any `std::error::Error` converts into a retryable one, so `?` works in a handler.
pub struct HandlerError {
    source: BoxError,
    permanent: bool,
}

impl HandlerError {
    /// A failure that may pass (a timeout, a `5xx` from an API): try again later.
    pub fn retry(error: impl Into<BoxError>) -> HandlerError {
        HandlerError {
            source: error.into(),
            permanent: false,
        }
    }

    /// A failure that will not pass (the event names something that does not exist):
    /// dead-letter the delivery now.
    pub fn permanent(error: impl Into<BoxError>) -> HandlerError {
        HandlerError {
            source: error.into(),
            permanent: true,
        }
    }

    /// Whether the failure is permanent.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// The underlying error.
    pub fn source(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.source.as_ref()
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HandlerError {
    fn from(error: E) -> Self {
        HandlerError::retry(error)
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError")
            .field("source", &self.source)
            .field("permanent", &self.permanent)
            .finish()
    }
}

/// What a [`Worker`] did before it stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerReport {
    /// Deliveries handled and acknowledged.
    pub acknowledged: u64,
    /// Failed attempts scheduled for a retry.
    pub retried: u64,
    /// Deliveries moved to the dead letters.
    pub dead_lettered: u64,
    /// Inbox errors (a failed take, acknowledgement or lease extension).
    pub inbox_errors: u64,
}

#[derive(Debug, Default)]
struct Counters {
    acknowledged: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
    inbox_errors: AtomicU64,
}

/// Runs a [`Handler`] over an inbox's deliveries: `concurrency` at a time, each under a lease
/// that is extended while the handler runs, then acknowledged, retried with backoff, or
/// dead-lettered per the [`RetryPolicy`].
///
/// Several workers (in this process or others, on other machines with
/// [`NatsInbox`](crate::NatsInbox)) may share one inbox: a lease gives each delivery to one
/// of them at a time.
///
/// ```no_run
/// use harbor_receiver::{Delivery, HandlerError, MemoryInbox, Worker};
///
/// # async fn run() {
/// let inbox = MemoryInbox::new();
/// let report = Worker::new(inbox.clone())
///     .concurrency(4)
///     .run(
///         |delivery: Delivery| async move {
///             for event in delivery.events().map_err(HandlerError::permanent)? {
///                 println!("{} {event}", delivery.key());
///             }
///             Ok(())
///         },
///         async { tokio::signal::ctrl_c().await.ok(); },
///     )
///     .await;
/// println!("{} handled", report.acknowledged);
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Worker {
    inbox: Arc<dyn Inbox>,
    concurrency: usize,
    policy: RetryPolicy,
    poll: Duration,
}

impl Worker {
    /// A worker on `inbox`: one delivery at a time, the default [`RetryPolicy`].
    pub fn new(inbox: impl Inbox + 'static) -> Worker {
        Worker {
            inbox: Arc::new(inbox),
            concurrency: 1,
            policy: RetryPolicy::default(),
            poll: Duration::from_millis(500),
        }
    }

    /// How many deliveries are handled at once (default 1; 0 counts as 1). Each of these
    /// lanes takes one delivery at a time, and acknowledges it while it takes the next; with
    /// the SQLite inbox a lane gets at most one delivery per commit
    /// of the log (about a thousand commits a second on a local SSD), so a fast handler
    /// under heavy load wants dozens.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// When failed deliveries are retried and when they are dead-lettered.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Handles deliveries until `shutdown` completes, then lets the handlers in flight
    /// finish (and acknowledges or fails their deliveries) before it returns.
    pub async fn run<H: Handler>(
        self,
        handler: H,
        shutdown: impl Future<Output = ()> + Send,
    ) -> WorkerReport {
        let (stop, stopped) = watch::channel(false);
        let handler = Arc::new(handler);
        let counters = Arc::new(Counters::default());
        let mut lanes = JoinSet::new();
        for _ in 0..self.concurrency {
            let lane = Lane {
                inbox: self.inbox.clone(),
                policy: self.policy,
                poll: self.poll,
                counters: counters.clone(),
            };
            lanes.spawn(lane.run(handler.clone(), stopped.clone()));
        }
        shutdown.await;
        let _ = stop.send(true);
        while let Some(joined) = lanes.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "a worker lane stopped abnormally");
            }
        }
        WorkerReport {
            acknowledged: counters.acknowledged.load(Ordering::Relaxed),
            retried: counters.retried.load(Ordering::Relaxed),
            dead_lettered: counters.dead_lettered.load(Ordering::Relaxed),
            inbox_errors: counters.inbox_errors.load(Ordering::Relaxed),
        }
    }
}

/// One of the `concurrency` loops of a worker.
struct Lane {
    inbox: Arc<dyn Inbox>,
    policy: RetryPolicy,
    poll: Duration,
    counters: Arc<Counters>,
}

impl Lane {
    async fn run<H: Handler>(self, handler: Arc<H>, mut stopped: watch::Receiver<bool>) {
        // The acknowledgement of the last delivery runs beside the next take: neither waits
        // for the other's commit.
        let mut acking: Option<BoxFuture<'static, ()>> = None;
        loop {
            if *stopped.borrow() {
                if let Some(ack) = acking.take() {
                    ack.await;
                }
                return;
            }
            // Not cancelled by the stop: a take cut short could leave a delivery leased to
            // nobody until its lease runs out. It returns within `poll`.
            let taken = match acking.take() {
                Some(ack) => tokio::join!(ack, self.inbox.take(self.poll)).1,
                None => self.inbox.take(self.poll).await,
            };
            match taken {
                Ok(Some(leased)) => acking = self.process(handler.as_ref(), leased).await,
                Ok(None) => {}
                Err(crate::Error::Closed) => return,
                Err(error) => {
                    self.counters.inbox_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "taking a delivery from the inbox");
                    tokio::select! {
                        () = tokio::time::sleep(ERROR_PAUSE) => {}
                        _ = stopped.changed() => return,
                    }
                }
            }
        }
    }

    /// Acknowledges a handled delivery.
    fn acknowledge(&self, leased: Leased) -> BoxFuture<'static, ()> {
        let (inbox, counters) = (self.inbox.clone(), self.counters.clone());
        Box::pin(async move {
            match inbox.ack(&leased).await {
                Ok(()) => {
                    counters.acknowledged.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    counters.inbox_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, key = %leased.delivery().key(),
                        "acknowledging a handled delivery (it will be handled again)");
                }
            }
        })
    }

    /// Runs the handler on one delivery (extending the lease meanwhile), then fails it, or
    /// returns its acknowledgement to run.
    async fn process<H: Handler>(
        &self,
        handler: &H,
        leased: Leased,
    ) -> Option<BoxFuture<'static, ()>> {
        let attempt = leased.delivery().attempt();
        if attempt > self.policy.max_attempts() {
            // Earlier attempts never reported back: the process handling it stopped.
            let reason = format!(
                "gave up after {} attempts; the last ones did not finish (did the handler \
                 crash the process?)",
                attempt - 1
            );
            self.finish_failed(&leased, Disposition::DeadLetter, &reason)
                .await;
            return None;
        }
        let outcome = {
            let handled = AssertUnwindSafe(handler.handle(leased.delivery().clone()))
                .catch_unwind()
                .fuse();
            tokio::pin!(handled);
            // A handler that finishes at once needs no heartbeat (nor its timer).
            if let std::task::Poll::Ready(outcome) = futures_util::poll!(&mut handled) {
                outcome
            } else {
                let beat = (self.inbox.lease() / 3).max(Duration::from_millis(10));
                let start = tokio::time::Instant::now() + beat;
                let mut heartbeat = tokio::time::interval_at(start, beat);
                loop {
                    tokio::select! {
                        outcome = &mut handled => break outcome,
                        _ = heartbeat.tick() => {
                            if let Err(error) = self.inbox.extend(&leased).await {
                                self.counters.inbox_errors.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(%error, key = %leased.delivery().key(),
                                    "extending a lease");
                            }
                        }
                    }
                }
            }
        };
        match outcome {
            Ok(Ok(())) => return Some(self.acknowledge(leased)),
            Ok(Err(error)) => {
                let disposition = if error.is_permanent() {
                    Disposition::DeadLetter
                } else {
                    self.policy.decide(attempt, fastrand::f64())
                };
                self.finish_failed(&leased, disposition, &error.to_string())
                    .await;
            }
            Err(_panic) => {
                let disposition = self.policy.decide(attempt, fastrand::f64());
                self.finish_failed(&leased, disposition, "the handler panicked")
                    .await;
            }
        }
        None
    }

    async fn finish_failed(&self, leased: &Leased, disposition: Disposition, reason: &str) {
        let key = leased.delivery().key();
        match self.inbox.fail(leased, disposition, reason).await {
            Ok(()) => {
                let counter = match disposition {
                    Disposition::DeadLetter => {
                        tracing::warn!(%key, reason, "dead-lettered a delivery");
                        &self.counters.dead_lettered
                    }
                    _ => {
                        tracing::info!(%key, reason, ?disposition, "a delivery will be retried");
                        &self.counters.retried
                    }
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                self.counters.inbox_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, %key, "recording a failed delivery");
            }
        }
    }
}
