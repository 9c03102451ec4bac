//! The crate's error type: one enum, classed by where a call failed.

use std::fmt;
use std::path::PathBuf;

use http::{Method, StatusCode};
use serde::Deserialize;
use url::Url;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `harbor-client`.
///
/// Variants say where the call failed: while building ([`Error::Config`]), on bad input
/// ([`Error::InvalidInput`]), on the wire ([`Error::Transport`]), in authentication
/// ([`Error::Auth`]), as an answer from the server ([`Error::Api`]), while decoding an answer
/// ([`Error::Decode`]), while verifying content ([`Error::DigestMismatch`]), on the local disk
/// ([`Error::Io`]) or because the server broke the protocol ([`Error::Protocol`]).
///
/// Ask it questions rather than matching: [`Error::status`], [`Error::is_not_found`],
/// [`Error::is_unauthorized`], [`Error::is_retryable`], [`Error::request_id`],
/// [`Error::may_have_been_sent`].
///
/// Secrets never appear in an error: URLs are shown without their query string and user info
/// (also inside the `reqwest` error a transport failure carries: presigned storage URLs hold
/// their signature there), and body excerpts have the values of secret-looking JSON members
/// (`secret`, `password`, `token`, ...) replaced by `[REDACTED]` (a robot account's creation
/// answer holds its secret).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client could not be built; fix the configuration named in the message.
    #[error("invalid client configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// An argument was rejected before anything was sent (a bad reference, digest, name or tag).
    #[error("invalid {kind} {input:?}: {reason}")]
    InvalidInput {
        /// What kind of value it was (`"reference"`, `"digest"`, ...).
        kind: &'static str,
        /// The rejected input (never a secret).
        input: String,
        /// Why it was rejected.
        reason: String,
    },

    /// The request could not be completed on the wire (DNS, connect, TLS, timeout, a cut
    /// connection). Check the address and the network; idempotent requests were retried already.
    #[error("{method} {url}: {}: {source}", if *may_have_been_sent { "request failed after it may have been sent" } else { "request could not be sent" })]
    Transport {
        /// The request method.
        method: Method,
        /// The request URL, without query and user info.
        url: String,
        /// Whether the server may have received (part of) the request.
        may_have_been_sent: bool,
        /// The underlying HTTP client error.
        #[source]
        source: reqwest::Error,
    },

    /// Nothing moved on a request with a body for the transport's read timeout
    /// ([`TransportBuilder::read_timeout`](crate::transport::TransportBuilder::read_timeout)):
    /// the server stopped taking the body, or did not answer after its last byte. A transfer
    /// that keeps moving is never cut, however long it takes. Retryable like a cut
    /// connection (uploads resume where the registry stands); raise the timeout for a server
    /// that is slow to answer.
    #[error("{method} {url}: nothing moved for {idle:?} {} (the read timeout)", if *body_sent { "after the request body was sent: no answer" } else { "while the request body was being sent" })]
    Stalled {
        /// The request method.
        method: Method,
        /// The request URL, without query and user info.
        url: String,
        /// The read timeout that passed without progress.
        idle: std::time::Duration,
        /// Whether the whole body had been sent (the wait was for the answer).
        body_sent: bool,
    },

    /// Authentication failed: the token service refused the credentials or answered
    /// something unusable. Check the credentials and that the account may access the resource.
    #[error("authentication failed: {message}")]
    Auth {
        /// What went wrong (never contains a secret).
        message: String,
        /// The underlying error (usually a `harbor_auth::Error`), if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The server answered with an error status.
    #[error(transparent)]
    Api(Box<ApiError>),

    /// An answer could not be decoded.
    #[error("could not decode {what} at `{path}`: {source} (body starts with {excerpt:?})")]
    Decode {
        /// What was being decoded (`"tag list"`, `"image manifest"`, ...).
        what: &'static str,
        /// The JSON path where decoding failed.
        path: String,
        /// The first bytes of the body, for diagnosis.
        excerpt: String,
        /// The underlying JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// Content did not match its digest; nothing was stored as valid. Retry the transfer; if it
    /// keeps failing the registry or something between serves corrupt data.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest that was asked for.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },

    /// A local file operation failed.
    #[error("{}: {source}", path.as_ref().map_or_else(|| "i/o error".to_owned(), |p| p.display().to_string()))]
    Io {
        /// The file or directory involved, if known.
        path: Option<PathBuf>,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// An answer was larger than the client reads for it (a manifest, a tag list or catalog
    /// page, a referrers index, an API answer); reading stopped at the limit and nothing of it
    /// was used. A registry that lists more should page (`n`/`Link`).
    #[error("the {what} is larger than {limit} bytes; refusing to read more")]
    TooLarge {
        /// What was being read (`"tag list"`, `"manifest"`, ...).
        what: &'static str,
        /// The limit in bytes.
        limit: usize,
    },

    /// The server answered in a way the protocol does not allow (a missing `Location`, a bad
    /// `Range`, a `Link` to another host, a size that does not match ...).
    #[error("protocol error: {message}")]
    Protocol {
        /// What was wrong with the answer.
        message: String,
    },

    /// A Docker schema 1 manifest was to be pushed or copied into a registry; nothing was
    /// sent. Registries refuse schema 1 (deprecated since 2015; distribution 2.8 answers a
    /// bare error). Convert the image to schema 2 first, e.g.
    /// `skopeo copy --format v2s2 docker://SOURCE docker://DESTINATION`, then copy that.
    #[error(
        "{reference}: a Docker schema 1 manifest cannot be pushed; convert the image to schema 2 first (`skopeo copy --format v2s2 docker://SOURCE docker://DESTINATION`)"
    )]
    Schema1NotPushable {
        /// Where it was to go.
        reference: String,
    },

    /// A foreign (non-distributable) layer could not be fetched from any of its `urls`; see
    /// [`ImageOptions::fetch_foreign_layers`](crate::registry::ImageOptions::fetch_foreign_layers).
    /// The layer's publisher serves it; check that the URLs are reachable from here, or leave
    /// foreign layers out (the default).
    #[error("foreign layer {digest}: none of its {} URL(s) served it{}", urls.len(), last.as_ref().map_or_else(String::new, |e| format!(" (last: {e})")))]
    ForeignLayerUnavailable {
        /// The layer.
        digest: String,
        /// The URLs tried, in order, without query and user info.
        urls: Vec<String>,
        /// Why the last URL failed (none when the layer has no usable URL).
        #[source]
        last: Option<Box<Error>>,
    },

    /// A streamed upload lost its session after the registry had acknowledged `acknowledged`
    /// bytes that the client no longer holds (a one-shot stream keeps only the chunk in
    /// flight). distribution drops an upload session after a broken request; the stream
    /// cannot be rewound, so the upload cannot go on. Upload again from the start, from a
    /// source that can be read again (a file: [`push_blob_file`](crate::registry::RegistryClient::push_blob_file)).
    #[error(
        "the registry dropped the upload session after acknowledging {acknowledged} bytes of a stream that cannot be read again; upload again from the start"
    )]
    UploadSessionLost {
        /// The bytes the registry had acknowledged before it dropped the session.
        acknowledged: u64,
        /// The registry's answer to the status request.
        #[source]
        source: Box<Error>,
    },

    /// A job (scan, replication, GC, retention run, CVE export) had not ended when the wait's
    /// deadline passed. The job goes on in Harbor; wait longer
    /// ([`WaitPolicy::deadline`](crate::api::WaitPolicy::deadline)) or look at it there.
    #[error("gave up waiting for {what} after {waited:?}: its status is still {last_status}")]
    WaitTimedOut {
        /// The job waited for (`"replication execution 42"`).
        what: String,
        /// How long the wait took.
        waited: std::time::Duration,
        /// The last status read.
        last_status: String,
    },

    /// The operation, or an optional parameter set on it, is newer than the Harbor server,
    /// which reports its version in `GET /systeminfo`; nothing was sent. Upgrade Harbor, or
    /// use an operation or parameters the server has; if the reported version is wrong, set
    /// [`VersionCheck`](crate::api::VersionCheck) to `Assume` or `Off`.
    #[error("{operation} needs Harbor {since} or later; the server runs Harbor {server}")]
    UnsupportedByServer {
        /// The spec's `operationId`, followed by ` with PARAMETER` when a parameter is what
        /// the server lacks (`listProjects with q`).
        operation: &'static str,
        /// The first Harbor release that has the operation (or the parameter).
        since: crate::api::HarborVersion,
        /// The server's version.
        server: crate::api::HarborVersion,
    },

    /// The operation was removed from Harbor in a release no newer than the server's, which
    /// reports its version in `GET /systeminfo`; nothing was sent. Use what replaced it (the
    /// method's docs name it); if the reported version is wrong, set
    /// [`VersionCheck`](crate::api::VersionCheck) to `Assume` or `Off`.
    #[error("{operation} was removed in Harbor {removed_in}; the server runs Harbor {server}")]
    RemovedFromServer {
        /// The `operationId` the operation had in Harbor's spec.
        operation: &'static str,
        /// The first Harbor release without the operation.
        removed_in: crate::api::HarborVersion,
        /// The server's version.
        server: crate::api::HarborVersion,
    },
}

