//! The HTTP edge: [`Receiver`] checks, decodes and appends before it answers.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use harbor_events::{Decoder, Format};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::body::Body as HttpBody;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;

use crate::{Appended, Delivery, DeliveryKey, Error, Inbox};

/// The `Retry-After` a `503` carries by default, in seconds (Harbor ignores it and keeps its
/// own schedule; other senders may not).
const RETRY_AFTER_SECS: u32 = 10;

/// How long a request's head, then its body, may take to arrive by default (Harbor gives up
/// on a delivery after 3 s).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The webhook endpoint: for each request, the `Authorization` check, the size limit, the
/// decode (the [`Decoder`] of `harbor-events`), then a durable [`Inbox::append`], and only
/// then the `2xx`.
///
/// | request | answer |
/// | --- | --- |
/// | a payload, stored durably | `200` |
/// | a payload whose key the inbox already holds (Harbor's retry of a delivery whose `200` it did not see) | `200`, nothing stored |
/// | an empty body: the "test endpoint" button of Harbor 1.9 to 2.2, which sends **no `Authorization`** | `200`, nothing stored, with or without `Authorization` (see below) |
/// | a wrong or missing `Authorization` | `401` |
/// | a body over the decoder's limit | `413` |
/// | a `Content-Type` that is not JSON | `415` |
/// | a body that is not a Harbor or registry payload | `400` |
/// | a body that did not arrive whole (the connection broke, a malformed chunked body) | `400` ([`harbor_events::Error::IncompleteBody`]) where an answer can still go out (hyper closes such a connection) |
/// | not `POST` | `405` |
/// | the inbox could not store it durably (disk full, database locked, JetStream down, memory inbox full) | `503`: Harbor delivers it again later |
/// | a body that stops arriving for longer than the [`read_timeout`](Receiver::read_timeout) | `408`, and the connection is closed |
///
/// An empty body is answered before the `Authorization` check because Harbor's endpoint test
/// carries none, and it is safe: nothing is stored or handled, and the answer says nothing
/// the `405` for a `GET` does not. Over HTTP ([`Receiver::serve`], [`Receiver::router`]) a
/// body the request declares empty (`Content-Length: 0`, or no body) is known without reading
/// anything; a body of only whitespace is recognised after the `Authorization` check, since
/// the body of a request that fails it is never read. [`Receiver::receive`] has the body
/// already and answers both `200` first.
///
/// A `Receiver` is cheap to clone (an `Arc` inside).
#[derive(Clone, Debug)]
pub struct Receiver {
    decoder: Arc<Decoder>,
    inbox: Arc<dyn Inbox>,
    retry_after: HeaderValue,
    read_timeout: Duration,
}

/// What the [`Receiver`] did with one request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Receipt {
    /// Stored durably under this key.
    Stored(DeliveryKey),
    /// Already in the inbox (or handled within the deduplication window): not stored again.
    Duplicate(DeliveryKey),
    /// An empty body: Harbor's endpoint test (1.9 to 2.2). Nothing to store.
    Ping,
    /// The request was refused (auth, size, Content-Type, an invalid body).
    Rejected(harbor_events::Error),
    /// The inbox could not store it durably: answer `503`, the sender tries again.
    Unavailable(Error),
}

impl Receipt {
    /// The HTTP status this receipt is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Receipt::Stored(_) | Receipt::Duplicate(_) | Receipt::Ping => StatusCode::OK,
            Receipt::Rejected(error) => error.status().unwrap_or(StatusCode::BAD_REQUEST),
            Receipt::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The delivery key, for a stored or duplicate delivery.
    pub fn key(&self) -> Option<&DeliveryKey> {
        match self {
            Receipt::Stored(key) | Receipt::Duplicate(key) => Some(key),
            _ => None,
        }
    }
}

