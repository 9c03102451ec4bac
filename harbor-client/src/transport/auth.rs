//! The reactive token flow's state, on `harbor-auth`: the token cache (single-flight per key),
//! the Bearer realm each origin named, and the calls to
//! [`harbor_auth::fetch::TokenFetcher`] on the client of the realm's host:
//!
//! - GET with repeated `scope` and `account` (what Harbor's `/service/token` and distribution
//!   serve) for anonymous and Basic credentials;
//! - the OAuth2 refresh-token POST for identity and refresh tokens (`client_id=harbor-client`),
//!   with no fallback to GET;
//! - the realm policy checked first, on a cache hit as on a miss; the answer read up to 1 MiB;
//!   redirects never carry a secret to another host.
//!
//! The fetcher's futures are `Send`, so the clients work from `tokio::spawn` and in `Send`
//! streams.

use std::collections::HashMap;
use std::sync::Mutex;

use harbor_auth::decision::realm_challenge;
use harbor_auth::fetch::TokenFetcher;
use harbor_auth::{BoundCredentials, Challenge, Credentials, Scheme, ScopeSet, TokenCache};
use secrecy::SecretString;
use url::Url;

use super::origin;
use crate::error::{Error, Result};

/// Tokens and the last challenge seen per origin.
#[derive(Debug)]
pub(crate) struct AuthState {
    cache: TokenCache,
    realms: Mutex<HashMap<String, Challenge>>,
}

impl AuthState {
    pub(crate) fn new(cache: TokenCache) -> Self {
        AuthState {
            cache,
            realms: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn cache(&self) -> &TokenCache {
        &self.cache
    }

    /// Remembers how an origin challenged (its Bearer realm without the request's scope, or
    /// Basic), so later requests to it carry a token or Basic up front: a streamed upload
    /// cannot be sent twice to learn it.
    pub(crate) fn remember_challenge(&self, url: &Url, challenges: &[Challenge]) {
        let bearer = challenges
            .iter()
            .find(|c| *c.scheme() == Scheme::Bearer && c.realm().is_some());
        let remembered = match bearer {
            Some(b) => realm_challenge(b),
            None if challenges.iter().any(|c| *c.scheme() == Scheme::Basic) => {
                Challenge::new(Scheme::Basic)
            }
            None => return,
        };
        if let Ok(mut m) = self.realms.lock() {
            m.insert(origin(url), remembered);
        }
    }

    /// The challenge an origin sent last.
    pub(crate) fn challenge_for(&self, url: &Url) -> Option<Challenge> {
        self.realms.lock().ok()?.get(&origin(url)).cloned()
    }

    /// A token for the challenge's realm and `scopes`, and whether it was fetched just now:
    /// cached, or fetched once for all concurrent callers. The fetcher checks the realm policy
    /// for these credentials first, on a hit as on a miss.
    pub(crate) async fn token(
        &self,
        fetcher: &TokenFetcher,
        challenge: &Challenge,
        scopes: &ScopeSet,
        credentials: &BoundCredentials,
    ) -> Result<(SecretString, bool)> {
        if let Some(token) = fetcher
            .cached(&self.cache, challenge, scopes, credentials)
            .map_err(auth_error)?
        {
            return Ok((token.secret().clone(), false));
        }
        tracing::debug!(scopes = %scopes, "fetching a token");
        // Boxed: the fetch is rare (tokens are cached) and its state would otherwise be part
        // of every request's future, which deep call chains of debug builds pay for in stack.
        let token = Box::pin(fetcher.fetch_cached(&self.cache, challenge, scopes, credentials))
            .await
            .map_err(auth_error)?;
        Ok((token.secret().clone(), true))
    }
}

/// Maps a `harbor-auth` error to ours, keeping it as the source.
pub(crate) fn auth_error(e: harbor_auth::Error) -> Error {
    Error::from(e)
}

/// The `Authorization: Basic ...` value, when the bound credentials are Basic.
pub(crate) fn basic_header(bound: &BoundCredentials) -> Result<Option<SecretString>> {
    let c = bound.credentials();
    if !matches!(c, Credentials::Basic { .. }) {
        return Ok(None);
    }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::{HeaderMap, Method};
    use harbor_auth::RealmPolicy;
    use secrecy::ExposeSecret as _;

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
        Arc::new(AuthState::new(TokenCache::new()))
    }

    fn fetcher() -> TokenFetcher {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        TokenFetcher::new(client)
            .with_policy(RealmPolicy::new())
            .with_client_id("harbor-client")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn identity_token_is_a_refresh_grant_post_from_a_spawned_task() {
        let (registry, challenge, calls) = realm().await;
        let auth = state();
        let creds = BoundCredentials::new(
            registry.as_str(),
            Credentials::identity_token(Some("alice".into()), "idt"),
        );
        let scopes = ScopeSet::pull("library/alpine").unwrap();
        // `tokio::spawn` requires the token future to be `Send`.
        let task = {
            let auth = Arc::clone(&auth);
            let (challenge, scopes) = (challenge.clone(), scopes.clone());
            tokio::spawn(async move {
                auth.token(&fetcher(), &challenge, &scopes, &creds)
                    .await
                    .map(|(t, _)| t.expose_secret().to_owned())
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
        let creds = BoundCredentials::new(registry.as_str(), Credentials::basic("alice", "pw"));
        let scopes = ScopeSet::pull("library/alpine").unwrap();
        let f = fetcher();
        let (first, fresh) = auth.token(&f, &challenge, &scopes, &creds).await.unwrap();
        assert_eq!((first.expose_secret(), fresh), ("token-1", true));
        // Cached.
        let (again, fresh) = auth.token(&f, &challenge, &scopes, &creds).await.unwrap();
        assert_eq!((again.expose_secret(), fresh), ("token-1", false));
        // A token the registry refused is dropped and a new one fetched.
        auth.cache().evict_token(&first);
        let (renewed, _) = auth.token(&f, &challenge, &scopes, &creds).await.unwrap();
        assert_eq!(renewed.expose_secret(), "token-2");
        // A late refusal of the old token does not evict the new one.
        auth.cache().evict_token(&first);
        let (kept, _) = auth.token(&f, &challenge, &scopes, &creds).await.unwrap();
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
