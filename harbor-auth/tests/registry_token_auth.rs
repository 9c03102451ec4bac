//! A real `docker-registry` (distribution 2.8) trusts the tokens `TokenIssuer` signs, refuses
//! the bad ones, and `TokenVerifier` agrees with it on every token.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{
    Chain, ISSUER, KeyWithCert, Registry, SERVICE, TokenServer, chain, self_signed, tool,
};
use harbor_auth::fetch::TokenFetcher;
use harbor_auth::server::{
    Htpasswd, KeyIdFormat, KeyKind, TokenEndpoint, TokenIssuer, TokenVerifier,
};
use harbor_auth::{
    BoundCredentials, Challenge, Credentials, ManualClock, ScopeSet, TokenCache, TokenRejection,
};
use secrecy::ExposeSecret;

const REPO: &str = "it/app";

struct Setup {
    rsa: KeyWithCert,
    ec: KeyWithCert,
    x5c: Chain,
    bundle: String,
}

fn setup() -> Setup {
    let rsa = self_signed(KeyKind::Rsa, "rsa-signer");
    let ec = self_signed(KeyKind::EcP256, "ec-signer");
    let x5c = chain(KeyKind::EcP256, "chain");
    let bundle = format!("{}{}{}", rsa.cert_pem, ec.cert_pem, x5c.ca_pem);
    Setup {
        rsa,
        ec,
        x5c,
        bundle,
    }
}

