//! An [axum](https://docs.rs/axum) 0.8 extractor for Harbor webhooks (feature `axum`).
//!
//! [`HarborWebhook`] takes the [`Decoder`] from the router state ([`FromRef`]), checks the
//! `Authorization` header before reading the body, reads at most the decoder's limit, and
//! decodes. It rejects with 401 (auth), 413 (too large), 415 (Content-Type) or 400 (an
//! invalid body, or one that did not arrive whole); the response body is the error message,
//! which never holds a secret.
//!
//! An **empty body** (Harbor 1.9 to 2.2's "test endpoint" request, which carries no
//! `Authorization`) is answered `200` with nothing in it, and your handler is not called:
//! a body declared empty (`Content-Length: 0`, or no body at all) before the `Authorization`
//! check, a body of only whitespace after it (the body of a request that fails the check is
//! never read).
//!
//! ```no_run
//! use axum::{Router, http::StatusCode, routing::post};
//! use harbor_events::{Decoder, axum::HarborWebhook};
//!
//! async fn receive(HarborWebhook(payload): HarborWebhook) -> StatusCode {
//!     for event in payload.events() {
//!         // Hand the event to a worker (a bounded channel) and answer at once:
//!         // Harbor 2.8+ gives up after 3 s and retries.
//!         println!("{event}");
//!     }
//!     StatusCode::NO_CONTENT
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let decoder = Decoder::new().auth_header("Bearer s3cret");
//! let app = Router::new().route("/webhook", post(receive)).with_state(decoder);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

use axum::body::HttpBody as _;
use axum::extract::{FromRef, FromRequest, Request};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::{Decoder, Error, Event, Payload};

/// A decoded webhook request: the owned [`Payload`] in whatever format it came.
#[derive(Clone, Debug, PartialEq)]
pub struct HarborWebhook(pub Payload<'static>);

impl HarborWebhook {
    /// The unified events.
    pub fn events(&self) -> Vec<Event<'static>> {
        self.0.events()
    }

    /// The unified events, consuming the extractor.
    pub fn into_events(self) -> Vec<Event<'static>> {
        self.0.into_events()
    }
}

/// Why [`HarborWebhook`] rejected a request; answers with [`Error::status`] (`200` and no
/// body for [`Error::EmptyBody`], Harbor's endpoint test).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct WebhookRejection(pub Error);

impl From<Error> for WebhookRejection {
    fn from(error: Error) -> Self {
        WebhookRejection(error)
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        let status = self
            .0
            .status()
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_success() {
            // An empty body: acknowledged, nothing to explain.
            return status.into_response();
        }
        (status, self.0.to_string()).into_response()
    }
}

impl<S> FromRequest<S> for HarborWebhook
where
    Decoder: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let decoder = Decoder::from_ref(state);
        let (parts, body) = request.into_parts();
        // Harbor's endpoint test has no Authorization: known empty without reading anything.
        if body.size_hint().exact() == Some(0) {
            return Err(Error::EmptyBody.into());
        }
        decoder.check_authorization(&parts.headers)?;
        decoder.format_from_headers(&parts.headers)?;
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if let Some(len) = declared {
            decoder.check_len(len)?;
        }
        let limit = decoder.body_limit();
        let bytes = match Limited::new(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(Error::BodyTooLarge {
                    size: limit.saturating_add(1),
                    limit,
                }
                .into());
            }
            // The client went away or sent a broken body: nothing to decode.
            Err(e) => return Err(Error::IncompleteBody(e).into()),
        };
        let payload = decoder.decode_with_headers(&parts.headers, &bytes)?;
        Ok(HarborWebhook(payload.into_owned()))
    }
}
