//! The read timeout of requests that carry a body: an idle timeout that counts from the last
//! bytes the request moved, never from its start.
//!
//! `reqwest`'s own read timeout starts when a request is sent and is not reset while its
//! body goes out, so an upload that takes longer than the timeout to send (a large layer on
//! a slow link, in one streamed `PATCH`) was cut although its bytes kept moving, and
//! resuming it started the same cut again. Requests with a body go instead through a client
//! without that timeout, with their body [`Tracked`]: the request fails with
//! [`Error::Stalled`] only when nothing moved for the timeout, while the body is being sent
//! (the server stopped reading) or after its last byte (the server does not answer). The
//! answer's body is held to the same idle timeout by `pace`.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::Instant;
use url::Url;

use crate::error::{Error, Result, display_url};

/// A body in memory goes out in frames of this size, so that its progress is seen while a
/// slow link takes it (hyper asks for the next frame once it has written most of the last).
const FRAME: usize = 64 * 1024;

/// `by` after `from`, or a century after it for a timeout too long to add (such as
/// `Duration::MAX`, "never"): never a panic.
pub(super) fn later(from: Instant, by: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    from.checked_add(by).unwrap_or_else(|| from + CENTURY)
}

/// When the body last moved, and whether it is all sent.
#[derive(Debug)]
struct Progress {
    last: Instant,
    sent: bool,
}

type Shared = Arc<Mutex<Progress>>;

fn touch(progress: &Shared, sent: bool) {
    let mut p = progress.lock().unwrap_or_else(PoisonError::into_inner);
    p.last = Instant::now();
    p.sent |= sent;
}

/// A request body that records when hyper takes each frame of it.
struct Tracked {
    inner: Outgoing,
    progress: Shared,
    /// Bytes taken so far.
    taken: u64,
    /// The `Content-Length` the request states: hyper asks for no more once it has that
    /// many, so the body counts as sent then.
    length: Option<u64>,
}

/// A request body to send with [`send`].
pub(super) enum Outgoing {
    /// A body in memory, handed out [`FRAME`] bytes at a time.
    Bytes(Bytes),
    /// A stream, handed out as it comes.
    Body(reqwest::Body),
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let frame = match &mut this.inner {
            Outgoing::Bytes(b) if b.is_empty() => None,
            Outgoing::Bytes(b) => Some(Ok(Frame::data(b.split_to(FRAME.min(b.len()))))),
            Outgoing::Body(body) => match Pin::new(body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(frame) => frame.map(|r| r.map_err(Into::into)),
            },
        };
        if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref)) {
            this.taken += data.map_or(0, |d| d.len() as u64);
        }
        let sent = frame.is_none()
            || this.is_end_stream()
            || this.length.is_some_and(|length| this.taken >= length);
        touch(&this.progress, sent);
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Outgoing::Bytes(b) => b.is_empty(),
            Outgoing::Body(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Outgoing::Bytes(b) => SizeHint::with_exact(b.len() as u64),
            Outgoing::Body(body) => body.size_hint(),
        }
    }
}

/// Sends `request` with `body` (of `length` bytes, when its `Content-Length` says), failing
/// with [`Error::Stalled`] when nothing moved for `idle`: no frame of the body taken while it
/// is being sent, no answer after its end.
///
/// "Taken" is into the socket: the last bytes a slow link has yet to carry wait in its send
/// buffer (a few MiB at most), and that wait counts toward the timeout of the answer.
pub(super) async fn send(
    request: reqwest::RequestBuilder,
    (body, length): (Outgoing, Option<u64>),
    idle: Duration,
    (method, url): (&Method, &Url),
) -> Result<reqwest::Response> {
    let empty = length == Some(0)
        || match &body {
            Outgoing::Bytes(b) => b.is_empty(),
            Outgoing::Body(b) => b.is_end_stream(),
        };
    let progress = Arc::new(Mutex::new(Progress {
        last: Instant::now(),
        // An empty body is never asked for: it is sent as the request goes.
        sent: empty,
    }));
    let tracked = Tracked {
        inner: body,
        progress: progress.clone(),
        taken: 0,
        length,
    };
    let answer = request.body(reqwest::Body::wrap(tracked)).send();
    let mut answer = std::pin::pin!(answer);
    loop {
        let last = progress.lock().unwrap_or_else(PoisonError::into_inner).last;
        if let Ok(answer) = tokio::time::timeout_at(later(last, idle), answer.as_mut()).await {
            return answer.map_err(|e| Error::transport(method, url, e));
        }
        let p = progress.lock().unwrap_or_else(PoisonError::into_inner);
        if later(p.last, idle) <= Instant::now() {
            return Err(Error::Stalled {
                method: method.clone(),
                url: display_url(url),
                idle,
                body_sent: p.sent,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(inner: Outgoing) -> (Tracked, Shared) {
        let progress = Arc::new(Mutex::new(Progress {
            last: Instant::now(),
            sent: false,
        }));
        (
            Tracked {
                inner,
                progress: progress.clone(),
                taken: 0,
                length: None,
            },
            progress,
        )
    }

    #[tokio::test]
    async fn bytes_go_out_in_frames_with_their_exact_length_and_are_marked_sent() {
        let data = Bytes::from(vec![7u8; FRAME * 2 + 5]);
        let (mut body, progress) = tracked(Outgoing::Bytes(data.clone()));
        assert_eq!(body.size_hint().exact(), Some(data.len() as u64));
        let mut got = Vec::new();
        let mut frames = 0;
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.unwrap().into_data().unwrap();
            assert!(frame.len() <= FRAME);
            got.extend_from_slice(&frame);
            frames += 1;
            let sent = progress.lock().unwrap().sent;
            assert_eq!(
                sent,
                got.len() == data.len(),
                "sent only with the last frame"
            );
        }
        assert_eq!(frames, 3);
        assert_eq!(got, data);
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn a_stream_counts_as_sent_once_it_gave_its_stated_length() {
        let items: Vec<std::io::Result<Bytes>> =
            (0..3).map(|_| Ok(Bytes::from_static(b"abc"))).collect();
        let stream = reqwest::Body::wrap_stream(futures_util::stream::iter(items));
        let (mut body, progress) = tracked(Outgoing::Body(stream));
        body.length = Some(6);
        for sent in [false, true] {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
            assert!(frame.is_some());
            assert_eq!(progress.lock().unwrap().sent, sent);
        }
    }

    /// A loopback server that reads one request head and body (`Content-Length` bytes) and
    /// answers `201`.
    async fn accepting() -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got);
                if let Some(head) = text.find("\r\n\r\n") {
                    let length: usize = text[..head]
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if got.len() >= head + 4 + length {
                        break;
                    }
                }
            }
            s.write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
        });
        format!("http://{addr}/upload")
    }

    #[tokio::test]
    async fn a_timeout_too_long_to_add_means_never_not_a_panic() {
        let url: Url = accepting().await.parse().unwrap();
        let request = reqwest::Client::new().put(url.clone());
        let body = Outgoing::Bytes(Bytes::from_static(b"layer"));
        let answer = send(
            request,
            (body, Some(5)),
            Duration::MAX,
            (&Method::PUT, &url),
        )
        .await
        .unwrap();
        assert_eq!(answer.status(), 201);
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now + Duration::from_secs(3600 * 24 * 365));
    }

    #[tokio::test]
    async fn an_empty_body_is_ended_at_once() {
        let (body, _) = tracked(Outgoing::Bytes(Bytes::new()));
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
    }
}
