//! Refresh (offline) tokens on `TokenEndpoint`: `offline_token=true` on GET, `access_type=offline`
//! and `grant_type=refresh_token` on the OAuth2 POST, every refusal, and the proof against a real
//! `docker-registry` that an exchanged access token is accepted while the refresh token itself
//! is refused as a bearer token.

#![cfg(all(feature = "server", feature = "fetch"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use common::{ISSUER, SERVICE, TokenServer, basic, get, post, self_signed, start_registry, tool};
use harbor_auth::fetch::TokenFetcher;
use harbor_auth::server::{
    Htpasswd, KeyKind, SigningKey, TokenEndpoint, TokenIssuer, TokenVerifier,
};
use harbor_auth::{
    BoundCredentials, Challenge, Credentials, ManualClock, ScopeSet, TokenRejection, TokenResponse,
};
use http::StatusCode;
use secrecy::ExposeSecret;

const LIFETIME: Duration = Duration::from_secs(3600);

/// Keys, users and an authoriser shared by the behaviour tests.
struct Fixture {
    pem: String,
    clock: ManualClock,
    verifier: TokenVerifier,
}

impl Fixture {
    fn new() -> Self {
        let key = SigningKey::generate(KeyKind::EcP256).unwrap();
        let verifier = TokenVerifier::builder("iss", "svc")
            .key(
                &key.public_key().libtrust_key_id(),
                key.public_key().clone(),
            )
            .build()
            .unwrap();
        Fixture {
            pem: key.to_pkcs8_pem().unwrap().expose_secret().to_owned(),
            clock: ManualClock::new(SystemTime::now()),
            verifier,
        }
    }

    /// An endpoint on this fixture's key and clock (a restart or a replica of the same service).
    fn endpoint(&self, service: &str, users: &[(&str, &str)], refresh: bool) -> TokenEndpoint {
        self.endpoint_with_key(&self.pem, service, users, refresh)
    }

    fn endpoint_with_key(
        &self,
        pem: &str,
        service: &str,
        users: &[(&str, &str)],
        refresh: bool,
    ) -> TokenEndpoint {
        let issuer = TokenIssuer::builder(SigningKey::from_pem(pem).unwrap(), "iss")
            .clock(Arc::new(self.clock.clone()))
            .build()
            .unwrap();
        let lines: Vec<String> = users
            .iter()
            .map(|(u, p)| Htpasswd::hash_line(u, p, 4).unwrap())
            .collect();
        let ep = TokenEndpoint::new(issuer, service)
            .with_credentials(Htpasswd::parse(&lines.join("\n")).unwrap())
            .with_authorizer(|subject: Option<&str>, _: &ScopeSet| match subject {
                Some("alice") => "repository:team/app:*".parse().unwrap(),
                Some(_) => "repository:team/app:pull".parse().unwrap(),
                None => ScopeSet::new(),
            });
        if refresh {
            ep.with_refresh_tokens(LIFETIME).unwrap()
        } else {
            ep
        }
    }

    /// The standard endpoint: alice and bob, refresh tokens on.
    fn on(&self) -> TokenEndpoint {
        self.endpoint("svc", &[("alice", "alice-pw"), ("bob", "bob-pw")], true)
    }

    /// The access a 200 response grants, checked as the registry would.
    fn granted(&self, resp: &http::Response<Bytes>) -> (String, ScopeSet) {
        assert_eq!(resp.status(), StatusCode::OK, "{:?}", resp.body());
        let t = TokenResponse::from_slice(resp.body()).unwrap();
        let claims = self
            .verifier
            .verify(t.token().expose_secret(), &ScopeSet::new())
            .unwrap();
        (claims.sub.clone(), claims.scopes())
    }
}

fn refresh_token_of(resp: &http::Response<Bytes>) -> Option<String> {
    assert_eq!(resp.status(), StatusCode::OK, "{:?}", resp.body());
    TokenResponse::from_slice(resp.body())
        .unwrap()
        .refresh_token()
        .map(|t| t.expose_secret().to_owned())
}

/// A refresh token for alice, from `GET offline_token=true`.
fn alice_refresh(ep: &TokenEndpoint) -> String {
    let resp = get(
        ep,
        "service=svc&offline_token=true&client_id=docker&account=alice",
        Some(&basic("alice", "alice-pw")),
    );
    refresh_token_of(&resp).expect("a refresh token for offline_token=true")
}

fn refresh_grant(ep: &TokenEndpoint, token: &str, service: &str) -> http::Response<Bytes> {
    post(
        ep,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("service", service),
            ("client_id", "test"),
            ("scope", "repository:team/app:pull,push"),
        ],
    )
}

