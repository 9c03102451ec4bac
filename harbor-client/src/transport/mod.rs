//! The HTTP transport shared by the registry client and the Harbor API client.
//!
//! A [`Transport`] wraps `reqwest` clients (rustls by default, **no cookie store**, a user
//! agent, a connect timeout and an idle timeout that never cuts a transfer that keeps moving,
//! upload or download: [`TransportBuilder::read_timeout`]) and
//! adds, for every [`Request`]:
//!
//! - **credentials bound to their registry**: the [`Keychain`] is asked for the request's host
//!   (and repository, for `/v2/<name>/...` paths) and answers [`BoundCredentials`]. They go to
//!   that host only: never in answer to a challenge from another host, never preemptively to
//!   another host, never across a redirect, and to a token realm only on the registry's own
//!   host or one trusted for it (Docker Hub's `auth.docker.io` is; others by
//!   [`Keychain::trust_realm`]). Credential helpers run on a blocking thread.
//! - **the reactive token flow**: what to do after a `401` is decided by
//!   [`harbor_auth::decision::decide`], a pure function with one table-test row per registry
//!   quirk; the transport only executes it. Tokens come from the shared cache or are fetched
//!   (one fetch per key at a time, however many requests wait); a refused token is evicted.
//!   Harbor's "Basic after Bearer" quirk is handled. [`TransportBuilder::preemptive_basic`]
//!   sends Basic straight away to the registry the credentials are bound to (Harbor accepts
//!   Basic on `/v2/` and on its API, saving the token round trip).
//! - **per-registry settings** ([`Registries`], the shape of `containers-registries.conf`):
//!   a CA bundle and a client certificate per host (a `reqwest` client each), and insecure
//!   hosts (certificates not checked; HTTPS that cannot connect falls back to plain HTTP).
//!   Mirrors, `location` and `blocked` are applied by the registry client.
//! - **retries** with exponential backoff, jitter and `Retry-After` on 408/429/5xx and on
//!   transport errors, for idempotent requests with a replayable body only ([`RetryPolicy`]).
//! - **redirects** followed by the transport itself: `Authorization` (the transport's or one
//!   set with [`Request::header`]), `Proxy-Authorization` and `Cookie` are sent only to the
//!   origin the request was made to (blob downloads are often redirected to object storage
//!   with a signed URL), and a `401` from another origin is returned as it is, never answered.
//! - **no credentials in URLs**: a request URL or redirect location with user info
//!   (`user:pass@`) is refused before anything is sent (`reqwest` would send it as Basic,
//!   past the keychain), with an error that does not quote it.
//! - a `tracing` span per request (`harbor.request`, with method and URL without query).
//!
//! [`Transport::execute`] returns the final answer whatever its status;
//! [`Transport::execute_checked`] turns an error status into [`Error::Api`] with the status, the
//! `{"errors":[...]}` envelope and the `X-Request-Id`.

mod auth;
mod clients;
pub(crate) mod link;
mod pace;
mod redirect;
mod registries;
mod retry;
mod stall;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use harbor_auth::Lookup;
use harbor_auth::decision::{Decision, Presented, Refusal, decide};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument as _;
use url::Url;

pub use harbor_auth::{
    BoundCredentials, Credentials, Keychain, KnownRegistry, RealmPolicy, ScopeSet, TokenCache,
};
#[cfg(fuzzing)]
pub use link::fuzz_next_link;
pub use registries::{HostTls, Mirror, PullFromMirror, PullSource, Registries, RegistrySettings};
pub(crate) use retry::parse_retry_after;
pub use retry::{RateLimit, RetryPolicy};

use crate::error::{ApiError, Error, Result, display_url, is_retryable_status};
use auth::{AuthState, auth_error, basic_header, challenges};
use clients::{Base, Clients, authority};

/// The default user agent: `harbor-client/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("harbor-client/", env!("CARGO_PKG_VERSION"));

