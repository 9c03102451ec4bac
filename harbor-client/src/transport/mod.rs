//! The HTTP transport shared by the registry client and the Harbor API client.
//!
//! A [`Transport`] wraps one `reqwest::Client` (rustls by default, **no cookie store**, a
//! user agent, a connect timeout and a per-read idle timeout that never cuts a long transfer)
//! and adds, for every [`Request`]:
//!
//! - **the reactive token flow**: a `401` answer's `WWW-Authenticate` challenge is read, the
//!   scopes the operation needs ([`Request::scope`]) are merged with the challenge's, a token
//!   comes from the shared cache or is fetched (one fetch per scope set at a time, however many
//!   requests wait), and the request is retried. An `insufficient_scope` error merges scopes.
//!   Harbor's "Basic after Bearer" quirk (a `Basic realm="harbor"` challenge when the token
//!   lacks a scope) is handled: Basic when we hold Basic credentials, else the request is retried
//!   without `Authorization` to get the Bearer challenge with the right scope.
//!   [`TransportBuilder::preemptive_basic`] sends Basic straight away (Harbor accepts Basic on
//!   `/v2/` and on its API, saving the token round trip).
//! - **retries** with exponential backoff, jitter and `Retry-After` on 408/429/5xx and on
//!   transport errors, for idempotent requests with a replayable body only ([`RetryPolicy`]).
//! - **redirects** followed by the transport itself: `Authorization` is sent only to the origin
//!   the request was made to, never to another host (blob downloads are often redirected to
//!   object storage with a signed URL).
//! - a `tracing` span per request (`harbor.request`, with method and URL without query).
//!
//! [`Transport::execute`] returns the final answer whatever its status;
//! [`Transport::execute_checked`] turns an error status into [`Error::Api`] with the status, the
//! `{"errors":[...]}` envelope and the `X-Request-Id`.

mod auth;
mod redirect;
mod retry;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument as _;
use url::Url;

pub use harbor_auth::{Credentials, RealmPolicy, ScopeSet, TokenCache};
pub use retry::RetryPolicy;

use crate::error::{ApiError, Error, Result, display_url, is_retryable_status};
use auth::{AuthState, basic_header, challenges, header_secret, is_basic, is_bearer};
use harbor_auth::Challenge;

/// The default user agent: `harbor-client/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("harbor-client/", env!("CARGO_PKG_VERSION"));

/// The shared, authenticated HTTP transport. Cheap to clone (an `Arc` inside); clones share
/// the connection pool and the token cache.
#[derive(Debug, Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    credentials: Credentials,
    auth: AuthState,
    retry: RetryPolicy,
    preemptive_basic: bool,
    max_redirects: usize,
}

/// Builds a [`Transport`]. Obtain one with [`Transport::builder`].
#[derive(Debug)]
#[must_use]
pub struct TransportBuilder {
    user_agent: String,
    connect_timeout: Duration,
    read_timeout: Duration,
    credentials: Credentials,
    retry: RetryPolicy,
    preemptive_basic: bool,
    max_redirects: usize,
    #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
    danger_accept_invalid_certs: bool,
    #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
    root_certificates: Vec<reqwest::Certificate>,
    http: Option<reqwest::Client>,
    realm_policy: RealmPolicy,
    token_cache: Option<TokenCache>,
}

impl Default for TransportBuilder {
    fn default() -> Self {
        TransportBuilder {
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(300),
            credentials: Credentials::Anonymous,
            retry: RetryPolicy::default(),
            preemptive_basic: false,
            max_redirects: 10,
            #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
            danger_accept_invalid_certs: false,
            #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
            root_certificates: Vec::new(),
            http: None,
            realm_policy: RealmPolicy::new(),
            token_cache: None,
        }
    }
}

