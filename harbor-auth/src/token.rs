//! Token responses and expiry maths, with the clock injected.
//!
//! Rules (distribution's token spec and reference client, plus what Harbor sends):
//! - the token is `token` or `access_token`; an **empty string counts as absent** (Harbor sends
//!   `"access_token": ""` beside the real `token`); a non-empty `access_token` wins;
//! - `expires_in` defaults to 60 s and is raised to at least 60 s;
//! - `issued_at` (RFC 3339) is optional; a value in the future (clock skew) is clamped to now,
//!   and a missing one means "now";
//! - a token is renewed early: [`Token::is_fresh`] is false once less than the margin is left
//!   (a quarter of the lifetime, at most 30 s).

use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::{Error, Result};

/// The shortest lifetime a token is given, whatever the server says (the spec's floor).
pub const MIN_EXPIRES_IN: Duration = Duration::from_secs(60);

/// The longest lifetime honoured; longer values are cut to this (one year).
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(365 * 24 * 3600);

/// The most a token is renewed before it expires.
pub const MAX_RENEWAL_MARGIN: Duration = Duration::from_secs(30);

/// A decoded token response from a token realm.
///
/// ```
/// use harbor_auth::TokenResponse;
///
/// // What Harbor's /service/token sends: `access_token` present but empty.
/// let body = br#"{"token":"eyJ...","access_token":"","expires_in":1800,"issued_at":"2024-05-01T10:00:00Z"}"#;
/// let r = TokenResponse::from_slice(body)?;
/// assert_eq!(r.expires_in().as_secs(), 1800);
/// assert!(format!("{r:?}").contains("REDACTED"));
/// # Ok::<(), harbor_auth::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TokenResponse {
    token: SecretString,
    expires_in: Duration,
    issued_at: Option<SystemTime>,
    refresh_token: Option<SecretString>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Number>,
    #[serde(default)]
    issued_at: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

impl TokenResponse {
    /// Decodes a token response body.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTokenResponse`] when the body is not a JSON object of the expected shape
    /// (the error names the JSON path, never a token), [`Error::MissingToken`] when neither
    /// `token` nor `access_token` is a non-empty string.
    pub fn from_slice(body: &[u8]) -> Result<Self> {
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(Error::InvalidTokenResponse {
                path: ".".to_owned(),
                message: "expected a JSON object".to_owned(),
            });
        }
        let de = &mut serde_json::Deserializer::from_slice(body);
        let wire: Wire = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            Error::InvalidTokenResponse {
                path,
                message: classify(&inner),
            }
        })?;
        let token = non_empty(wire.access_token)
            .or(non_empty(wire.token))
            .ok_or(Error::MissingToken)?;
        let expires_in = match wire.expires_in {
            None => MIN_EXPIRES_IN,
            Some(n) => {
                let secs = n.as_f64().unwrap_or(0.0);
                if secs.is_nan() || secs < MIN_EXPIRES_IN.as_secs_f64() {
                    MIN_EXPIRES_IN
                } else if secs > MAX_EXPIRES_IN.as_secs_f64() {
                    MAX_EXPIRES_IN
                } else {
                    Duration::from_secs_f64(secs)
                }
            }
        };
        let issued_at = match non_empty(wire.issued_at) {
            None => None,
            Some(s) => Some(
                chrono::DateTime::parse_from_rfc3339(&s)
                    .map_err(|_| Error::InvalidTokenResponse {
                        path: "issued_at".to_owned(),
                        message: "not an RFC 3339 timestamp".to_owned(),
                    })
                    .map(|t| SystemTime::from(t.with_timezone(&chrono::Utc)))?,
            ),
        };
        Ok(Self {
            token: token.into(),
            expires_in,
            issued_at,
            refresh_token: non_empty(wire.refresh_token).map(Into::into),
            scope: non_empty(wire.scope),
        })
    }

    /// A response built by hand (a token from elsewhere, tests).
    pub fn new(token: SecretString, expires_in: Duration) -> Self {
        Self {
            token,
            expires_in: expires_in.clamp(MIN_EXPIRES_IN, MAX_EXPIRES_IN),
            issued_at: None,
            refresh_token: None,
            scope: None,
        }
    }

    /// The bearer token.
    pub fn token(&self) -> &SecretString {
        &self.token
    }

    /// The lifetime after the floor of 60 s.
    pub fn expires_in(&self) -> Duration {
        self.expires_in
    }

    /// The server's `issued_at`, when sent.
    pub fn issued_at(&self) -> Option<SystemTime> {
        self.issued_at
    }

    /// The refresh token (OAuth2 `access_type=offline`), when sent.
    pub fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh_token.as_ref()
    }

    /// The granted scope (OAuth2 POST responses), when sent.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// Turns the response into a [`Token`] received at `now`.
    pub fn into_token(self, now: SystemTime) -> Token {
        // A future issued_at (server clock ahead) is clamped to now; a past one shortens the life.
        let start = self.issued_at.map_or(now, |t| t.min(now));
        Token {
            // An absurd clock (near the end of SystemTime) gives a token that is already stale.
            expires_at: start.checked_add(self.expires_in).unwrap_or(start),
            lifetime: self.expires_in,
            secret: self.token,
            refresh_token: self.refresh_token,
        }
    }
}

