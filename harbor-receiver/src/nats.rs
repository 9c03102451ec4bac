//! [`NatsInbox`]: one inbox shared by receivers and workers on any number of machines, on
//! NATS JetStream.

use std::fmt;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use async_nats::{Client, HeaderMap};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;

use crate::delivery::format_from_str;
use crate::inbox::{BoxFuture, DEFAULT_DEDUP_WINDOW, DEFAULT_LEASE};
use crate::spec::{user_info, without_credentials};
use crate::{
    Appended, DeadLetter, Delivery, DeliveryKey, Disposition, Error, Inbox, LeaseToken, Leased,
    Result,
};

const BACKEND: &str = "nats";
const HEADER_MSG_ID: &str = "Nats-Msg-Id";
const HEADER_FORMAT: &str = "Harbor-Format";
const HEADER_RECEIVED: &str = "Harbor-Received-At";
const HEADER_ATTEMPT: &str = "Harbor-Attempt";
const HEADER_REASON: &str = "Harbor-Dead-Reason";
/// How long a publish, an acknowledgement or an API call may take: well inside Harbor's 3 s.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest one pull of a take waits on the server; a take that waits longer pulls again.
const LONGEST_PULL: Duration = Duration::from_secs(30);
/// The longest duration JetStream takes (i64 nanoseconds, 292 years): a longer one
/// (`Duration::MAX` meant as "never") would wrap to a negative one, which the server refuses
/// for a window and takes as "at once" for a redelivery delay.
const LONGEST: Duration = Duration::from_nanos(i64::MAX as u64);

/// The shared inbox on NATS JetStream, for receivers and workers on several machines.
///
/// - **Append** publishes the exact body to a file-backed stream (`HARBOR_WEBHOOKS`, subject
///   `harbor.webhooks` by default) with the delivery key as `Nats-Msg-Id` and waits for the
///   stream's acknowledgement: JetStream drops a message whose id it saw within the stream's
///   `duplicate_window` (set to the deduplication window) and says so (`duplicate: true`), so
///   any receiver behind a load balancer deduplicates Harbor's retries for all of them.
///   JetStream counts the window from the id's **first arrival, whatever became of the
///   message**: unlike the SQLite and memory inboxes, a delivery still pending after the
///   window no longer holds its key, and a retry that arrives then is stored (and handled) a
///   second time, with the same key. The default window (24 h) is far longer than Harbor's
///   retries (4.7 h at most) and than a delivery normally waits.
/// - **Take** pulls one message from a durable pull consumer (`harbor-workers`) with explicit
///   acknowledgement and `ack_wait` = the lease: every worker on every machine shares the
///   consumer and each message goes to one of them at a time; a message a crashed worker held
///   is redelivered when `ack_wait` runs out. A take never waits for ever on the server: a
///   pull whose answer does not come (lost with the connection, a server gone) is given up
///   2 s after it should have ended, with [`Error::NotDurable`], and a long wait is made of
///   pulls of at most 30 s.
/// - **Ack** is a confirmed acknowledgement (`+ACK` as a request); a retry is `-NAK` with a
///   delay; a dead letter is published to `HARBOR_WEBHOOKS_DEAD` (subject
///   `harbor.webhooks.dead`, the reason in a header) and then terminated (`+TERM`). The
///   stream has work-queue retention: an acknowledged message is deleted.
///
/// The stream and consumer are created when missing, with this builder's settings. **An
/// existing stream or consumer keeps its own**: [`NatsInbox::lease`] and
/// [`NatsInbox::dedup_window`] report the server's `ack_wait` and `duplicate_window`, which
/// the [`Worker`](crate::Worker) paces its lease extensions by, and opening logs a warning
/// (`tracing`) when they differ from what the builder asked for. This crate never changes
/// them: other workers may be running on the consumer, each extending its leases every third
/// of the `ack_wait` it read when it opened, and a shorter one would make JetStream hand out
/// again what they are still handling. To change them, edit the stream or consumer (`nats
/// stream edit`, `nats consumer edit`, or delete the consumer while no worker runs) and
/// restart every process that opened it. Durability is the stream's: one server keeps what it
/// acknowledged across `kill -9` of either side; use three replicas for machine failures
/// (create the stream yourself with `num_replicas: 3`). JetStream cannot tell a worker that
/// its lease ran out, so [`Error::LeaseLost`] never comes from this backend: a late
/// acknowledgement acknowledges the message even when another worker has it by then, which
/// at-least-once allows.
///
/// ```no_run
/// use harbor_receiver::NatsInbox;
///
/// # async fn run() -> harbor_receiver::Result<()> {
/// let inbox = NatsInbox::builder("nats://127.0.0.1:4222").open().await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct NatsInbox {
    client: Client,
    jetstream: jetstream::Context,
    consumer: consumer::PullConsumer,
    dead_stream: String,
    subject: String,
    dead_subject: String,
    /// The consumer's `ack_wait`, as the server has it.
    lease: Duration,
    /// The stream's `duplicate_window`, as the server has it.
    window: Duration,
}

