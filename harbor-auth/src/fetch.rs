//! The token fetcher on reqwest (feature `fetch`).
//!
//! - **GET** `<realm>?service=<svc>&scope=<s1>&scope=<s2>&account=<user>` with Basic
//!   credentials: the form every token server (and Harbor's `/service/token`) supports.
//! - **OAuth2 POST** (`grant_type=password` or `refresh_token`, `client_id`,
//!   `access_type=offline`, one space-separated `scope`): used for identity and refresh tokens
//!   (as Docker does) or when asked with [`TokenMethod::OAuth2Post`]. A password-grant POST
//!   that gets 400, 401, 404 or 405 falls back to GET (Harbor answers POST with 405).
//! - The realm is checked by a [`RealmPolicy`] first; the body is read up to a cap.
//!
//! Bring your own `reqwest::Client` so token requests share the transport's connection pool.
//! The feature enables reqwest without default features: the TLS stack (rustls or native-tls)
//! is whatever your client was built with, and no other is compiled in.
//!
//! Every future of this module is `Send` (the OAuth2 form is built before any `.await`), so
//! the fetcher can be used from `tokio::spawn` and inside `Send` streams.

use std::time::Duration;

use secrecy::ExposeSecret;
use url::Url;

use crate::cache::{CacheKey, TokenCache};
use crate::challenge::{Challenge, Scheme};
use crate::credentials::Credentials;
use crate::error::{Error, Result, excerpt};
use crate::realm::{RealmPolicy, realm_display};
use crate::scope::ScopeSet;
use crate::token::{Token, TokenResponse};

/// The default cap on a token response body (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// The default OAuth2 `client_id`, as distribution's reference client sends it.
pub const DEFAULT_CLIENT_ID: &str = "harbor-rs";

/// How to ask the realm for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenMethod {
    /// GET, except OAuth2 POST for identity and refresh tokens (what Docker does; right for
    /// Harbor, whose `/service/token` has no POST).
    #[default]
    Auto,
    /// Always GET.
    Get,
    /// OAuth2 POST for every credential kind, falling back to GET on 400/401/404/405 for the
    /// password grant.
    OAuth2Post,
}

/// Fetches registry tokens from a realm.
///
/// ```no_run
/// use harbor_auth::{Challenge, Credentials, ScopeSet, TokenCache};
/// use harbor_auth::fetch::TokenFetcher;
///
/// # async fn run() -> harbor_auth::Result<()> {
/// let fetcher = TokenFetcher::new(reqwest::Client::new());
/// let cache = TokenCache::new();
/// let registry = url::Url::parse("https://harbor.example/").expect("static URL");
/// let challenge = &Challenge::parse_all(
///     r#"Bearer realm="https://harbor.example/service/token",service="harbor-registry""#,
/// )?[0];
/// let token = fetcher
///     .fetch_cached(&cache, challenge, &ScopeSet::pull("library/alpine")?, &Credentials::basic("alice", "pw"), &registry)
///     .await?;
/// let header = token.authorization()?; // `Authorization: Bearer ...`
/// # let _ = header; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TokenFetcher {
    client: reqwest::Client,
    policy: RealmPolicy,
    body_limit: usize,
    client_id: String,
    method: TokenMethod,
    offline: bool,
}

enum Grant<'a> {
    Password {
        username: &'a str,
        password: &'a str,
    },
    Refresh {
        token: &'a str,
    },
}

impl TokenFetcher {
    /// A fetcher on the caller's client, with the default [`RealmPolicy`].
    pub fn new(client: reqwest::Client) -> Self {
        Self {
            client,
            policy: RealmPolicy::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            method: TokenMethod::Auto,
            offline: false,
        }
    }

