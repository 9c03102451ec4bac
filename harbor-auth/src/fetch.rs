//! The token fetcher on reqwest (feature `fetch`).
//!
//! - **GET** `<realm>?service=<svc>&scope=<s1>&scope=<s2>&account=<user>` with Basic
//!   credentials: the form every token server (and Harbor's `/service/token`) supports.
//! - **OAuth2 POST** (`grant_type=password` or `refresh_token`, `client_id`,
//!   `access_type=offline`, one space-separated `scope`): used for identity and refresh tokens
//!   (as Docker does) or when asked with [`TokenMethod::OAuth2Post`]. A password-grant POST
//!   that gets 400, 401, 404 or 405 falls back to GET (Harbor answers POST with 405).
//! - The realm is checked by a [`RealmPolicy`] first, on a cache hit as on a miss, against
//!   the registry the [`BoundCredentials`] were given for; the body is read up to a cap.
//! - **Redirects** are followed by the fetcher itself, within the realm's origin. A redirect to
//!   another origin is refused when the request carries a secret (a Basic header, a password
//!   or a refresh token in the form): the secret never crosses hosts. Anonymous requests may
//!   follow it to another https realm.
//!
//! Bring your own `reqwest::Client` so token requests share the transport's connection pool.
//! Build it with `redirect(reqwest::redirect::Policy::none())`: a client that follows
//! redirects by itself could carry a form body to another host before the fetcher sees it, so
//! the fetcher refuses an answer that did not come from the URL it asked.
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
use crate::keychain::BoundCredentials;
use crate::realm::{RealmPolicy, realm_display};
use crate::scope::ScopeSet;
use crate::token::{Token, TokenResponse};

/// The default cap on a token response body (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// The default OAuth2 `client_id` of the refresh-token POST. The protocol requires one and
/// registries accept any name: it only identifies the client in their logs.
pub const DEFAULT_CLIENT_ID: &str = "harbor-rs";

/// The most redirects followed within the realm's origin.
const MAX_REDIRECTS: usize = 5;

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
/// use harbor_auth::{BoundCredentials, Challenge, Credentials, ScopeSet, TokenCache};
/// use harbor_auth::fetch::TokenFetcher;
///
/// # async fn run() -> harbor_auth::Result<()> {
/// let client = reqwest::Client::builder()
///     .redirect(reqwest::redirect::Policy::none())
///     .build()
///     .expect("a client");
/// let fetcher = TokenFetcher::new(client);
/// let cache = TokenCache::new();
/// let alice = BoundCredentials::new("harbor.example", Credentials::basic("alice", "pw"));
/// let challenge = &Challenge::parse_all(
///     r#"Bearer realm="https://harbor.example/service/token",service="harbor-registry""#,
/// )?[0];
/// let token = fetcher
///     .fetch_cached(&cache, challenge, &ScopeSet::pull("library/alpine")?, &alice)
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

/// One request to the realm, as sent (and re-sent after a same-origin redirect).
struct Outgoing {
    method: http::Method,
    url: Url,
    authorization: Option<http::HeaderValue>,
    form: Option<String>,
    /// Whether it carries a secret (Basic header, password, refresh or identity token).
    secret: bool,
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
    /// A fetcher on the caller's client (which should not follow redirects, see the module
    /// docs), with the default [`RealmPolicy`].
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

    /// The key [`TokenFetcher::fetch_cached`] files a token under: the registry the
    /// credentials are bound to, the challenge's realm and service, the scopes and the
    /// credentials' identity.
    ///
    /// # Errors
    ///
    /// [`Error::MissingChallengeParam`] when the challenge names no realm.
    pub fn cache_key(
        challenge: &Challenge,
        scopes: &ScopeSet,
        credentials: &BoundCredentials,
    ) -> Result<CacheKey> {
        let realm = challenge
            .realm()
            .ok_or(Error::MissingChallengeParam { param: "realm" })?;
        Ok(CacheKey::new(
            realm,
            challenge.service().unwrap_or_default(),
            scopes.clone(),
            credentials,
        ))
    }

    /// Checks the challenge's realm against the policy for these credentials.
    fn check_realm(&self, challenge: &Challenge, credentials: &BoundCredentials) -> Result<Url> {
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
        self.policy.check(&realm, credentials)?;
        Ok(realm)
    }

    /// A fresh cached token for the challenge, scopes and credentials, if there is one. The
    /// realm policy is checked first, as for a fetch.
    ///
    /// # Errors
    ///
    /// As [`TokenFetcher::cache_key`], and [`Error::RealmRejected`].
    pub fn cached(
        &self,
        cache: &TokenCache,
        challenge: &Challenge,
        scopes: &ScopeSet,
        credentials: &BoundCredentials,
    ) -> Result<Option<Token>> {
        self.check_realm(challenge, credentials)?;
        Ok(cache.get(&Self::cache_key(challenge, scopes, credentials)?))
    }