impl TransportBuilder {
    /// Sets the `User-Agent` (default [`DEFAULT_USER_AGENT`]).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Sets the TCP/TLS connect timeout (default 30 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Sets the idle timeout: the longest wait for the next bytes of an answer (default 300 s).
    /// A long transfer that keeps moving is never cut; there is no total timeout.
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.read_timeout = d;
        self
    }

    /// Sets the credentials (default anonymous).
    pub fn credentials(mut self, c: Credentials) -> Self {
        self.credentials = c;
        self
    }

    /// Uses Basic credentials (also robot accounts and Harbor OIDC CLI secrets).
    pub fn basic_auth(self, username: impl Into<String>, password: SecretString) -> Self {
        self.credentials(Credentials::Basic {
            username: username.into(),
            password,
        })
    }

    /// Sets which token realms may be contacted and which get credentials (default: credentials
    /// only to a realm on the registry's own host; plain `http` realms only on loopback).
    pub fn realm_policy(mut self, policy: RealmPolicy) -> Self {
        self.realm_policy = policy;
        self
    }

    /// Shares a token cache (e.g. with another transport). Default: a new one.
    pub fn token_cache(mut self, cache: TokenCache) -> Self {
        self.token_cache = Some(cache);
        self
    }

    /// Sets the retry policy (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, p: RetryPolicy) -> Self {
        self.retry = p;
        self
    }

    /// Sends Basic credentials on every request without waiting for a challenge. Harbor
    /// accepts Basic on `/v2/` and `/api/`; plain distribution registries with token auth do not.
    pub fn preemptive_basic(mut self, yes: bool) -> Self {
        self.preemptive_basic = yes;
        self
    }

    /// The most redirects followed for one request (default 10).
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }

    /// Trusts an extra root certificate (with a TLS feature).
    #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "rustls-tls", feature = "native-tls"))))]
    pub fn add_root_certificate(mut self, cert: reqwest::Certificate) -> Self {
        self.root_certificates.push(cert);
        self
    }

    /// Accepts any server certificate. **Dangerous**: anyone on the path can read and change
    /// the traffic, credentials included. For test setups only (with a TLS feature).
    #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "rustls-tls", feature = "native-tls"))))]
    pub fn danger_accept_invalid_certs(mut self, yes: bool) -> Self {
        self.danger_accept_invalid_certs = yes;
        self
    }

    /// Uses a `reqwest::Client` you built. It must not follow redirects and should not keep
    /// cookies (Harbor answers "CSRF token invalid" to a client that sends its `sid` back).
    /// The timeouts, certificate and user-agent settings of this builder are then ignored.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Builds the transport.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the HTTP client cannot be built (e.g. no TLS backend) or the user
    /// agent is not a valid header value.
    pub fn build(self) -> Result<Transport> {
        let http = match self.http {
            Some(c) => c,
            None => {
                let ua = HeaderValue::from_str(&self.user_agent).map_err(|e| Error::Config {
                    message: format!(
                        "user agent {:?} is not a valid header value",
                        self.user_agent
                    ),
                    source: Some(Box::new(e)),
                })?;
                let b = reqwest::Client::builder()
                    .user_agent(ua)
                    .connect_timeout(self.connect_timeout)
                    .read_timeout(self.read_timeout)
                    .pool_idle_timeout(Duration::from_secs(90))
                    .redirect(reqwest::redirect::Policy::none());
                #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
                let b = self.root_certificates.into_iter().fold(
                    b.danger_accept_invalid_certs(self.danger_accept_invalid_certs),
                    |b, c| b.add_root_certificate(c),
                );
                b.build().map_err(|e| Error::Config {
                    message: "the HTTP client could not be built".into(),
                    source: Some(Box::new(e)),
                })?
            }
        };
        let auth = AuthState::new(
            http.clone(),
            self.realm_policy,
            self.token_cache.unwrap_or_default(),
        );
        Ok(Transport {
            inner: Arc::new(Inner {
                http,
                credentials: self.credentials,
                auth,
                retry: self.retry,
                preemptive_basic: self.preemptive_basic,
                max_redirects: self.max_redirects,
            }),
        })
    }
}

/// A request body.
#[derive(Debug, Default)]
#[non_exhaustive]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// Bytes in memory; can be replayed for retries and re-authentication.
    Bytes(Bytes),
    /// A stream; sent once, so the request is neither retried nor re-authenticated.
    Stream(reqwest::Body),
}

