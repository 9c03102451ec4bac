//! `TokenIssuer`: signs registry JWTs that a `distribution` registry trusts.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::keys::{SigningKey, b64url};
use crate::cache::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::scope::{ActionSet, Scope, ScopeSet};

/// The default token lifetime (Harbor's default too).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(1800);

/// One entry of the `access` claim: `{"type","name","actions"}` (`class` when set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccessEntry {
    /// Resource type (`repository`, `registry`).
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Deprecated resource class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Resource name.
    pub name: String,
    /// Granted actions (may be empty).
    #[serde(default)]
    pub actions: Vec<String>,
}

/// The claims of a registry token (`aud` is a single string, as distribution 2.8 requires).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RegistryClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user name, `""` for anonymous.
    #[serde(default)]
    pub sub: String,
    /// Audience: the registry's `service`.
    pub aud: String,
    /// Expiry (unix seconds).
    pub exp: u64,
    /// Not before (unix seconds).
    pub nbf: u64,
    /// Issued at (unix seconds).
    pub iat: u64,
    /// Unique token id.
    pub jti: String,
    /// The granted access.
    #[serde(default)]
    pub access: Vec<AccessEntry>,
}

impl RegistryClaims {
    /// The `access` claim as a scope set (entries that are not valid scopes are skipped).
    pub fn scopes(&self) -> ScopeSet {
        self.access
            .iter()
            .filter_map(|a| {
                let actions: ActionSet = a.actions.iter().filter_map(|x| x.parse().ok()).collect();
                let ty = match &a.class {
                    Some(c) => format!("{}({c})", a.resource_type),
                    None => a.resource_type.clone(),
                };
                format!("{ty}:{}:{actions}", a.name).parse::<Scope>().ok()
            })
            .collect()
    }
}

fn access_entries(scopes: &ScopeSet) -> Vec<AccessEntry> {
    scopes
        .iter()
        .map(|s| AccessEntry {
            resource_type: s.resource().resource_type().to_owned(),
            class: s.resource().class().map(str::to_owned),
            name: s.resource().name().to_owned(),
            actions: s.actions().iter().map(|a| a.as_str().to_owned()).collect(),
        })
        .collect()
}

/// Which key identification goes into the JWS header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KeyIdFormat {
    /// `kid` = libtrust key id (distribution 2.x, Harbor 1.x).
    #[default]
    Libtrust,
    /// `kid` = RFC 7638 thumbprint (distribution 3.x).
    Thumbprint,
    /// No `kid` (use with an `x5c` chain).
    None,
}

/// The date of an `iat` (seconds since the epoch), if it is one.
fn issued_at(iat: u64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(i64::try_from(iat).ok()?, 0)
}

/// A signed token and what the token response needs.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    token: SecretString,
    claims: RegistryClaims,
    lifetime: Duration,
}

impl IssuedToken {
    /// The compact JWS.
    pub fn token(&self) -> &SecretString {
        &self.token
    }

    /// The claims that were signed.
    pub fn claims(&self) -> &RegistryClaims {
        &self.claims
    }

    /// The token response body: `token` and `access_token` (both set), `expires_in` and
    /// `issued_at` (RFC 3339), so every client, including ones that assume 60 s without
    /// `expires_in`, gets the right lifetime.
    pub fn response_json(&self) -> Vec<u8> {
        serde_json::Value::Object(self.response_object())
            .to_string()
            .into_bytes()
    }

    /// The members of [`IssuedToken::response_json`], for the endpoint to add `scope` and
    /// `refresh_token` to.
    pub(crate) fn response_object(&self) -> serde_json::Map<String, serde_json::Value> {
        // `sign_claims` accepted only an `iat` that is a date.
        let issued_at = issued_at(self.claims.iat)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut body = serde_json::Map::with_capacity(6);
        body.insert("token".to_owned(), self.token.expose_secret().into());
        body.insert("access_token".to_owned(), self.token.expose_secret().into());
        body.insert("expires_in".to_owned(), self.lifetime.as_secs().into());
        body.insert("issued_at".to_owned(), issued_at.into());
        body
    }
}

/// Signs registry tokens.
///
/// The JWS header is fixed per issuer (`typ`, `alg`, `kid` and/or `x5c`) and encoded once; each
/// [`TokenIssuer::issue`] serialises the claims and signs with the pre-parsed key, so issuing
/// costs about one signature.
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    key: SigningKey,
    issuer: String,
    lifetime: Duration,
    header_b64: String,
    clock: Arc<dyn Clock>,
}

/// Builds a [`TokenIssuer`].
#[derive(Debug)]
#[must_use]
pub struct TokenIssuerBuilder {
    key: SigningKey,
    issuer: String,
    lifetime: Duration,
    kid: KeyIdFormat,
    x5c: Vec<Vec<u8>>,
    clock: Arc<dyn Clock>,
}

