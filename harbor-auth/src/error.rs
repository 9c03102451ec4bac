//! The crate's one error type.

use std::fmt;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `harbor-auth`.
///
/// No variant ever carries a password, a token or any other secret: messages name the field
/// or the URL at fault, never its secret value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `WWW-Authenticate` header value does not follow RFC 7235.
    #[error(
        "invalid WWW-Authenticate challenge at byte {position}: {reason}; \
         the server sent a header that is not an RFC 7235 challenge list"
    )]
    InvalidChallenge {
        /// Byte offset in the header value where parsing stopped.
        position: usize,
        /// What was expected there.
        reason: &'static str,
    },

    /// A Bearer challenge lacks a parameter the token flow needs (`realm`).
    #[error(
        "the Bearer challenge has no `{param}` parameter; \
         the registry must send `Bearer realm=\"...\"` to use token auth"
    )]
    MissingChallengeParam {
        /// The missing parameter.
        param: &'static str,
    },

    /// A scope string does not follow the registry scope grammar.
    #[error(
        "invalid scope {excerpt:?}: {reason}; expected `type:name:action[,action]`, \
         e.g. `repository:library/alpine:pull`"
    )]
    InvalidScope {
        /// The offending text (at most 64 characters).
        excerpt: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A token response body could not be decoded.
    #[error(
        "invalid token response at `{path}`: {message}; \
         the token server did not answer with a registry token response"
    )]
    InvalidTokenResponse {
        /// JSON path of the offending field (`.` for the document itself).
        path: String,
        /// What was wrong.
        message: String,
    },

    /// A token response carried neither a non-empty `token` nor a non-empty `access_token`.
    #[error(
        "the token response has neither a non-empty `token` nor `access_token`; \
         the credentials may be wrong or the realm is not a registry token service"
    )]
    MissingToken,

    /// Credentials are malformed (for example a robot name without the `robot$` prefix).
    #[error("invalid credentials: {reason}")]
    InvalidCredentials {
        /// What is wrong with them.
        reason: &'static str,
    },

    /// The token realm is not a usable URL, or the realm policy forbids it.
    #[error("token realm {realm:?} refused: {reason}")]
    RealmRejected {
        /// The realm URL as the challenge gave it.
        realm: String,
        /// Why it was refused and how to allow it.
        reason: &'static str,
    },

    /// The HTTP request to the token realm failed before a response arrived.
    #[cfg(feature = "fetch")]
    #[error("token request to {realm} failed: {source}")]
    Transport {
        /// The realm URL (without query).
        realm: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },

    /// The token endpoint answered with a non-success status.
    #[error(
        "the token endpoint answered HTTP {status}{}{}",
        if body_excerpt.is_empty() { "" } else { ": " },
        body_excerpt
    )]
    TokenEndpoint {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body, for diagnostics (at most 200 characters).
        body_excerpt: String,
    },

    /// A response body exceeded the configured size limit.
    #[error(
        "the response body exceeds the limit of {limit} bytes; raise the limit if this is expected"
    )]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },

    /// A docker or podman config file could not be read or decoded.
    #[cfg(feature = "docker-config")]
    #[error("cannot use the registry auth file {}: {message}", path.display())]
    DockerConfig {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },

    /// A `docker-credential-<name>` helper failed, timed out or answered nonsense.
    #[cfg(feature = "docker-config")]
    #[error("credential helper `docker-credential-{helper}` failed: {reason}")]
    CredentialHelper {
        /// The helper name (the part after `docker-credential-`).
        helper: String,
        /// What happened (never the helper's output).
        reason: String,
    },

    /// A signing key, certificate or trust bundle could not be used.
    #[cfg(feature = "server")]
    #[error("key or certificate rejected: {reason}")]
    Key {
        /// What is wrong with it.
        reason: String,
    },

    /// An htpasswd file could not be read or holds a line that is not `user:bcrypt-hash`.
    #[cfg(feature = "server")]
    #[error("htpasswd rejected: {reason}")]
    Htpasswd {
        /// What is wrong (the line number, never the hash).
        reason: String,
    },

    /// A token was refused by the [`TokenVerifier`](crate::server::TokenVerifier).
    #[cfg(feature = "server")]
    #[error("token rejected: {0}")]
    TokenRejected(TokenRejection),

    /// The token endpoint could not authenticate the caller.
    #[cfg(feature = "server")]
    #[error("authentication failed: wrong user name or password")]
    Unauthenticated,
}

impl Error {
    /// Why a token was refused, when this error is a token rejection.
    pub fn token_rejection(&self) -> Option<TokenRejection> {
        match self {
            #[cfg(feature = "server")]
            Self::TokenRejected(r) => Some(*r),
            _ => None,
        }
    }

    /// The HTTP status the token endpoint answered, if this error is one (the same type as
    /// `harbor_client::Error::status` and `harbor_events::Error::status`).
    pub fn status(&self) -> Option<http::StatusCode> {
        match self {
            Self::TokenEndpoint { status, .. } => http::StatusCode::from_u16(*status).ok(),
            #[cfg(feature = "fetch")]
            Self::Transport { source, .. } => source.status(),
            _ => None,
        }
    }

    pub(crate) fn invalid_scope(input: &str, reason: &'static str) -> Self {
        Self::InvalidScope {
            excerpt: excerpt(input, 64),
            reason,
        }
    }
}

/// Why a registry token was refused by a verifier.
///
/// The same reasons make a `distribution` registry answer `401 invalid_token` (or
/// `insufficient_scope` for [`TokenRejection::InsufficientAccess`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenRejection {
    /// Not a compact JWS, or the header or claims are not valid JSON of the expected shape
    /// (a member given twice included).
    Malformed,
    /// Longer than a verifier reads (see `server::MAX_TOKEN_LEN`).
    TooLarge,
    /// The `alg` is not one the signing key supports (`none`, HMAC with a public key, ...).
    UnsupportedAlgorithm,
    /// No trusted key matches the `kid` (and there is no usable `x5c`).
    UnknownKey,
    /// The `x5c` chain does not verify up to a certificate in the trust bundle.
    UntrustedChain,
    /// The signature does not verify (tampered header or payload, or the wrong key).
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iss` is not a trusted issuer.
    WrongIssuer,
    /// `aud` is not this service.
    WrongAudience,
    /// The token is valid but does not grant the requested access.
    InsufficientAccess,
}

impl fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "malformed token",
            Self::TooLarge => "token too large",
            Self::UnsupportedAlgorithm => "algorithm not allowed for this key",
            Self::UnknownKey => "no trusted key matches the token's kid",
            Self::UntrustedChain => "the x5c chain is not rooted in the trust bundle",
            Self::BadSignature => "signature does not verify",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not yet valid",
            Self::WrongIssuer => "untrusted issuer",
            Self::WrongAudience => "wrong audience",
            Self::InsufficientAccess => "token does not grant the requested access",
        })
    }
}

/// The first `max` characters of `s`, with `...` when cut.
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().nth(max).is_some() {
        out.push_str("...");
    }
    out
}
