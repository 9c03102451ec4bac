//! `TokenVerifier` refuses forged tokens: `alg: none`, HMAC keyed with the public key, an
//! unknown `kid`, malformed input; and checks time with its injected clock and leeway.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use harbor_auth::server::{KeyKind, SigningKey, TokenIssuer, TokenVerifier};
use harbor_auth::{ManualClock, ScopeSet, TokenRejection};
use secrecy::ExposeSecret;

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

struct Fixture {
    issuer: TokenIssuer,
    verifier: TokenVerifier,
    kid: String,
    clock: ManualClock,
}

fn fixture(kind: KeyKind) -> Fixture {
    let clock = ManualClock::new(SystemTime::now());
    let key = SigningKey::generate(kind).unwrap();
    let kid = key.public_key().libtrust_key_id();
    let public = key.public_key().clone();
    let issuer = TokenIssuer::builder(key, "iss")
        .lifetime(Duration::from_secs(300))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let verifier = TokenVerifier::builder("iss", "svc")
        .key(&kid, public)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    Fixture {
        issuer,
        verifier,
        kid,
        clock,
    }
}

fn rejection(f: &Fixture, token: &str) -> Option<TokenRejection> {
    f.verifier
        .verify(token, &ScopeSet::new())
        .err()
        .and_then(|e| e.token_rejection())
}

#[test]
fn forged_algorithms_are_refused() {
    let f = fixture(KeyKind::Rsa);
    let good = f
        .issuer
        .issue("alice", "svc", &ScopeSet::pull("a/b").unwrap())
        .unwrap();
    let good = good.token().expose_secret().to_owned();
    let payload = good.split('.').nth(1).unwrap();

    let none_header = b64(format!(r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#, f.kid).as_bytes());
    let none = format!("{none_header}.{payload}.");
    assert!(f.verifier.verify(&none, &ScopeSet::new()).is_err());

    // HS256 keyed with the public key bytes: the classic confusion attack.
    let hs_header = b64(format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#, f.kid).as_bytes());
    let signing_input = format!("{hs_header}.{payload}");
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        f.issuer.key().public_key().spki_der(),
    );
    let tag = aws_lc_rs::hmac::sign(&key, signing_input.as_bytes());
    let hs = format!("{signing_input}.{}", b64(tag.as_ref()));
    assert_eq!(
        rejection(&f, &hs),
        Some(TokenRejection::UnsupportedAlgorithm)
    );

    // ES256 header on an RSA key.
    let es_header = b64(format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{}"}}"#, f.kid).as_bytes());
    let sig = good.split('.').nth(2).unwrap();
    assert_eq!(
        rejection(&f, &format!("{es_header}.{payload}.{sig}")),
        Some(TokenRejection::UnsupportedAlgorithm)
    );
}

#[test]
fn unknown_kid_and_garbage() {
    let f = fixture(KeyKind::EcP256);
    let other = fixture(KeyKind::EcP256);
    let t = other.issuer.issue("", "svc", &ScopeSet::new()).unwrap();
    assert_eq!(
        rejection(&f, t.token().expose_secret()),
        Some(TokenRejection::UnknownKey)
    );
    for junk in ["", "a", "a.b", "a.b.c", "....", "eyJ.eyJ.eyJ"] {
        assert_eq!(
            rejection(&f, junk),
            Some(TokenRejection::Malformed),
            "{junk:?}"
        );
    }
}

#[test]
fn time_checks_use_the_clock_and_the_leeway() {
    let f = fixture(KeyKind::EcP256);
    let t = f.issuer.issue("alice", "svc", &ScopeSet::new()).unwrap();
    let t = t.token().expose_secret().to_owned();
    assert!(f.verifier.verify(&t, &ScopeSet::new()).is_ok());
    f.clock.advance(Duration::from_secs(300 + 60));
    assert!(
        f.verifier.verify(&t, &ScopeSet::new()).is_ok(),
        "within the 60 s leeway"
    );
    f.clock.advance(Duration::from_secs(2));
    assert_eq!(rejection(&f, &t), Some(TokenRejection::Expired));
}

#[test]
fn issued_claims_have_the_registry_shape() {
    let f = fixture(KeyKind::Rsa);
    let t = f
        .issuer
        .issue(
            "robot$ci",
            "svc",
            &"repository:a/b:push,pull repository:c:".parse().unwrap(),
        )
        .unwrap();
    let jws = t.token().expose_secret().to_owned();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jws.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], f.kid.as_str());
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jws.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(
        claims["aud"].is_string(),
        "aud must be a string for distribution 2.8"
    );
    assert_eq!(claims["sub"], "robot$ci");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );
    assert_eq!(claims["nbf"], claims["iat"]);
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
    assert_eq!(
        claims["access"],
        serde_json::json!([
            {"type": "repository", "name": "a/b", "actions": ["pull", "push"]},
            {"type": "repository", "name": "c", "actions": []},
        ])
    );
    let body: serde_json::Value = serde_json::from_slice(&t.response_json()).unwrap();
    assert_eq!(body["token"], body["access_token"]);
    assert_eq!(body["expires_in"], 300);
    assert!(body["issued_at"].as_str().unwrap().ends_with('Z'));
}