/// `400` with the OAuth2 error body `{"error": code}`; the body never repeats `secret`.
fn assert_oauth_error(resp: &http::Response<Bytes>, code: &str, secret: &str) {
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{:?}", resp.body());
    let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    let text = String::from_utf8_lossy(resp.body());
    assert!(!text.contains(secret), "the error body leaks the token");
}

fn claims_json(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn get_with_offline_token_hands_out_a_refresh_token_that_is_no_access_token() {
    let f = Fixture::new();
    let ep = f.on();
    let refresh = alice_refresh(&ep);

    // Not an access token: the registry's verifier (audience `svc`) refuses it.
    let err = f.verifier.verify(&refresh, &ScopeSet::new()).unwrap_err();
    assert_eq!(err.token_rejection(), Some(TokenRejection::WrongAudience));
    let claims = claims_json(&refresh);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], "iss");
    assert_ne!(claims["aud"], "svc");
    assert!(claims.get("access").is_none(), "{claims}");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        LIFETIME.as_secs()
    );

    // Without offline_token, or for anonymous callers, there is none.
    let plain = get(&ep, "service=svc", Some(&basic("alice", "alice-pw")));
    assert_eq!(refresh_token_of(&plain), None);
    let anon = get(
        &ep,
        "service=svc&offline_token=true&scope=repository:team/app:pull",
        None,
    );
    assert_eq!(refresh_token_of(&anon), None);
    assert_eq!(f.granted(&anon).0, "");
    // Wrong credentials still get 401, offline or not.
    assert_eq!(
        get(
            &ep,
            "service=svc&offline_token=true",
            Some(&basic("alice", "wrong"))
        )
        .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn password_grant_with_access_type_offline_hands_out_a_refresh_token() {
    let f = Fixture::new();
    let ep = f.on();
    let form = |offline: bool| {
        let mut form = vec![
            ("grant_type", "password"),
            ("username", "bob"),
            ("password", "bob-pw"),
            ("service", "svc"),
            ("client_id", "test"),
            ("scope", "repository:team/app:pull"),
        ];
        if offline {
            form.push(("access_type", "offline"));
        }
        form
    };
    let resp = post(&ep, &form(true));
    let refresh = refresh_token_of(&resp).expect("access_type=offline gives a refresh token");
    assert_eq!(claims_json(&refresh)["sub"], "bob");
    assert_eq!(
        TokenResponse::from_slice(resp.body()).unwrap().scope(),
        Some("repository:team/app:pull")
    );
    assert_eq!(refresh_token_of(&post(&ep, &form(false))), None);
}

#[test]
fn refresh_grant_issues_an_access_token_for_the_subject_and_returns_the_same_refresh_token() {
    let f = Fixture::new();
    let ep = f.on();
    let refresh = alice_refresh(&ep);

    let resp = refresh_grant(&ep, &refresh, "svc");
    let (sub, granted) = f.granted(&resp);
    assert_eq!(sub, "alice");
    assert_eq!(granted.to_string(), "repository:team/app:pull,push");
    let t = TokenResponse::from_slice(resp.body()).unwrap();
    assert_eq!(t.scope(), Some("repository:team/app:pull,push"));
    assert_eq!(
        t.refresh_token().map(|r| r.expose_secret()),
        Some(refresh.as_str()),
        "the same refresh token comes back"
    );

    // The authoriser is asked again for the token's subject: bob only gets pull.
    let bob = refresh_token_of(&get(
        &ep,
        "service=svc&offline_token=true",
        Some(&basic("bob", "bob-pw")),
    ))
    .unwrap();
    let (sub, granted) = f.granted(&refresh_grant(&ep, &bob, "svc"));
    assert_eq!(sub, "bob");
    assert_eq!(granted.to_string(), "repository:team/app:pull");

    // Stateless: another endpoint with the same key and service (a restart, a replica) takes
    // it, and a `username` field cannot change the subject.
    let replica = f.on();
    let resp = post(
        &replica,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("username", "bob"),
            ("service", "svc"),
            ("scope", "repository:team/app:push"),
        ],
    );
    let (sub, granted) = f.granted(&resp);
    assert_eq!(sub, "alice");
    assert_eq!(granted.to_string(), "repository:team/app:push");
}

