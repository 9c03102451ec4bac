//! The reqwest token fetcher against a token server we run on loopback: Harbor's 405 on POST
//! makes the password grant fall back to GET, GET carries repeated `scope` and `account`,
//! bodies are capped, and credentials never go to a realm on a foreign host.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use harbor_auth::fetch::{TokenFetcher, TokenMethod};
use harbor_auth::{
    BoundCredentials, Challenge, Credentials, Error, RealmPolicy, ScopeSet, TokenCache,
};
use secrecy::ExposeSecret;

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(Method, String, bool)>>>);

/// Behaves like Harbor's /service/token: POST is 405, GET answers `access_token: ""`.
async fn harbor_like(
    State(seen): State<Seen>,
    method: Method,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> axum::response::Response {
    let authed = headers.contains_key("authorization");
    seen.0
        .lock()
        .unwrap()
        .push((method.clone(), q.unwrap_or_default(), authed));
    if method == Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    ([("content-type", "application/json")], r#"{"token":"jwt-for-test","access_token":"","expires_in":1800,"issued_at":"2030-01-01T00:00:00Z"}"#).into_response()
}

async fn huge() -> impl IntoResponse {
    format!(r#"{{"token":"{}"}}"#, "x".repeat(2 << 20))
}

async fn serve(seen: Seen) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .route(
            "/service/token",
            axum::routing::get(harbor_like).post(harbor_like),
        )
        .route("/huge", axum::routing::get(huge))
        .with_state(seen);
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

fn challenge(port: u16, path: &str) -> Challenge {
    Challenge::parse_all(&format!(
        r#"Bearer realm="http://127.0.0.1:{port}{path}",service="harbor-registry""#
    ))
    .unwrap()
    .remove(0)
}

#[tokio::test]
async fn password_post_falls_back_to_get_like_harbor_needs() {
    let seen = Seen::default();
    let port = serve(seen.clone()).await;
    let registry = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let scopes = ScopeSet::mount("team/app", "library/base").unwrap();
    let fetcher = TokenFetcher::new(reqwest::Client::new()).with_method(TokenMethod::OAuth2Post);
    let cache = TokenCache::new();
    let creds = Credentials::robot("robot$team+ci", "s3cret").unwrap();
    let token = fetcher
        .fetch_cached(
            &cache,
            &challenge(port, "/service/token"),
            &scopes,
            &BoundCredentials::new(registry.as_str(), creds.clone()),
        )
        .await
        .unwrap();
    assert_eq!(token.secret().expose_secret(), "jwt-for-test");
    // A future issued_at (server clock ahead) is clamped: the token is fresh now.
    assert!(token.is_fresh(std::time::SystemTime::now()));
    let calls = seen.0.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].0, Method::POST);
    let (method, query, authed) = &calls[1];
    assert_eq!(*method, Method::GET);
    assert!(authed);
    assert_eq!(
        query,
        "service=harbor-registry&scope=repository%3Alibrary%2Fbase%3Apull&scope=repository%3Ateam%2Fapp%3Apull%2Cpush&account=robot%24team%2Bci"
    );
    // A second call is served from the cache: no more requests.
    fetcher
        .fetch_cached(
            &cache,
            &challenge(port, "/service/token"),
            &ScopeSet::pull("team/app").unwrap(),
            &BoundCredentials::new(registry.as_str(), creds.clone()),
        )
        .await
        .unwrap();
    assert_eq!(seen.0.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn bodies_are_capped() {
    let port = serve(Seen::default()).await;
    let registry = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let err = TokenFetcher::new(reqwest::Client::new())
        .fetch(
            &challenge(port, "/huge"),
            &ScopeSet::new(),
            &BoundCredentials::new(registry.as_str(), Credentials::Anonymous),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { limit } if limit == 1 << 20),
        "{err}"
    );
}

#[tokio::test]
async fn credentials_never_go_to_a_foreign_realm() {
    let seen = Seen::default();
    let port = serve(seen.clone()).await;
    // The registry is "localhost"; the realm it names is 127.0.0.1: another host.
    let registry = url::Url::parse(&format!("http://localhost:{port}/")).unwrap();
    let creds = Credentials::basic("alice", "pw");
    let fetcher = TokenFetcher::new(reqwest::Client::new());
    let err = fetcher
        .fetch(
            &challenge(port, "/service/token"),
            &ScopeSet::new(),
            &BoundCredentials::new(registry.as_str(), creds.clone()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RealmRejected { .. }), "{err}");
    assert!(seen.0.lock().unwrap().is_empty(), "nothing was sent");
    // Trusting the realm host for this registry allows it.
    let trusted = BoundCredentials::new(registry.as_str(), creds.clone()).trust_realm("127.0.0.1");
    let cache = TokenCache::new();
    fetcher
        .fetch_cached(
            &cache,
            &challenge(port, "/service/token"),
            &ScopeSet::new(),
            &trusted,
        )
        .await
        .unwrap();
    assert_eq!(seen.0.lock().unwrap().len(), 1);
    // The cached token is not a way around the policy: the same credentials without the
    // trust get an error, not the cached token.
    let untrusted = BoundCredentials::new(registry.as_str(), creds.clone());
    let err = fetcher
        .fetch_cached(
            &cache,
            &challenge(port, "/service/token"),
            &ScopeSet::new(),
            &untrusted,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RealmRejected { .. }), "{err}");
    assert!(matches!(
        fetcher.cached(
            &cache,
            &challenge(port, "/service/token"),
            &ScopeSet::new(),
            &untrusted
        ),
        Err(Error::RealmRejected { .. })
    ));
    // `danger_send_credentials_to_any_realm` is the blunt way.
    fetcher
        .with_policy(RealmPolicy::new().danger_send_credentials_to_any_realm())
        .fetch(
            &challenge(port, "/service/token"),
            &ScopeSet::new(),
            &untrusted,
        )
        .await
        .unwrap();
}

/// A token realm that redirects every request to `to` (307 keeps a POST's form).
async fn redirecting(to: String) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(move || {
        let to = to.clone();
        async move { (StatusCode::TEMPORARY_REDIRECT, [("location", to)]).into_response() }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// A collector on another loopback host that records what reaches it.
async fn collector(seen: Seen) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/token", axum::routing::get(harbor_like).post(harbor_like))
        .with_state(seen);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/token")
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn secrets_never_follow_a_redirect_to_another_host() {
    let stolen = Seen::default();
    let to = collector(stolen.clone()).await;
    let port = redirecting(to).await;
    let registry = format!("127.0.0.1:{port}");
    let fetcher = TokenFetcher::new(no_redirects());
    for creds in [
        Credentials::basic("alice", "pw"),
        Credentials::identity_token(Some("alice".into()), "idt"),
        Credentials::refresh_token(None, "rt"),
    ] {
        for method in [TokenMethod::Auto, TokenMethod::OAuth2Post] {
            let bound = BoundCredentials::new(&registry, creds.clone());
            let err = fetcher
                .clone()
                .with_method(method)
                .fetch(&challenge(port, "/token"), &ScopeSet::new(), &bound)
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::RealmRejected { .. })
                    && err.to_string().contains("another host"),
                "{creds:?} {method:?}: {err}"
            );
        }
    }
    assert!(
        stolen.0.lock().unwrap().is_empty(),
        "nothing reached the other host"
    );
    // An anonymous request carries nothing and may follow.
    let anon = BoundCredentials::anonymous(&registry);
    fetcher
        .fetch(&challenge(port, "/token"), &ScopeSet::new(), &anon)
        .await
        .unwrap();
    let seen = stolen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].2, "no Authorization on the anonymous request");
}

#[tokio::test]
async fn a_client_that_follows_redirects_itself_is_caught() {
    let stolen = Seen::default();
    let to = collector(stolen.clone()).await;
    let port = redirecting(to).await;
    let bound = BoundCredentials::anonymous(&format!("127.0.0.1:{port}"));
    let err = TokenFetcher::new(reqwest::Client::new())
        .fetch(&challenge(port, "/token"), &ScopeSet::new(), &bound)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Policy::none"), "{err}");
}
