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
    /// Deliveries whose handler was still running when the
    /// [`shutdown_grace`](Worker::shutdown_grace) ran out: stopped, and given back to the
    /// inbox to be handled again at once (as a failed attempt).
    pub abandoned: u64,
}

#[derive(Debug, Default)]
struct Counters {
    acknowledged: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
    inbox_errors: AtomicU64,
    abandoned: AtomicU64,
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
    grace: Duration,
}

impl Worker {
    /// A worker on `inbox`: one delivery at a time, the default [`RetryPolicy`].
    pub fn new(inbox: impl Inbox + 'static) -> Worker {
        Worker {
            inbox: Arc::new(inbox),
            concurrency: 1,
            policy: RetryPolicy::default(),
            poll: Duration::from_millis(500),
            grace: Duration::MAX,
        }
    }

    /// How many deliveries are handled at once (default 1; 0 counts as 1). The worker takes
    /// as many as there is room for in one request to the inbox, runs each handler in its
    /// own task, and acknowledges the finished ones together, so a busy inbox costs one take
    /// and one acknowledgement per batch, not per delivery. A delivery keeps its place until
    /// its acknowledgement is done, so a crash of the process repeats at most this many
    /// handlers. With the SQLite inbox a take waiting for work gets the deliveries of the
    /// next commit, and a place is free again a commit or two after its handler finished, so
    /// a fast handler under heavy load wants room for a hundred or so.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// When failed deliveries are retried and when they are dead-lettered.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How long [`run`](Worker::run) lets the handlers in flight finish after `shutdown`
    /// completes (default: as long as they take, as before this option existed). When it
    /// runs out, the worker acknowledges the deliveries whose handlers finished, stops the
    /// others at their next `.await` and gives their deliveries back to the inbox to be
    /// handled again at once (a failed attempt with no delay, counted as
    /// [`abandoned`](WorkerReport::abandoned)), then returns. Set it below the time your
    /// process manager waits between its stop signal and a kill (Kubernetes: 30 s), so that
    /// nothing handled is handled again and nothing stopped waits for its lease to run out.
    ///
    /// Dropping the future of `run` instead stops the handlers where they are without
    /// acknowledging or giving back anything: their deliveries come back when their leases
    /// run out.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Handles deliveries until `shutdown` completes, then lets the handlers in flight
    /// finish (and acknowledges or fails their deliveries) before it returns, for at most
    /// the [`shutdown_grace`](Worker::shutdown_grace).
    pub async fn run<H: Handler>(
        self,
        handler: H,
        shutdown: impl Future<Output = ()> + Send,
    ) -> WorkerReport {
        let shared = Arc::new(Shared {
            inbox: self.inbox.clone(),
            policy: self.policy,
            counters: Counters::default(),
        });
        let handler = Arc::new(handler);
        let shutdown = shutdown.fuse();
        tokio::pin!(shutdown);
        let mut stopping = false;
        // Handlers running, each answering the delivery to acknowledge (`None` when it was
        // failed or dead-lettered instead).
        let mut handling: JoinSet<Option<Leased>> = JoinSet::new();
        // Tells the handlers still running that the grace ran out: each gives its delivery
        // back itself.
        let (out_of_grace, grace_over) = watch::channel(false);
        // One take and one acknowledgement at a time, each running beside everything else;
        // handlers that finish while an acknowledgement runs wait for the next one.
        let mut taking: Option<BoxFuture<'static, crate::Result<Vec<Leased>>>> = None;
        // The running acknowledgement, and how many deliveries it holds.
        let mut acking: Option<(usize, BoxFuture<'static, ()>)> = None;
        let mut to_ack: Vec<Leased> = Vec::new();
        let mut paused: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        // The end of the shutdown grace, set when the worker starts stopping.
        let mut grace: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        loop {
            if acking.is_none() && !to_ack.is_empty() {
                let batch = std::mem::take(&mut to_ack);
                acking = Some((batch.len(), shared.clone().acknowledge(batch)));
            }
            // A delivery holds its place until it is acknowledged, not only while its handler
            // runs: at most `concurrency` are handled and not yet acknowledged, so a crash
            // repeats at most that many handlers.
            let room = self
                .concurrency
                .saturating_sub(handling.len() + to_ack.len() + acking.as_ref().map_or(0, |a| a.0));
            if taking.is_none() && !stopping && paused.is_none() && room > 0 {
                // Not cancelled by the stop: a take cut short could leave deliveries leased
                // to nobody until their leases run out. It returns within `poll`.
                let (inbox, poll) = (self.inbox.clone(), self.poll);
                taking = Some(Box::pin(async move { inbox.take(room, poll).await }));
            }
            if stopping {
                paused = None;
                if taking.is_none() && handling.is_empty() && acking.is_none() {
                    break;
                }
                if grace.is_none() {
                    let end = crate::time::later(tokio::time::Instant::now(), self.grace);
                    grace = Some(Box::pin(tokio::time::sleep_until(end)));
                }
            }
            tokio::select! {
                () = &mut shutdown, if !stopping => stopping = true,
                taken = running(taking.as_mut()) => {
                    taking = None;
                    match taken {
                        Ok(leased) => {
                            for one in leased {
                                let stop = grace_over.clone();
                                handling.spawn(shared.clone().process(handler.clone(), one, stop));
                            }
                        }
                        Err(crate::Error::Closed) => stopping = true,
                        Err(error) => {
                            shared.counters.inbox_errors.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(%error, "taking deliveries from the inbox");
                            paused = Some(Box::pin(tokio::time::sleep(ERROR_PAUSE)));
                        }
                    }
                }
                () = running(paused.as_mut()) => paused = None,
                () = running(acking.as_mut().map(|a| &mut a.1)) => acking = None,
                Some(joined) = handling.join_next(), if !handling.is_empty() => {
                    match joined {
                        Ok(done) => to_ack.extend(done),
                        Err(error) => tracing::error!(%error, "a worker task stopped abnormally"),
                    }
                }
                () = running(grace.as_mut()) => {
                    let _ = out_of_grace.send(true);
                    let stopped = Stopped { taking, acking, to_ack, handling };
                    stopped.finish(&shared).await;
                    break;
                }
            }
        }
        let counters = &shared.counters;
        WorkerReport {
            acknowledged: counters.acknowledged.load(Ordering::Relaxed),
            retried: counters.retried.load(Ordering::Relaxed),
            dead_lettered: counters.dead_lettered.load(Ordering::Relaxed),
            inbox_errors: counters.inbox_errors.load(Ordering::Relaxed),
            abandoned: counters.abandoned.load(Ordering::Relaxed),
        }
    }
}

/// What a worker still holds when its shutdown grace runs out.
struct Stopped {
    taking: Option<BoxFuture<'static, crate::Result<Vec<Leased>>>>,
    acking: Option<(usize, BoxFuture<'static, ()>)>,
    to_ack: Vec<Leased>,
    /// Handlers told to stop: each gives its delivery back, or returns it to acknowledge
    /// when it finished first.
    handling: JoinSet<Option<Leased>>,
}

impl Stopped {
    /// Waits for the stopped handlers, acknowledges every delivery whose handler finished,
    /// then gives back what a take still running brings.
    async fn finish(mut self, shared: &Arc<Shared>) {
        while let Some(joined) = self.handling.join_next().await {
            match joined {
                Ok(done) => self.to_ack.extend(done),
                Err(error) => tracing::error!(%error, "a worker task stopped abnormally"),
            }
        }
        if let Some((_, acking)) = self.acking.take() {
            acking.await;
        }
        if !self.to_ack.is_empty() {
            shared.clone().acknowledge(self.to_ack).await;
        }
        // A take returns within its poll (it is not cut short: what it leased would wait for
        // its lease to run out); nothing it brings is started now.
        if let Some(taking) = self.taking.take()
            && let Ok(taken) = taking.await
        {
            for leased in taken {
                shared
                    .give_back(&leased, "the worker stopped before it started the handler")
                    .await;
            }
        }
    }
}

/// Awaits the future in `slot`; never ready when the slot is empty.
async fn running<F: Future + Unpin>(slot: Option<&mut F>) -> F::Output {
    match slot {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

/// What the worker's tasks share.
struct Shared {
    inbox: Arc<dyn Inbox>,
    policy: RetryPolicy,
    counters: Counters,
}

impl Shared {
    /// Acknowledges handled deliveries in one request.
    fn acknowledge(self: Arc<Self>, leased: Vec<Leased>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let counters = &self.counters;
            let count = leased.len() as u64;
            match self.inbox.ack(&leased).await {
                Ok(()) => {
                    counters.acknowledged.fetch_add(count, Ordering::Relaxed);
                }
                Err(crate::Error::LeaseLost { keys, .. }) => {
                    let lost = keys.len() as u64;
                    counters
                        .acknowledged
                        .fetch_add(count.saturating_sub(lost), Ordering::Relaxed);
                    counters.inbox_errors.fetch_add(lost, Ordering::Relaxed);
                    for key in keys {
                        tracing::warn!(%key, "acknowledging a handled delivery whose lease ran \
                            out (it will be handled again)");
                    }
                }
                Err(error) => {
                    counters.inbox_errors.fetch_add(count, Ordering::Relaxed);
                    tracing::warn!(%error, deliveries = count,
                        "acknowledging handled deliveries (they will be handled again)");
                }
            }
        })
    }

    /// Runs the handler on one delivery (extending the lease meanwhile), then fails it, or
    /// returns it to acknowledge. When `stop` turns true first (the shutdown grace ran out),
    /// the handler is dropped at its next `.await` and the delivery given back.
    async fn process<H: Handler>(
        self: Arc<Self>,
        handler: Arc<H>,
        leased: Leased,
        mut stop: watch::Receiver<bool>,
    ) -> Option<Leased> {
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
                // At least hourly: a lease of a century is extended more often than it needs.
                let beat = (self.inbox.lease() / 3)
                    .clamp(Duration::from_millis(10), Duration::from_secs(3600));
                let start = tokio::time::Instant::now() + beat;
                let mut heartbeat = tokio::time::interval_at(start, beat);
                loop {
                    tokio::select! {
                        outcome = &mut handled => break outcome,
                        _ = stop.changed() => {
                            let reason =
                                "the worker stopped before the handler finished (shutdown grace)";
                            if self.give_back(&leased, reason).await {
                                self.counters.abandoned.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(key = %leased.delivery().key(), "gave a delivery \
                                    back: its handler did not finish within the shutdown grace");
                            }
                            return None;
                        }
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
            Ok(Ok(())) => return Some(leased),
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
        if !self.fail(leased, disposition, reason).await {
            return;
        }
        let key = leased.delivery().key();
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

    /// Gives a delivery back to be handled again at once (a failed attempt with no delay);
    /// whether the inbox took it.
    async fn give_back(&self, leased: &Leased, reason: &str) -> bool {
        self.fail(leased, Disposition::RetryAfter(Duration::ZERO), reason)
            .await
    }

    /// Records a failed attempt in the inbox; whether it took it (an inbox error is counted
    /// and logged).
    async fn fail(&self, leased: &Leased, disposition: Disposition, reason: &str) -> bool {
        match self.inbox.fail(leased, disposition, reason).await {
            Ok(()) => true,
            Err(error) => {
                self.counters.inbox_errors.fetch_add(1, Ordering::Relaxed);
                let key = leased.delivery().key();
                tracing::warn!(%error, %key, "recording a failed delivery");
                false
            }
        }
    }
}
