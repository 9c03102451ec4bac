//! Signing keys, public keys and the two key-id formats registries use.
//!
//! - **libtrust key id** (distribution 2.x, Harbor): SHA-256 over the DER
//!   `SubjectPublicKeyInfo`, the first 240 bits in base32 (48 characters), in 12 groups of 4
//!   joined by `:`.
//! - **RFC 7638 JWK thumbprint** (distribution 3.x): SHA-256 over the canonical JWK JSON,
//!   base64url without padding. For EC keys the coordinates are encoded from their minimal
//!   big-endian bytes, as distribution does (Go `big.Int.Bytes`); this differs from strict
//!   RFC 7638 only for the rare key whose coordinate starts with a zero byte.

use std::fmt;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, KeyPair as _};
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

fn key_err(reason: impl Into<String>) -> Error {
    Error::Key {
        reason: reason.into(),
    }
}

/// The kind of a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// RSA (signs RS256).
    Rsa,
    /// ECDSA on P-256 (signs ES256).
    EcP256,
    /// ECDSA on P-384 (signs ES384).
    EcP384,
}

impl KeyKind {
    /// The JWS algorithms a token signed with this kind of key may carry.
    pub fn algorithms(self) -> &'static [Algorithm] {
        match self {
            Self::Rsa => &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
            Self::EcP256 => &[Algorithm::ES256],
            Self::EcP384 => &[Algorithm::ES384],
        }
    }
}

/// A public key as a DER `SubjectPublicKeyInfo`, with its kind and key ids.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    spki: Vec<u8>,
    kind: KeyKind,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("kind", &self.kind)
            .field("libtrust_key_id", &self.libtrust_key_id())
            .finish()
    }
}

const P256_POINT_LEN: usize = 65;
const P384_POINT_LEN: usize = 97;

impl PublicKey {
    /// Parses a DER `SubjectPublicKeyInfo` (RSA, EC P-256 or EC P-384).
    ///
    /// # Errors
    ///
    /// [`Error::Key`] when the key is none of those or is malformed.
    pub fn from_spki_der(spki: &[u8]) -> Result<Self> {
        let kind = if aws_lc_rs::rsa::PublicKey::from_der(spki).is_ok() {
            KeyKind::Rsa
        } else if sig::ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, spki).is_ok() {
            KeyKind::EcP256
        } else if sig::ParsedPublicKey::new(&sig::ECDSA_P384_SHA384_FIXED, spki).is_ok() {
            KeyKind::EcP384
        } else {
            return Err(key_err("not an RSA, P-256 or P-384 SubjectPublicKeyInfo"));
        };
        let key = Self {
            spki: spki.to_vec(),
            kind,
        };
        // EC keys must carry an uncompressed point (what every tool writes).
        if kind != KeyKind::Rsa {
            key.ec_point()?;
        }
        Ok(key)
    }

    /// The public key of a DER certificate.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] when the certificate or its key cannot be parsed.
    pub fn from_certificate_der(cert: &[u8]) -> Result<Self> {
        let der = CertificateDer::from(cert);
        let ee = webpki::EndEntityCert::try_from(&der)
            .map_err(|e| key_err(format!("bad certificate: {e}")))?;
        Self::from_spki_der(ee.subject_public_key_info().as_ref())
    }

    /// The DER `SubjectPublicKeyInfo`.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The kind of key.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The libtrust key id, e.g. `PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHJ:34F2:2LAQ:ZRMK:Z7Q6`.
    pub fn libtrust_key_id(&self) -> String {
        libtrust_key_id(&self.spki)
    }

    /// The RFC 7638 thumbprint (SHA-256, base64url), as distribution 3.x computes it.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] when the key cannot be decoded into JWK members.
    pub fn jwk_thumbprint(&self) -> Result<String> {
        let json = match self.kind {
            KeyKind::Rsa => {
                let k = aws_lc_rs::rsa::PublicKey::from_der(&self.spki)
                    .map_err(|_| key_err("bad RSA key"))?;
                format!(
                    r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                    b64url(k.exponent().big_endian_without_leading_zero()),
                    b64url(k.modulus().big_endian_without_leading_zero())
                )
            }
            KeyKind::EcP256 | KeyKind::EcP384 => {
                let point = self.ec_point()?;
                let coord = (point.len() - 1) / 2;
                let (x, y) = point.get(1..).unwrap_or_default().split_at(coord);
                let crv = if self.kind == KeyKind::EcP256 {
                    "P-256"
                } else {
                    "P-384"
                };
                format!(
                    r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                    b64url(strip_zeros(x)),
                    b64url(strip_zeros(y))
                )
            }
        };
        Ok(b64url(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, json.as_bytes()).as_ref(),
        ))
    }

    /// The uncompressed EC point, which ends every EC SPKI.
    fn ec_point(&self) -> Result<&[u8]> {
        let len = if self.kind == KeyKind::EcP256 {
            P256_POINT_LEN
        } else {
            P384_POINT_LEN
        };
        self.spki
            .len()
            .checked_sub(len)
            .and_then(|start| self.spki.get(start..))
            .filter(|p| p.first() == Some(&0x04))
            .ok_or_else(|| key_err("compressed EC points are not supported"))
    }

    /// The key parsed once for each algorithm it may verify.
    pub(crate) fn verifiers(&self) -> Result<Vec<(Algorithm, sig::ParsedPublicKey)>> {
        self.kind
            .algorithms()
            .iter()
            .map(|&alg| {
                let parsed = sig::ParsedPublicKey::new(verification_algorithm(alg)?, &self.spki)
                    .map_err(|e| key_err(format!("public key rejected: {e}")))?;
                Ok((alg, parsed))
            })
            .collect()
    }
}