impl Body {
    /// A body from a stream of byte chunks (sent once).
    pub fn wrap_stream<S>(stream: S) -> Self
    where
        S: futures_util::TryStream + Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        Bytes: From<S::Ok>,
    {
        Body::Stream(reqwest::Body::wrap_stream(stream))
    }

    fn replayable(&self) -> bool {
        !matches!(self, Body::Stream(_))
    }

    fn take_for_send(&mut self) -> Option<reqwest::Body> {
        match self {
            Body::Empty => None,
            Body::Bytes(b) => Some(reqwest::Body::from(b.clone())),
            Body::Stream(_) => match std::mem::take(self) {
                Body::Stream(s) => Some(s),
                _ => None,
            },
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body::Bytes(b)
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Self {
        Body::Bytes(Bytes::from(b))
    }
}

/// One request to send through a [`Transport`].
#[derive(Debug)]
#[must_use]
pub struct Request {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Body,
    scopes: ScopeSet,
    scope_error: Option<String>,
    idempotent: bool,
    preemptive_basic: Option<bool>,
    anonymous: bool,
}

impl Request {
    /// A request; idempotency follows the method (GET, HEAD, PUT, DELETE, OPTIONS).
    pub fn new(method: Method, url: Url) -> Self {
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        Request {
            method,
            url,
            headers: HeaderMap::new(),
            body: Body::Empty,
            scopes: ScopeSet::default(),
            scope_error: None,
            idempotent,
            preemptive_basic: None,
            anonymous: false,
        }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Adds a header (appends when the name repeats).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the value cannot be serialised.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::invalid("JSON body", "", e.to_string()))?;
        self.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self.body = Body::Bytes(Bytes::from(bytes));
        Ok(self)
    }

    /// Adds a token scope the request needs (`repository:a/b:pull,push`, `registry:catalog:*`).
    /// Space-separated lists are accepted. Used to take a cached token up front and merged with
    /// the scopes a challenge names. An invalid scope fails the request with
    /// [`Error::InvalidInput`] when it is executed.
    pub fn scope(mut self, scope: &str) -> Self {
        match scope.parse::<ScopeSet>() {
            Ok(set) => {
                self.scopes.merge(&set);
            }
            Err(e) => self.scope_error = Some(format!("{scope:?}: {e}")),
        }
        self
    }

    /// Adds token scopes the request needs.
    pub fn scopes(mut self, scopes: &ScopeSet) -> Self {
        self.scopes.merge(scopes);
        self
    }

    /// Overrides whether the request may be retried (default: by method).
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    /// Overrides [`TransportBuilder::preemptive_basic`] for this request.
    pub fn preemptive_basic(mut self, yes: bool) -> Self {
        self.preemptive_basic = Some(yes);
        self
    }

    /// Sends no credentials at all, whatever the challenge (e.g. for a redirect target you
    /// follow yourself).
    pub fn anonymous(mut self) -> Self {
        self.anonymous = true;
        self
    }
}

/// What the next attempt presents.
#[derive(Debug, Clone)]
enum AuthChoice {
    /// Decide from the configuration and the cache.
    Auto,
    /// Basic credentials.
    Basic,
    /// Nothing.
    Nothing,
    /// A token for this challenge's realm and these scopes, not the stale token.
    Bearer(Challenge, ScopeSet, Option<SecretString>),
}

impl Transport {
    /// A builder with the defaults.
    pub fn builder() -> TransportBuilder {
        TransportBuilder::default()
    }

    /// The underlying `reqwest::Client` (no redirects, no cookies), e.g. for a token fetcher.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The credentials this transport presents.
    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    /// The token cache (shared by every clone of this transport).
    pub fn token_cache(&self) -> &TokenCache {
        self.inner.auth.cache()
    }

    /// Sends a request with authentication, retries and redirects; returns the final answer
    /// whatever its status.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] when no answer arrived (after retries), [`Error::Auth`] when a token
    /// could not be obtained, [`Error::Protocol`] on a bad redirect.
    pub async fn execute(&self, request: Request) -> Result<reqwest::Response> {
        let span = tracing::debug_span!(
            "harbor.request",
            method = %request.method,
            url = %display_url(&request.url),
            status = tracing::field::Empty,
        );
        self.execute_inner(request).instrument(span).await
    }

