//! The reactive token flow's state, on `harbor-auth`: challenges, scopes, the realm policy, the
//! token response rules, the token cache (single-flight per key) and the HTTP call to the realm,
//! [`harbor_auth::fetch::TokenFetcher`] on the transport's own `reqwest::Client`:
//!
//! - GET with repeated `scope` and `account` (what Harbor's `/service/token` and distribution
//!   serve) for anonymous and Basic credentials;
//! - the OAuth2 refresh-token POST for identity and refresh tokens (`client_id=harbor-client`),
//!   with no fallback to GET;
//! - the realm policy checked first, the answer read up to 1 MiB.
//!
//! The fetcher's futures are `Send`, so the clients work from `tokio::spawn` and in `Send`
//! streams.

use std::collections::HashMap;
use std::sync::Mutex;

use harbor_auth::fetch::TokenFetcher;
use harbor_auth::{Challenge, Credentials, RealmPolicy, Scheme, ScopeSet, TokenCache};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::error::{Error, Result};

/// The OAuth2 `client_id` the transport sends in the refresh-token POST.
const CLIENT_ID: &str = "harbor-client";

/// Tokens, fetcher and the last Bearer challenge seen per origin.
#[derive(Debug)]
pub(crate) struct AuthState {
    cache: TokenCache,
    fetcher: TokenFetcher,
    realms: Mutex<HashMap<String, Challenge>>,
}

impl AuthState {
    pub(crate) fn new(http: reqwest::Client, policy: RealmPolicy, cache: TokenCache) -> Self {
        AuthState {
            cache,
            fetcher: TokenFetcher::new(http)
                .with_policy(policy)
                .with_client_id(CLIENT_ID),
            realms: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn cache(&self) -> &TokenCache {
        &self.cache
    }

    /// Remembers the Bearer challenge of an origin, so later requests carry a token up front.
    pub(crate) fn remember(&self, origin: &str, challenge: Challenge) {
        if let Ok(mut m) = self.realms.lock() {
            m.insert(origin.to_owned(), challenge);
        }
    }

    pub(crate) fn realm_for(&self, origin: &str) -> Option<Challenge> {
        self.realms.lock().ok()?.get(origin).cloned()
    }

    /// A token for the challenge's realm and `scopes`: cached, or fetched once for all
    /// concurrent callers. `stale` is a token the server just refused: it is dropped from the
    /// cache first (unless someone already replaced it).
    pub(crate) async fn token(
        &self,
        challenge: &Challenge,
        scopes: &ScopeSet,
        credentials: &Credentials,
        registry: &Url,
        stale: Option<&SecretString>,
    ) -> Result<SecretString> {
        if let Ok(key) = TokenFetcher::cache_key(challenge, scopes, credentials) {
            if let Some(stale) = stale
                && self
                    .cache
                    .get(&key)
                    .is_some_and(|t| t.secret().expose_secret() == stale.expose_secret())
            {
                self.cache.invalidate(&key);
            } else if let Some(token) = self.cache.get(&key) {
                return Ok(token.secret().clone());
            }
        }
        tracing::debug!(scopes = %scopes, "fetching a token");
        // Boxed: the fetch is rare (tokens are cached) and its state would otherwise be part
        // of every request's future, which deep call chains of debug builds pay for in stack.
        let token = Box::pin(self.fetcher.fetch_cached(
            &self.cache,
            challenge,
            scopes,
            credentials,
            registry,
        ))
        .await
        .map_err(auth_error)?;
        Ok(token.secret().clone())
    }
}

/// Maps a `harbor-auth` error to ours, keeping it as the source.
pub(crate) fn auth_error(e: harbor_auth::Error) -> Error {
    Error::Auth {
        message: e.to_string(),
        source: Some(Box::new(e)),
    }
}

/// The `Authorization: Basic ...` value, when the credentials are Basic.
pub(crate) fn basic_header(c: &Credentials) -> Result<Option<SecretString>> {
    if !matches!(c, Credentials::Basic { .. }) {
        return Ok(None);
    }
    header_secret(c)
}

/// The header value for Basic or static Bearer credentials.
pub(crate) fn header_secret(c: &Credentials) -> Result<Option<SecretString>> {
    let v = c.authorization().map_err(auth_error)?;
    Ok(v.and_then(|v| v.to_str().ok().map(|s| SecretString::from(s.to_owned()))))
}

/// Every challenge in the `WWW-Authenticate` headers; an unparsable header yields none.
pub(crate) fn challenges(headers: &http::HeaderMap) -> Vec<Challenge> {
    match Challenge::from_headers(headers) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "ignoring an unparsable WWW-Authenticate header");
            Vec::new()
        }
    }
}