/// The aws-lc-rs verification algorithm for a JWS `alg`.
fn verification_algorithm(alg: Algorithm) -> Result<&'static dyn sig::VerificationAlgorithm> {
    Ok(match alg {
        Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
        _ => return Err(key_err("algorithm not supported for registry tokens")),
    })
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&x| x == 0).count();
    b.get(n..).unwrap_or_default()
}

pub(crate) fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The libtrust key id of a DER `SubjectPublicKeyInfo`.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki_der);
    let truncated = digest.as_ref().get(..30).unwrap_or_default();
    let b32 = data_encoding::BASE32_NOPAD.encode(truncated);
    b32.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

enum Pair {
    Rsa(sig::RsaKeyPair),
    Ec(sig::EcdsaKeyPair),
}

/// A private key that signs registry tokens (RSA → RS256, P-256 → ES256, P-384 → ES384).
///
/// The key is parsed once; signing reuses it. `Debug` never shows key material.
pub struct SigningKey {
    pair: Pair,
    public: PublicKey,
    algorithm: Algorithm,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads the first private key of a PEM text (`PRIVATE KEY`, `RSA PRIVATE KEY` or
    /// `EC PRIVATE KEY`).
    ///
    /// # Errors
    ///
    /// [`Error::Key`] when there is no key or it is not RSA (2048 bits or more), P-256 or P-384.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| key_err(format!("no usable private key in the PEM text: {e}")))?;
        Self::from_der(&der)
    }

    /// Uses a DER private key (PKCS#8, PKCS#1 or SEC1).
    ///
    /// # Errors
    ///
    /// As [`SigningKey::from_pem`].
    pub fn from_der(der: &PrivateKeyDer<'_>) -> Result<Self> {
        let bytes = der.secret_der();
        let (pair, public_der, algorithm) = match der {
            PrivateKeyDer::Pkcs1(_) => rsa(sig::RsaKeyPair::from_der(bytes))?,
            PrivateKeyDer::Sec1(_) => ec(bytes, false)?,
            PrivateKeyDer::Pkcs8(_) => match rsa(sig::RsaKeyPair::from_pkcs8(bytes)) {
                Ok(v) => v,
                Err(_) => ec(bytes, true)?,
            },
            _ => return Err(key_err("unsupported private key encoding")),
        };
        Ok(Self {
            pair,
            public: PublicKey::from_spki_der(&public_der)?,
            algorithm,
            rng: SystemRandom::new(),
        })
    }