    /// Sets the realm policy.
    #[must_use]
    pub fn with_policy(mut self, policy: RealmPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the cap on a token response body.
    #[must_use]
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    /// Sets the OAuth2 `client_id`.
    #[must_use]
    pub fn with_client_id(mut self, client_id: &str) -> Self {
        client_id.clone_into(&mut self.client_id);
        self
    }

    /// Sets the request method.
    #[must_use]
    pub fn with_method(mut self, method: TokenMethod) -> Self {
        self.method = method;
        self
    }

    /// Asks for a refresh token too (`offline_token=true` / `access_type=offline`).
    #[must_use]
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// The realm policy.
    pub fn policy(&self) -> &RealmPolicy {
        &self.policy
    }

    /// The key [`TokenFetcher::fetch_cached`] files a token under: the challenge's realm and
    /// service, the scopes and the credentials' user name. Use it to
    /// [`TokenCache::invalidate`] a token the registry refused.
    ///
    /// # Errors
    ///
    /// [`Error::MissingChallengeParam`] when the challenge names no realm.
    pub fn cache_key(
        challenge: &Challenge,
        scopes: &ScopeSet,
        credentials: &Credentials,
    ) -> Result<CacheKey> {
        let realm = challenge
            .realm()
            .ok_or(Error::MissingChallengeParam { param: "realm" })?;
        Ok(CacheKey::new(
            realm,
            challenge.service().unwrap_or_default(),
            scopes.clone(),
        )
        .with_account(credentials.username().unwrap_or_default()))
    }

    /// A token from the cache, or fetched once for all concurrent callers of the same key.
    ///
    /// # Errors
    ///
    /// As [`TokenFetcher::fetch`].
    pub async fn fetch_cached(
        &self,
        cache: &TokenCache,
        challenge: &Challenge,
        scopes: &ScopeSet,
        credentials: &Credentials,
        registry: &Url,
    ) -> Result<Token> {
        let key = Self::cache_key(challenge, scopes, credentials)?;
        cache
            .get_or_fetch(&key, || {
                self.fetch(challenge, scopes, credentials, registry)
            })
            .await
    }

    /// Fetches a token for `scopes` from the challenge's realm.
    ///
    /// Pass the scopes the operation needs merged with the challenge's own
    /// ([`Challenge::scopes`]). [`Credentials::Bearer`] is returned as is, without IO.
    ///
    /// # Errors
    ///
    /// [`Error::MissingChallengeParam`] (no realm), [`Error::RealmRejected`] (policy),
    /// [`Error::Transport`], [`Error::TokenEndpoint`] (non-2xx), [`Error::BodyTooLarge`],
    /// [`Error::InvalidTokenResponse`] / [`Error::MissingToken`] (bad body).
    pub async fn fetch(
        &self,
        challenge: &Challenge,
        scopes: &ScopeSet,
        credentials: &Credentials,
        registry: &Url,
    ) -> Result<TokenResponse> {
        if challenge.scheme() != &Scheme::Bearer {
            return Err(Error::InvalidChallenge {
                position: 0,
                reason: "only a Bearer challenge names a token realm",
            });
        }
        let realm_str = challenge
            .realm()
            .ok_or(Error::MissingChallengeParam { param: "realm" })?;
        let realm = Url::parse(realm_str).map_err(|_| Error::RealmRejected {
            realm: excerpt(realm_str, 200),
            reason: "the realm is not an absolute URL",
        })?;
        let service = challenge.service();
        if let Credentials::Bearer(t) = credentials {
            return Ok(TokenResponse::new(t.clone(), Duration::from_secs(60)));
        }
        self.policy
            .check(&realm, Some(registry), !credentials.is_anonymous())?;

        let grant = match (self.method, credentials) {
            (TokenMethod::Get, _) | (_, Credentials::Anonymous) => None,
            (
                _,
                Credentials::IdentityToken { token, .. } | Credentials::RefreshToken { token, .. },
            ) => Some(Grant::Refresh {
                token: token.expose_secret(),
            }),
            (TokenMethod::OAuth2Post, Credentials::Basic { username, password }) => {
                Some(Grant::Password {
                    username,
                    password: password.expose_secret(),
                })
            }
            _ => None,
        };
        if let Some(grant) = grant {
            let fallback = matches!(grant, Grant::Password { .. });
            match self.post(&realm, service, scopes, credentials, grant).await {
                Err(Error::TokenEndpoint { status, .. })
                    if fallback && matches!(status, 400 | 401 | 404 | 405) =>
                {
                    tracing::debug!(realm = %realm_display(&realm), status, "OAuth2 POST refused; falling back to GET");
                }
                other => return other,
            }
        }
        self.get(&realm, service, scopes, credentials).await
    }

    async fn get(
        &self,
        realm: &Url,
        service: Option<&str>,
        scopes: &ScopeSet,
        credentials: &Credentials,
    ) -> Result<TokenResponse> {
        let mut url = realm.clone();
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for scope in scopes.iter() {
                q.append_pair("scope", &scope.to_string());
            }
            if let Some(user) = credentials.username() {
                q.append_pair("account", user);
            }
            if self.offline {
                q.append_pair("offline_token", "true");
                q.append_pair("client_id", &self.client_id);
            }
        }
        let mut req = self.client.get(url);
        if let Some(h) = credentials.authorization()? {
            req = req.header(http::header::AUTHORIZATION, h);
        }
        self.send(realm, req).await
    }

    async fn post(
        &self,
        realm: &Url,
        service: Option<&str>,
        scopes: &ScopeSet,
        credentials: &Credentials,
        grant: Grant<'_>,
    ) -> Result<TokenResponse> {
        let body = self.form_body(service, scopes, credentials, &grant);
        let req = self
            .client
            .post(realm.clone())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        self.send(realm, req).await
    }

    /// The OAuth2 form body, built up front: the serializer borrows a non-`Sync` encoding
    /// override, so it must never live across an `.await` (the futures stay `Send`).
    fn form_body(
        &self,
        service: Option<&str>,
        scopes: &ScopeSet,
        credentials: &Credentials,
        grant: &Grant<'_>,
    ) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        match *grant {
            Grant::Password { username, password } => {
                form.append_pair("grant_type", "password");
                form.append_pair("username", username);
                form.append_pair("password", password);
            }
            Grant::Refresh { token } => {
                form.append_pair("grant_type", "refresh_token");
                form.append_pair("refresh_token", token);
                if let Some(user) = credentials.username() {
                    form.append_pair("username", user);
                }
            }
        }
        form.append_pair("service", service.unwrap_or_default());
        form.append_pair("client_id", &self.client_id);
        if self.offline {
            form.append_pair("access_type", "offline");
        }
        if !scopes.is_empty() {
            form.append_pair("scope", &scopes.to_string());
        }
        form.finish()
    }

    async fn send(&self, realm: &Url, req: reqwest::RequestBuilder) -> Result<TokenResponse> {
        let transport = |source| Error::Transport {
            realm: realm_display(realm),
            source,
        };
        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        if resp
            .content_length()
            .is_some_and(|len| len > self.body_limit as u64)
        {
            return Err(Error::BodyTooLarge {
                limit: self.body_limit,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > self.body_limit {
                return Err(Error::BodyTooLarge {
                    limit: self.body_limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(realm = %realm_display(realm), status = status.as_u16(), "token response");
        if !status.is_success() {
            return Err(Error::TokenEndpoint {
                status: status.as_u16(),
                body_excerpt: excerpt(String::from_utf8_lossy(&body).trim(), 200),
            });
        }
        TokenResponse::from_slice(&body)
    }
}
