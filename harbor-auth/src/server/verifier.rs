//! `TokenVerifier`: checks registry tokens as a `distribution` registry does.
//!
//! Order (distribution 2.8 `token.go`): a `x5c` chain is verified up to a certificate of the
//! trust bundle and its leaf key used; otherwise `kid` must name a trusted key (root-bundle keys
//! are known under their libtrust id **and** their RFC 7638 thumbprint, so tokens for 2.x and
//! 3.x registries both verify). Then the signature with an algorithm of the key's family only
//! (`alg: none` and HMAC never verify), then `iss`, `aud` (a string), `exp`/`nbf` with leeway
//! (60 s by default), and finally that the `access` claim covers what is asked.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use aws_lc_rs::signature::ParsedPublicKey;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};

use super::issuer::{RegistryClaims, install_crypto_provider};
use super::keys::{PublicKey, certificates_from_pem};
use crate::cache::{Clock, SystemClock};
use crate::error::{Error, Result, TokenRejection};
use crate::scope::ScopeSet;

/// The default clock leeway for `exp` and `nbf` (distribution's value).
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// A trusted key, parsed once per algorithm it may verify.
struct TrustedKey {
    verifiers: Vec<(Algorithm, ParsedPublicKey)>,
}

impl TrustedKey {
    fn new(public: &PublicKey) -> Result<Self> {
        Ok(Self {
            verifiers: public.verifiers()?,
        })
    }

    fn for_alg(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, k)| k)
    }
}

/// Verifies registry tokens; cheap to clone.
#[derive(Clone)]
pub struct TokenVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: HashMap<String, Arc<TrustedKey>>,
    roots: Vec<TrustAnchor<'static>>,
    issuers: Vec<String>,
    service: String,
    leeway: u64,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("service", &self.inner.service)
            .field("issuers", &self.inner.issuers)
            .field("key_ids", &self.inner.keys.keys().collect::<Vec<_>>())
            .field("roots", &self.inner.roots.len())
            .finish_non_exhaustive()
    }
}

/// Builds a [`TokenVerifier`].
#[must_use]
pub struct TokenVerifierBuilder {
    keys: HashMap<String, Arc<TrustedKey>>,
    roots: Vec<TrustAnchor<'static>>,
    issuers: Vec<String>,
    service: String,
    leeway: Duration,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TokenVerifierBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifierBuilder")
            .field("service", &self.service)
            .field("issuers", &self.issuers)
            .finish_non_exhaustive()
    }
}

impl TokenVerifierBuilder {
    /// Trusts every certificate of a PEM bundle (a registry's `rootcertbundle`): their keys by
    /// libtrust id and thumbprint, and the certificates as roots for `x5c` chains.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] for a malformed bundle or an unsupported key.
    pub fn root_certificates_pem(mut self, pem: &str) -> Result<Self> {
        for cert in certificates_from_pem(pem)? {
            self = self.root_certificate_der(cert.as_ref())?;
        }
        Ok(self)
    }

    /// Trusts one DER certificate (see [`TokenVerifierBuilder::root_certificates_pem`]).
    ///
    /// # Errors
    ///
    /// [`Error::Key`] for a malformed certificate or an unsupported key.
    pub fn root_certificate_der(mut self, der: &[u8]) -> Result<Self> {
        let public = PublicKey::from_certificate_der(der)?;
        let cert = CertificateDer::from(der);
        let anchor = webpki::anchor_from_trusted_cert(&cert)
            .map_err(|e| Error::Key {
                reason: format!("unusable root certificate: {e}"),
            })?
            .to_owned();
        self.roots.push(anchor);
        let thumb = public.jwk_thumbprint()?;
        let lt = public.libtrust_key_id();
        let key = Arc::new(TrustedKey::new(&public)?);
        self.keys.insert(lt, Arc::clone(&key));
        self.keys.insert(thumb, key);
        Ok(self)
    }

    /// Trusts a public key under an explicit `kid` (a `jwks` entry).
    pub fn key(mut self, kid: &str, public: PublicKey) -> Self {
        // A `PublicKey` was validated when it was made, so parsing cannot fail here; if it
        // ever did, the key would verify nothing (fail closed).
        let key = TrustedKey::new(&public).unwrap_or(TrustedKey {
            verifiers: Vec::new(),
        });
        self.keys.insert(kid.to_owned(), Arc::new(key));
        self
    }

