//! `TokenVerifier`: checks registry tokens as a `distribution` registry does.
//!
//! Order (distribution 2.8 `token.go`): a `x5c` chain is verified up to a certificate of the
//! trust bundle and its leaf key used; otherwise `kid` must name a trusted key (root-bundle keys
//! are known under their libtrust id **and** their RFC 7638 thumbprint, so tokens for 2.x and
//! 3.x registries both verify). Then the signature with an algorithm of the key's family only
//! (`alg: none` and HMAC never verify), then `iss`, `aud` (a string), `exp`/`nbf` with leeway
//! (60 s by default, [`MAX_LEEWAY`] at most), and finally that the `access` claim covers what is
//! asked (a request for `*` needs a grant of `*`). A token longer than [`MAX_TOKEN_LEN`] is
//! refused before it is decoded; a header with a member twice (two `alg`s) is malformed.

use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use aws_lc_rs::signature::ParsedPublicKey;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};

use serde::Deserialize;

use super::issuer::{AccessEntry, RegistryClaims, install_crypto_provider};
use super::keys::{PublicKey, certificates_from_pem};
use crate::cache::{Clock, SystemClock};
use crate::error::{Error, Result, TokenRejection};
use crate::scope::{ActionSet, ScopeSet};

/// The default clock leeway for `exp` and `nbf` (distribution's value).
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// The largest leeway a verifier accepts (5 minutes): a larger one is lowered to this, so a
/// configuration slip cannot keep expired tokens alive for hours.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// The longest token verified (64 KiB, room for an `x5c` chain of a few certificates). Longer
/// input is refused before anything is decoded.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

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

    /// The leeway for `exp` and `nbf` (default 60 s, at most [`MAX_LEEWAY`]).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.min(MAX_LEEWAY);
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

/// The JWS header fields a verifier reads, borrowed from the decoded header where possible.
#[derive(Deserialize)]
struct JwsHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    x5c: Option<Vec<String>>,
}

/// `[a-z0-9]+`, as a scope's resource type and class must be.
fn valid_type(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Whether an `access` entry is a valid scope as written (so it stands for itself).
fn canonical(a: &AccessEntry) -> bool {
    valid_type(&a.resource_type)
        && a.class.as_deref().is_none_or(valid_type)
        && !a.name.is_empty()
        && a.name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b',')
}

/// `claims.scopes().covers(wanted)` without building the scope set: when every entry is a
/// valid scope as written, the entries on each wanted resource are merged and compared in
/// place; anything unusual takes the general path.
fn covers(claims: &RegistryClaims, wanted: &ScopeSet) -> bool {
    if wanted.is_empty() {
        return true;
    }
    if !claims.access.iter().all(canonical) {
        return claims.scopes().covers(wanted);
    }
    wanted.iter().all(|w| {
        let r = w.resource();
        let mut found = false;
        let mut have = ActionSet::new();
        for a in claims.access.iter().filter(|a| {
            a.resource_type == r.resource_type()
                && a.class.as_deref() == r.class()
                && a.name == r.name()
        }) {
            found = true;
            have.extend(a.actions.iter().filter_map(|x| x.parse().ok()));
        }
        found && have.covers(w.actions())
    })
}

/// Decodes base64url into `buf` when it fits (the usual header and signature), into a fresh
/// buffer otherwise; `None` for invalid base64url.
fn decode_b64<'b>(text: &str, buf: &'b mut [u8]) -> Option<Cow<'b, [u8]>> {
    if base64::decoded_len_estimate(text.len()) <= buf.len() {
        let n = B64.decode_slice(text, buf).ok()?;
        buf.get(..n).map(Cow::Borrowed)
    } else {
        B64.decode(text).ok().map(Cow::Owned)
    }
}

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
        if token.len() > MAX_TOKEN_LEN {
            return Err(reject(TokenRejection::TooLarge));
        }
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
        // An `alg` that is not a known JWS algorithm (`none`) is malformed, as in jsonwebtoken.
        let mut header_buf = [0u8; 512];
        let header_json = decode_b64(header_b64, &mut header_buf).ok_or_else(malformed)?;
        let header: JwsHeader<'_> =
            serde_json::from_slice(&header_json).map_err(|_| malformed())?;
        let alg = Algorithm::from_str(&header.alg).map_err(|_| malformed())?;
        let now = self
            .inner
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();

        let chain_key;
        let key: &TrustedKey = match header.x5c.as_deref() {
            Some(chain) if !chain.is_empty() => {
                let der = chain
                    .iter()
                    .map(|c| base64::engine::general_purpose::STANDARD.decode(c))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|_| malformed())?;
                chain_key = self.verify_chain(&der, now)?;
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
            .for_alg(alg)
            .ok_or(reject(TokenRejection::UnsupportedAlgorithm))?;
        let mut sig_buf = [0u8; 1024];
        let signature = decode_b64(sig_b64, &mut sig_buf).ok_or_else(malformed)?;
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
        if !covers(&claims, wanted) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ty: &str, class: Option<&str>, name: &str, actions: &[&str]) -> AccessEntry {
        AccessEntry {
            resource_type: ty.to_owned(),
            class: class.map(str::to_owned),
            name: name.to_owned(),
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    fn claims(access: Vec<AccessEntry>) -> RegistryClaims {
        RegistryClaims {
            iss: "i".to_owned(),
            sub: String::new(),
            aud: "a".to_owned(),
            exp: 0,
            nbf: 0,
            iat: 0,
            jti: "j".to_owned(),
            access,
        }
    }

    /// The in-place check answers exactly as building the scope set does.
    #[test]
    fn covers_agrees_with_scope_set() {
        let grants = [
            vec![entry(
                "repository",
                None,
                "library/alpine",
                &["pull", "push"],
            )],
            vec![
                entry("repository", None, "library/alpine", &["pull"]),
                entry("repository", None, "library/alpine", &["push"]),
            ],
            vec![entry("repository", None, "library/alpine", &["*"])],
            vec![entry("repository", None, "library/alpine", &[])],
            vec![entry(
                "repository",
                Some("plugin"),
                "library/alpine",
                &["pull"],
            )],
            vec![entry(
                "repository",
                None,
                "library/alpine",
                &["pull", "Bad!"],
            )],
            vec![entry(
                "repository(plugin)",
                None,
                "library/alpine",
                &["pull"],
            )],
            vec![entry("repository", None, "library alpine", &["pull"])],
            vec![entry("registry", None, "catalog", &["*"])],
            vec![],
        ];
        let wants = [
            "",
            "repository:library/alpine:pull",
            "repository:library/alpine:pull,push",
            "repository(plugin):library/alpine:pull",
            "repository:library/alpine:pull repository:library/base:pull",
            "registry:catalog:*",
        ];
        for grant in &grants {
            let c = claims(grant.clone());
            for want in wants {
                let wanted: ScopeSet = want.parse().unwrap_or_default();
                assert_eq!(
                    covers(&c, &wanted),
                    c.scopes().covers(&wanted),
                    "{grant:?} / {want}"
                );
            }
        }
        let pull: ScopeSet = "repository:library/alpine:pull".parse().unwrap_or_default();
        assert!(covers(&claims(grants[0].clone()), &pull));
        assert!(!covers(&claims(grants[3].clone()), &pull));
    }
}