/// Settings of a [`NatsInbox`]; [`NatsInboxBuilder::open`] connects. Its `Debug` never shows
/// the credentials of the URL.
#[derive(Clone)]
#[must_use]
pub struct NatsInboxBuilder {
    url: String,
    stream: String,
    subject: String,
    consumer: String,
    window: Duration,
    lease: Duration,
}

impl fmt::Debug for NatsInboxBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsInboxBuilder")
            .field("url", &without_credentials(&self.url))
            .field("stream", &self.stream)
            .field("subject", &self.subject)
            .field("consumer", &self.consumer)
            .field("window", &self.window)
            .field("lease", &self.lease)
            .finish()
    }
}

impl NatsInbox {
    /// Settings for the server at `url` (`nats://HOST:PORT`, or with credentials
    /// `nats://USER:PASSWORD@HOST:PORT`, `nats://TOKEN@HOST:PORT`; they appear in no message).
    pub fn builder(url: impl Into<String>) -> NatsInboxBuilder {
        NatsInboxBuilder {
            url: url.into(),
            stream: "HARBOR_WEBHOOKS".to_owned(),
            subject: "harbor.webhooks".to_owned(),
            consumer: "harbor-workers".to_owned(),
            window: DEFAULT_DEDUP_WINDOW,
            lease: DEFAULT_LEASE,
        }
    }

    /// The stream's `duplicate_window` as the server has it: what the builder asked for when
    /// this opening created the stream, else the existing stream's own (see the type's docs).
    pub fn dedup_window(&self) -> Duration {
        self.window
    }

    async fn ack_kind(
        &self,
        leased: &Leased,
        kind: jetstream::AckKind,
        operation: &'static str,
    ) -> Result<()> {
        let reply = leased.token().as_str().to_owned();
        self.client
            .request(reply, Bytes::from(kind))
            .await
            .map(|_| ())
            .map_err(|e| Error::not_durable(BACKEND, operation, e))
    }