/// A serde error described without echoing input values (they may be secrets).
fn classify(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Io => "read error".to_owned(),
        Category::Syntax => format!("invalid JSON at line {} column {}", e.line(), e.column()),
        Category::Eof => "the body ends early".to_owned(),
        Category::Data => {
            "wrong JSON type (expected strings for tokens, a number for expires_in)".to_owned()
        }
    }
}

/// A token with its expiry, as kept in the [`TokenCache`](crate::TokenCache).
#[derive(Debug, Clone)]
pub struct Token {
    secret: SecretString,
    expires_at: SystemTime,
    lifetime: Duration,
    refresh_token: Option<SecretString>,
}

impl Token {
    /// A token valid from `now` for `lifetime` (raised to 60 s at least).
    pub fn new(secret: SecretString, now: SystemTime, lifetime: Duration) -> Self {
        TokenResponse::new(secret, lifetime).into_token(now)
    }

    /// The bearer token.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// When the token expires.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The refresh token that came with it, if any.
    pub fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh_token.as_ref()
    }

    /// How long before expiry the token is renewed: a quarter of its lifetime, at most 30 s.
    pub fn renewal_margin(&self) -> Duration {
        (self.lifetime / 4).min(MAX_RENEWAL_MARGIN)
    }

    /// Whether the token can still be used at `now` (it has more than the margin left).
    pub fn is_fresh(&self, now: SystemTime) -> bool {
        now.checked_add(self.renewal_margin())
            .is_some_and(|t| t < self.expires_at)
    }

    /// `Authorization: Bearer <token>`, marked sensitive so `http` and logs hide it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`] when the token holds characters a header cannot carry.
    pub fn authorization(&self) -> Result<http::HeaderValue> {
        bearer_header(self.secret.expose_secret())
    }
}

pub(crate) fn bearer_header(token: &str) -> Result<http::HeaderValue> {
    let mut v = http::HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| {
        Error::InvalidCredentials {
            reason: "the token holds characters not allowed in an HTTP header",
        }
    })?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Duration = Duration::from_secs(1_700_000_000);

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + T0 + Duration::from_secs(s)
    }

    #[test]
    fn harbor_shape_and_precedence() {
        let r = TokenResponse::from_slice(br#"{"token":"a","access_token":""}"#).unwrap();
        assert_eq!(r.token().expose_secret(), "a");
        assert_eq!(r.expires_in(), MIN_EXPIRES_IN);
        let r = TokenResponse::from_slice(br#"{"token":"a","access_token":"b","expires_in":10}"#)
            .unwrap();
        assert_eq!(r.token().expose_secret(), "b");
        assert_eq!(r.expires_in(), MIN_EXPIRES_IN);
        assert!(matches!(
            TokenResponse::from_slice(br#"{"token":"","access_token":""}"#),
            Err(Error::MissingToken)
        ));
        assert!(matches!(
            TokenResponse::from_slice(b"[]"),
            Err(Error::InvalidTokenResponse { .. })
        ));
        let e = TokenResponse::from_slice(br#"{"token":"a","expires_in":"soon"}"#).unwrap_err();
        assert!(e.to_string().contains("expires_in"), "{e}");
    }

    #[test]
    fn expiry_maths() {
        let body = br#"{"token":"t","expires_in":1800,"issued_at":"2023-11-14T22:13:20Z"}"#; // = T0
        let tok = TokenResponse::from_slice(body).unwrap().into_token(at(100));
        assert_eq!(tok.expires_at(), at(1800));
        assert!(tok.is_fresh(at(1769)));
        assert!(!tok.is_fresh(at(1770)));
        // issued_at in the future is clamped to the receive time
        let tok = TokenResponse::from_slice(body)
            .unwrap()
            .into_token(at(0) - Duration::from_secs(500));
        assert_eq!(tok.expires_at(), at(1300));
        // 60 s token: 15 s margin
        let tok = Token::new("x".to_owned().into(), at(0), Duration::from_secs(1));
        assert!(tok.is_fresh(at(44)));
        assert!(!tok.is_fresh(at(45)));
    }
}
