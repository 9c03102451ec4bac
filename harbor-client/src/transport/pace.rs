//! The low-speed limit on answers: a body that brings fewer than `bytes` in a `window` of
//! waiting fails with a timeout. Answers to requests with a body, which `reqwest`'s read
//! timeout does not cover (see `stall`), are also held here to an idle timeout: one wait for
//! the next bytes longer than it fails.
//!
//! The per-read idle timeout does not catch a server that trickles (a slow loris: a byte now
//! and then keeps every read short of the timeout), so a transfer could be held forever. Only
//! the time spent waiting for the server counts: a consumer that stops reading for a while
//! (a slow disk, back-pressure) is never taken for a slow server.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::stall::later;

/// The least an answer's body must bring: `bytes` in every `window` spent waiting for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LowSpeed {
    pub(crate) bytes: u64,
    pub(crate) window: Duration,
}

/// An answer whose body is held to `limit` (off when its `bytes` is 0) and, with `idle`, to
/// that longest wait for the next bytes.
pub(crate) fn limit(
    resp: reqwest::Response,
    limit: LowSpeed,
    idle: Option<Duration>,
) -> reqwest::Response {
    use reqwest::ResponseBuilderExt as _;
    let url = resp.url().clone();
    let (mut parts, body) = http::Response::<reqwest::Body>::from(resp).into_parts();
    // Keep the URL the answer came from (reqwest keeps it in an extension of its own).
    if let Ok(marker) = http::Response::builder().url(url).body(()) {
        parts.extensions.extend(marker.into_parts().0.extensions);
    }
    let paced = Paced {
        inner: body,
        limit,
        idle,
        waited: Duration::ZERO,
        got: 0,
        waiting_since: None,
        timer: Box::pin(tokio::time::sleep(limit.window)),
    };
    reqwest::Response::from(http::Response::from_parts(
        parts,
        reqwest::Body::wrap(paced),
    ))
}

/// A body held to a [`LowSpeed`].
struct Paced {
    inner: reqwest::Body,
    limit: LowSpeed,
    /// The longest one wait for the next bytes may take.
    idle: Option<Duration>,
    /// Time spent waiting for the server in the current window (before `waiting_since`).
    waited: Duration,
    /// Bytes received in the current window.
    got: u64,
    /// When the current wait began, if the body is waiting.
    waiting_since: Option<Instant>,
    timer: Pin<Box<Sleep>>,
}