    /// Trusts another issuer name.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuers.push(issuer.to_owned());
        self
    }

    /// The leeway for `exp` and `nbf` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the verifier.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] when no key or root was given.
    pub fn build(self) -> Result<TokenVerifier> {
        install_crypto_provider();
        if self.keys.is_empty() && self.roots.is_empty() {
            return Err(Error::Key {
                reason: "a verifier needs at least one trusted key or root certificate".to_owned(),
            });
        }
        Ok(TokenVerifier {
            inner: Arc::new(Inner {
                keys: self.keys,
                roots: self.roots,
                issuers: self.issuers,
                service: self.service,
                leeway: self.leeway.as_secs(),
                clock: self.clock,
            }),
        })
    }
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn reject(r: TokenRejection) -> Error {
    Error::TokenRejected(r)
}

impl TokenVerifier {
    /// Starts a builder for tokens from `issuer` with audience `service`.
    pub fn builder(issuer: &str, service: &str) -> TokenVerifierBuilder {
        TokenVerifierBuilder {
            keys: HashMap::new(),
            roots: Vec::new(),
            issuers: vec![issuer.to_owned()],
            service: service.to_owned(),
            leeway: DEFAULT_LEEWAY,
            clock: Arc::new(SystemClock),
        }
    }

    /// Verifies `token` and that it grants `wanted` (pass an empty set to skip that check).
    ///
    /// # Errors
    ///
    /// [`Error::TokenRejected`] with the [`TokenRejection`] reason.
    pub fn verify(&self, token: &str, wanted: &ScopeSet) -> Result<RegistryClaims> {
        let malformed = || reject(TokenRejection::Malformed);
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let signing_input = token
            .get(..header_b64.len() + 1 + payload_b64.len())
            .ok_or_else(malformed)?;
        // jsonwebtoken decodes the header: an `alg` it does not know (`none`) is malformed.
        let header = jsonwebtoken::decode_header(token).map_err(|_| malformed())?;
        let now = self
            .inner
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();

        let chain_key;
        let key: &TrustedKey = match header.x5c_der().map_err(|_| malformed())? {
            Some(chain) if !chain.is_empty() => {
                chain_key = self.verify_chain(&chain, now)?;
                &chain_key
            }
            _ => {
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or(reject(TokenRejection::UnknownKey))?;
                self.inner
                    .keys
                    .get(kid)
                    .map(AsRef::as_ref)
                    .ok_or(reject(TokenRejection::UnknownKey))?
            }
        };
        // Only the algorithms of the key's own family: HMAC, `none` and cross-family `alg`s never
        // reach a signature check.
        let verifier = key
            .for_alg(header.alg)
            .ok_or(reject(TokenRejection::UnsupportedAlgorithm))?;
        let signature = B64.decode(sig_b64).map_err(|_| malformed())?;
        verifier
            .verify_sig(signing_input.as_bytes(), &signature)
            .map_err(|_| reject(TokenRejection::BadSignature))?;
        let payload = B64.decode(payload_b64).map_err(|_| malformed())?;
        let claims: RegistryClaims = serde_json::from_slice(&payload).map_err(|_| malformed())?;

        if !self.inner.issuers.contains(&claims.iss) {
            return Err(reject(TokenRejection::WrongIssuer));
        }
        if claims.aud != self.inner.service {
            return Err(reject(TokenRejection::WrongAudience));
        }
        let now = now.as_secs();
        if claims.exp.saturating_add(self.inner.leeway) < now {
            return Err(reject(TokenRejection::Expired));
        }
        if claims.nbf > now.saturating_add(self.inner.leeway) {
            return Err(reject(TokenRejection::NotYetValid));
        }
        if !claims.scopes().covers(wanted) {
            return Err(reject(TokenRejection::InsufficientAccess));
        }
        Ok(claims)
    }

    fn verify_chain(&self, chain: &[Vec<u8>], now: Duration) -> Result<TrustedKey> {
        let certs: Vec<CertificateDer<'_>> = chain
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        let (leaf, intermediates) = certs
            .split_first()
            .ok_or(reject(TokenRejection::Malformed))?;
        let ee =
            webpki::EndEntityCert::try_from(leaf).map_err(|_| reject(TokenRejection::Malformed))?;
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.inner.roots,
            intermediates,
            UnixTime::since_unix_epoch(now),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|_| reject(TokenRejection::UntrustedChain))?;
        let public = PublicKey::from_spki_der(ee.subject_public_key_info().as_ref())
            .map_err(|_| reject(TokenRejection::UnsupportedAlgorithm))?;
        TrustedKey::new(&public).map_err(|_| reject(TokenRejection::UnsupportedAlgorithm))
    }
}