/// `GET /v2/<repo>/tags/list` with a bearer token: the registry's verdict as a status.
async fn registry_status(client: &reqwest::Client, reg: &Registry, token: &str) -> u16 {
    client
        .get(format!("{}/v2/{REPO}/tags/list", reg.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn issuer(key: &harbor_auth::server::SigningKey, iss: &str, kid: KeyIdFormat) -> TokenIssuer {
    let key =
        harbor_auth::server::SigningKey::from_pem(key.to_pkcs8_pem().unwrap().expose_secret())
            .unwrap();
    TokenIssuer::builder(key, iss).key_id(kid).build().unwrap()
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_and_verifier_agree_on_good_and_bad_tokens() {
    let Some(bin) = tool("docker-registry") else {
        return;
    };
    let s = setup();
    // The realm is only advertised in challenges here; tokens are minted directly.
    let reg = common::start_registry(&bin, "http://127.0.0.1:9/token", &s.bundle);
    let client = reqwest::Client::new();
    let verifier = TokenVerifier::builder(ISSUER, SERVICE)
        .root_certificates_pem(&s.bundle)
        .unwrap()
        .build()
        .unwrap();
    let pull = ScopeSet::pull(REPO).unwrap();

    let past = ManualClock::new(SystemTime::now() - Duration::from_secs(3 * 3600));
    let expired_issuer = TokenIssuer::builder(
        harbor_auth::server::SigningKey::from_pem(
            s.rsa.key.to_pkcs8_pem().unwrap().expose_secret(),
        )
        .unwrap(),
        ISSUER,
    )
    .lifetime(Duration::from_secs(600))
    .clock(Arc::new(past))
    .build()
    .unwrap();
    let x5c_issuer = TokenIssuer::builder(
        harbor_auth::server::SigningKey::from_pem(
            s.x5c.leaf.key.to_pkcs8_pem().unwrap().expose_secret(),
        )
        .unwrap(),
        ISSUER,
    )
    .key_id(KeyIdFormat::None)
    .x5c(vec![s.x5c.leaf.cert_der.clone()])
    .build()
    .unwrap();
    let rogue_chain = chain(KeyKind::EcP256, "rogue");
    let rogue_x5c_issuer = TokenIssuer::builder(
        harbor_auth::server::SigningKey::from_pem(
            rogue_chain.leaf.key.to_pkcs8_pem().unwrap().expose_secret(),
        )
        .unwrap(),
        ISSUER,
    )
    .key_id(KeyIdFormat::None)
    .x5c(vec![rogue_chain.leaf.cert_der.clone()])
    .build()
    .unwrap();
    let untrusted = self_signed(KeyKind::Rsa, "untrusted");

    let good_rsa = issuer(&s.rsa.key, ISSUER, KeyIdFormat::Libtrust);
    let tampered = {
        let t = good_rsa
            .issue("alice", SERVICE, &ScopeSet::pull("it/other").unwrap())
            .unwrap();
        let t = t.token().expose_secret().to_owned();
        let parts: Vec<&str> = t.split('.').collect();
        let other = good_rsa.issue("alice", SERVICE, &pull).unwrap();
        let other = other.token().expose_secret().to_owned();
        let other_payload = other.split('.').nth(1).unwrap().to_owned();
        format!("{}.{}.{}", parts[0], other_payload, parts[2])
    };

    // (name, token, registry accepts?, verifier's reason when refused)
    let cases: Vec<(&str, String, bool, Option<TokenRejection>)> = vec![
        (
            "RS256 kid=libtrust",
            tok(&good_rsa, SERVICE, &pull),
            true,
            None,
        ),
        (
            "ES256 kid=libtrust",
            tok(
                &issuer(&s.ec.key, ISSUER, KeyIdFormat::Libtrust),
                SERVICE,
                &pull,
            ),
            true,
            None,
        ),
        (
            "ES256 x5c alone",
            tok(&x5c_issuer, SERVICE, &pull),
            true,
            None,
        ),
        (
            "wrong aud",
            tok(&good_rsa, "another-service", &pull),
            false,
            Some(TokenRejection::WrongAudience),
        ),
        (
            "wrong iss",
            tok(
                &issuer(&s.rsa.key, "someone-else", KeyIdFormat::Libtrust),
                SERVICE,
                &pull,
            ),
            false,
            Some(TokenRejection::WrongIssuer),
        ),
        (
            "expired",
            tok(&expired_issuer, SERVICE, &pull),
            false,
            Some(TokenRejection::Expired),
        ),
        (
            "untrusted key",
            tok(
                &issuer(&untrusted.key, ISSUER, KeyIdFormat::Libtrust),
                SERVICE,
                &pull,
            ),
            false,
            Some(TokenRejection::UnknownKey),
        ),
        (
            "x5c not rooted in the bundle",
            tok(&rogue_x5c_issuer, SERVICE, &pull),
            false,
            Some(TokenRejection::UntrustedChain),
        ),
        (
            "lacks the pull action",
            tok(&good_rsa, SERVICE, &ScopeSet::delete(REPO).unwrap()),
            false,
            Some(TokenRejection::InsufficientAccess),
        ),
        (
            "tampered payload",
            tampered,
            false,
            Some(TokenRejection::BadSignature),
        ),
    ];

    for (name, token, accepted, reason) in cases {
        let status = registry_status(&client, &reg, &token).await;
        let registry_accepts = status != 401;
        assert_eq!(
            registry_accepts, accepted,
            "{name}: registry answered {status}"
        );
        if accepted {
            assert_eq!(
                status, 404,
                "{name}: authorised, and the repository does not exist yet"
            );
        }
        let ours = verifier.verify(&token, &pull);
        assert_eq!(ours.is_ok(), accepted, "{name}: verifier said {ours:?}");
        if let Some(reason) = reason {
            assert_eq!(ours.unwrap_err().token_rejection(), Some(reason), "{name}");
        }
    }

    // distribution 2.8 does not know RFC 7638 thumbprint kids (3.x does); our verifier knows
    // root-bundle keys under both ids.
    let thumb = tok(
        &issuer(&s.rsa.key, ISSUER, KeyIdFormat::Thumbprint),
        SERVICE,
        &pull,
    );
    assert_eq!(registry_status(&client, &reg, &thumb).await, 401);
    assert!(verifier.verify(&thumb, &pull).is_ok());
}

fn tok(issuer: &TokenIssuer, aud: &str, access: &ScopeSet) -> String {
    issuer
        .issue("alice", aud, access)
        .unwrap()
        .token()
        .expose_secret()
        .to_owned()
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_flow_through_our_endpoint() {
    let Some(bin) = tool("docker-registry") else {
        return;
    };
    let s = setup();
    let password = format!("pw-{}", common::free_port());
    let htpasswd = Htpasswd::parse(&Htpasswd::hash_line("alice", &password, 4).unwrap()).unwrap();
    let endpoint = TokenEndpoint::new(issuer(&s.rsa.key, ISSUER, KeyIdFormat::Libtrust), SERVICE)
        .with_credentials(htpasswd)
        .with_authorizer(|subject: Option<&str>, asked: &ScopeSet| match subject {
            Some("alice") => "repository:it/app:*".parse().unwrap(),
            _ => {
                let _ = asked;
                ScopeSet::new()
            }
        });
    let server = TokenServer::start(endpoint).await;
    let reg = common::start_registry(&bin, &server.realm(), &s.bundle);
    let client = reqwest::Client::new();
    let registry_url = url::Url::parse(&reg.url()).unwrap();

    // 1. Unauthenticated request: 401 with a Bearer challenge naming our realm and the scope.
    let resp = client
        .get(format!("{}/v2/{REPO}/tags/list", reg.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = Challenge::bearer_from_headers(resp.headers())
        .unwrap()
        .unwrap();
    assert_eq!(challenge.realm(), Some(server.realm().as_str()));
    assert_eq!(challenge.service(), Some(SERVICE));
    assert_eq!(challenge.scopes().unwrap(), ScopeSet::pull(REPO).unwrap());

    // 2. The fetcher gets a token (GET with scope and account) through the cache, once.
    let fetcher = TokenFetcher::new(client.clone());
    let cache = TokenCache::new();
    let creds = Credentials::basic("alice", password.clone());
    let scopes = challenge.scopes().unwrap();
    let token = fetcher
        .fetch_cached(
            &cache,
            &challenge,
            &scopes,
            &BoundCredentials::new(registry_url.as_str(), creds.clone()),
        )
        .await
        .unwrap();
    assert_eq!(cache.len(), 1);

    // 3. The registry accepts it: 404 (no such repository yet) instead of 401.
    let resp = client
        .get(format!("{}/v2/{REPO}/tags/list", reg.url()))
        .header(http::header::AUTHORIZATION, token.authorization().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    // 4. Wrong password: the endpoint refuses with 401, and the error says so without the secret.
    let err = fetcher
        .fetch(
            &challenge,
            &scopes,
            &BoundCredentials::new(
                registry_url.as_str(),
                Credentials::basic("alice", "wrong-secret"),
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::UNAUTHORIZED));
    assert!(!err.to_string().contains("wrong-secret"));

    // 5. Anonymous: a token with empty access, which the registry refuses.
    let anon = fetcher
        .fetch(
            &challenge,
            &scopes,
            &BoundCredentials::new(registry_url.as_str(), Credentials::Anonymous),
        )
        .await
        .unwrap()
        .into_token(SystemTime::now());
    let status = registry_status(&client, &reg, anon.secret().expose_secret()).await;
    assert_eq!(status, 401);

    // 6. OAuth2 POST (password grant) is served by our endpoint too.
    let post =
        TokenFetcher::new(client.clone()).with_method(harbor_auth::fetch::TokenMethod::OAuth2Post);
    let t = post
        .fetch(
            &challenge,
            &scopes,
            &BoundCredentials::new(registry_url.as_str(), creds.clone()),
        )
        .await
        .unwrap();
    assert_eq!(t.scope(), Some("repository:it/app:pull"));
    let status = registry_status(&client, &reg, t.token().expose_secret()).await;
    assert_eq!(status, 404);
}