    /// Up to `max` messages ready now, without waiting for more. The server answers such a
    /// pull at once; `async-nats` has no timer for it, so an answer lost with the connection
    /// would leave it waiting for ever: it gives up after [`REQUEST_TIMEOUT`], keeping what
    /// came (an error when nothing did).
    async fn fetch_ready(&self, max: usize) -> Result<Vec<jetstream::Message>> {
        let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
        let pull = self.consumer.fetch().max_messages(max).messages();
        let mut ready = match tokio::time::timeout_at(deadline, pull).await {
            Ok(ready) => ready.map_err(failed)?,
            Err(_) => return Err(unanswered(REQUEST_TIMEOUT)),
        };
        let mut messages = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, ready.next()).await {
                Ok(Some(message)) => messages.push(message.map_err(failed)?),
                Ok(None) => return Ok(messages),
                Err(_) if messages.is_empty() => return Err(unanswered(REQUEST_TIMEOUT)),
                Err(_) => return Ok(messages),
            }
        }
    }

    /// Waits up to `wait` (at least 100 ms) for one message, in pulls of at most
    /// [`LONGEST_PULL`]: the server ends each when it expires, and the client gives up on
    /// one [`REQUEST_TIMEOUT`] after that (an answer lost with the connection) with an
    /// error.
    async fn wait_for_one(&self, wait: Duration) -> Result<Option<jetstream::Message>> {
        let deadline = crate::time::later(
            tokio::time::Instant::now(),
            wait.max(Duration::from_millis(100)),
        );
        loop {
            let now = tokio::time::Instant::now();
            let expires = deadline
                .saturating_duration_since(now)
                .clamp(Duration::from_millis(100), LONGEST_PULL);
            let bound = expires + REQUEST_TIMEOUT;
            let pull = async {
                let mut first = self
                    .consumer
                    .batch()
                    .max_messages(1)
                    .expires(expires)
                    .messages()
                    .await
                    .map_err(failed)?;
                first.next().await.transpose().map_err(failed)
            };
            match tokio::time::timeout(bound, pull).await {
                Ok(Ok(Some(message))) => return Ok(Some(message)),
                // The pull expired and the take's wait is not over: pull again. (One that
                // ended early, its subscription closed, ends the take.)
                Ok(Ok(None))
                    if now.elapsed() + Duration::from_millis(50) >= expires
                        && tokio::time::Instant::now() + Duration::from_millis(10) < deadline => {}
                Ok(result) => return result,
                Err(_) => return Err(unanswered(bound)),
            }
        }
    }

    async fn dead_letter(&self, leased: &Leased, reason: &str) -> Result<()> {
        let delivery = leased.delivery();
        let mut headers = delivery_headers(delivery);
        headers.insert(HEADER_ATTEMPT, delivery.attempt().to_string().as_str());
        headers.insert(HEADER_REASON, header_text(reason).as_str());
        self.jetstream
            .publish_with_headers(self.dead_subject.clone(), headers, delivery.body().clone())
            .await
            .map_err(|e| Error::not_durable(BACKEND, "dead-letter", e))?
            .await
            .map_err(|e| Error::not_durable(BACKEND, "dead-letter", e))?;
        self.ack_kind(leased, jetstream::AckKind::Term, "dead-letter")
            .await
    }
}

impl NatsInboxBuilder {
    /// The stream's name (default `HARBOR_WEBHOOKS`; the dead letters go to `<name>_DEAD`).
    pub fn stream(mut self, name: impl Into<String>) -> Self {
        self.stream = name.into();
        self
    }

    /// The subject deliveries are published on (default `harbor.webhooks`; dead letters on
    /// `<subject>.dead`).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// The durable consumer the workers share (default `harbor-workers`).
    pub fn consumer(mut self, name: impl Into<String>) -> Self {
        self.consumer = name.into();
        self
    }

