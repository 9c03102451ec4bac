//! The OAuth2 refresh-token POST (identity tokens from `docker login` with an IdP, and refresh
//! tokens from an earlier offline grant) against a token server we run on loopback: the form it
//! sends, that it never falls back to GET, and that it runs inside `tokio::spawn`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use harbor_auth::fetch::TokenFetcher;
use harbor_auth::{BoundCredentials, Challenge, Credentials, Error, ScopeSet, TokenCache};
use secrecy::ExposeSecret;

#[derive(Debug, Clone)]
struct Call {
    method: Method,
    query: String,
    form: BTreeMap<String, String>,
    authed: bool,
    content_type: Option<String>,
}

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Call>>>);

impl Seen {
    fn calls(&self) -> Vec<Call> {
        self.0.lock().unwrap().clone()
    }
}

fn record(seen: &Seen, method: Method, query: Option<String>, headers: &HeaderMap, body: &str) {
    seen.0.lock().unwrap().push(Call {
        method,
        query: query.unwrap_or_default(),
        form: url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect(),
        authed: headers.contains_key("authorization"),
        content_type: headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned()),
    });
}

/// An OAuth2 token server: answers both methods with a token and a refresh token.
async fn oauth(
    State(seen): State<Seen>,
    method: Method,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    record(&seen, method, q, &headers, &body);
    (
        [("content-type", "application/json")],
        r#"{"access_token":"oauth-access","refresh_token":"next-refresh","expires_in":300}"#,
    )
        .into_response()
}

/// Harbor's `/service/token`: no POST.
async fn harbor_like(
    State(seen): State<Seen>,
    method: Method,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let post = method == Method::POST;
    record(&seen, method, q, &headers, &body);
    if post {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    ([("content-type", "application/json")], r#"{"token":"jwt"}"#).into_response()
}

async fn serve(seen: Seen) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .route("/oauth", axum::routing::get(oauth).post(oauth))
        .route(
            "/service/token",
            axum::routing::get(harbor_like).post(harbor_like),
        )
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

fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_token_is_posted_as_a_refresh_grant_from_a_spawned_task() {
    let seen = Seen::default();
    let port = serve(seen.clone()).await;
    let registry = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let fetcher = TokenFetcher::new(reqwest::Client::new()).with_client_id("my-client");
    let cache = TokenCache::new();
    let challenge = challenge(port, "/oauth");
    let scopes = ScopeSet::mount("team/app", "library/base").unwrap();
    let creds = Credentials::identity_token(Some("alice".into()), "id-token-secret");
    // tokio::spawn needs a `Send` future: this compiles only because the fetcher's is.
    let task = {
        let (fetcher, cache, challenge, scopes, creds, registry) = (
            fetcher.clone(),
            cache.clone(),
            challenge.clone(),
            scopes.clone(),
            creds.clone(),
            registry.clone(),
        );
        tokio::spawn(async move {
            fetcher
                .fetch_cached(
                    &cache,
                    &challenge,
                    &scopes,
                    &BoundCredentials::new(registry.as_str(), creds.clone()),
                )
                .await
        })
    };
    let token = task.await.unwrap().unwrap();
    assert_eq!(token.secret().expose_secret(), "oauth-access");
    assert_eq!(
        token.refresh_token().map(|t| t.expose_secret().to_owned()),
        Some("next-refresh".to_owned())
    );
    let calls = seen.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call.method, Method::POST);
    assert_eq!(call.query, "", "nothing in the query string");
    assert!(!call.authed, "the identity token goes in the form only");
    assert_eq!(
        call.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        call.form,
        form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "id-token-secret"),
            ("username", "alice"),
            ("service", "harbor-registry"),
            ("client_id", "my-client"),
            (
                "scope",
                "repository:library/base:pull repository:team/app:pull,push"
            ),
        ])
    );
    // The same key is served from the cache.
    fetcher
        .fetch_cached(
            &cache,
            &challenge,
            &scopes,
            &BoundCredentials::new(registry.as_str(), creds.clone()),
        )
        .await
        .unwrap();
    assert_eq!(seen.calls().len(), 1);
}

#[tokio::test]
async fn refresh_token_offline_asks_for_offline_access_without_a_username() {
    let seen = Seen::default();
    let port = serve(seen.clone()).await;
    let registry = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let creds = Credentials::RefreshToken {
        username: None,
        token: "old-refresh".to_owned().into(),
    };
    let resp = TokenFetcher::new(reqwest::Client::new())
        .offline(true)
        .fetch(
            &challenge(port, "/oauth"),
            &ScopeSet::new(),
            &BoundCredentials::new(registry.as_str(), creds.clone()),
        )
        .await
        .unwrap();
    assert_eq!(resp.token().expose_secret(), "oauth-access");
    let calls = seen.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].form,
        form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "old-refresh"),
            ("service", "harbor-registry"),
            ("client_id", "harbor-rs"),
            ("access_type", "offline"),
        ])
    );
}

#[tokio::test]
async fn a_refused_refresh_grant_does_not_fall_back_to_get() {
    let seen = Seen::default();
    let port = serve(seen.clone()).await;
    let registry = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let err = TokenFetcher::new(reqwest::Client::new())
        .fetch(
            &challenge(port, "/service/token"),
            &ScopeSet::pull("library/alpine").unwrap(),
            &BoundCredentials::new(registry.as_str(), Credentials::identity_token(None, "idt")),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TokenEndpoint { status: 405, .. }),
        "{err}"
    );
    assert!(
        !err.to_string().contains("idt"),
        "no secret in the error: {err}"
    );
    let calls = seen.calls();
    assert_eq!(calls.len(), 1, "no GET after a refused refresh grant");
    assert_eq!(calls[0].method, Method::POST);
}
