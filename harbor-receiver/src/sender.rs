//! A webhook sender that delivers the way Harbor's job service does (feature `sender`), to
//! test your own endpoint with Harbor's retries, timeout and duplicates, without a Harbor.
//!
//! What it copies from Harbor 2.8 and later (goharbor/harbor
//! `src/jobservice/job/impl/notification/webhook_job.go` and `http_helper.go`):
//!
//! - one `POST` of the exact payload bytes, formatted once when the job is created, so
//!   **every retry sends the same bytes** (and a CloudEvent the same `id`);
//! - `Content-Type` of the payload's format, `Authorization` = the policy's auth header
//!   verbatim when set, Go's `User-Agent: Go-http-client/1.1` and `Accept-Encoding: gzip`;
//! - an overall client timeout of **3 s** (`JOBSERVICE_WEBHOOK_JOB_HTTP_CLIENT_TIMEOUT`);
//! - success is any `2xx`; anything else, a timeout or a transport error fails the attempt;
//!   redirects are not followed (Harbor's current client returns the `3xx` as a failure);
//! - **3 attempts** in all (`MaxFails`, `JOBSERVICE_WEBHOOK_JOB_MAX_RETRY`; 10 before 2.8),
//!   the `n`-th retry [`harbor_backoff`] after the `n`-th failure: `n⁴ + 15 + rand(0..30)·(n+1)`
//!   seconds, the backoff of the job queue Harbor uses (goharbor/work, a fork of
//!   gocraft/work, `worker.go`). Tests usually want [`Backoff::Fixed`] instead.
//!
//! ```no_run
//! use std::time::Duration;
//! use harbor_receiver::sender::{Backoff, Sender};
//!
//! # async fn run() -> harbor_receiver::Result<()> {
//! let sender = Sender::harbor()
//!     .auth_header("Bearer s3cret")
//!     .backoff(Backoff::Fixed(Duration::from_millis(200)))
//!     .build()?;
//! let body = br#"{"type":"PUSH_ARTIFACT","occur_at":1680501893,"operator":"admin","event_data":{}}"#;
//! let report = sender
//!     .send("http://127.0.0.1:8080/webhook", "application/json", body.to_vec())
//!     .await;
//! assert!(report.delivered(), "{report:?}");
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use secrecy::{ExposeSecret as _, SecretString};

use crate::{Error, Result};

/// Harbor's client timeout since 2.8.
pub const HARBOR_TIMEOUT: Duration = Duration::from_secs(3);
/// Harbor's attempts per delivery since 2.8 (10 before).
pub const HARBOR_ATTEMPTS: u32 = 3;

/// Harbor's delay before the next attempt after the `fails`-th failure, for a `jitter` in
/// `0..30` (Harbor draws it at random): `fails⁴ + 15 + jitter·(fails+1)` seconds.
///
/// ```
/// use std::time::Duration;
/// use harbor_receiver::sender::harbor_backoff;
///
/// assert_eq!(harbor_backoff(1, 0), Duration::from_secs(16));
/// assert_eq!(harbor_backoff(2, 29), Duration::from_secs(118));
/// ```
pub fn harbor_backoff(fails: u32, jitter: u32) -> Duration {
    let fails = u64::from(fails);
    let seconds = fails
        .saturating_pow(4)
        .saturating_add(15)
        .saturating_add(u64::from(jitter.min(29)).saturating_mul(fails + 1));
    Duration::from_secs(seconds)
}

/// The wait between attempts.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Backoff {
    /// Harbor's own ([`harbor_backoff`], random jitter): 16 to 74 s after the first failure.
    Harbor,
    /// The same wait every time (for tests).
    Fixed(Duration),
}

/// Builds a [`Sender`].
#[derive(Debug)]
#[must_use]
pub struct SenderBuilder {
    attempts: u32,
    timeout: Duration,
    backoff: Backoff,
    auth_header: Option<SecretString>,
}

impl SenderBuilder {
    /// Attempts in all (default 3; 0 counts as 1).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The timeout of one attempt, the whole exchange included (default 3 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The wait between attempts (default [`Backoff::Harbor`]).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The webhook policy's *auth header* (its `auth_header` field), sent verbatim as
    /// `Authorization` on every attempt, as Harbor does.
    pub fn auth_header(mut self, value: impl Into<String>) -> Self {
        self.auth_header = Some(SecretString::from(value.into()));
        self
    }