#[test]
fn refresh_grant_refusals() {
    let f = Fixture::new();
    let ep = f.on();
    let refresh = alice_refresh(&ep);

    // Tampered: alice's signature over bob's claims.
    let bob = refresh_token_of(&get(
        &ep,
        "service=svc&offline_token=true",
        Some(&basic("bob", "bob-pw")),
    ))
    .unwrap();
    let mut parts: Vec<&str> = refresh.split('.').collect();
    parts[1] = bob.split('.').nth(1).unwrap();
    let tampered = parts.join(".");
    assert_oauth_error(
        &refresh_grant(&ep, &tampered, "svc"),
        "invalid_grant",
        &tampered,
    );

    // Signed by another key (same issuer name, same service).
    let other_pem = SigningKey::generate(KeyKind::EcP256)
        .unwrap()
        .to_pkcs8_pem()
        .unwrap()
        .expose_secret()
        .to_owned();
    let foreign = f.endpoint_with_key(&other_pem, "svc", &[("alice", "alice-pw")], true);
    let foreign_token = alice_refresh(&foreign);
    assert_oauth_error(
        &refresh_grant(&ep, &foreign_token, "svc"),
        "invalid_grant",
        &foreign_token,
    );

    // Issued for another service by an endpoint with the same key.
    let other_service = f.endpoint("svc2", &[("alice", "alice-pw")], true);
    let resp = get(
        &other_service,
        "service=svc2&offline_token=true",
        Some(&basic("alice", "alice-pw")),
    );
    let svc2_token = refresh_token_of(&resp).unwrap();
    assert_oauth_error(
        &refresh_grant(&ep, &svc2_token, "svc"),
        "invalid_grant",
        &svc2_token,
    );
    // ... and the other service's endpoint will not take ours.
    assert_oauth_error(
        &refresh_grant(&other_service, &refresh, "svc2"),
        "invalid_grant",
        &refresh,
    );
    // The `service` field must still name this endpoint's service.
    assert_oauth_error(
        &refresh_grant(&ep, &refresh, "svc2"),
        "invalid_request",
        &refresh,
    );

    // An access token is not a refresh token.
    let access = TokenResponse::from_slice(
        get(
            &ep,
            "service=svc&scope=repository:team/app:pull",
            Some(&basic("alice", "alice-pw")),
        )
        .body(),
    )
    .unwrap()
    .token()
    .expose_secret()
    .to_owned();
    assert_oauth_error(
        &refresh_grant(&ep, &access, "svc"),
        "invalid_grant",
        &access,
    );

    // Garbage and a missing field.
    assert_oauth_error(
        &refresh_grant(&ep, "not-a-jwt", "svc"),
        "invalid_grant",
        "not-a-jwt",
    );
    assert_oauth_error(
        &post(&ep, &[("grant_type", "refresh_token"), ("service", "svc")]),
        "invalid_request",
        &refresh,
    );
    assert_oauth_error(
        &post(
            &ep,
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("service", "svc"),
            ],
        ),
        "unsupported_grant_type",
        &refresh,
    );

    // A user removed from the htpasswd file loses their refresh tokens (the revocation hook).
    let without_alice = f.endpoint("svc", &[("bob", "bob-pw")], true);
    assert_oauth_error(
        &refresh_grant(&without_alice, &refresh, "svc"),
        "invalid_grant",
        &refresh,
    );
    assert_eq!(
        refresh_grant(&without_alice, &bob, "svc").status(),
        StatusCode::OK
    );
}

#[test]
fn refresh_tokens_expire_on_the_issuers_clock() {
    let f = Fixture::new();
    let ep = f.on();
    let refresh = alice_refresh(&ep);
    // Still good just before the end of its lifetime.
    f.clock.advance(LIFETIME - Duration::from_secs(1));
    assert_eq!(refresh_grant(&ep, &refresh, "svc").status(), StatusCode::OK);
    // Past its lifetime and the 60 s leeway: refused.
    f.clock.advance(Duration::from_secs(62));
    assert_oauth_error(
        &refresh_grant(&ep, &refresh, "svc"),
        "invalid_grant",
        &refresh,
    );
    // A new login gets a new, valid one.
    let fresh = alice_refresh(&ep);
    assert_ne!(fresh, refresh);
    assert_eq!(refresh_grant(&ep, &fresh, "svc").status(), StatusCode::OK);
}

#[test]
fn without_refresh_tokens_the_endpoint_behaves_as_before() {
    let f = Fixture::new();
    let refresh = alice_refresh(&f.on());
    let off = f.endpoint("svc", &[("alice", "alice-pw")], false);
    // offline_token and access_type are ignored ...
    let resp = get(
        &off,
        "service=svc&offline_token=true",
        Some(&basic("alice", "alice-pw")),
    );
    assert_eq!(refresh_token_of(&resp), None);
    let resp = post(
        &off,
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice-pw"),
            ("service", "svc"),
            ("access_type", "offline"),
        ],
    );
    assert_eq!(refresh_token_of(&resp), None);
    // ... and the refresh grant is refused as unsupported, even with a valid token.
    let resp = refresh_grant(&off, &refresh, "svc");
    assert_oauth_error(&resp, "unsupported_grant_type", &refresh);
    let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(
        body["error_description"],
        "only grant_type=password is supported"
    );
}