impl Error {
    /// The HTTP status of an [`Error::Api`] error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Transport { source, .. } => source.status(),
            _ => None,
        }
    }

    /// Whether the resource does not exist (404, or a `*_UNKNOWN` / `NOT_FOUND` code).
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Api(e) => {
                e.status == StatusCode::NOT_FOUND
                    || e.errors.iter().any(|x| {
                        matches!(
                            x.code,
                            ErrorCode::BlobUnknown
                                | ErrorCode::ManifestUnknown
                                | ErrorCode::NameUnknown
                                | ErrorCode::NotFound
                        )
                    })
            }
            _ => false,
        }
    }

    /// Whether the server refused the credentials or the token (401), or authentication failed.
    pub fn is_unauthorized(&self) -> bool {
        match self {
            Error::Api(e) => e.status == StatusCode::UNAUTHORIZED,
            Error::Auth { .. } => true,
            _ => false,
        }
    }

    /// Whether the operation was forbidden (403, `FORBIDDEN`, `DENIED`): the account lacks the
    /// permission, or (for a pull) a project policy refused it.
    pub fn is_forbidden(&self) -> bool {
        self.api_is(
            StatusCode::FORBIDDEN,
            &[ErrorCode::Forbidden, ErrorCode::Denied],
        )
    }

    /// Whether the resource already exists or conflicts with another (409, `CONFLICT`): in a
    /// create-if-absent script, "it is there already".
    ///
    /// ```no_run
    /// # async fn f(client: harbor_client::api::HarborClient) -> harbor_client::Result<()> {
    /// use harbor_client::api::{CreateProjectParams, models::ProjectReq};
    /// match client
    ///     .create_project(&ProjectReq::new("team"), &CreateProjectParams::default())
    ///     .await
    /// {
    ///     Ok(_) => println!("created"),
    ///     Err(e) if e.is_conflict() => println!("exists already"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn is_conflict(&self) -> bool {
        self.api_is(StatusCode::CONFLICT, &[ErrorCode::Conflict])
    }

    /// Whether a precondition failed (412, `PRECONDITION`, `VIOLATE_FOREIGN_KEY_CONSTRAINT`):
    /// typically the resource is still in use (a project with repositories, a registry a
    /// replication policy uses).
    pub fn is_precondition_failed(&self) -> bool {
        self.api_is(
            StatusCode::PRECONDITION_FAILED,
            &[
                ErrorCode::Precondition,
                ErrorCode::ViolateForeignKeyConstraint,
            ],
        )
    }

    /// Whether the server rejected the request as invalid (400, `BAD_REQUEST`, or 422,
    /// `UNPROCESSABLE_ENTITY`): fix the arguments; repeating it will not help.
    pub fn is_bad_request(&self) -> bool {
        self.api_is(StatusCode::BAD_REQUEST, &[ErrorCode::BadRequest])
            || self.api_is(
                StatusCode::UNPROCESSABLE_ENTITY,
                &[ErrorCode::UnprocessableEntity],
            )
    }

    /// Whether the server rate-limited the request (429, `TOO_MANY_REQUEST`,
    /// `TOOMANYREQUESTS`); retry later.
    pub fn is_rate_limited(&self) -> bool {
        self.api_is(
            StatusCode::TOO_MANY_REQUESTS,
            &[ErrorCode::TooManyRequest, ErrorCode::TooManyRequests],
        )
    }

    /// Whether the server failed (5xx, `INTERNAL_SERVER_ERROR`, `UNKNOWN`).
    pub fn is_server_error(&self) -> bool {
        match self {
            Error::Api(e) => {
                e.status.is_server_error()
                    || e.has_code(&ErrorCode::InternalServerError)
                    || e.has_code(&ErrorCode::Unknown)
            }
            _ => false,
        }
    }

    /// The first code of the error envelope of an [`Error::Api`] error (Harbor sends one).
    pub fn code(&self) -> Option<&ErrorCode> {
        self.api()?.errors.first().map(|e| &e.code)
    }

    /// The API resource a failed Harbor API call addressed, named from the operation and its
    /// path arguments (`` project `team` ``, `` artifact `team/app@sha256:…` ``); with a 404 it
    /// is the resource that was not found (or a parent of it).
    pub fn resource(&self) -> Option<&str> {
        self.api()?.resource.as_deref()
    }

    fn api_is(&self, status: StatusCode, codes: &[ErrorCode]) -> bool {
        match self {
            Error::Api(e) => e.status == status || codes.iter().any(|c| e.has_code(c)),
            _ => false,
        }
    }

    /// Whether trying again later may succeed (408, 429, 5xx, timeouts, cut connections,
    /// digest mismatches).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => is_retryable_status(e.status),
            Error::Transport { .. } | Error::Stalled { .. } | Error::DigestMismatch { .. } => true,
            _ => false,
        }
    }

    /// Whether the request timed out (nothing moved for the read timeout: [`Error::Stalled`],
    /// or a timeout on the wire), or a wait for a job passed its deadline
    /// ([`Error::WaitTimedOut`]).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Transport { source, .. } if source.is_timeout())
            || matches!(self, Error::Stalled { .. } | Error::WaitTimedOut { .. })
    }

    /// How long the server asked to wait before trying again (`Retry-After`).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::Api(e) => e.retry_after,
            _ => None,
        }
    }

    /// The request quota the server stated with an error answer (`RateLimit-*` headers).
    pub fn rate_limit(&self) -> Option<crate::transport::RateLimit> {
        match self {
            Error::Api(e) => e.rate_limit,
            _ => None,
        }
    }

    /// The `X-Request-Id` the server sent with an error answer.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api(e) => e.request_id.as_deref(),
            _ => None,
        }
    }

    /// Whether the server may have received the request (for deciding whether a
    /// non-idempotent call may be repeated safely).
    pub fn may_have_been_sent(&self) -> bool {
        match self {
            Error::Transport {
                may_have_been_sent, ..
            } => *may_have_been_sent,
            Error::Config { .. }
            | Error::InvalidInput { .. }
            | Error::UnsupportedByServer { .. }
            | Error::RemovedFromServer { .. } => false,
            _ => true,
        }
    }

    /// The API error details, when the server answered with an error status.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn invalid(kind: &'static str, input: &str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            kind,
            input: truncate(input, 300),
            reason: reason.into(),
        }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Error::Protocol {
            message: message.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: Some(path.into()),
            source,
        }
    }

    pub(crate) fn transport(method: &Method, url: &Url, source: reqwest::Error) -> Self {
        let may_have_been_sent = !source.is_connect() && !source.is_builder();
        Error::Transport {
            method: method.clone(),
            url: display_url(url),
            may_have_been_sent,
            // reqwest prints the whole URL, query (a storage signature) included.
            source: source.without_url(),
        }
    }

    pub(crate) fn decode(
        what: &'static str,
        body: &[u8],
        err: serde_path_to_error::Error<serde_json::Error>,
    ) -> Self {
        let path = err.path().to_string();
        let source = err.into_inner();
        // serde's message may quote the offending value: not when the member holds a secret.
        let secret_member = path.rsplit(['.', '[']).next().is_some_and(is_sensitive_key);
        let source = if secret_member {
            <serde_json::Error as serde::de::Error>::custom(format!(
                "invalid value (not shown: the member holds a secret) at line {} column {}",
                source.line(),
                source.column()
            ))
        } else {
            source
        };
        Error::Decode {
            what,
            path,
            excerpt: excerpt(body),
            source,
        }
    }
}

