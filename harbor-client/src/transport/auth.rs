//! The reactive token flow's state, on `harbor-auth`: challenges, scopes, the realm policy, the
//! token response rules and the token cache (single-flight per key).
//!
//! The HTTP call to the realm is a small private shim: `harbor_auth::fetch::TokenFetcher`'s
//! future is not `Send` today (a form serializer lives across an await), which a client used
//! from `tokio::spawn` cannot accept. GET with repeated `scope` (what Harbor and distribution
//! serve) and the OAuth2 refresh-token POST for identity tokens are done here instead.

use std::collections::HashMap;
use std::sync::Mutex;

use harbor_auth::{
    CacheKey, Challenge, Credentials, RealmPolicy, Scheme, ScopeSet, TokenCache, TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::error::{Error, Result};

/// Tokens, fetcher and the last Bearer challenge seen per origin.
#[derive(Debug)]
pub(crate) struct AuthState {
    cache: TokenCache,
    http: reqwest::Client,
    policy: RealmPolicy,
    realms: Mutex<HashMap<String, Challenge>>,
}

impl AuthState {
    pub(crate) fn new(http: reqwest::Client, policy: RealmPolicy, cache: TokenCache) -> Self {
        AuthState {
            cache,
            http,
            policy,
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
        if let Some(stale) = stale {
            let key = CacheKey::new(
                challenge.realm().unwrap_or_default(),
                challenge.service().unwrap_or_default(),
                scopes.clone(),
            )
            .with_account(credentials.username().unwrap_or_default());
            if self
                .cache
                .get(&key)
                .is_some_and(|t| t.secret().expose_secret() == stale.expose_secret())
            {
                self.cache.invalidate(&key);
            }
        }
        let key = CacheKey::new(
            challenge.realm().unwrap_or_default(),
            challenge.service().unwrap_or_default(),
            scopes.clone(),
        )
        .with_account(credentials.username().unwrap_or_default());
        let token = self
            .cache
            .get_or_fetch(&key, || {
                self.fetch(challenge, scopes, credentials, registry)
            })
            .await
            .map_err(auth_error)?;
        Ok(token.secret().clone())
    }

    async fn fetch(
        &self,
        challenge: &Challenge,
        scopes: &ScopeSet,
        credentials: &Credentials,
        registry: &Url,
    ) -> harbor_auth::Result<TokenResponse> {
        let realm_str = challenge
            .realm()
            .ok_or(harbor_auth::Error::MissingChallengeParam { param: "realm" })?;
        let realm = Url::parse(realm_str).map_err(|_| harbor_auth::Error::RealmRejected {
            realm: realm_str.chars().take(200).collect(),
            reason: "the realm is not an absolute URL",
        })?;
        self.policy
            .check(&realm, Some(registry), !credentials.is_anonymous())?;
        let req = match credentials {
            Credentials::IdentityToken { token, username }
            | Credentials::RefreshToken { token, username } => {
                let body = {
                    let mut form = url::form_urlencoded::Serializer::new(String::new());
                    form.append_pair("grant_type", "refresh_token");
                    form.append_pair("refresh_token", token.expose_secret());
                    if let Some(u) = username {
                        form.append_pair("username", u);
                    }
                    form.append_pair("service", challenge.service().unwrap_or_default());
                    form.append_pair("client_id", "harbor-client");
                    if !scopes.is_empty() {
                        form.append_pair("scope", &scopes.to_string());
                    }
                    form.finish()
                };
                self.http
                    .post(realm.clone())
                    .header(
                        http::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body)
            }
            _ => {
                let mut url = realm.clone();
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = challenge.service() {
                        q.append_pair("service", s);
                    }
                    for scope in scopes.iter() {
                        q.append_pair("scope", &scope.to_string());
                    }
                    if let Some(user) = credentials.username() {
                        q.append_pair("account", user);
                    }
                }
                let mut req = self.http.get(url);
                if let Some(h) = credentials.authorization()? {
                    req = req.header(http::header::AUTHORIZATION, h);
                }
                req
            }
        };
        let shown = crate::error::display_url(&realm);
        tracing::debug!(realm = %shown, scopes = %scopes, "fetching token");
        let transport = |source| harbor_auth::Error::Transport {
            realm: shown.clone(),
            source,
        };
        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_TOKEN_BODY {
                return Err(harbor_auth::Error::BodyTooLarge {
                    limit: MAX_TOKEN_BODY,
                });
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(harbor_auth::Error::TokenEndpoint {
                status: status.as_u16(),
                body_excerpt: text.trim().chars().take(200).collect(),
            });
        }
        TokenResponse::from_slice(&body)
    }
}

/// The largest token answer read.
const MAX_TOKEN_BODY: usize = 1 << 20;

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
