//! The crate's error type.

use crate::Format;

/// Everything that can go wrong in this crate.
///
/// At the HTTP edge, [`Error::status`] gives the status to answer with. Secrets (the
/// expected or received `Authorization` value) never appear in an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `Authorization` header is missing or does not match.
    #[error(
        "the webhook request has a missing or wrong Authorization header: it must equal the \
         auth header configured in the Harbor webhook policy"
    )]
    Unauthorized,
    /// The body is larger than the decoder's limit.
    #[error(
        "the webhook body has {size} bytes, more than the limit of {limit}: raise \
         Decoder::max_body_bytes if such payloads are expected"
    )]
    BodyTooLarge {
        /// Size of the body (or a lower bound when it was cut off while reading).
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The body is empty or only whitespace: Harbor 1.9 to 2.2 send an empty body, without
    /// `Authorization`, to test an endpoint. Not a failure of the request: [`Error::status`]
    /// is `200`, and there is nothing to decode or store.
    #[error(
        "the webhook body is empty (Harbor's \"test endpoint\" request of 1.9-2.2 has no body: \
         answer it with a 2xx)"
    )]
    EmptyBody,
    /// The body did not arrive whole: the connection broke, or the sender sent a malformed
    /// chunked body. Nothing was decoded; answer `400` (the sender retries any non-2xx).
    #[error(
        "the webhook body did not arrive whole (the connection broke or the body was malformed)"
    )]
    IncompleteBody(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The `Content-Type` is not JSON.
    #[error(
        "unsupported Content-Type {content_type:?}: Harbor sends application/json or \
         application/cloudevents+json, the registry application/vnd.docker.distribution.events.v1+json"
    )]
    UnsupportedContentType {
        /// The Content-Type received (cut to 100 characters).
        content_type: String,
    },
    /// The body is not a payload of any supported format.
    #[error("invalid webhook payload at `{path}`: {message} (near `{excerpt}`)")]
    InvalidPayload {
        /// JSON path of the failure (`.` for the top level), e.g. `event_data.resources[0].tag`.
        path: String,
        /// What is wrong.
        message: String,
        /// A short excerpt of the body around the failure.
        excerpt: String,
        /// The underlying JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A text is not a valid digest, tag, repository name or image reference (see
    /// [`harbor_types::Error`]; [`Error::value_kind`] says which).
    #[error(transparent)]
    InvalidValue(#[from] harbor_types::Error),
    /// The event kind cannot be expressed in the requested format.
    #[error(
        "a {kind} event cannot be encoded in the {format} format (that Harbor version never \
         sent it): choose another format"
    )]
    UnsupportedKind {
        /// The event kind.
        kind: String,
        /// The requested format.
        format: Format,
    },
    /// Serialising to JSON failed.
    #[error("failed to encode the payload as JSON")]
    Encode(#[source] serde_json::Error),
}

impl Error {
    /// Whether the `Authorization` check failed (HTTP 401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Unauthorized)
    }

    /// Whether the body was over the limit (HTTP 413).
    pub fn is_body_too_large(&self) -> bool {
        matches!(self, Error::BodyTooLarge { .. })
    }

    /// Whether the body was empty (Harbor's endpoint test: answer `200`).
    pub fn is_empty_body(&self) -> bool {
        matches!(self, Error::EmptyBody)
    }

    /// Whether the body did not arrive whole (HTTP 400).
    pub fn is_incomplete_body(&self) -> bool {
        matches!(self, Error::IncompleteBody(_))
    }

    /// Whether the Content-Type was not JSON (HTTP 415).
    pub fn is_unsupported_content_type(&self) -> bool {
        matches!(self, Error::UnsupportedContentType { .. })
    }

    /// Whether the body was not a valid payload (HTTP 400).
    pub fn is_invalid_payload(&self) -> bool {
        matches!(self, Error::InvalidPayload { .. })
    }

    /// Whether a digest failed validation.
    pub fn is_invalid_digest(&self) -> bool {
        self.value_kind() == Some(harbor_types::ValueKind::Digest)
    }

    /// The kind of value that failed validation (digest, tag, image reference, ...).
    pub fn value_kind(&self) -> Option<harbor_types::ValueKind> {
        match self {
            Error::InvalidValue(e) => Some(e.kind()),
            _ => None,
        }
    }

    /// The JSON path of an invalid payload.
    pub fn json_path(&self) -> Option<&str> {
        match self {
            Error::InvalidPayload { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The HTTP status a webhook endpoint should answer with for this error: 401, 413,
    /// 415, 400 (an invalid body, or one that did not arrive whole), **200 for an empty
    /// body** (Harbor's "test endpoint" request: nothing to do but acknowledge it), or `None`
    /// for errors that are not about a request.
    ///
    /// Harbor retries on any non-2xx (10 attempts up to 2.7, 3 since 2.8): a 4xx for a body
    /// that will never decode only costs those retries.
    pub fn status(&self) -> Option<http::StatusCode> {
        Some(match self {
            Error::EmptyBody => http::StatusCode::OK,
            Error::Unauthorized => http::StatusCode::UNAUTHORIZED,
            Error::BodyTooLarge { .. } => http::StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedContentType { .. } => http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::InvalidPayload { .. } | Error::IncompleteBody(_) => {
                http::StatusCode::BAD_REQUEST
            }
            _ => return None,
        })
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