impl Receiver {
    /// A receiver that checks requests with `decoder` and stores them in `inbox`.
    pub fn new(decoder: Decoder, inbox: impl Inbox + 'static) -> Receiver {
        Receiver {
            decoder: Arc::new(decoder),
            inbox: Arc::new(inbox),
            retry_after: HeaderValue::from(RETRY_AFTER_SECS),
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }

    /// How long a request's head, then its body, may take to arrive (each; default
    /// [`DEFAULT_READ_TIMEOUT`], 30 s), so that a client that stops sending in the middle of a
    /// request holds neither a connection nor a shutdown for ever. A body that is late is
    /// answered `408` and its connection closed; with [`Receiver::serve`], a head that is
    /// late closes the connection (in your own server, [`Receiver::router`] limits the body
    /// only: set your server's own header timeout). `Duration::MAX` means never.
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The `Retry-After` of a `503`, in seconds (default 10).
    #[must_use]
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = HeaderValue::from(seconds);
        self
    }

    /// The inbox.
    pub fn inbox(&self) -> &Arc<dyn Inbox> {
        &self.inbox
    }

    /// Handles one request's headers and body (for a web framework other than axum): every
    /// check, the decode, the append. The caller answers with [`Receipt::status`]. An empty
    /// body is a [`Receipt::Ping`] whatever the headers.
    pub async fn receive(&self, headers: &HeaderMap, body: Bytes) -> Receipt {
        if harbor_events::is_empty_body(&body) {
            return Receipt::Ping;
        }
        match precheck(&self.decoder, headers) {
            Ok(format) => self.accept(format, body).await,
            Err(error) => Receipt::Rejected(error),
        }
    }

    /// The work after [`precheck`]: the size, the decode, the append.
    async fn accept(&self, format: Option<Format>, body: Bytes) -> Receipt {
        if harbor_events::is_empty_body(&body) {
            // Harbor's endpoint test, with whitespace (its secret was checked).
            return Receipt::Ping;
        }
        if let Err(error) = self.decoder.check_len(body.len()) {
            return Receipt::Rejected(error);
        }
        // Checked already: decode without a second look at the secret and the size.
        let decoder = Decoder::new().max_body_bytes(body.len());
        let decoder = match format {
            Some(format) => decoder.only_format(format),
            None => decoder,
        };
        let (key, format) = match decoder.decode(&body) {
            Ok(payload) => (DeliveryKey::for_payload(&payload, &body), payload.format()),
            Err(error) => return Receipt::Rejected(error),
        };
        match self
            .inbox
            .append(Delivery::new(key.clone(), format, body))
            .await
        {
            Ok(Appended::New) => Receipt::Stored(key),
            Ok(Appended::Duplicate) => Receipt::Duplicate(key),
            Err(error) => Receipt::Unavailable(error),
        }
    }

    /// An axum router that answers every path: `POST` is a delivery, anything else `405`.
    pub fn router(self) -> Router {
        Router::new().fallback(route).with_state(self)
    }

    /// Serves HTTP/1.1 on `listener` (with `TCP_NODELAY`), answering as
    /// [`Receiver::router`] does, until `shutdown` completes; requests in flight then finish
    /// (their appends included) and idle connections close before it returns.
    ///
    /// It runs each connection on hyper directly, without the router's per-request layers.
    /// Harbor's job service speaks HTTP/1.1; behind a TLS terminator or for HTTP/2, mount
    /// [`Receiver::router`] in your own server.
    ///
    /// # Errors
    ///
    /// It does not fail today: an error accepting a connection is logged and serving goes on
    /// (after a pause of a second when the error is not about that one connection, such as
    /// too many open files). The `io::Result` lets a later version report an error that ends
    /// serving without changing the signature.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let connections = GracefulShutdown::new();
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            // hyper adds it to the clock: a century at most (`Duration::MAX` is "never").
            .header_read_timeout(self.read_timeout.min(crate::time::CENTURY));
        let mut shutdown = std::pin::pin!(shutdown);
        // One counted reference per request, not a clone of every field.
        let this = Arc::new(self);
        loop {
            let tcp = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(error) => {
                        if pause_after_accept_error(&error, shutdown.as_mut()).await {
                            break;
                        }
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY");
            }
            let receiver = this.clone();
            let service = service_fn(move |request| {
                let receiver = receiver.clone();
                async move { Ok::<_, Infallible>(handle(&receiver, request).await) }
            });
            let connection = http.serve_connection(TokioIo::new(tcp), service);
            let connection = connections.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::trace!(%error, "connection ended with an error");
                }
            });
        }
        drop(listener);
        connections.shutdown().await;
        Ok(())
    }

    fn answer(&self, receipt: &Receipt) -> Response {
        let status = receipt.status();
        match receipt {
            Receipt::Stored(_) | Receipt::Duplicate(_) | Receipt::Ping => status.into_response(),
            Receipt::Rejected(error) => (status, error.to_string()).into_response(),
            Receipt::Unavailable(error) => {
                tracing::warn!(%error, "answering 503: the delivery could not be stored");
                (
                    status,
                    [(header::RETRY_AFTER, self.retry_after.clone())],
                    error.to_string(),
                )
                    .into_response()
            }
        }
    }
}