    /// The stream's `duplicate_window` (default 24 h), counted from a key's first arrival
    /// whether its delivery is pending, finished or dead; at most 292 years, JetStream's
    /// longest (`Duration::MAX` is taken as that). Used only when this opening creates the
    /// stream: [`NatsInbox::dedup_window`] says what the server has.
    pub fn dedup_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The consumer's `ack_wait` (default 30 s; at most 292 years, as the window). Used only
    /// when this opening creates the consumer: [`NatsInbox::lease`](Inbox::lease) says what
    /// the server has.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Connects, creates the streams and the consumer when missing, and reads the lease and
    /// the window the server has (warning when an existing consumer or stream has others
    /// than these settings).
    ///
    /// # Errors
    ///
    /// [`Error::Open`] when the server does not answer, has no JetStream (start it with
    /// `-js`), or refuses the stream or consumer.
    pub async fn open(mut self) -> Result<NatsInbox> {
        self.window = self.window.min(LONGEST);
        self.lease = self.lease.min(LONGEST);
        let target = without_credentials(&self.url).into_owned();
        let open_error = |message: &str, source: Option<crate::BoxError>| Error::Open {
            backend: BACKEND,
            target: target.clone(),
            message: message.to_owned(),
            source,
        };
        let (address, options) =
            connect_options(&self.url).map_err(|message| open_error(message, None))?;
        let client = options
            .name("harbor-receiver")
            .request_timeout(Some(REQUEST_TIMEOUT))
            .connection_timeout(REQUEST_TIMEOUT)
            .connect(address.as_str())
            .await
            .map_err(|e| open_error("cannot connect", Some(e.into())))?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(REQUEST_TIMEOUT)
            .build(client.clone());
        let main = jetstream
            .get_or_create_stream(stream::Config {
                name: self.stream.clone(),
                subjects: vec![self.subject.clone()],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                duplicate_window: self.window,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                open_error(
                    &format!(
                        "cannot create the stream ({e}; is JetStream on? start nats-server \
                         with -js)"
                    ),
                    Some(e.into()),
                )
            })?;
        let dead_stream = format!("{}_DEAD", self.stream);
        let dead_subject = format!("{}.dead", self.subject);
        jetstream
            .get_or_create_stream(stream::Config {
                name: dead_stream.clone(),
                subjects: vec![dead_subject.clone()],
                storage: stream::StorageType::File,
                duplicate_window: self.window,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                open_error(
                    &format!("cannot create the dead-letter stream ({e})"),
                    Some(e.into()),
                )
            })?;
        let window = main.cached_info().config.duplicate_window;
        if window != self.window {
            tracing::warn!(
                stream = %self.stream,
                server = ?window,
                asked = ?self.window,
                "the existing stream keeps its own duplicate_window: keys are remembered for \
                 the server's (edit the stream to change it)"
            );
        }
        let consumer = main
            .get_or_create_consumer(
                &self.consumer,
                consumer::pull::Config {
                    durable_name: Some(self.consumer.clone()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: self.lease,
                    max_deliver: -1,
                    filter_subject: self.subject.clone(),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| {
                open_error(&format!("cannot create the consumer ({e})"), Some(e.into()))
            })?;
        // An existing consumer keeps its `ack_wait`: the leases (and the workers' extensions
        // of them) follow the server's, not ours.
        let lease = consumer.cached_info().config.ack_wait;
        if lease != self.lease {
            tracing::warn!(
                consumer = %self.consumer,
                server = ?lease,
                asked = ?self.lease,
                "the existing consumer keeps its own ack_wait: leases last the server's (edit \
                 the consumer and restart every worker to change it)"
            );
        }
        Ok(NatsInbox {
            client,
            jetstream,
            consumer,
            dead_stream,
            subject: self.subject,
            dead_subject,
            lease,
            window,
        })
    }
}

/// The address to connect to, without the user information of `url`, and options that carry
/// it instead: `user:password@` as a user and password, `token@` as a token, each
/// percent-decoded. `async-nats` takes no credentials from a URL (it would connect without
/// them) and logs the address it connects to (with them, at debug level).
fn connect_options(
    url: &str,
) -> std::result::Result<(String, async_nats::ConnectOptions), &'static str> {
    let Some((scheme, userinfo, host)) = user_info(url) else {
        return Ok((url.to_owned(), async_nats::ConnectOptions::new()));
    };
    let decoded = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map(std::borrow::Cow::into_owned)
            .map_err(|_| "the credentials in the URL are not UTF-8 once percent-decoded")
    };
    let options = match userinfo.split_once(':') {
        Some((user, password)) => {
            async_nats::ConnectOptions::with_user_and_password(decoded(user)?, decoded(password)?)
        }
        None => async_nats::ConnectOptions::new().token(decoded(userinfo)?),
    };
    Ok((format!("{scheme}{host}"), options))
}

/// A pull the server did not answer within `after` (its answer lost with the connection,
/// or a server gone): nothing was taken.
fn unanswered(after: Duration) -> Error {
    let timeout = std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("JetStream did not answer a pull within {after:?}"),
    );
    Error::not_durable(BACKEND, "take", timeout)
}

/// A failed pull.
fn failed(error: impl Into<crate::BoxError>) -> Error {
    Error::not_durable(BACKEND, "take", error)
}