#[test]
fn debug_output_holds_no_secret() {
    let f = Fixture::new();
    let ep = f.on();
    let refresh = alice_refresh(&ep);
    let debug = format!("{ep:?}");
    assert!(debug.contains("refresh_token_lifetime"), "{debug}");
    assert!(!debug.contains(&refresh));
    assert!(!debug.contains("PRIVATE"));
}

// ---------------------------------------------------------------------------------------------
// Against the real registry.

const REPO: &str = "it/app";

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_accepts_exchanged_access_tokens_and_refuses_the_refresh_token() {
    let Some(bin) = tool("docker-registry") else {
        return;
    };
    let signer = self_signed(KeyKind::Rsa, "refresh-signer");
    let password = format!("pw-{}", common::free_port());
    let issuer = TokenIssuer::builder(signer.key, ISSUER).build().unwrap();
    let endpoint = TokenEndpoint::new(issuer, SERVICE)
        .with_credentials(
            Htpasswd::parse(&Htpasswd::hash_line("alice", &password, 4).unwrap()).unwrap(),
        )
        .with_authorizer(|subject: Option<&str>, _: &ScopeSet| match subject {
            Some("alice") => "repository:it/app:*".parse().unwrap(),
            _ => ScopeSet::new(),
        })
        .with_refresh_tokens(LIFETIME)
        .unwrap();
    let server = TokenServer::start(endpoint).await;
    let reg = start_registry(&bin, &server.realm(), &signer.cert_pem);
    let client = reqwest::Client::new();
    let registry_url = url::Url::parse(&reg.url()).unwrap();
    let tags = format!("{}/v2/{REPO}/tags/list", reg.url());

    let resp = client.get(&tags).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = Challenge::bearer_from_headers(resp.headers())
        .unwrap()
        .unwrap();
    let scopes = challenge.scopes().unwrap();

    // 1. A refresh token from GET offline_token=true with Basic credentials (as `docker login`).
    let login = TokenFetcher::new(client.clone())
        .offline(true)
        .fetch(
            &challenge,
            &ScopeSet::new(),
            &BoundCredentials::new(
                registry_url.as_str(),
                Credentials::basic("alice", password.clone()),
            ),
        )
        .await
        .unwrap();
    let refresh = login
        .refresh_token()
        .expect("offline_token=true gives a refresh token")
        .expose_secret()
        .to_owned();

    // 2. TokenFetcher exchanges it (OAuth2 POST grant_type=refresh_token) for an access token,
    //    as a refresh token and as an identity token, and the registry accepts both: 404 for a
    //    repository that does not exist yet, not 401.
    let fetcher = TokenFetcher::new(client.clone());
    for creds in [
        Credentials::RefreshToken {
            username: Some("alice".to_owned()),
            token: refresh.clone().into(),
        },
        Credentials::identity_token(None, refresh.clone()),
    ] {
        let exchanged = fetcher
            .fetch(
                &challenge,
                &scopes,
                &BoundCredentials::new(registry_url.as_str(), creds.clone()),
            )
            .await
            .unwrap();
        assert_eq!(exchanged.scope(), Some("repository:it/app:pull"));
        assert_eq!(
            exchanged.refresh_token().map(|t| t.expose_secret()),
            Some(refresh.as_str())
        );
        let status = client
            .get(&tags)
            .bearer_auth(exchanged.token().expose_secret())
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404, "{creds:?}: the registry accepts the token");
    }

    // 3. The refresh token itself is no bearer token for the registry.
    let resp = client
        .get(&tags)
        .bearer_auth(&refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()[http::header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("invalid_token"), "{challenge}");

    // A tampered refresh token gets the OAuth2 error from the realm, and the fetcher's error
    // does not repeat the token.
    // One character in the middle of the signature changed.
    let at = refresh.len() - 40;
    let flipped = if refresh[at..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    let mut tampered = refresh.clone();
    tampered.replace_range(at..=at, flipped);
    let err = fetcher
        .fetch(
            &Challenge::bearer_from_headers(client.get(&tags).send().await.unwrap().headers())
                .unwrap()
                .unwrap(),
            &scopes,
            &BoundCredentials::new(
                registry_url.as_str(),
                Credentials::identity_token(None, tampered.clone()),
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::BAD_REQUEST));
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    assert!(!err.to_string().contains(&tampered));
}
