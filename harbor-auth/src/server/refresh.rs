//! Refresh (offline) tokens of the token endpoint: stateless JWTs a registry refuses.
//!
//! A refresh token is a compact JWS signed with the endpoint's [`TokenIssuer`] key, with the
//! claims `iss sub aud exp nbf iat jti` and **no** `access` claim. Its `aud` is
//! `urn:harbor-auth:refresh-token:<service>`, never the registry's `service`, so a registry
//! (or a [`TokenVerifier`] for the service) refuses it as a bearer token with "wrong
//! audience", and an access token is never taken for a refresh token either. It is checked
//! with a [`TokenVerifier`] for that audience, trusting only the issuer's key under its
//! libtrust id: signature, `iss`, `aud` (so the service it was issued for) and `exp`/`nbf`
//! with the verifier's default leeway.

use std::time::{Duration, UNIX_EPOCH};

use secrecy::SecretString;
use serde::Serialize;

use super::issuer::{TokenIssuer, encode_header, new_jti};
use super::verifier::TokenVerifier;
use crate::error::{Error, Result, TokenRejection};
use crate::scope::ScopeSet;

/// The `aud` of refresh tokens for `service`.
fn refresh_audience(service: &str) -> String {
    format!("urn:harbor-auth:refresh-token:{service}")
}

/// The claims of a refresh token: a registry token's, without `access`.
#[derive(Serialize)]
struct RefreshClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: String,
}

/// Mints and checks the refresh tokens of one endpoint (one issuer key, one service).
pub(crate) struct RefreshTokens {
    issuer: TokenIssuer,
    header_b64: String,
    audience: String,
    lifetime: Duration,
    verifier: TokenVerifier,
}

impl std::fmt::Debug for RefreshTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokens")
            .field("audience", &self.audience)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl RefreshTokens {
    /// Refresh tokens for `service`, signed by `issuer`'s key, living `lifetime` (at least
    /// 60 s) on the issuer's clock.
    pub(crate) fn new(issuer: &TokenIssuer, service: &str, lifetime: Duration) -> Result<Self> {
        let key = issuer.key();
        let kid = key.public_key().libtrust_key_id();
        let header_b64 = encode_header(key, Some(kid.clone()), None)?;
        let audience = refresh_audience(service);
        let verifier = TokenVerifier::builder(issuer.issuer(), &audience)
            .key(&kid, key.public_key().clone())
            .clock(issuer.clock())
            .build()?;
        Ok(Self {
            issuer: issuer.clone(),
            header_b64,
            audience,
            lifetime: lifetime.max(crate::MIN_EXPIRES_IN),
            verifier,
        })
    }

    /// The lifetime of the tokens this mints.
    pub(crate) fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A new refresh token for `subject` (never empty: anonymous callers get none).
    pub(crate) fn mint(&self, subject: &str) -> Result<SecretString> {
        let now = self
            .issuer
            .now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = RefreshClaims {
            iss: self.issuer.issuer(),
            sub: subject,
            aud: &self.audience,
            exp: now.saturating_add(self.lifetime.as_secs()),
            nbf: now,
            iat: now,
            jti: new_jti()?,
        };
        let jws = self.issuer.sign_jws(&self.header_b64, &claims, 256)?;
        Ok(SecretString::from(jws))
    }

    /// The subject of a valid refresh token.
    ///
    /// Errors: [`Error::TokenRejected`] with the reason (tampered, foreign key, expired,
    /// another service or an access token), or [`TokenRejection::Malformed`] for a token that
    /// names no subject or carries access.
    pub(crate) fn subject(&self, token: &str) -> Result<String> {
        let claims = self.verifier.verify(token, &ScopeSet::new())?;
        if claims.sub.is_empty() || !claims.access.is_empty() {
            return Err(Error::TokenRejected(TokenRejection::Malformed));
        }
        Ok(claims.sub)
    }
}