/// The axum handler of [`Receiver::router`].
async fn route(State(receiver): State<Receiver>, request: Request) -> Response {
    handle(&receiver, request).await
}

/// One request, in the router or in [`Receiver::serve`]: cheap checks before the body is
/// read, then what [`Receiver::receive`] does.
async fn handle<B>(receiver: &Receiver, request: http::Request<B>) -> Response
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if request.method() != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST")]).into_response();
    }
    let (parts, body) = request.into_parts();
    if body.size_hint().exact() == Some(0) {
        // Harbor's endpoint test: no body and no Authorization. Nothing to read or store.
        return receiver.answer(&Receipt::Ping);
    }
    let format = match precheck(&receiver.decoder, &parts.headers) {
        Ok(format) => format,
        Err(error) => return receiver.answer(&Receipt::Rejected(error)),
    };
    let read = tokio::time::timeout(
        receiver.read_timeout,
        read_body(body, receiver.decoder.body_limit()),
    );
    let body = match read.await {
        Ok(Ok(body)) => body,
        Ok(Err(error)) => return receiver.answer(&Receipt::Rejected(error)),
        Err(_) => return late_body(receiver.read_timeout),
    };
    let receipt = receiver.accept(format, body).await;
    receiver.answer(&receipt)
}

/// The answer to a body that did not arrive within `timeout`: `408`, and the connection is
/// closed (the rest of the body may still come).
fn late_body(timeout: Duration) -> Response {
    let message = format!(
        "the request body did not arrive within {} ms",
        timeout.as_millis()
    );
    (
        StatusCode::REQUEST_TIMEOUT,
        [(header::CONNECTION, "close")],
        message,
    )
        .into_response()
}

/// After a failed `accept`: go on at once when only that connection failed, else (too many
/// open files, say) wait a second rather than spin, unless `shutdown` completes meanwhile.
/// `true` when it did: stop serving.
async fn pause_after_accept_error<S: Future<Output = ()>>(
    error: &std::io::Error,
    shutdown: std::pin::Pin<&mut S>,
) -> bool {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
    ) {
        return false;
    }
    tracing::error!(%error, "cannot accept a connection; trying again in a second");
    tokio::select! {
        () = tokio::time::sleep(Duration::from_secs(1)) => false,
        () = shutdown => true,
    }
}

/// The checks that need no body: `Authorization`, `Content-Type` (the format it asks for), a
/// declared length.
fn precheck(decoder: &Decoder, headers: &HeaderMap) -> harbor_events::Result<Option<Format>> {
    decoder.check_authorization(headers)?;
    let format = decoder.format_from_headers(headers)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(len) = declared {
        decoder.check_len(len)?;
    }
    Ok(format)
}

