//! Retry policy: exponential backoff with jitter, honouring `Retry-After`.

use std::time::{Duration, SystemTime};

use http::HeaderMap;

/// When and how often idempotent requests are retried.
///
/// Retries happen on 408, 429, 500, 502, 503 and 504 answers and on transport errors, for
/// idempotent requests with a replayable body only (uploads recover by resuming instead).
///
/// Before retry number `n` (from 0) the client waits a random delay between half of `cap` and
/// `cap`, where `cap` is the base delay doubled `n` times, at most the largest delay ("equal
/// jitter": never less than half the backoff, never more than it). A `Retry-After` header
/// (seconds or HTTP date) replaces that delay when it asks for at most the longest accepted
/// wait; a longer one fails the request with the server's answer. After a `429` without
/// `Retry-After`, `cap` starts from the rate-limit delay instead (seconds, not milliseconds)
/// and is at most the longest accepted `Retry-After`.
///
/// Configure it with [`RetryPolicy::default`] or [`RetryPolicy::none`] and the `with_*`
/// setters; read it with the getters of the same names.
///
/// ```
/// use std::time::Duration;
/// use harbor_client::transport::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .with_max_retries(5)
///     .with_base_delay(Duration::from_millis(100))
///     .with_max_delay(Duration::from_secs(5))
///     .with_max_retry_after(Duration::from_secs(30));
/// assert_eq!(policy.max_retries(), 5);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryPolicy {
    max_retries: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_retry_after: Duration,
    rate_limit_delay: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries; delays from 200 ms up to 10 s; `Retry-After` up to 60 s; after a `429`
    /// without `Retry-After`, from 2 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
            rate_limit_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// Sets how many times a request is retried after the first attempt (0 disables
    /// retries; default 3).
    #[must_use]
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the backoff before the first retry, doubled for each next one (default 200 ms).
    #[must_use]
    pub fn with_base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }

    /// Sets the largest backoff (default 10 s).
    #[must_use]
    pub fn with_max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// Sets the longest `Retry-After` the client waits (default 60 s): a server asking for
    /// longer gets no retry, and the request fails with its answer. Also the largest backoff
    /// after a `429` without `Retry-After`.
    #[must_use]
    pub fn with_max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// Sets the first backoff after a `429 Too Many Requests` without `Retry-After`, doubled
    /// for each next one (default 2 s: rate limits are counted in seconds or minutes).
    #[must_use]
    pub fn with_rate_limit_delay(mut self, d: Duration) -> Self {
        self.rate_limit_delay = d;
        self
    }

    /// How many times a request is retried after the first attempt.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The backoff before the first retry.
    pub fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// The largest backoff.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The longest `Retry-After` the client waits.
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// The first backoff after a `429` without `Retry-After`.
    pub fn rate_limit_delay(&self) -> Duration {
        self.rate_limit_delay
    }

    /// The delay before retry number `attempt` (0-based) after a `429` that named none:
    /// seconds, doubling, with equal jitter, at most `max_retry_after`.
    pub(crate) fn rate_limit_backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        let cap = self
            .rate_limit_delay
            .saturating_mul(factor)
            .min(self.max_retry_after.max(self.rate_limit_delay));
        equal_jitter(cap)
    }

    /// The delay before retry number `attempt` (0-based), with equal jitter.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        let cap = self.base_delay.saturating_mul(factor).min(self.max_delay);
        equal_jitter(cap)
    }

    /// The delay a `Retry-After` header asks for, if any and if acceptable.
    /// `Err(())` means the server asked for a wait longer than we accept.
    pub(crate) fn retry_after(&self, headers: &HeaderMap) -> Result<Option<Duration>, ()> {
        let Some(v) = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(None);
        };
        let d = parse_retry_after(v.trim(), SystemTime::now());
        match d {
            Some(d) if d > self.max_retry_after => Err(()),
            other => Ok(other),
        }
    }
}

/// "Equal jitter": a random delay between half of `cap` and `cap`, so never zero (unless `cap`
/// is) and never above `cap`.
fn equal_jitter(cap: Duration) -> Duration {
    let half = cap / 2;
    half + (cap - half).mul_f64(fastrand::f64())
}