/// Whether a status is worth retrying (408, 429, 5xx other than 501 and 505).
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504 | 599)
}

/// An error answer from a registry or from the Harbor API.
///
/// Holds the status, the `{"errors":[...]}` envelope (OCI and Harbor codes; unknown codes are
/// kept as text), the `X-Request-Id` and the request that failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The entries of the error envelope (empty when the body was not one).
    pub errors: Vec<ErrorEntry>,
    /// The `X-Request-Id` response header.
    pub request_id: Option<String>,
    /// The request method.
    pub method: Method,
    /// The request URL, without query and user info.
    pub url: String,
    /// The start of the body when it was not an error envelope.
    pub body_excerpt: Option<String>,
    /// `Warning` headers the server sent (reported, never acted on).
    pub warnings: Vec<String>,
    /// How long the server asked to wait (`Retry-After`, seconds or a date), typically with a
    /// `429` or `503`.
    pub retry_after: Option<std::time::Duration>,
    /// The request quota the server stated (`RateLimit-Limit`/`RateLimit-Remaining`).
    pub rate_limit: Option<crate::transport::RateLimit>,
    /// For a Harbor API call, the resource it addressed, named from the operation and its
    /// path arguments (`` project `team` ``); see [`Error::resource`].
    pub resource: Option<String>,
}