async fn read_body<B>(body: B, limit: usize) -> harbor_events::Result<Bytes>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Copied into a buffer of its own, once, whatever the number of chunks: a chunk shares
    // the connection's read buffer, and a delivery the inbox holds on to would make the
    // connection allocate a new buffer for every request.
    let mut body = std::pin::pin!(Limited::new(body, limit));
    let declared = usize::try_from(body.size_hint().lower()).unwrap_or(limit);
    // What is declared, within the limit, but no more than the default limit up front: a
    // length declared under a limit of `usize::MAX` is not memory to reserve before a byte
    // has come (the buffer grows as the body arrives).
    let room = declared
        .min(limit)
        .min(harbor_events::DEFAULT_MAX_BODY_BYTES);
    let mut copy = BytesMut::with_capacity(room);
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    copy.extend_from_slice(data);
                }
            }
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(harbor_events::Error::BodyTooLarge {
                    size: limit.saturating_add(1),
                    limit,
                });
            }
            // The sender went away or sent a broken body: nothing to store, and not Harbor's
            // (empty) endpoint test either.
            Err(e) => return Err(harbor_events::Error::IncompleteBody(e)),
        }
    }
    Ok(copy.freeze())
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http_body_util::BodyExt as _;
    use hyper::body::Frame;

    use super::*;

    /// A body of one frame, `{"type"`, that then breaks (a chunked body with a bad chunk
    /// size) or ends, declaring `declared` bytes.
    struct Body {
        sent: bool,
        breaks: bool,
        declared: u64,
    }

    impl HttpBody for Body {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            if !std::mem::replace(&mut self.sent, true) {
                Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"{\"type\"")))))
            } else if self.breaks {
                Poll::Ready(Some(Err(std::io::Error::other("invalid chunk size line"))))
            } else {
                Poll::Ready(None)
            }
        }

        fn size_hint(&self) -> hyper::body::SizeHint {
            hyper::body::SizeHint::with_exact(self.declared)
        }
    }

    fn post(body: Body) -> http::Request<Body> {
        http::Request::post("/webhook")
            .header(header::AUTHORIZATION, "Bearer k")
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .unwrap()
    }

    /// Serving pauses a second after an accept error such as too many open files; a
    /// shutdown during that pause ends it at once. (Provoking `EMFILE` in `serve` itself
    /// would take the whole test process's file limit down.)
    #[tokio::test]
    async fn a_shutdown_ends_the_pause_after_an_accept_error() {
        let error = std::io::Error::other("too many open files");
        let started = std::time::Instant::now();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = std::pin::pin!(async move {
            let _ = stopped.await;
        });
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = stop.send(());
        });
        assert!(pause_after_accept_error(&error, shutdown).await);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        // Without a shutdown it pauses, and serving goes on.
        let never = std::pin::pin!(std::future::pending::<()>());
        let started = std::time::Instant::now();
        assert!(!pause_after_accept_error(&error, never).await);
        assert!(started.elapsed() >= Duration::from_millis(900));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let never = std::pin::pin!(std::future::pending::<()>());
        assert!(!pause_after_accept_error(&reset, never).await);
    }

    #[tokio::test]
    async fn a_huge_declared_length_under_an_unbounded_limit_reserves_nothing_huge() {
        let decoder = Decoder::new()
            .max_body_bytes(usize::MAX)
            .auth_header("Bearer k");
        let receiver = Receiver::new(decoder, crate::MemoryInbox::new());
        let body = Body {
            sent: false,
            breaks: false,
            declared: 1 << 50,
        };
        let response = handle(&receiver, post(body)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn a_body_that_breaks_is_400_and_not_taken_for_the_endpoint_test() {
        let inbox = crate::MemoryInbox::new();
        let receiver = Receiver::new(Decoder::new().auth_header("Bearer k"), inbox.clone());
        let body = Body {
            sent: false,
            breaks: true,
            declared: 500,
        };
        let response = handle(&receiver, post(body)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let text = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&text);
        assert!(text.contains("did not arrive whole"), "{text}");
        assert_eq!(inbox.pending(), 0);
    }
}
