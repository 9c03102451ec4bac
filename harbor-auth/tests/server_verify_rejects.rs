//! `TokenVerifier` refuses forged tokens: `alg: none`, HMAC keyed with the public key, an
//! unknown `kid`, malformed input, a duplicate `alg` member, an oversized token, an `x5c` leaf
//! from the trusted CA with a signature by another key; it checks time with its injected clock
//! and a bounded leeway (`nbf` in the future too), and access exactly (`*` is not `pull`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use harbor_auth::server::{
    KeyKind, MAX_LEEWAY, MAX_TOKEN_LEN, SigningKey, TokenIssuer, TokenVerifier,
};
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

fn copy(key: &SigningKey) -> SigningKey {
    SigningKey::from_pem(key.to_pkcs8_pem().unwrap().expose_secret()).unwrap()
}

#[test]
fn nbf_in_the_future_is_refused_beyond_the_leeway() {
    let f = fixture(KeyKind::EcP256);
    // An issuer whose clock runs ten minutes ahead of the verifier's.
    let ahead = ManualClock::new(SystemTime::now());
    ahead.advance(Duration::from_secs(600));
    let issuer = TokenIssuer::builder(copy(f.issuer.key()), "iss")
        .clock(Arc::new(ahead.clone()))
        .build()
        .unwrap();
    let t = issuer.issue("alice", "svc", &ScopeSet::new()).unwrap();
    let t = t.token().expose_secret().to_owned();
    assert_eq!(rejection(&f, &t), Some(TokenRejection::NotYetValid));
    // Within the leeway it passes: 30 s ahead.
    let close = ManualClock::new(SystemTime::now());
    close.advance(Duration::from_secs(30));
    let issuer = TokenIssuer::builder(copy(f.issuer.key()), "iss")
        .clock(Arc::new(close))
        .build()
        .unwrap();
    let t = issuer.issue("alice", "svc", &ScopeSet::new()).unwrap();
    assert!(
        f.verifier
            .verify(t.token().expose_secret(), &ScopeSet::new())
            .is_ok()
    );
}

#[test]
fn the_leeway_is_bounded() {
    let f = fixture(KeyKind::EcP256);
    let lax = TokenVerifier::builder("iss", "svc")
        .key(&f.kid, f.issuer.key().public_key().clone())
        .leeway(Duration::from_secs(7 * 24 * 3600))
        .clock(Arc::new(f.clock.clone()))
        .build()
        .unwrap();
    let t = f.issuer.issue("alice", "svc", &ScopeSet::new()).unwrap();
    let t = t.token().expose_secret().to_owned();
    // Lifetime 300 s; a week of leeway would keep it alive, the cap of 5 minutes does not.
    f.clock
        .advance(Duration::from_secs(300) + MAX_LEEWAY + Duration::from_secs(1));
    assert_eq!(
        lax.verify(&t, &ScopeSet::new())
            .err()
            .and_then(|e| e.token_rejection()),
        Some(TokenRejection::Expired)
    );
}

#[test]
fn a_duplicate_alg_member_is_malformed() {
    let f = fixture(KeyKind::EcP256);
    let good = f.issuer.issue("alice", "svc", &ScopeSet::new()).unwrap();
    let good = good.token().expose_secret().to_owned();
    let mut parts = good.split('.');
    let (_, payload, sig) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    for header in [
        format!(
            r#"{{"alg":"ES256","alg":"none","typ":"JWT","kid":"{}"}}"#,
            f.kid
        ),
        format!(
            r#"{{"alg":"none","alg":"ES256","typ":"JWT","kid":"{}"}}"#,
            f.kid
        ),
        format!(r#"{{"alg":"ES256","kid":"{}","kid":"other"}}"#, f.kid),
    ] {
        let forged = format!("{}.{payload}.{sig}", b64(header.as_bytes()));
        assert_eq!(
            rejection(&f, &forged),
            Some(TokenRejection::Malformed),
            "{header}"
        );
    }
}

#[test]
fn an_oversized_token_is_refused_before_decoding() {
    let f = fixture(KeyKind::EcP256);
    let huge = format!("{}.{}.{}", "e".repeat(MAX_TOKEN_LEN), "e", "e");
    assert_eq!(rejection(&f, &huge), Some(TokenRejection::TooLarge));
}

#[test]
fn an_x5c_leaf_from_the_trusted_ca_signed_by_another_key_is_refused() {
    let chain = common::chain(KeyKind::EcP256, "x5c-test");
    let verifier = TokenVerifier::builder("iss", "svc")
        .root_certificates_pem(&chain.ca_pem)
        .unwrap()
        .build()
        .unwrap();
    // The genuine leaf signs: accepted.
    let genuine = TokenIssuer::builder(copy(&chain.leaf.key), "iss")
        .key_id(harbor_auth::server::KeyIdFormat::None)
        .x5c(vec![chain.leaf.cert_der.clone()])
        .build()
        .unwrap();
    let t = genuine.issue("alice", "svc", &ScopeSet::new()).unwrap();
    assert!(
        verifier
            .verify(t.token().expose_secret(), &ScopeSet::new())
            .is_ok()
    );
    // The same certificate in the header, the signature by another key of the same kind.
    let other = SigningKey::generate(KeyKind::EcP256).unwrap();
    let header = format!(
        r#"{{"alg":"ES256","typ":"JWT","x5c":["{}"]}}"#,
        base64::engine::general_purpose::STANDARD.encode(&chain.leaf.cert_der)
    );
    let payload = t
        .token()
        .expose_secret()
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    let input = format!("{}.{payload}", b64(header.as_bytes()));
    let forged = format!("{input}.{}", b64(&other.sign(input.as_bytes()).unwrap()));
    assert_eq!(
        verifier
            .verify(&forged, &ScopeSet::new())
            .err()
            .and_then(|e| e.token_rejection()),
        Some(TokenRejection::BadSignature)
    );
}

#[test]
fn a_request_for_every_action_needs_a_grant_of_every_action() {
    let f = fixture(KeyKind::EcP256);
    let pull_only = f
        .issuer
        .issue("alice", "svc", &ScopeSet::pull("team/app").unwrap())
        .unwrap();
    let all: ScopeSet = "repository:team/app:*".parse().unwrap();
    assert_eq!(
        f.verifier
            .verify(pull_only.token().expose_secret(), &all)
            .err()
            .and_then(|e| e.token_rejection()),
        Some(TokenRejection::InsufficientAccess)
    );
    // A grant of `*` serves every action.
    let star = f.issuer.issue("alice", "svc", &all).unwrap();
    assert!(
        f.verifier
            .verify(
                star.token().expose_secret(),
                &ScopeSet::push("team/app").unwrap()
            )
            .is_ok()
    );
}