/// A pulled message as a leased delivery: its reply subject is the lease.
fn lease(message: &jetstream::Message) -> Result<Leased> {
    let attempt = message
        .info()
        .map(|info| u32::try_from(info.delivered).unwrap_or(u32::MAX))
        .map_err(|e| Error::Corrupt {
            message: format!("a JetStream message without delivery info: {e}"),
        })?;
    let Some(reply) = message.reply.clone() else {
        return Err(Error::Corrupt {
            message: "a JetStream message without a reply subject".into(),
        });
    };
    let delivery = restore(message.headers.as_ref(), message.payload.clone(), attempt)?;
    Ok(Leased::new(delivery, LeaseToken::new(reply.as_str())))
}

/// The headers that carry a delivery's metadata beside its body.
fn delivery_headers(delivery: &Delivery) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_MSG_ID, delivery.key().as_str());
    headers.insert(HEADER_FORMAT, delivery.format().as_str());
    headers.insert(
        HEADER_RECEIVED,
        delivery
            .received_at()
            .timestamp_millis()
            .to_string()
            .as_str(),
    );
    headers
}

/// Reads a delivery back from a message's headers and body.
fn restore(headers: Option<&HeaderMap>, body: Bytes, attempt: u32) -> Result<Delivery> {
    let header = |name: &str| -> Result<&str> {
        headers
            .and_then(|h| h.get(name))
            .map(|v| v.as_str())
            .ok_or_else(|| Error::Corrupt {
                message: format!("a JetStream message has no {name} header"),
            })
    };
    let key: DeliveryKey = header(HEADER_MSG_ID)?.parse()?;
    let format = header(HEADER_FORMAT)?;
    let format = format_from_str(format).ok_or_else(|| Error::Corrupt {
        message: format!("delivery {key} has the unknown format {format:?}"),
    })?;
    let received_at = header(HEADER_RECEIVED)?
        .parse::<i64>()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .unwrap_or_default();
    Ok(Delivery::restore(key, format, body, received_at, attempt))
}

/// A header value: one line, at most 1000 characters.
fn header_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1000)
        .collect()
}