    /// Generates a new key (RSA keys have 2048 bits).
    ///
    /// # Errors
    ///
    /// [`Error::Key`] when the crypto library cannot generate it.
    pub fn generate(kind: KeyKind) -> Result<Self> {
        let pkcs8 = match kind {
            KeyKind::Rsa => sig::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .and_then(|k| k.as_der())
                .map(|d| d.as_ref().to_vec()),
            KeyKind::EcP256 => sig::EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map(|d| d.as_ref().to_vec()),
            KeyKind::EcP384 => sig::EcdsaKeyPair::generate(&sig::ECDSA_P384_SHA384_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| key_err("key generation failed"))?;
        Self::from_der(&PrivateKeyDer::Pkcs8(pkcs8.into()))
    }

    /// The private key as PKCS#8 PEM (to write the key file of a new deployment).
    ///
    /// # Errors
    ///
    /// [`Error::Key`] when the key cannot be encoded.
    pub fn to_pkcs8_pem(&self) -> Result<secrecy::SecretString> {
        let der = match &self.pair {
            Pair::Rsa(k) => k.as_der().map(|d| d.as_ref().to_vec()),
            Pair::Ec(k) => k.to_pkcs8v1().map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| key_err("cannot encode the private key"))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        Ok(pem.into())
    }

    /// The JWS algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `msg` (a JWS signing input); the JWS signature bytes (fixed-size `r||s` for ECDSA).
    ///
    /// # Errors
    ///
    /// [`Error::Key`] when the crypto library refuses (it should not).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        match &self.pair {
            Pair::Rsa(k) => {
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(&sig::RSA_PKCS1_SHA256, &self.rng, msg, &mut out)
                    .map_err(|_| key_err("RSA signing failed"))?;
                Ok(out)
            }
            Pair::Ec(k) => k
                .sign(&self.rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| key_err("ECDSA signing failed")),
        }
    }
}

type Parsed = (Pair, Vec<u8>, Algorithm);

fn rsa(r: std::result::Result<sig::RsaKeyPair, aws_lc_rs::error::KeyRejected>) -> Result<Parsed> {
    let k = r.map_err(|e| key_err(format!("RSA key rejected: {e}")))?;
    if k.public_modulus_len() < 256 {
        return Err(key_err("RSA keys must have at least 2048 bits"));
    }
    let spki = k
        .public_key()
        .as_der()
        .map_err(|_| key_err("cannot encode the RSA public key"))?
        .as_ref()
        .to_vec();
    Ok((Pair::Rsa(k), spki, Algorithm::RS256))
}

fn ec(bytes: &[u8], pkcs8: bool) -> Result<Parsed> {
    let curves: [(&'static sig::EcdsaSigningAlgorithm, Algorithm); 2] = [
        (&sig::ECDSA_P256_SHA256_FIXED_SIGNING, Algorithm::ES256),
        (&sig::ECDSA_P384_SHA384_FIXED_SIGNING, Algorithm::ES384),
    ];
    for (alg, jws) in curves {
        let parsed = if pkcs8 {
            sig::EcdsaKeyPair::from_pkcs8(alg, bytes)
        } else {
            sig::EcdsaKeyPair::from_private_key_der(alg, bytes)
        };
        if let Ok(k) = parsed {
            let spki = k
                .public_key()
                .as_der()
                .map_err(|_| key_err("cannot encode the EC public key"))?
                .as_ref()
                .to_vec();
            return Ok((Pair::Ec(k), spki, jws));
        }
    }
    Err(key_err("not an RSA, P-256 or P-384 private key"))
}

/// Reads every certificate of a PEM text (a `rootcertbundle`, or an `x5c` chain leaf first).
///
/// # Errors
///
/// [`Error::Key`] when the text holds no certificate or a malformed one.
pub fn certificates_from_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| key_err(format!("bad certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(key_err("no CERTIFICATE block in the PEM text"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    #[test]
    fn rfc7638_vector() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let e = "AQAB";
        let d = |s: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap()
        };
        let comps = aws_lc_rs::rsa::PublicKeyComponents { n: d(n), e: d(e) };
        let spki = comps.as_der().unwrap();
        let pk = PublicKey::from_spki_der(spki.as_ref()).unwrap();
        assert_eq!(pk.kind(), KeyKind::Rsa);
        assert_eq!(
            pk.jwk_thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn libtrust_shape() {
        let id = libtrust_key_id(b"anything");
        assert_eq!(id.len(), 48 + 11);
        assert_eq!(id.split(':').count(), 12);
    }
}