impl Paced {
    /// Closes the window when a whole window of waiting has passed: an error when too few
    /// bytes came, else a new window.
    fn check(&mut self, now: Instant) -> Result<(), std::io::Error> {
        if let (Some(idle), Some(since)) = (self.idle, self.waiting_since)
            && now - since >= idle
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no bytes of the answer came for {idle:?} (the read timeout)"),
            ));
        }
        let waited = self.waited + self.waiting_since.map_or(Duration::ZERO, |t| now - t);
        if self.limit.bytes == 0 || waited < self.limit.window {
            return Ok(());
        }
        if self.got < self.limit.bytes {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the server sent {} bytes in {:?}, below the low-speed limit of {} bytes",
                    self.got, self.limit.window, self.limit.bytes
                ),
            ));
        }
        self.waited = Duration::ZERO;
        self.got = 0;
        if self.waiting_since.is_some() {
            self.waiting_since = Some(now);
        }
        Ok(())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl HttpBody for Paced {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let now = Instant::now();
                if let Some(since) = this.waiting_since.take() {
                    this.waited += now - since;
                }
                if let Some(Ok(f)) = &frame
                    && let Some(data) = f.data_ref()
                {
                    this.got += data.len() as u64;
                }
                if frame.as_ref().is_some_and(Result::is_ok) {
                    this.check(now)?;
                }
                Poll::Ready(frame.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => loop {
                let now = Instant::now();
                let since = *this.waiting_since.get_or_insert(now);
                let left = this.limit.window.saturating_sub(this.waited);
                let mut wake = (this.limit.bytes > 0).then(|| later(since, left));
                if let Some(idle) = this.idle {
                    let idle = later(since, idle);
                    wake = Some(wake.map_or(idle, |w| w.min(idle)));
                }
                // Neither limit: nothing to wake for (the answer is not held at all then).
                let Some(wake) = wake else {
                    return Poll::Pending;
                };
                this.timer.as_mut().reset(wake);
                ready!(this.timer.as_mut().poll(cx));
                this.check(Instant::now())?;
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt as _;

    fn answer(body: reqwest::Body, bytes: u64, window: Duration) -> reqwest::Response {
        let resp = reqwest::Response::from(http::Response::new(body));
        limit(resp, LowSpeed { bytes, window }, None)
    }

    /// `n` bytes, one every `every`, then a pause of `pause` before the last one.
    fn drip(n: usize, every: Duration, pause: Duration) -> reqwest::Body {
        reqwest::Body::wrap_stream(futures_util::stream::iter(0..n).then(move |i| async move {
            tokio::time::sleep(if i + 1 == n { pause } else { every }).await;
            Ok::<_, std::io::Error>(Bytes::from_static(b"x"))
        }))
    }

    #[tokio::test]
    async fn with_an_idle_timeout_a_moving_answer_passes_and_a_stalled_one_times_out() {
        let idle = |body| {
            let resp = reqwest::Response::from(http::Response::new(body));
            // The low-speed limit off: only the idle timeout holds the body.
            limit(
                resp,
                LowSpeed {
                    bytes: 0,
                    window: Duration::from_secs(300),
                },
                Some(Duration::from_millis(300)),
            )
        };
        // 20 bytes, 60 ms apart: 1.2 s in all, four times the timeout, never idle that long.
        let every = Duration::from_millis(60);
        let moving = idle(drip(20, every, every));
        assert_eq!(moving.bytes().await.unwrap().len(), 20);

        // The same, but the last byte comes after 2 s of nothing.
        let stalled = idle(drip(20, every, Duration::from_secs(2)));
        let started = Instant::now();
        let e = stalled.bytes().await.unwrap_err();
        let took = started.elapsed();
        assert!(e.is_timeout(), "{e:?}");
        assert!(
            took >= Duration::from_millis(1_400) && took < Duration::from_millis(1_900),
            "cut 300 ms into the pause: {took:?}"
        );
    }

    #[tokio::test]
    async fn a_trickle_below_the_limit_times_out() {
        // One byte every 30 ms: 10 bytes a window, the limit asks 100.
        let trickle = futures_util::stream::iter(0..1000).then(|_| async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok::<_, std::io::Error>(Bytes::from_static(b"x"))
        });
        let resp = answer(
            reqwest::Body::wrap_stream(trickle),
            100,
            Duration::from_millis(300),
        );
        let started = Instant::now();
        let e = resp.bytes().await.unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(900),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn limits_too_long_to_add_mean_never_not_a_panic() {
        let resp = reqwest::Response::from(http::Response::new(drip(
            3,
            Duration::from_millis(20),
            Duration::from_millis(20),
        )));
        let never = LowSpeed {
            bytes: 1,
            window: Duration::MAX,
        };
        let resp = limit(resp, never, Some(Duration::MAX));
        assert_eq!(resp.bytes().await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_steady_body_and_a_slow_reader_pass() {
        // 50 bytes every 30 ms: 500 a window, above the limit of 100.
        let steady = futures_util::stream::iter(0..40).then(|_| async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok::<_, std::io::Error>(Bytes::from(vec![7u8; 50]))
        });
        let resp = answer(
            reqwest::Body::wrap_stream(steady),
            100,
            Duration::from_millis(300),
        );
        assert_eq!(resp.bytes().await.unwrap().len(), 2000);

        // A body that is all there, read by a consumer that pauses longer than the window.
        let resp = answer(
            reqwest::Body::from(vec![1u8; 10]),
            100,
            Duration::from_millis(300),
        );
        let mut s = resp.bytes_stream();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let first = s.next().await.unwrap().unwrap();
        assert_eq!(first.len(), 10);
        assert!(s.next().await.is_none());
    }
}
