//! The token service side (feature `server`).
//!
//! - [`TokenIssuer`] signs registry JWTs (RS256 with RSA keys, ES256 with P-256, ES384 with
//!   P-384): header `typ`, `alg`, `kid` as libtrust id (distribution 2.x, the default) or RFC
//!   7638 thumbprint (3.x), and/or an `x5c` chain (both versions); claims `iss sub aud exp nbf
//!   iat jti access[]` with `aud` a **string** (distribution 2.8 refuses an array).
//! - [`TokenVerifier`] checks them as a registry does (see its docs for the order of checks).
//! - [`TokenEndpoint`] is a ready token service over `http` types, with an [`Authorizer`] hook
//!   and a [`CredentialChecker`] hook ([`Htpasswd`] with bcrypt built in). With
//!   [`TokenEndpoint::with_refresh_tokens`] it also serves the refresh-token half of the
//!   protocol (`offline_token=true`, `access_type=offline`, `grant_type=refresh_token`) with
//!   stateless refresh tokens a registry refuses as bearer tokens.
//!
//! Crypto: aws-lc-rs (the library rustls uses, so one crypto stack in the build). Keys are
//! parsed once: the issuer signs with a pre-parsed key pair and the verifier checks with
//! pre-parsed public keys, so issuing or verifying costs about one signature operation.
//! `jsonwebtoken` supplies the JWS header type and header decoding; its crypto backend is chosen
//! explicitly as `aws_lc_rs` (jsonwebtoken panics at run time when none or both of its backends
//! are on), and building an issuer or verifier installs that provider first, so another crate
//! that enables jsonwebtoken's `rust_crypto` cannot make your program panic.
//!
//! ```
//! use harbor_auth::ScopeSet;
//! use harbor_auth::server::{KeyKind, SigningKey, TokenIssuer, TokenVerifier};
//!
//! # fn main() -> harbor_auth::Result<()> {
//! let key = SigningKey::generate(KeyKind::EcP256)?; // or SigningKey::from_pem(&pem_text)?
//! let kid = key.public_key().libtrust_key_id();
//! let public = key.public_key().clone();
//! let issuer = TokenIssuer::builder(key, "my-token-issuer").build()?;
//! let token = issuer.issue("alice", "my-registry", &ScopeSet::push("team/app")?)?;
//!
//! let verifier = TokenVerifier::builder("my-token-issuer", "my-registry").key(&kid, public).build()?;
//! use secrecy::ExposeSecret;
//! let claims = verifier.verify(token.token().expose_secret(), &ScopeSet::pull("team/app")?)?;
//! assert_eq!(claims.sub, "alice");
//! # Ok(()) }
//! ```

mod endpoint;
mod hooks;
mod htpasswd;
mod issuer;
mod keys;
mod refresh;
mod verifier;

pub use endpoint::TokenEndpoint;
pub use hooks::{Authorizer, CredentialChecker};
pub use htpasswd::Htpasswd;
pub use issuer::{
    AccessEntry, DEFAULT_LIFETIME, IssuedToken, KeyIdFormat, RegistryClaims, TokenIssuer,
    TokenIssuerBuilder,
};
/// The JWS algorithm of a key ([`KeyKind::algorithms`], [`SigningKey::algorithm`]), from
/// `jsonwebtoken`: re-exported so that no matching version need be added.
#[doc(no_inline)]
pub use jsonwebtoken::Algorithm;
pub use keys::{KeyKind, PublicKey, SigningKey, certificates_from_pem, libtrust_key_id};
/// DER keys and certificates ([`SigningKey::from_der`], [`certificates_from_pem`]), from
/// `rustls-pki-types`: re-exported so that no matching version need be added.
#[doc(no_inline)]
pub use rustls_pki_types::{CertificateDer, PrivateKeyDer};
pub use verifier::{
    DEFAULT_LEEWAY, MAX_LEEWAY, MAX_TOKEN_LEN, TokenVerifier, TokenVerifierBuilder,
};
