//! `TokenEndpoint` over `http` types: methods, service check, credentials, the grant rule
//! (intersection of asked and allowed), Harbor-style scope splitting, and the OAuth2 POST.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::Bytes;
use common::{basic, get, post};
use harbor_auth::server::{
    Htpasswd, KeyKind, SigningKey, TokenEndpoint, TokenIssuer, TokenVerifier,
};
use harbor_auth::{ScopeSet, TokenResponse};
use http::{Method, Request, StatusCode};
use secrecy::ExposeSecret;

fn endpoint() -> (TokenEndpoint, TokenVerifier) {
    let key = SigningKey::generate(KeyKind::EcP256).unwrap();
    let kid = key.public_key().libtrust_key_id();
    let verifier = TokenVerifier::builder("iss", "svc")
        .key(&kid, key.public_key().clone())
        .build()
        .unwrap();
    let issuer = TokenIssuer::builder(key, "iss").build().unwrap();
    let users = Htpasswd::parse(&format!(
        "# users\n{}\n\n{}\n",
        Htpasswd::hash_line("alice", "alice-pw", 4).unwrap(),
        Htpasswd::hash_line("bob", "bob-pw", 4).unwrap()
    ))
    .unwrap();
    let ep = TokenEndpoint::new(issuer, "svc")
        .with_credentials(users)
        .with_authorizer(|subject: Option<&str>, _: &ScopeSet| match subject {
            Some("alice") => "repository:team/app:* repository:team/lib:pull"
                .parse()
                .unwrap(),
            Some(_) => "repository:team/app:pull".parse().unwrap(),
            None => ScopeSet::new(),
        });
    (ep, verifier)
}

fn granted(verifier: &TokenVerifier, resp: &http::Response<Bytes>) -> ScopeSet {
    assert_eq!(resp.status(), StatusCode::OK, "{:?}", resp.body());
    assert_eq!(resp.headers()[http::header::CACHE_CONTROL], "no-store");
    let t = TokenResponse::from_slice(resp.body()).unwrap();
    verifier
        .verify(t.token().expose_secret(), &ScopeSet::new())
        .unwrap()
        .scopes()
}

#[test]
fn grants_the_intersection_of_asked_and_allowed() {
    let (ep, v) = endpoint();
    // Harbor-style: one scope parameter holding two scopes, plus a repeated parameter.
    let q = "service=svc&scope=repository%3Ateam%2Fapp%3Apull%2Cpush%20repository%3Ateam%2Flib%3Apush&scope=repository:other:pull&account=alice";
    let g = granted(&v, &get(&ep, q, Some(&basic("alice", "alice-pw"))));
    assert_eq!(
        g.to_string(),
        "repository:other: repository:team/app:pull,push repository:team/lib:"
    );
    let g = granted(&v, &get(&ep, q, Some(&basic("bob", "bob-pw"))));
    assert_eq!(
        g.to_string(),
        "repository:other: repository:team/app:pull repository:team/lib:"
    );
    // Anonymous: a token with empty access (what Harbor does too).
    let g = granted(&v, &get(&ep, q, None));
    assert!(g.iter().all(|s| s.actions().is_empty()));
}

#[test]
fn refusals() {
    let (ep, _) = endpoint();
    let r = get(
        &ep,
        "service=svc&scope=repository:a:pull",
        Some(&basic("alice", "nope")),
    );
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()[http::header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
    assert_eq!(
        get(&ep, "service=svc", Some(&basic("mallory", "x"))).status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&ep, "service=svc", Some("Basic !!!")).status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&ep, "service=other", None).status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&ep, "service=svc&scope=nonsense", None).status(),
        StatusCode::BAD_REQUEST
    );
    let put = Request::builder()
        .method(Method::PUT)
        .uri("/token")
        .body(Bytes::new())
        .unwrap();
    assert_eq!(ep.handle(&put).status(), StatusCode::METHOD_NOT_ALLOWED);
    let closed = endpoint().0.allow_anonymous(false);
    assert_eq!(
        get(&closed, "service=svc", None).status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(Htpasswd::parse("alice:{SHA}abc").is_err(), "only bcrypt");
}

#[test]
fn oauth2_password_grant() {
    let (ep, v) = endpoint();
    let resp = post(
        &ep,
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice-pw"),
            ("service", "svc"),
            ("client_id", "t"),
            ("scope", "repository:team/app:pull"),
        ],
    );
    assert_eq!(granted(&v, &resp).to_string(), "repository:team/app:pull");
    let t = TokenResponse::from_slice(resp.body()).unwrap();
    assert_eq!(t.scope(), Some("repository:team/app:pull"));
    let bad = Request::builder()
        .method(Method::POST)
        .uri("/token")
        .body(Bytes::from(
            "grant_type=refresh_token&refresh_token=x&service=svc",
        ))
        .unwrap();
    assert_eq!(ep.handle(&bad).status(), StatusCode::BAD_REQUEST);
}

#[test]
fn claims_whose_iat_is_no_date_are_refused_not_a_panic() {
    let key = SigningKey::generate(KeyKind::EcP256).unwrap();
    let issuer = TokenIssuer::builder(key, "iss").build().unwrap();
    let issued = issuer.issue("alice", "svc", &ScopeSet::new()).unwrap();
    let claims = |iat: u64| {
        let mut claims = issued.claims().clone();
        (claims.iat, claims.nbf, claims.exp) = (iat, iat, iat.saturating_add(300));
        claims
    };
    for iat in [u64::MAX, i64::MAX as u64, 9_000_000_000_000] {
        let err = issuer.sign_claims(claims(iat)).unwrap_err();
        assert!(matches!(err, harbor_auth::Error::Key { .. }), "{err:?}");
    }
    // An ordinary date signs, and the answer carries it.
    let ok = issuer.sign_claims(claims(1_700_000_000)).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&ok.response_json()).unwrap();
    assert_eq!(body["issued_at"], "2023-11-14T22:13:20Z");
}