impl TokenIssuerBuilder {
    /// The token lifetime (default 30 minutes; at least 60 s).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime.max(crate::MIN_EXPIRES_IN);
        self
    }

    /// The `kid` format (default libtrust).
    pub fn key_id(mut self, kid: KeyIdFormat) -> Self {
        self.kid = kid;
        self
    }

    /// Adds an `x5c` chain (DER certificates, leaf first; the leaf must hold the signing key).
    pub fn x5c(mut self, chain: Vec<Vec<u8>>) -> Self {
        self.x5c = chain;
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the issuer.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] when the `x5c` leaf does not hold the signing key, or when neither a
    /// `kid` nor an `x5c` would identify the key.
    pub fn build(self) -> Result<TokenIssuer> {
        install_crypto_provider();
        if let Some(leaf) = self.x5c.first() {
            let leaf_key = super::keys::PublicKey::from_certificate_der(leaf)?;
            if &leaf_key != self.key.public_key() {
                return Err(Error::Key {
                    reason: "the x5c leaf certificate does not hold the signing key".to_owned(),
                });
            }
        } else if self.kid == KeyIdFormat::None {
            return Err(Error::Key {
                reason: "a token needs a kid or an x5c chain to be verifiable".to_owned(),
            });
        }
        let kid = match self.kid {
            KeyIdFormat::Libtrust => Some(self.key.public_key().libtrust_key_id()),
            KeyIdFormat::Thumbprint => Some(self.key.public_key().jwk_thumbprint()?),
            KeyIdFormat::None => None,
        };
        let x5c = (!self.x5c.is_empty()).then(|| {
            self.x5c
                .iter()
                .map(|c| base64::engine::general_purpose::STANDARD.encode(c))
                .collect()
        });
        let header_b64 = encode_header(&self.key, kid, x5c)?;
        Ok(TokenIssuer {
            inner: Arc::new(Inner {
                key: self.key,
                issuer: self.issuer,
                lifetime: self.lifetime,
                header_b64,
                clock: self.clock,
            }),
        })
    }
}

/// The base64url JWS header `{"typ":"JWT","alg":…}` with `kid` and/or `x5c`.
pub(crate) fn encode_header(
    key: &SigningKey,
    kid: Option<String>,
    x5c: Option<Vec<String>>,
) -> Result<String> {
    let mut header = jsonwebtoken::Header::new(key.algorithm());
    header.kid = kid;
    header.x5c = x5c;
    let header_json = serde_json::to_vec(&header).map_err(|e| Error::Key {
        reason: format!("cannot encode the JWS header: {e}"),
    })?;
    Ok(b64url(&header_json))
}

/// A fresh random `jti` (96 bits, base64url).
pub(crate) fn new_jti() -> Result<String> {
    let mut jti = [0u8; 12];
    aws_lc_rs::rand::fill(&mut jti).map_err(|_| Error::Key {
        reason: "no randomness for the token id".to_owned(),
    })?;
    Ok(b64url(&jti))
}

/// Makes jsonwebtoken use aws-lc-rs even if some other crate in the build also enabled its
/// `rust_crypto` backend (jsonwebtoken panics at run time when it has to guess).
pub(crate) fn install_crypto_provider() {
    // An error only means a provider is installed already.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

impl TokenIssuer {
    /// Starts a builder: `issuer` goes into `iss` and must equal the registry's `auth.token.issuer`.
    pub fn builder(key: SigningKey, issuer: &str) -> TokenIssuerBuilder {
        TokenIssuerBuilder {
            key,
            issuer: issuer.to_owned(),
            lifetime: DEFAULT_LIFETIME,
            kid: KeyIdFormat::Libtrust,
            x5c: Vec::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.inner.key
    }

    /// The issuer name.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// Issues a token for `subject` (`""` for anonymous) with audience `service` granting
    /// `access`.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] when signing fails.
    pub fn issue(&self, subject: &str, service: &str, access: &ScopeSet) -> Result<IssuedToken> {
        let now = self
            .inner
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = RegistryClaims {
            iss: self.inner.issuer.clone(),
            sub: subject.to_owned(),
            aud: service.to_owned(),
            exp: now.saturating_add(self.inner.lifetime.as_secs()),
            nbf: now,
            iat: now,
            jti: new_jti()?,
            access: access_entries(access),
        };
        self.sign_claims(claims)
    }

    /// Signs arbitrary claims (for tests of verifiers, or custom lifetimes).
    ///
    /// # Errors
    ///
    /// [`Error::Key`] when the claims cannot be encoded, `iat` is not a date (beyond the
    /// year 262,000), or signing fails.
    pub fn sign_claims(&self, claims: RegistryClaims) -> Result<IssuedToken> {
        if issued_at(claims.iat).is_none() {
            return Err(Error::Key {
                reason: format!("the claims' iat ({}) is not a date", claims.iat),
            });
        }
        let jws = self.sign_jws(
            &self.inner.header_b64,
            &claims,
            256 + 96 * claims.access.len(),
        )?;
        Ok(IssuedToken {
            token: jws.into(),
            lifetime: Duration::from_secs(claims.exp.saturating_sub(claims.iat)),
            claims,
        })
    }

    /// A compact JWS of `claims` under `header_b64`, signed with this issuer's key (the
    /// endpoint's refresh tokens use their own header and claims).
    pub(crate) fn sign_jws<C: Serialize>(
        &self,
        header_b64: &str,
        claims: &C,
        size_hint: usize,
    ) -> Result<String> {
        let mut payload = Vec::with_capacity(size_hint);
        serde_json::to_writer(&mut payload, claims).map_err(|e| Error::Key {
            reason: format!("cannot encode the claims: {e}"),
        })?;
        let mut jws = String::with_capacity(header_b64.len() + payload.len() * 4 / 3 + 400);
        jws.push_str(header_b64);
        jws.push('.');
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(&payload, &mut jws);
        let sig = self.inner.key.sign(jws.as_bytes())?;
        jws.push('.');
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(&sig, &mut jws);
        Ok(jws)
    }

    /// The clock's time now.
    pub fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// The clock (the endpoint's refresh tokens expire on the same clock).
    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.inner.clock)
    }
}