    /// Like [`Transport::execute`], but an error status becomes [`Error::Api`].
    ///
    /// # Errors
    ///
    /// As [`Transport::execute`], plus [`Error::Api`] for any status outside 2xx.
    pub async fn execute_checked(&self, request: Request) -> Result<reqwest::Response> {
        let method = request.method.clone();
        let url = request.url.clone();
        let resp = self.execute(request).await?;
        check(&method, &url, resp).await
    }

    async fn execute_inner(&self, mut req: Request) -> Result<reqwest::Response> {
        if let Some(e) = req.scope_error.take() {
            return Err(Error::invalid(
                "scope",
                &e,
                "not a registry scope (`type:name:actions`)",
            ));
        }
        let inner = &self.inner;
        let mut attempt: u32 = 0;
        let mut auth_rounds = 0;
        let mut choice = AuthChoice::Auto;
        let replayable = req.body.replayable();
        loop {
            let (authz, sent_token) = self.authorization(&req, &choice).await?;
            let sent = match &authz {
                None => Sent::Nothing,
                Some(a) if a.expose_secret().starts_with("Basic ") => Sent::Basic,
                Some(_) => Sent::Bearer,
            };
            let result = self
                .send_following_redirects(&mut req, authz.as_ref())
                .await;
            let resp = match result {
                Ok(r) => r,
                Err(e) => {
                    if matches!(e, Error::Transport { .. })
                        && req.idempotent
                        && replayable
                        && attempt < inner.retry.max_retries
                    {
                        let d = inner.retry.backoff(attempt);
                        tracing::debug!(error = %e, delay = ?d, "retrying after transport error");
                        attempt += 1;
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    return Err(e);
                }
            };
            let status = resp.status();
            tracing::Span::current().record("status", status.as_u16());
            if status == StatusCode::UNAUTHORIZED && !req.anonymous {
                let next = self.after_unauthorized(&req, &resp, &choice, sent, sent_token);
                match next {
                    Some(n) if auth_rounds < 3 && replayable => {
                        auth_rounds += 1;
                        choice = n;
                        continue;
                    }
                    _ => return Ok(resp),
                }
            }
            if is_retryable_status(status)
                && req.idempotent
                && replayable
                && attempt < inner.retry.max_retries
            {
                let delay = match inner.retry.retry_after(resp.headers()) {
                    Ok(Some(d)) => d,
                    Ok(None) => inner.retry.backoff(attempt),
                    Err(()) => return Ok(resp),
                };
                tracing::debug!(%status, delay = ?delay, "retrying");
                attempt += 1;
                tokio::time::sleep(delay).await;
                continue;
            }
            return Ok(resp);
        }
    }

    /// The `Authorization` value for the next attempt, and the bearer token in it (if any).
    async fn authorization(
        &self,
        req: &Request,
        choice: &AuthChoice,
    ) -> Result<(Option<SecretString>, Option<SecretString>)> {
        if req.anonymous {
            return Ok((None, None));
        }
        let inner = &self.inner;
        match choice {
            AuthChoice::Nothing => Ok((None, None)),
            AuthChoice::Basic => Ok((basic_header(&inner.credentials)?, None)),
            AuthChoice::Bearer(challenge, scopes, stale) => {
                let t = inner
                    .auth
                    .token(
                        challenge,
                        scopes,
                        &inner.credentials,
                        &req.url,
                        stale.as_ref(),
                    )
                    .await?;
                Ok((Some(bearer(&t)), Some(t)))
            }
            AuthChoice::Auto => {
                if matches!(inner.credentials, Credentials::Bearer(_)) {
                    return Ok((header_secret(&inner.credentials)?, None));
                }
                if req.preemptive_basic.unwrap_or(inner.preemptive_basic)
                    && let Some(b) = basic_header(&inner.credentials)?
                {
                    return Ok((Some(b), None));
                }
                if !req.scopes.is_empty()
                    && let Some(challenge) = inner.auth.realm_for(&origin(&req.url))
                {
                    let t = inner
                        .auth
                        .token(&challenge, &req.scopes, &inner.credentials, &req.url, None)
                        .await?;
                    return Ok((Some(bearer(&t)), Some(t)));
                }
                Ok((None, None))
            }
        }
    }

    /// Decides how to answer a 401; `None` means give up and return it.
    fn after_unauthorized(
        &self,
        req: &Request,
        resp: &reqwest::Response,
        tried: &AuthChoice,
        sent: Sent,
        sent_token: Option<SecretString>,
    ) -> Option<AuthChoice> {
        let found = challenges(resp.headers());
        if let Some(bearer) = found.iter().find(|c| is_bearer(c))
            && bearer.realm().is_some()
        {
            if matches!(self.inner.credentials, Credentials::Bearer(_)) {
                return None; // a static token was refused: nothing else to try
            }
            let origin = origin(&req.url);
            // Remember the realm without the request-specific scope.
            self.inner.auth.remember(&origin, strip_scope(bearer));
            let mut scopes = req.scopes.clone();
            if let Ok(theirs) = bearer.scopes() {
                scopes.merge(&theirs);
            }
            if let AuthChoice::Bearer(prev_challenge, prev, _) = tried
                && prev_challenge.realm() == bearer.realm()
            {
                // insufficient_scope: keep what we asked for before, too.
                scopes.merge(prev);
            }
            return Some(AuthChoice::Bearer(strip_scope(bearer), scopes, sent_token));
        }
        if found.iter().any(is_basic) {
            let have_basic = basic_header(&self.inner.credentials)
                .ok()
                .flatten()
                .is_some();
            if have_basic && sent != Sent::Basic {
                return Some(AuthChoice::Basic);
            }
            // Harbor answers `Basic realm="harbor"` to any request that carried a token it did
            // not accept for the scope: ask again bare to get the Bearer challenge.
            if sent == Sent::Bearer {
                return Some(AuthChoice::Nothing);
            }
        }
        let _ = tried;
        None
    }
}

/// What the last attempt carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Nothing,
    Basic,
    Bearer,
}

fn bearer(token: &SecretString) -> SecretString {
    SecretString::from(format!("Bearer {}", token.expose_secret()))
}

/// The challenge without its `scope` (and `error`) parameters: what identifies the realm.
fn strip_scope(c: &Challenge) -> Challenge {
    let mut out = Challenge::new(c.scheme().clone());
    for (k, v) in c.params() {
        if !k.eq_ignore_ascii_case("scope") && !k.eq_ignore_ascii_case("error") {
            out = out.with_param(k, v);
        }
    }
    out
}

/// `scheme://host:port` of a URL, the unit of trust for credentials.
pub(crate) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Turns a non-2xx answer into [`Error::Api`], reading (up to 64 KiB of) its body.
///
/// # Errors
///
/// [`Error::Api`] for any status outside 2xx; [`Error::Transport`] if the body cannot be read.
pub async fn check(
    method: &Method,
    url: &Url,
    resp: reqwest::Response,
) -> Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    Err(error_from_response(method, url, resp).await)
}

/// Builds the [`Error::Api`] for an answer (reads up to 64 KiB of its body).
pub async fn error_from_response(method: &Method, url: &Url, mut resp: reqwest::Response) -> Error {
    let status = resp.status();
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > 64 * 1024 {
            break;
        }
    }
    Error::from(ApiError::from_parts(method, url, status, &headers, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_includes_port() {
        let a = Url::parse("http://127.0.0.1:5000/v2/").unwrap();
        let b = Url::parse("http://127.0.0.1:5001/v2/").unwrap();
        assert_ne!(origin(&a), origin(&b));
        assert_eq!(origin(&a), "http://127.0.0.1:5000");
    }

    #[test]
    fn idempotency_follows_method() {
        let u = Url::parse("http://h/").unwrap();
        assert!(Request::new(Method::GET, u.clone()).idempotent);
        assert!(Request::new(Method::PUT, u.clone()).idempotent);
        assert!(!Request::new(Method::POST, u.clone()).idempotent);
        assert!(!Request::new(Method::PATCH, u).idempotent);
    }
}