pub(crate) fn is_bearer(c: &Challenge) -> bool {
    c.scheme() == &Scheme::Bearer
}

pub(crate) fn is_basic(c: &Challenge) -> bool {
    c.scheme() == &Scheme::Basic
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::{HeaderMap, Method};

    use super::*;

    type Calls = Arc<Mutex<Vec<(Method, String, String, bool)>>>;

    /// A token realm on loopback that records (method, query, form body, authorized) and hands
    /// out `token-1`, `token-2`, ... in turn.
    async fn realm() -> (Url, Challenge, Calls) {
        let calls = Calls::default();
        let seen = Arc::clone(&calls);
        let handler = move |method: Method,
                            axum::extract::RawQuery(q): axum::extract::RawQuery,
                            headers: HeaderMap,
                            body: String| {
            let seen = Arc::clone(&seen);
            async move {
                let n = {
                    let mut calls = seen.lock().unwrap();
                    calls.push((
                        method,
                        q.unwrap_or_default(),
                        body,
                        headers.contains_key("authorization"),
                    ));
                    calls.len()
                };
                format!(r#"{{"token":"token-{n}","expires_in":300}}"#)
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app =
            axum::Router::new().route("/token", axum::routing::get(handler.clone()).post(handler));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let registry = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let challenge = Challenge::parse_all(&format!(
            r#"Bearer realm="http://127.0.0.1:{port}/token",service="reg""#
        ))
        .unwrap()
        .remove(0);
        (registry, challenge, calls)
    }

    fn state() -> Arc<AuthState> {
        Arc::new(AuthState::new(
            reqwest::Client::new(),
            RealmPolicy::new(),
            TokenCache::new(),
        ))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn identity_token_is_a_refresh_grant_post_from_a_spawned_task() {
        let (registry, challenge, calls) = realm().await;
        let auth = state();
        let creds = Credentials::identity_token(Some("alice".into()), "idt");
        let scopes = ScopeSet::pull("library/alpine").unwrap();
        // `tokio::spawn` requires the token future to be `Send`.
        let task = {
            let auth = Arc::clone(&auth);
            let (challenge, scopes, registry) = (challenge.clone(), scopes.clone(), registry);
            tokio::spawn(async move {
                auth.token(&challenge, &scopes, &creds, &registry, None)
                    .await
                    .map(|t| t.expose_secret().to_owned())
            })
        };
        assert_eq!(task.await.unwrap().unwrap(), "token-1");
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 1);
        let (method, query, body, authed) = &calls[0];
        assert_eq!(*method, Method::POST);
        assert_eq!(query, "");
        assert!(!authed);
        assert_eq!(
            body,
            "grant_type=refresh_token&refresh_token=idt&username=alice&service=reg\
             &client_id=harbor-client&scope=repository%3Alibrary%2Falpine%3Apull"
        );
    }

    #[tokio::test]
    async fn basic_is_a_get_and_a_refused_token_is_fetched_again() {
        let (registry, challenge, calls) = realm().await;
        let auth = state();
        let creds = Credentials::basic("alice", "pw");
        let scopes = ScopeSet::pull("library/alpine").unwrap();
        let first = auth
            .token(&challenge, &scopes, &creds, &registry, None)
            .await
            .unwrap();
        assert_eq!(first.expose_secret(), "token-1");
        // Cached.
        let again = auth
            .token(&challenge, &scopes, &creds, &registry, None)
            .await
            .unwrap();
        assert_eq!(again.expose_secret(), "token-1");
        // A token the registry refused is dropped and a new one fetched.
        let fresh = auth
            .token(&challenge, &scopes, &creds, &registry, Some(&first))
            .await
            .unwrap();
        assert_eq!(fresh.expose_secret(), "token-2");
        // A stale token that is no longer the cached one does not evict the new one.
        let kept = auth
            .token(&challenge, &scopes, &creds, &registry, Some(&first))
            .await
            .unwrap();
        assert_eq!(kept.expose_secret(), "token-2");
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 2);
        let (method, query, body, authed) = &calls[0];
        assert_eq!(*method, Method::GET);
        assert_eq!(
            query,
            "service=reg&scope=repository%3Alibrary%2Falpine%3Apull&account=alice"
        );
        assert!(body.is_empty());
        assert!(authed);
    }
}