impl Inbox for NatsInbox {
    fn append(&self, delivery: Delivery) -> BoxFuture<'_, Result<Appended>> {
        Box::pin(async move {
            let headers = delivery_headers(&delivery);
            let ack = self
                .jetstream
                .publish_with_headers(self.subject.clone(), headers, delivery.body().clone())
                .await
                .map_err(|e| Error::not_durable(BACKEND, "append", e))?
                .await
                .map_err(|e| Error::not_durable(BACKEND, "append", e))?;
            Ok(if ack.duplicate {
                Appended::Duplicate
            } else {
                Appended::New
            })
        })
    }

    fn take(&self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Leased>>> {
        Box::pin(async move {
            let max = max.max(1);
            // What is ready now, without waiting; if nothing, wait for one, then take what
            // else came meanwhile (a pull for `max` would wait for all `max` or the expiry).
            let mut messages = self.fetch_ready(max).await?;
            if messages.is_empty() {
                let Some(first) = self.wait_for_one(wait).await? else {
                    return Ok(Vec::new());
                };
                messages.push(first);
                if max > 1 {
                    // The first one is leased already: a failure now only means fewer.
                    match self.fetch_ready(max - 1).await {
                        Ok(more) => messages.extend(more),
                        Err(error) => tracing::debug!(%error, "taking more than the first"),
                    }
                }
            }
            let mut leased = Vec::with_capacity(messages.len());
            let mut corrupt = None;
            for message in messages {
                match lease(&message) {
                    Ok(one) => leased.push(one),
                    Err(error) => {
                        // Not ours: never hand it out again.
                        let _ = message.ack_with(jetstream::AckKind::Term).await;
                        corrupt.get_or_insert(error);
                    }
                }
            }
            match corrupt {
                Some(error) if leased.is_empty() => Err(error),
                Some(error) => {
                    tracing::warn!(%error, "terminated a JetStream message this crate did not write");
                    Ok(leased)
                }
                None => Ok(leased),
            }
        })
    }

    fn ack<'a>(&'a self, leased: &'a [Leased]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let acks = leased
                .iter()
                .map(|one| self.ack_kind(one, jetstream::AckKind::Ack, "ack"));
            // Every acknowledgement is sent; the first failure is reported.
            futures_util::future::join_all(acks)
                .await
                .into_iter()
                .collect::<Result<Vec<()>>>()
                .map(|_| ())
        })
    }

    fn fail<'a>(
        &'a self,
        leased: &'a Leased,
        disposition: Disposition,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match disposition {
                Disposition::RetryAfter(delay) => {
                    let delay = delay.min(LONGEST);
                    self.ack_kind(leased, jetstream::AckKind::Nak(Some(delay)), "fail")
                        .await
                }
                Disposition::DeadLetter => self.dead_letter(leased, reason).await,
            }
        })
    }

    fn extend<'a>(&'a self, leased: &'a Leased) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.ack_kind(leased, jetstream::AckKind::Progress, "extend"))
    }

    fn lease(&self) -> Duration {
        self.lease
    }

    fn dead_letters(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>>> {
        Box::pin(async move {
            let read_error = |e: crate::BoxError| Error::not_durable(BACKEND, "read", e);
            let mut stream = self
                .jetstream
                .get_stream(&self.dead_stream)
                .await
                .map_err(|e| read_error(e.into()))?;
            let state = stream
                .info()
                .await
                .map_err(|e| read_error(e.into()))?
                .state
                .clone();
            let mut dead = Vec::new();
            let mut seq = state.first_sequence;
            while dead.len() < limit && seq <= state.last_sequence && state.messages > 0 {
                if let Ok(message) = stream.get_raw_message(seq).await {
                    let headers = Some(&message.headers);
                    let attempt = headers
                        .and_then(|h| h.get(HEADER_ATTEMPT))
                        .and_then(|v| v.as_str().parse().ok())
                        .unwrap_or(0);
                    let reason = headers
                        .and_then(|h| h.get(HEADER_REASON))
                        .map(|v| v.as_str().to_owned())
                        .unwrap_or_default();
                    let delivery = restore(headers, message.payload.clone(), attempt)?;
                    let nanos = message.time.unix_timestamp_nanos();
                    let dead_at = i64::try_from(nanos)
                        .map(DateTime::<Utc>::from_timestamp_nanos)
                        .unwrap_or_default();
                    dead.push(DeadLetter::new(delivery, reason, dead_at));
                }
                seq += 1;
            }
            Ok(dead)
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.client
                .flush()
                .await
                .map_err(|e| Error::not_durable(BACKEND, "close", e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_go_to_the_options_not_to_the_address() {
        for (url, address) in [
            ("nats://worker:s3cret@h:4222", "nats://h:4222"),
            ("nats://s3cret-token@h:4222", "nats://h:4222"),
            ("nats://worker:s3c@ret@h:4222", "nats://h:4222"),
            ("worker:s3cret@h:4222", "h:4222"),
            ("nats://h:4222", "nats://h:4222"),
        ] {
            let (connect_to, _) = connect_options(url).unwrap();
            assert_eq!(connect_to, address, "{url}");
        }
        assert!(connect_options("nats://u:%ff@h:4222").is_err());
    }

    #[test]
    fn the_builder_never_shows_the_password() {
        let builder = NatsInbox::builder("nats://worker:s3cret@h:4222");
        let shown = format!("{builder:?} {builder:#?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("nats://***@h:4222"), "{shown}");
    }

    #[tokio::test]
    async fn an_open_error_never_shows_the_password() {
        // Nothing listens on port 1.
        let error = NatsInbox::builder("nats://worker:s3cret@127.0.0.1:1")
            .open()
            .await
            .unwrap_err();
        let mut shown = format!("{error} {error:?}");
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            shown.push_str(&format!(" {cause} {cause:?}"));
            source = cause.source();
        }
        assert!(matches!(error, Error::Open { .. }), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("nats://***@127.0.0.1:1"), "{shown}");
    }

    #[test]
    fn reasons_fit_in_one_header_line() {
        assert_eq!(header_text("a\r\nb"), "a  b");
        assert_eq!(header_text(&"x".repeat(5000)).len(), 1000);
    }
}