/// The shared, authenticated HTTP transport. Cheap to clone (an `Arc` inside); clones share
/// the connection pools and the token cache.
#[derive(Debug, Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    clients: Clients,
    keychain: Keychain,
    policy: RealmPolicy,
    auth: AuthState,
    retry: RetryPolicy,
    preemptive_basic: bool,
    max_redirects: usize,
    /// The idle timeout of requests with a body and their answers (see `stall`).
    read_timeout: Duration,
    low_speed: pace::LowSpeed,
    /// Insecure hosts that turned out to speak plain HTTP only.
    plain_http_hosts: Mutex<HashSet<String>>,
    /// The last quota each host stated (`RateLimit-*` headers).
    rate_limits: Mutex<std::collections::HashMap<String, RateLimit>>,
}

/// Builds a [`Transport`]. Obtain one with [`Transport::builder`].
#[derive(Debug)]
#[must_use]
pub struct TransportBuilder {
    user_agent: String,
    connect_timeout: Duration,
    read_timeout: Duration,
    low_speed: pace::LowSpeed,
    keychain: Keychain,
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
    registries: Registries,
}

impl Default for TransportBuilder {
    fn default() -> Self {
        TransportBuilder {
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(300),
            low_speed: pace::LowSpeed {
                bytes: 1024,
                window: Duration::from_secs(300),
            },
            keychain: Keychain::new(),
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
            registries: Registries::new(),
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

    /// Sets the idle timeout (default 300 s): the longest a request may go without moving.
    /// There is no total timeout, so a transfer that keeps moving is never cut, however long
    /// it takes, in either direction:
    ///
    /// - a request without a body waits at most this long for its answer, and for each next
    ///   bytes of the answer's body;
    /// - a request with a body (an upload `PATCH`, a `PUT`, an API `POST`) fails with
    ///   [`Error::Stalled`] when the server takes none of the body for this long, or does not
    ///   answer for this long after its last byte; its answer's body is held to the same wait
    ///   for each next bytes. The last bytes of a body wait in the socket's send buffer (a few
    ///   MiB at most) until a slow link carries them: that time counts toward the answer's.
    ///
    /// [`Error::is_timeout`] is true for both, and both are retryable: uploads resume where
    /// the registry stands.
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.read_timeout = d;
        self
    }

    /// Sets the low-speed limit: an answer whose body brings fewer than `bytes` bytes in a
    /// `window` spent waiting for it fails with a timeout ([`Error::is_timeout`]; blob
    /// downloads resume first, as after a cut). It catches what the idle timeout cannot, a
    /// server that trickles bytes (a slow loris), and never cuts a transfer that keeps
    /// moving; time the caller spends not reading does not count. Default: 1 KiB in 300 s.
    /// `bytes` 0 turns it off.
    pub fn low_speed_limit(mut self, bytes: u64, window: Duration) -> Self {
        self.low_speed = pace::LowSpeed { bytes, window };
        self
    }

    /// Sets where credentials come from: one [`Keychain`] binds them per registry host (and
    /// repository prefix). Default: an empty keychain, anonymous everywhere. For what docker
    /// and podman would use, `Keychain::from_default_files()` (feature `docker-config`).
    pub fn keychain(mut self, keychain: Keychain) -> Self {
        self.keychain = keychain;
        self
    }

    /// Sets which token realms may be contacted (default: https, plain `http` on loopback
    /// only). Which realm may receive which registry's credentials is the keychain's business
    /// ([`Keychain::trust_realm`]).
    pub fn realm_policy(mut self, policy: RealmPolicy) -> Self {
        self.realm_policy = policy;
        self
    }

    /// Sets per-registry settings: TLS per host and insecure hosts here; mirrors, `location`
    /// and `blocked` in the registry client.
    pub fn registries(mut self, registries: Registries) -> Self {
        self.registries = registries;
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

    /// Sends Basic credentials on every request to the registry they are bound to, without
    /// waiting for a challenge. Harbor accepts Basic on `/v2/` and `/api/`; plain distribution
    /// registries with token auth do not.
    pub fn preemptive_basic(mut self, yes: bool) -> Self {
        self.preemptive_basic = yes;
        self
    }

    /// The most redirects followed for one request (default 10).
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }

    /// Trusts an extra root certificate for every host (with a TLS feature; per host, see
    /// [`HostTls`]).
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
    /// The connect timeout, certificate and user-agent settings of this builder are then
    /// ignored, and per-host TLS settings cannot be used. Its own timeouts apply to every
    /// request (a read timeout of `reqwest`'s counts from the start of a request, so it cuts
    /// an upload that takes longer to send); this builder's [`read_timeout`](Self::read_timeout)
    /// still holds requests with a body as well.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Builds the transport.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when an HTTP client cannot be built (e.g. no TLS backend, an unusable
    /// CA bundle or client certificate), the user agent is not a valid header value, or the
    /// [`Registries`] settings hold user info (`user:pass@host`; credentials come from the
    /// keychain only).
    pub fn build(self) -> Result<Transport> {
        self.registries.check_no_user_info()?;
        let base = Base {
            user_agent: self.user_agent,
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
            danger_accept_invalid_certs: self.danger_accept_invalid_certs,
            #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
            root_certificates: self.root_certificates,
        };
        let clients = Clients::build(&base, self.http, self.registries, &self.realm_policy)?;
        Ok(Transport {
            inner: Arc::new(Inner {
                clients,
                keychain: self.keychain,
                policy: self.realm_policy,
                auth: AuthState::new(self.token_cache.unwrap_or_default()),
                retry: self.retry,
                preemptive_basic: self.preemptive_basic,
                max_redirects: self.max_redirects,
                read_timeout: self.read_timeout,
                low_speed: self.low_speed,
                plain_http_hosts: Mutex::new(HashSet::new()),
                rate_limits: Mutex::new(std::collections::HashMap::new()),
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

    fn take_for_send(&mut self) -> Option<stall::Outgoing> {
        match self {
            Body::Empty => None,
            Body::Bytes(b) => Some(stall::Outgoing::Bytes(b.clone())),
            Body::Stream(_) => match std::mem::take(self) {
                Body::Stream(s) => Some(stall::Outgoing::Body(s)),
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

    /// Adds a header (appends when the name repeats). The value of a header that carries
    /// credentials (`Authorization`, `Proxy-Authorization`, `Cookie`) is marked sensitive, so
    /// `Debug` hides it, and it is sent only to the request's origin, never across a redirect
    /// to another one.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        let value = guard_credential(&name, value);
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
#[derive(Debug)]
enum Next {
    /// The first attempt: static bearer, preemptive Basic, or a token for a known realm.
    First,
    /// What [`decide`] said after a `401`.
    Then(Decision),
}

/// The repository of a registry API path (`/v2/<name>/manifests/...` → `<name>`).
fn repository_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v2/")?;
    ["/manifests/", "/blobs/", "/tags/", "/referrers/"]
        .iter()
        .filter_map(|m| rest.rfind(m))
        .max()
        .and_then(|end| rest.get(..end))
        .filter(|name| !name.is_empty())
}

impl Transport {
    /// A builder with the defaults.
    pub fn builder() -> TransportBuilder {
        TransportBuilder::default()
    }

    /// The default `reqwest::Client` (no redirects, no cookies).
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.clients.default_client().http
    }

    /// The keychain credentials come from.
    pub fn keychain(&self) -> &Keychain {
        &self.inner.keychain
    }

    /// The per-registry settings.
    pub fn registries(&self) -> &Registries {
        self.inner.clients.registries()
    }

    /// The token cache (shared by every clone of this transport).
    pub fn token_cache(&self) -> &TokenCache {
        self.inner.auth.cache()
    }

    /// The credentials the keychain binds to requests to `url` (running a credential helper on
    /// a blocking thread when one holds them).
    ///
    /// # Errors
    ///
    /// [`Error::Auth`] when a credential helper fails.
    pub async fn credentials_for(&self, url: &Url) -> Result<BoundCredentials> {
        let host = authority(url).unwrap_or_default();
        match self.inner.keychain.lookup(&host, repository_of(url.path())) {
            Lookup::Ready(b) => Ok(b),
            Lookup::Helper(h) => tokio::task::spawn_blocking(move || h.run())
                .await
                .map_err(|e| Error::Auth {
                    message: "the credential helper task failed".into(),
                    source: Some(Box::new(e)),
                })?
                .map_err(auth_error),
            _ => Ok(BoundCredentials::anonymous(&host)),
        }
    }

    /// The last request quota the host of `url` stated in `RateLimit-Limit` and
    /// `RateLimit-Remaining` headers (Docker Hub sends them on manifest requests), on any
    /// answer, success or error.
    pub fn rate_limit(&self, url: &Url) -> Option<RateLimit> {
        let host = host_key(url)?;
        self.inner.rate_limits.lock().ok()?.get(&host).copied()
    }

    /// Sends a request with authentication, retries and redirects; returns the final answer
    /// whatever its status.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] when no answer arrived (after retries), [`Error::Stalled`] when a
    /// request with a body did not move for the read timeout, [`Error::Auth`] when a token
    /// could not be obtained or the registry names a token realm its credentials may not go
    /// to, [`Error::Protocol`] on a bad redirect.
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

    fn plain_http_hosts(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.inner
            .plain_http_hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Rewrites `https` to `http` for an insecure host known to speak plain HTTP only.
    fn use_known_scheme(&self, url: &mut Url) {
        if url.scheme() == "https"
            && let Some(host) = authority(url)
            && self.plain_http_hosts().contains(&host)
        {
            let _ = url.set_scheme("http");
        }
    }

    /// After a failed connection: whether the request may go again over plain HTTP (an
    /// insecure host, a body that can be sent again, nothing sent yet).
    fn downgrade(&self, req: &mut Request, e: &Error, replayable: bool) -> bool {
        let Some(host) = authority(&req.url) else {
            return false;
        };
        if !matches!(e, Error::Transport { .. })
            || e.may_have_been_sent()
            || !replayable
            || req.url.scheme() != "https"
            || !self.registries().is_insecure(&host)
            || req.url.set_scheme("http").is_err()
        {
            return false;
        }
        tracing::debug!(%host, "insecure registry: HTTPS failed, trying plain HTTP");
        self.plain_http_hosts().insert(host);
        true
    }

    async fn execute_inner(&self, mut req: Request) -> Result<reqwest::Response> {
        refuse_user_info(&req.url)?;
        if let Some(e) = req.scope_error.take() {
            return Err(Error::invalid(
                "scope",
                &e,
                "not a registry scope (`type:name:actions`)",
            ));
        }
        self.use_known_scheme(&mut req.url);
        let inner = &self.inner;
        let bound = if req.anonymous {
            BoundCredentials::anonymous(&authority(&req.url).unwrap_or_default())
        } else {
            self.credentials_for(&req.url).await?
        };
        let mut attempt: u32 = 0;
        let mut rounds = 0;
        let mut next = Next::First;
        let mut last_token = None;
        let replayable = req.body.replayable();
        loop {
            let (authz, presented) = self
                .authorization(&req, &bound, &next, &mut last_token)
                .await?;
            let sent = match self
                .send_following_redirects(&mut req, authz.as_ref())
                .await
            {
                Ok(s) => s,
                Err(e) => {
                    if self.downgrade(&mut req, &e, replayable) {
                        continue;
                    }
                    if matches!(e, Error::Transport { .. } | Error::Stalled { .. })
                        && req.idempotent
                        && replayable
                        && attempt < inner.retry.max_retries()
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
            let resp = sent.response;
            let status = resp.status();
            if let Some(q) = RateLimit::from_headers(resp.headers())
                && let Some(host) = host_key(resp.url())
                && let Ok(mut m) = inner.rate_limits.lock()
            {
                m.insert(host, q);
            }
            tracing::Span::current().record("status", status.as_u16());
            // A 401 from a redirect target is not the registry's: never answered.
            if status == StatusCode::UNAUTHORIZED && !req.anonymous && sent.from_origin {
                let found = challenges(resp.headers());
                // A challenge names the realm, service and scope: nothing secret.
                tracing::debug!(
                    challenges = ?found.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "the registry asked for authentication"
                );
                inner.auth.remember_challenge(&req.url, &found);
                let decision = decide(&Refusal {
                    url: &req.url,
                    challenges: &found,
                    presented: &presented,
                    needed: &req.scopes,
                    credentials: &bound,
                    policy: &inner.policy,
                    rounds,
                });
                match decision {
                    Decision::GiveUp(g) if g.is_realm_problem() => {
                        return Err(Error::Auth {
                            message: g.to_string(),
                            source: None,
                        });
                    }
                    Decision::GiveUp(g) => {
                        tracing::debug!(reason = %g, "not retrying the 401");
                        return Ok(resp);
                    }
                    d if replayable => {
                        rounds += 1;
                        next = Next::Then(d);
                        continue;
                    }
                    _ => return Ok(resp),
                }
            }
            if is_retryable_status(status)
                && req.idempotent
                && replayable
                && attempt < inner.retry.max_retries()
            {
                let delay = match inner.retry.retry_after(resp.headers()) {
                    Ok(Some(d)) => d,
                    Ok(None) if status == StatusCode::TOO_MANY_REQUESTS => {
                        inner.retry.rate_limit_backoff(attempt)
                    }
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

    /// The `Authorization` value for the next attempt and what it is. `last_token` holds the
    /// token sent last (evicted when the registry refused it).
    async fn authorization(
        &self,
        req: &Request,
        bound: &BoundCredentials,
        next: &Next,
        last_token: &mut Option<SecretString>,
    ) -> Result<(Option<SecretString>, Presented)> {
        if req.anonymous {
            return Ok((None, Presented::Nothing));
        }
        let inner = &self.inner;
        match next {
            Next::First => {
                if !bound.applies_to(&req.url) {
                    return Ok((None, Presented::Nothing));
                }
                let remembered = inner.auth.challenge_for(&req.url);
                let basic_wanted = req.preemptive_basic.unwrap_or(inner.preemptive_basic)
                    || remembered
                        .as_ref()
                        .is_some_and(|c| *c.scheme() == harbor_auth::Scheme::Basic);
                match bound.credentials() {
                    Credentials::Bearer(t) => {
                        return Ok((Some(bearer(t)), Presented::StaticBearer));
                    }
                    Credentials::Basic { .. } if basic_wanted => {
                        return Ok((basic_header(bound)?, Presented::Basic));
                    }
                    _ => {}
                }
                // A token up front for the realm this origin named before.
                match remembered {
                    Some(c)
                        if !req.scopes.is_empty() && *c.scheme() == harbor_auth::Scheme::Bearer =>
                    {
                        self.token(&c, &req.scopes, bound, last_token).await
                    }
                    _ => Ok((None, Presented::Nothing)),
                }
            }
            Next::Then(Decision::RetryWithBasic) => Ok((basic_header(bound)?, Presented::Basic)),
            Next::Then(Decision::RetryWithToken(plan)) => {
                if plan.evict_presented
                    && let Some(t) = last_token.take()
                {
                    inner.auth.cache().evict_token(&t);
                }
                let creds = if plan.with_credentials {
                    bound.clone()
                } else {
                    bound.without_credentials()
                };
                self.token(&plan.challenge, &plan.scopes, &creds, last_token)
                    .await
            }
            Next::Then(_) => Ok((None, Presented::Nothing)),
        }
    }

    /// A token (cached or fetched) for the challenge's realm, as `Authorization`.
    async fn token(
        &self,
        challenge: &harbor_auth::Challenge,
        scopes: &ScopeSet,
        creds: &BoundCredentials,
        last_token: &mut Option<SecretString>,
    ) -> Result<(Option<SecretString>, Presented)> {
        let realm = challenge.realm().unwrap_or_default();
        let fetcher = match Url::parse(realm) {
            Ok(u) => &self.inner.clients.for_url(&u).fetcher,
            Err(_) => &self.inner.clients.default_client().fetcher,
        };
        let (token, fresh) = self
            .inner
            .auth
            .token(fetcher, challenge, scopes, creds)
            .await?;
        let header = bearer(&token);
        *last_token = Some(token);
        Ok((
            Some(header),
            Presented::Token {
                realm: realm.to_owned(),
                scopes: scopes.clone(),
                fresh,
            },
        ))
    }
}

fn bearer(token: &SecretString) -> SecretString {
    SecretString::from(format!("Bearer {}", token.expose_secret()))
}

/// The request headers that carry credentials: sent only to the request's origin (dropped on
/// a redirect to another one), and hidden in `Debug`.
pub(crate) const CREDENTIAL_HEADERS: [HeaderName; 3] = [
    http::header::AUTHORIZATION,
    http::header::PROXY_AUTHORIZATION,
    http::header::COOKIE,
];

/// `value`, marked sensitive (hidden in `Debug`) when `name` is one of [`CREDENTIAL_HEADERS`].
pub(crate) fn guard_credential(name: &HeaderName, mut value: HeaderValue) -> HeaderValue {
    if CREDENTIAL_HEADERS.contains(name) {
        value.set_sensitive(true);
    }
    value
}

/// Whether a URL carries user info (`user:pass@`, `token@`).
pub(crate) fn has_user_info(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// Refuses a URL with user info before anything is sent: `reqwest` would turn it into Basic
/// credentials on every request to that URL, past the keychain's binding to a host.
fn refuse_user_info(url: &Url) -> Result<()> {
    if has_user_info(url) {
        return Err(Error::invalid(
            "URL",
            &display_url(url),
            "credentials in a URL (`user:pass@`) are never sent: give them to the keychain \
             (`TransportBuilder::keychain`) instead",
        ));
    }
    Ok(())
}

/// `scheme://host:port` of a URL, the unit of trust for `Authorization` across redirects.
pub(crate) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Turns a non-2xx answer into [`Error::Api`], reading (up to 64 KiB of) its body.
pub(crate) async fn check(
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
pub(crate) async fn error_from_response(
    method: &Method,
    url: &Url,
    mut resp: reqwest::Response,
) -> Error {
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

/// `host[:port]`, lower case: the key of per-host state.
fn host_key(url: &Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
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
    fn repository_from_the_path() {
        for (path, want) in [
            ("/v2/team/app/manifests/v1", Some("team/app")),
            ("/v2/a/blobs/uploads/", Some("a")),
            ("/v2/x/blobs/y/blobs/sha256:00", Some("x/blobs/y")),
            ("/v2/x/blobs/y/manifests/latest", Some("x/blobs/y")),
            ("/v2/a/b/tags/list", Some("a/b")),
            ("/v2/a/referrers/sha256:00", Some("a")),
            ("/v2/", None),
            ("/v2/_catalog", None),
            ("/api/v2.0/projects", None),
        ] {
            assert_eq!(repository_of(path), want, "{path}");
        }
    }

    #[test]
    fn credential_headers_are_hidden_in_debug() {
        let u = Url::parse("http://h/").unwrap();
        let r = Request::new(Method::GET, u)
            .header(
                http::header::AUTHORIZATION,
                HeaderValue::from_static("Bearer s3cret-token"),
            )
            .header(
                http::header::PROXY_AUTHORIZATION,
                HeaderValue::from_static("Basic cHJveHk6czNjcmV0"),
            )
            .header(http::header::COOKIE, HeaderValue::from_static("sid=s3cret"))
            .header(
                HeaderName::from_static("x-trace"),
                HeaderValue::from_static("visible"),
            );
        let debug = format!("{r:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(!debug.contains("cHJveHk6czNjcmV0"), "{debug}");
        assert!(debug.contains("visible"), "{debug}");
    }

    #[test]
    fn user_info_in_a_url_is_refused_without_quoting_it() {
        for u in [
            "http://alice:s3cret@h/v2/",
            "http://s3cret@h/v2/",
            "http://:s3cret@h/v2/",
        ] {
            let url = Url::parse(u).unwrap();
            assert!(has_user_info(&url), "{u}");
            let e = refuse_user_info(&url).unwrap_err();
            assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
            let text = format!("{e} {e:?}");
            assert!(!text.contains("s3cret"), "{text}");
            assert!(text.contains("keychain"), "{text}");
        }
        assert!(refuse_user_info(&Url::parse("http://h/v2/").unwrap()).is_ok());
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