impl ApiError {
    /// Builds the error for an answer, from its parts. `body` may be empty.
    pub fn from_parts(
        method: &Method,
        url: &Url,
        status: StatusCode,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            #[serde(default)]
            errors: Option<Vec<ErrorEntry>>,
        }
        let errors = serde_json::from_slice::<Envelope>(body)
            .ok()
            .and_then(|e| e.errors)
            .unwrap_or_default();
        let body_excerpt = (errors.is_empty() && !body.is_empty()).then(|| excerpt(body));
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let warnings = headers
            .get_all(http::header::WARNING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|s| truncate(s, 4096))
            .collect();
        let retry_after = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                crate::transport::parse_retry_after(v.trim(), std::time::SystemTime::now())
            });
        ApiError {
            status,
            errors,
            request_id,
            method: method.clone(),
            url: display_url(url),
            body_excerpt,
            warnings,
            retry_after,
            rate_limit: crate::transport::RateLimit::from_headers(headers),
            resource: None,
        }
    }

    /// Whether any envelope entry carries `code`.
    pub fn has_code(&self, code: &ErrorCode) -> bool {
        self.errors.iter().any(|e| &e.code == code)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.method, self.url, self.status)?;
        for (i, e) in self.errors.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{}", e.code)?;
            if !e.message.is_empty() {
                write!(f, " ({})", e.message)?;
            }
        }
        if let Some(b) = &self.body_excerpt {
            write!(f, ": {b:?}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        let hint = match self.status.as_u16() {
            401 => " - check the credentials",
            403 => " - the account lacks permission for this operation",
            404 => match &self.resource {
                Some(r) => return write!(f, " - {r} not found"),
                None => " - check the repository and reference",
            },
            409 => " - it exists already or conflicts with another resource",
            412 => " - a precondition failed (is it still in use?)",
            429 => " - rate limited, retry later",
            _ => "",
        };
        f.write_str(hint)?;
        if let Some(d) = self.retry_after {
            write!(f, " (retry after {} s)", d.as_secs())?;
        }
        if let Some(q) = &self.rate_limit {
            write!(f, " ({q})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl From<harbor_auth::Error> for Error {
    /// An authentication error (bad credentials given in code, a token service that refused,
    /// a realm that may not be contacted); the `harbor-auth` error stays the source.
    fn from(e: harbor_auth::Error) -> Self {
        Error::Auth {
            message: e.to_string(),
            source: Some(Box::new(e)),
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

/// One entry of the `{"errors":[...]}` envelope.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct ErrorEntry {
    /// The error code.
    pub code: ErrorCode,
    /// The message, possibly empty.
    #[serde(default)]
    pub message: String,
    /// Extra detail, as sent.
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

/// Declares [`ErrorCode`] from one table (variant, wire text, doc): the enum, its wire text and
/// its parsing follow from the same row.
macro_rules! error_codes {
    ($($variant:ident = $wire:literal, $doc:literal;)*) => {
        /// An error code from the OCI distribution spec, distribution or Harbor.
        ///
        /// Harbor's own codes are the ones of its `src/lib/errors` package and of its API
        /// middleware; a code no variant names is kept as [`ErrorCode::Other`]. Prefer the
        /// predicates of [`Error`] ([`Error::is_conflict`], [`Error::is_not_found`], ...),
        /// which also look at the status.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(#[doc = concat!("`", $wire, "`: ", $doc)] $variant,)*
            /// Any other code, kept as sent.
            Other(String),
        }

        impl ErrorCode {
            /// The code as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => $wire,)*
                    ErrorCode::Other(s) => s,
                }
            }
        }

        impl From<&str> for ErrorCode {
            fn from(s: &str) -> Self {
                match s {
                    $($wire => ErrorCode::$variant,)*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    BlobUnknown = "BLOB_UNKNOWN", "the blob does not exist (OCI).";
    BlobUploadInvalid = "BLOB_UPLOAD_INVALID", "the upload is invalid (OCI).";
    BlobUploadUnknown = "BLOB_UPLOAD_UNKNOWN", "the upload session does not exist (OCI).";
    DigestInvalid = "DIGEST_INVALID", "the content does not match its digest (OCI, Harbor).";
    ManifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN", "a blob the manifest references is missing (OCI).";
    ManifestInvalid = "MANIFEST_INVALID", "the manifest is invalid (OCI, Harbor).";
    ManifestUnknown = "MANIFEST_UNKNOWN", "the manifest does not exist (OCI).";
    NameInvalid = "NAME_INVALID", "the repository name is invalid (OCI).";
    NameUnknown = "NAME_UNKNOWN", "the repository does not exist (OCI).";
    SizeInvalid = "SIZE_INVALID", "the content does not match its size (OCI).";
    Unauthorized = "UNAUTHORIZED", "authentication is required or failed (401; OCI, Harbor).";
    Denied = "DENIED", "access was denied (OCI; Harbor's read-only, vulnerability and signature policies).";
    Unsupported = "UNSUPPORTED", "the operation is not supported (OCI, Harbor).";
    TooManyRequests = "TOOMANYREQUESTS", "rate limited (429, OCI).";
    RangeInvalid = "RANGE_INVALID", "the upload range is invalid (distribution).";
    NotFound = "NOT_FOUND", "the resource does not exist (404, Harbor).";
    Forbidden = "FORBIDDEN", "the account lacks the permission (403, Harbor).";
    Conflict = "CONFLICT", "the resource already exists or conflicts with another (409, Harbor).";
    Precondition = "PRECONDITION", "a precondition failed, e.g. the resource is still in use (412, Harbor).";
    ViolateForeignKeyConstraint = "VIOLATE_FOREIGN_KEY_CONSTRAINT", "other resources still refer to this one (412, Harbor).";
    BadRequest = "BAD_REQUEST", "the request is invalid (400, Harbor).";
    UnprocessableEntity = "UNPROCESSABLE_ENTITY", "the request does not match the API's schema (422, Harbor).";
    TooManyRequest = "TOO_MANY_REQUEST", "rate limited (429, Harbor's spelling).";
    MethodNotAllowed = "METHOD_NOT_ALLOWED", "the method is not allowed on the path (405, Harbor).";
    InternalServerError = "INTERNAL_SERVER_ERROR", "the server failed (500, Harbor).";
    Unknown = "UNKNOWN", "an unclassified server failure (500, Harbor's general code).";
    ProjectPolicyViolation = "PROJECTPOLICYVIOLATION", "a project policy refused the request (Harbor).";
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(ErrorCode::from(s.as_str()))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A URL as shown in errors and logs: no user info, no query (upload and storage URLs carry
/// signed state there).
pub(crate) fn display_url(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// `url` as given, with whatever stands before the last `@` of its authority (after `://`,
/// or from the start without a scheme) replaced by `***`: for messages about a URL that may
/// not parse.
pub(crate) fn redact_user_info(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}***@{host}{tail}"),
        None => url.to_owned(),
    }
}

/// The start of a body for an error message (200 characters at most), with the values of
/// secret-looking JSON members redacted.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let head = String::from_utf8_lossy(body.get(..body.len().min(4096)).unwrap_or_default());
    redact_json_secrets(&head).chars().take(200).collect()
}

/// Whether a JSON member name looks like it holds a secret.
fn is_sensitive_key(key: &str) -> bool {
    let k = key
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_ascii_lowercase();
    [
        "secret",
        "password",
        "passwd",
        "token",
        "credential",
        "private_key",
        "privatekey",
    ]
    .iter()
    .any(|s| k.contains(s))
        || k == "auth"
        || k == "key"
}

/// JSON-ish text with the string values of secret-looking members replaced by
/// `"[REDACTED]"`. Tolerant of cut or invalid JSON: a string that does not end is redacted to
/// the end when it is such a value.
fn redact_json_secrets(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    let mut redact_next = false;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'"') => {
                // Find the end of the string (after the closing quote), skipping escapes.
                let mut j = i + 1;
                while j < bytes.len() && bytes.get(j) != Some(&b'"') {
                    j += if bytes.get(j) == Some(&b'\\') { 2 } else { 1 };
                }
                let end = (j + 1).min(bytes.len());
                let mut k = end;
                while bytes.get(k).is_some_and(u8::is_ascii_whitespace) {
                    k += 1;
                }
                if bytes.get(k) == Some(&b':') {
                    let key = text.get(i + 1..j.min(bytes.len())).unwrap_or_default();
                    redact_next = is_sensitive_key(key);
                } else if redact_next {
                    out.push_str(text.get(copied..i).unwrap_or_default());
                    out.push_str("\"[REDACTED]\"");
                    copied = end;
                    redact_next = false;
                }
                i = end;
            }
            Some(b) if b.is_ascii_whitespace() || *b == b':' => i += 1,
            Some(_) => {
                redact_next = false;
                i += 1;
            }
            None => break,
        }
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", s.get(..end).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_redacted_from_text_that_may_not_parse() {
        assert_eq!(
            redact_user_info("https://a:b@c@h:1/p@q?x=@#@"),
            "https://***@h:1/p@q?x=@#@"
        );
        assert_eq!(redact_user_info("not a url"), "not a url");
        assert_eq!(redact_user_info("a:b@h/p"), "***@h/p");
    }

    #[test]
    fn envelope_is_parsed_and_unknown_codes_kept() {
        let url = Url::parse("http://r.example/v2/a/manifests/x?_state=secret").unwrap();
        let mut h = http::HeaderMap::new();
        h.insert("x-request-id", "abc".parse().unwrap());
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"nope"},{"code":"WEIRD"}]}"#;
        let e = ApiError::from_parts(&Method::GET, &url, StatusCode::NOT_FOUND, &h, body);
        assert_eq!(e.errors.len(), 2);
        assert_eq!(e.errors[1].code, ErrorCode::Other("WEIRD".into()));
        let err = Error::from(e);
        assert!(err.is_not_found());
        assert_eq!(err.request_id(), Some("abc"));
        let text = err.to_string();
        assert!(text.contains("MANIFEST_UNKNOWN (nope)"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn secret_members_are_redacted_in_excerpts() {
        // The answer to a robot account's creation, in a shape the model does not expect.
        let body = br#"{"id":"not-a-number","name":"robot$ci","secret":"TOPSECRET-1","expires_at":-1,"nested":{"password" : "TOPSECRET-2","token":"TOPSECRET-3\" still"},"n":1}"#;
        let text = excerpt(body);
        for s in ["TOPSECRET-1", "TOPSECRET-2", "TOPSECRET-3", "still"] {
            assert!(!text.contains(s), "{text}");
        }
        assert!(text.contains(r#""name":"robot$ci""#), "{text}");
        assert!(text.contains(r#""secret":"[REDACTED]""#), "{text}");
        // Cut in the middle of the secret: redacted to the end.
        let cut = excerpt(br#"{"name":"robot$ci","secret":"TOPSEC"#);
        assert!(!cut.contains("TOPSEC"), "{cut}");
        // A decode error whose offending value is the secret does not quote it either.
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Robot {
            secret: u64,
        }
        let body = br#"{"secret":"TOPSECRET-4"}"#;
        let de = &mut serde_json::Deserializer::from_slice(body);
        let e = serde_path_to_error::deserialize::<_, Robot>(de).unwrap_err();
        let e = Error::decode("robot", body, e);
        let shown = format!("{e} / {e:?}");
        assert!(!shown.contains("TOPSECRET-4"), "{shown}");
        assert!(shown.contains("secret"), "{shown}");
    }

    #[test]
    fn non_json_body_is_kept_as_excerpt() {
        let url = Url::parse("http://r.example/v2/").unwrap();
        let e = ApiError::from_parts(
            &Method::GET,
            &url,
            StatusCode::BAD_GATEWAY,
            &http::HeaderMap::new(),
            b"<html>bad gateway</html>",
        );
        assert!(e.errors.is_empty());
        assert_eq!(e.body_excerpt.as_deref(), Some("<html>bad gateway</html>"));
        assert!(Error::from(e).is_retryable());
    }
}