    /// Builds the sender.
    ///
    /// # Errors
    ///
    /// [`Error::Client`] if the HTTP client cannot be built; [`Error::Config`] if the
    /// auth header cannot be a header value.
    pub fn build(self) -> Result<Sender> {
        let authorization = match &self.auth_header {
            Some(secret) => {
                let mut value =
                    HeaderValue::from_str(secret.expose_secret()).map_err(|_| Error::Config {
                        message: "the auth header is not a valid header value".into(),
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Go-http-client/1.1")
            .build()
            .map_err(Error::Client)?;
        Ok(Sender {
            client,
            attempts: self.attempts,
            backoff: self.backoff,
            authorization,
        })
    }
}

/// Delivers webhook payloads as Harbor does (see the [module docs](self)). Cheap to clone.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    attempts: u32,
    backoff: Backoff,
    authorization: Option<HeaderValue>,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field(
                "auth_header",
                &self.authorization.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl Sender {
    /// Harbor 2.8+'s settings: 3 attempts, a 3 s timeout, Harbor's backoff, no auth header.
    pub fn harbor() -> SenderBuilder {
        SenderBuilder {
            attempts: HARBOR_ATTEMPTS,
            timeout: HARBOR_TIMEOUT,
            backoff: Backoff::Harbor,
            auth_header: None,
        }
    }

    /// Delivers `body` to `url`, retrying until a `2xx` or until the attempts are spent.
    pub async fn send(&self, url: &str, content_type: &str, body: impl Into<Bytes>) -> SendReport {
        let body: Bytes = body.into();
        // Most sends end at the first attempt; no room reserved for `attempts(u32::MAX)`.
        let mut attempts = Vec::with_capacity(1);
        for fails in 0..self.attempts {
            if fails > 0 {
                tokio::time::sleep(self.wait(fails)).await;
            }
            let attempt = self.attempt(url, content_type, body.clone()).await;
            let done = attempt.outcome.is_success();
            attempts.push(attempt);
            if done {
                break;
            }
        }
        SendReport { attempts }
    }

    /// Delivers a payload with its format's `Content-Type`.
    ///
    /// # Errors
    ///
    /// [`harbor_events::Error::Encode`] if the payload cannot be encoded.
    pub async fn send_payload(
        &self,
        url: &str,
        payload: &harbor_events::Payload<'_>,
    ) -> harbor_events::Result<SendReport> {
        let body = payload.to_vec()?;
        Ok(self.send(url, payload.content_type(), body).await)
    }

    fn wait(&self, fails: u32) -> Duration {
        match self.backoff {
            Backoff::Harbor => harbor_backoff(fails, fastrand::u32(0..30)),
            Backoff::Fixed(wait) => wait,
        }
    }

    async fn attempt(&self, url: &str, content_type: &str, body: Bytes) -> Attempt {
        let started = Instant::now();
        let mut request = self
            .client
            .post(url)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ACCEPT_ENCODING, "gzip")
            .body(body);
        if let Some(value) = &self.authorization {
            request = request.header(header::AUTHORIZATION, value.clone());
        }
        let outcome = match request.send().await {
            // Harbor reads the body of a failure for its log; read it too, within the timeout.
            Ok(response) => {
                let status = response.status();
                match response.bytes().await {
                    Ok(_) => AttemptOutcome::Status(status),
                    Err(e) if e.is_timeout() => AttemptOutcome::TimedOut,
                    Err(e) => AttemptOutcome::Failed(e.to_string()),
                }
            }
            Err(e) if e.is_timeout() => AttemptOutcome::TimedOut,
            Err(e) => AttemptOutcome::Failed(e.to_string()),
        };
        Attempt {
            outcome,
            elapsed: started.elapsed(),
        }
    }
}

/// Every attempt of one delivery.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SendReport {
    /// The attempts, in order (at least one).
    pub attempts: Vec<Attempt>,
}

impl SendReport {
    /// Whether the last attempt got a `2xx` (and so Harbor would stop).
    pub fn delivered(&self) -> bool {
        self.attempts.last().is_some_and(|a| a.outcome.is_success())
    }

    /// The status of the last attempt, if it got an answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self.attempts.last().map(|a| &a.outcome) {
            Some(AttemptOutcome::Status(status)) => Some(*status),
            _ => None,
        }
    }
}

/// One attempt.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Attempt {
    /// What happened.
    pub outcome: AttemptOutcome,
    /// How long it took.
    pub elapsed: Duration,
}

/// What one attempt got.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// An answer with this status.
    Status(StatusCode),
    /// No complete answer within the timeout.
    TimedOut,
    /// A transport error (refused connection, reset …).
    Failed(String),
}

impl AttemptOutcome {
    /// Whether this is a `2xx`.
    pub fn is_success(&self) -> bool {
        matches!(self, AttemptOutcome::Status(s) if s.is_success())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harbor_backoff_follows_the_job_queue_formula() {
        assert_eq!(harbor_backoff(1, 0), Duration::from_secs(16));
        assert_eq!(harbor_backoff(1, 29), Duration::from_secs(74));
        assert_eq!(harbor_backoff(2, 0), Duration::from_secs(31));
        assert_eq!(harbor_backoff(9, 0), Duration::from_secs(6561 + 15));
        assert_eq!(harbor_backoff(1, 500), harbor_backoff(1, 29));
    }

    #[test]
    fn the_auth_header_is_redacted_in_debug() {
        let sender = Sender::harbor()
            .auth_header("Bearer s3cret")
            .build()
            .unwrap();
        let debug = format!("{sender:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("redacted"), "{debug}");
    }
}