/// A registry's request quota as its `RateLimit-Limit` and `RateLimit-Remaining` headers
/// state it (Docker Hub: `100;w=21600`, i.e. 100 pulls per 6 hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Requests allowed per window.
    pub limit: u64,
    /// Requests left in the current window.
    pub remaining: u64,
    /// The window, when the registry names it (`;w=<seconds>`).
    pub window: Option<Duration>,
}

impl RateLimit {
    /// Reads the quota from response headers; `None` unless both headers are present and
    /// well formed.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let (limit, window) = quota(headers.get("ratelimit-limit")?.to_str().ok()?)?;
        let (remaining, w2) = quota(headers.get("ratelimit-remaining")?.to_str().ok()?)?;
        Some(RateLimit {
            limit,
            remaining,
            window: window.or(w2),
        })
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {} requests left", self.remaining, self.limit)?;
        if let Some(w) = self.window {
            write!(f, " per {} s", w.as_secs())?;
        }
        Ok(())
    }
}

/// `<n>[;w=<seconds>][;other=...]`.
fn quota(v: &str) -> Option<(u64, Option<Duration>)> {
    let mut parts = v.split(';');
    let n = parts.next()?.trim().parse().ok()?;
    let window = parts
        .filter_map(|p| p.trim().strip_prefix("w="))
        .find_map(|w| w.trim().parse().ok())
        .map(Duration::from_secs);
    Some((n, window))
}

/// Parses `Retry-After`: delta seconds or an HTTP date.
pub(crate) fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(when.timestamp()).ok()?);
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for attempt in 0..30 {
            let d = p.backoff(attempt);
            assert!(d <= p.max_delay, "{attempt}: {d:?}");
            assert!(d >= p.base_delay / 2);
        }
        assert!(p.backoff(5) >= Duration::from_secs(3));
    }

    #[test]
    fn rate_limit_headers_and_seconds_backoff() {
        let mut h = HeaderMap::new();
        h.insert("ratelimit-limit", "100;w=21600".parse().unwrap());
        assert_eq!(RateLimit::from_headers(&h), None);
        h.insert("ratelimit-remaining", "0;w=21600".parse().unwrap());
        let q = RateLimit::from_headers(&h).unwrap();
        assert_eq!((q.limit, q.remaining), (100, 0));
        assert_eq!(q.window, Some(Duration::from_secs(21600)));
        assert_eq!(q.to_string(), "0 of 100 requests left per 21600 s");
        h.insert("ratelimit-remaining", "lots".parse().unwrap());
        assert_eq!(RateLimit::from_headers(&h), None);
        let p = RetryPolicy::default();
        for attempt in 0..8 {
            let d = p.rate_limit_backoff(attempt);
            assert!(d >= Duration::from_secs(1), "{d:?}");
            assert!(d <= p.max_retry_after, "{d:?}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_is_equal_jitter_between_half_the_cap_and_the_cap() {
        let p = RetryPolicy::default()
            .with_base_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(700));
        for (attempt, cap) in [(0, 100), (1, 200), (2, 400), (3, 700), (9, 700)] {
            let cap = Duration::from_millis(cap);
            for _ in 0..50 {
                let d = p.backoff(attempt);
                assert!(d >= cap / 2 && d <= cap, "{attempt}: {d:?} for {cap:?}");
            }
        }
    }

    #[test]
    fn max_retry_after_is_settable() {
        let p = RetryPolicy::default().with_max_retry_after(Duration::from_secs(5));
        assert_eq!(p.max_retry_after(), Duration::from_secs(5));
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, "10".parse().unwrap());
        assert!(p.retry_after(&h).is_err(), "longer than the set wait");
        h.insert(http::header::RETRY_AFTER, "5".parse().unwrap());
        assert_eq!(p.retry_after(&h), Ok(Some(Duration::from_secs(5))));
        for attempt in 0..8 {
            assert!(p.rate_limit_backoff(attempt) <= Duration::from_secs(5));
        }
    }

    #[test]
    fn too_long_retry_after_is_refused() {
        let p = RetryPolicy::default();
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, "3600".parse().unwrap());
        assert!(p.retry_after(&h).is_err());
        h.insert(http::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(p.retry_after(&h), Ok(Some(Duration::from_secs(2))));
    }
}