    /// A token from the cache, or fetched once for all concurrent callers of the same key.
    /// The realm policy is checked before the cache is looked at.
    ///
    /// # Errors
    ///
    /// As [`TokenFetcher::fetch`].
    pub async fn fetch_cached(
        &self,
        cache: &TokenCache,
        challenge: &Challenge,
        scopes: &ScopeSet,
        credentials: &BoundCredentials,
    ) -> Result<Token> {
        self.check_realm(challenge, credentials)?;
        let key = Self::cache_key(challenge, scopes, credentials)?;
        cache
            .get_or_fetch(&key, || self.fetch(challenge, scopes, credentials))
            .await
    }

    /// Fetches a token for `scopes` from the challenge's realm.
    ///
    /// Pass the scopes the operation needs merged with the challenge's own
    /// ([`Challenge::scopes`]). [`Credentials::Bearer`] is returned as is, without IO.
    ///
    /// # Errors
    ///
    /// [`Error::MissingChallengeParam`] (no realm), [`Error::RealmRejected`] (policy, or a
    /// redirect that would carry a secret to another host), [`Error::Transport`],
    /// [`Error::TokenEndpoint`] (non-2xx), [`Error::BodyTooLarge`],
    /// [`Error::InvalidTokenResponse`] / [`Error::MissingToken`] (bad body).
    pub async fn fetch(
        &self,
        challenge: &Challenge,
        scopes: &ScopeSet,
        credentials: &BoundCredentials,
    ) -> Result<TokenResponse> {
        let realm = self.check_realm(challenge, credentials)?;
        let service = challenge.service();
        let credentials = credentials.credentials();
        if let Credentials::Bearer(t) = credentials {
            return Ok(TokenResponse::new(t.clone(), Duration::from_secs(60)));
        }

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
        let authorization = credentials.authorization()?;
        self.send(
            realm,
            Outgoing {
                method: http::Method::GET,
                url,
                secret: authorization.is_some(),
                authorization,
                form: None,
            },
        )
        .await
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
        self.send(
            realm,
            Outgoing {
                method: http::Method::POST,
                url: realm.clone(),
                authorization: None,
                form: Some(body),
                secret: true,
            },
        )
        .await
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

    /// Sends the request, following redirects within the realm's origin (and, for a request
    /// without secrets, to another https realm the policy accepts).
    async fn send(&self, realm: &Url, mut out: Outgoing) -> Result<TokenResponse> {
        let transport = |source: reqwest::Error| Error::Transport {
            realm: realm_display(realm),
            source: source.without_url(),
        };
        let mut redirects = 0;
        let mut resp = loop {
            let mut req = self.client.request(out.method.clone(), out.url.clone());
            if let Some(h) = &out.authorization {
                req = req.header(http::header::AUTHORIZATION, h.clone());
            }
            if let Some(form) = &out.form {
                req = req
                    .header(
                        http::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(form.clone());
            }
            let resp = req.send().await.map_err(transport)?;
            if resp.url().origin() != out.url.origin() {
                return Err(Error::RealmRejected {
                    realm: realm_display(resp.url()),
                    reason: "the HTTP client followed a redirect to another origin by itself; build it with reqwest::redirect::Policy::none()",
                });
            }
            let status = resp.status();
            let location = resp
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok());
            let (true, Some(location)) = (status.is_redirection(), location) else {
                break resp;
            };
            let next = out.url.join(location).map_err(|_| Error::RealmRejected {
                realm: realm_display(&out.url),
                reason: "the token realm redirected to an invalid location",
            })?;
            if redirects >= MAX_REDIRECTS {
                return Err(Error::RealmRejected {
                    realm: realm_display(realm),
                    reason: "the token realm redirected too often",
                });
            }
            redirects += 1;
            if next.origin() != out.url.origin() {
                if out.secret {
                    return Err(Error::RealmRejected {
                        realm: realm_display(&next),
                        reason: "the token realm redirected to another host; credentials are never carried across hosts",
                    });
                }
                self.policy.check_url(&next)?;
            }
            // 307/308 keep method and body; the others become a bare GET.
            if !matches!(status.as_u16(), 307 | 308) {
                out.method = http::Method::GET;
                out.form = None;
            }
            tracing::debug!(to = %realm_display(&next), "token realm redirect");
            out.url = next;
        };
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
