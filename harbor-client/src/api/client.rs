//! `HarborClient`, its builder, and the request plumbing every typed method uses.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, LOCATION};
use http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::api::names::ProjectRef;
use crate::api::page::Page;
use crate::api::resource::addressed_resource;
use crate::api::version::{self, HarborVersion, VersionCheck};
use crate::error::redact_user_info;
use crate::transport::link::next_target;
use crate::transport::{
    Credentials, Keychain, Request, RetryPolicy, Transport, TransportBuilder, guard_credential,
};
use crate::{Error, Result};

/// The largest response body an API call reads (64 MiB); a larger answer fails with
/// [`Error::TooLarge`] rather than exhausting memory.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// The header Harbor reads to take a numeric-looking `{project_name_or_id}` as a name.
const IS_RESOURCE_NAME: &str = "X-Is-Resource-Name";
/// The request id header Harbor echoes (and logs).
const REQUEST_ID: &str = "X-Request-Id";
/// The header asking Harbor to end `Location` with the new resource's name.
const NAME_IN_LOCATION: &str = "x-resource-name-in-location";

/// A client for the Harbor REST API v2.0.
///
/// Cheap to clone (an `Arc` inside); clones share the connection pool and the
/// [`Transport`]. Build one with [`HarborClient::builder`]. See the [module
/// docs](crate::api) for the Harbor quirks it handles.
#[derive(Debug, Clone)]
pub struct HarborClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    api_root: Url,
    version_check: VersionCheck,
    /// The server's version once read (`None`: it did not say); shared by the clones.
    server_version: tokio::sync::OnceCell<Option<HarborVersion>>,
}

/// Builds a [`HarborClient`]. Obtain one with [`HarborClient::builder`] or
/// [`HarborClient::builder_with_api_root`].
#[derive(Debug)]
#[must_use]
pub struct HarborClientBuilder {
    url: String,
    exact_root: bool,
    transport: TransportBuilder,
    prebuilt: Option<Transport>,
    version_check: VersionCheck,
    credentials: Option<Credentials>,
}

impl HarborClient {
    /// A builder for the Harbor at `url`, with or without `/api/v2.0`
    /// (`https://harbor.example.com` and `https://harbor.example.com/api/v2.0` are the same).
    pub fn builder(url: impl Into<String>) -> HarborClientBuilder {
        HarborClientBuilder::new(url.into(), false)
    }

    /// A builder whose `api_root` is taken exactly as given, with nothing appended: for a
    /// server that mounts the API elsewhere, such as a mock serving the spec's paths
    /// without its `basePath` (`http://127.0.0.1:4010`).
    pub fn builder_with_api_root(api_root: impl Into<String>) -> HarborClientBuilder {
        HarborClientBuilder::new(api_root.into(), true)
    }

    /// The API root every path is appended to (e.g. `https://harbor.example.com/api/v2.0`).
    pub fn api_root(&self) -> &Url {
        &self.inner.api_root
    }

    /// The transport, to share with a [`RegistryClient`](crate::registry) or to send
    /// requests of your own.
    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// A request to any operation of the API: the escape hatch for the operations without
    /// a typed method (see [`OPERATIONS`](crate::api::OPERATIONS)).
    ///
    /// `path` is relative to the API root and already percent-encoded (use
    /// [`encode_segment`](crate::api::encode_segment) and
    /// [`PathSegment::path_segment`](crate::api::PathSegment::path_segment), which encodes
    /// repository names twice).
    ///
    /// ```no_run
    /// # async fn f(client: harbor_client::api::HarborClient) -> harbor_client::Result<()> {
    /// use http::Method;
    /// let policies: serde_json::Value = client
    ///     .raw(Method::GET, "/projects/library/preheat/policies")
    ///     .query("page_size", 100)
    ///     .send_json()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn raw(&self, method: Method, path: &str) -> RawRequest {
        RawRequest {
            client: self.clone(),
            req: ApiRequest::new(method, path.to_owned()),
            error: None,
        }
    }

    /// The Harbor version the server reports (`harbor_version` of `GET /systeminfo`, such as
    /// `v2.11.0-abc123`), read once per client and shared by its clones; `None` when the
    /// server does not say (anonymous `systeminfo` may omit it) or says something that is not
    /// a version. With [`VersionCheck::Assume`] it is that version, and nothing is asked.
    ///
    /// # Errors
    ///
    /// As any call, when `systeminfo` cannot be read (not cached: the next call asks again).
    pub async fn server_version(&self) -> Result<Option<HarborVersion>> {
        if let VersionCheck::Assume(v) = self.inner.version_check {
            return Ok(Some(v));
        }
        self.inner
            .server_version
            .get_or_try_init(|| async {
                #[derive(serde::Deserialize)]
                struct SystemInfo {
                    #[serde(default)]
                    harbor_version: Option<String>,
                }
                let info: SystemInfo = self
                    .send_json(ApiRequest::new(Method::GET, "/systeminfo".to_owned()))
                    .await?;
                Ok(info.harbor_version.and_then(|v| v.parse().ok()))
            })
            .await
            .copied()
    }

    /// Refuses, before anything is sent, an operation the server is known to lack (see
    /// [`VersionCheck`]). Operations of every checked release never ask.
    pub(crate) async fn require_version(
        &self,
        since: HarborVersion,
        operation: &'static str,
    ) -> Result<()> {
        if since <= HarborVersion::BASELINE {
            return Ok(());
        }
        version::check(operation, since, self.checked_version(operation).await)
    }

    /// Refuses, before anything is sent, an operation Harbor removed in `removed_in` when the
    /// server is known to be that release or newer (see [`VersionCheck`]).
    pub(crate) async fn require_not_removed(
        &self,
        removed_in: HarborVersion,
        operation: &'static str,
    ) -> Result<()> {
        version::check_removed(operation, removed_in, self.checked_version(operation).await)
    }

    /// The server's version as the version check knows it (`None`: send and let the server
    /// answer).
    async fn checked_version(&self, operation: &'static str) -> Option<HarborVersion> {
        match self.inner.version_check {
            VersionCheck::Off => None,
            VersionCheck::Assume(v) => Some(v),
            VersionCheck::Detect => self.server_version().await.unwrap_or_else(|e| {
                // Not knowing is not a reason to refuse: the server answers the call itself.
                tracing::debug!(operation, error = %e, "the Harbor version could not be read");
                None
            }),
        }
    }

    fn url_for(&self, req: &ApiRequest) -> Result<Url> {
        let root = self.inner.api_root.as_str().trim_end_matches('/');
        let path = if req.path.starts_with('/') {
            req.path.clone()
        } else {
            format!("/{}", req.path)
        };
        let mut url = Url::parse(&format!("{root}{path}"))
            .map_err(|e| Error::invalid("API path", &req.path, e.to_string()))?;
        if !req.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &req.query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Sends a request; a non-2xx answer becomes [`Error::Api`] carrying the request id.
    pub(crate) async fn execute(&self, req: ApiRequest) -> Result<Response> {
        let url = self.url_for(&req)?;
        let request_id = req
            .headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(generate_request_id);
        let method = req.method.clone();
        let mut r = Request::new(req.method, url.clone()).preemptive_basic(true);
        for (name, value) in &req.headers {
            r = r.header(name.clone(), value.clone());
        }
        if !req.headers.contains_key(REQUEST_ID)
            && let Ok(v) = HeaderValue::from_str(&request_id)
        {
            r = r.header(HeaderName::from_static("x-request-id"), v);
        }
        if let Some(body) = req.body {
            r = r
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body);
        }
        let resp = match self.inner.transport.execute_checked(r).await {
            Ok(resp) => resp,
            Err(mut e) => {
                if let Error::Api(api) = &mut e {
                    if api.request_id.is_none() {
                        api.request_id = Some(request_id);
                    }
                    api.resource = addressed_resource(method.as_str(), &req.path);
                }
                return Err(e);
            }
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = read_limited(&method, &url, resp).await?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    pub(crate) async fn send_json<T: DeserializeOwned>(&self, req: ApiRequest) -> Result<T> {
        let resp = self.execute(req).await?;
        decode(&resp.body)
    }

    pub(crate) async fn send_page<T: DeserializeOwned>(&self, req: ApiRequest) -> Result<Page<T>> {
        let page = req
            .query_value("page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let page_size = req
            .query_value("page_size")
            .and_then(|v| v.parse().ok())
            .unwrap_or(10);
        let resp = self.execute(req).await?;
        let items: Vec<T> = if resp.body.iter().all(u8::is_ascii_whitespace) {
            Vec::new()
        } else {
            decode(&resp.body)?
        };
        let total = resp
            .headers
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        Ok(Page {
            items,
            total,
            page,
            page_size,
            next: next_target(&resp.headers).map(str::to_owned),
            link_present: resp.headers.contains_key(http::header::LINK),
        })
    }

    pub(crate) async fn send_empty(&self, req: ApiRequest) -> Result<()> {
        self.execute(req).await.map(|_| ())
    }

    /// `true` for 2xx, `false` for 404, an error otherwise.
    pub(crate) async fn send_exists(&self, req: ApiRequest) -> Result<bool> {
        match self.execute(req).await {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sends an operation whose `201 Created` names the new resource's id in `Location`
    /// (unless the request asked for the name with `X-Resource-Name-In-Location`).
    pub(crate) async fn send_created(&self, req: ApiRequest) -> Result<Created> {
        let id_in_location = !names_asked(&req.headers);
        self.created(req, id_in_location).await
    }

    /// Sends an operation whose `Location` always ends in a name or reference
    /// (`codegen/data/overrides.yaml`'s `location_names`).
    pub(crate) async fn send_created_named(&self, req: ApiRequest) -> Result<Created> {
        self.created(req, false).await
    }

    async fn created(&self, req: ApiRequest, id_in_location: bool) -> Result<Created> {
        let resp = self.execute(req).await?;
        Ok(Created {
            location: resp
                .headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            id_in_location,
        })
    }

    pub(crate) async fn send_text(&self, req: ApiRequest) -> Result<String> {
        let resp = self.execute(req).await?;
        Ok(String::from_utf8_lossy(&resp.body).into_owned())
    }

    pub(crate) async fn send_bytes(&self, req: ApiRequest) -> Result<Bytes> {
        Ok(self.execute(req).await?.body)
    }
}

async fn read_limited(method: &Method, url: &Url, mut resp: reqwest::Response) -> Result<Bytes> {
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::transport(method, url, e))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(Error::TooLarge {
                what: "API answer",
                limit: MAX_RESPONSE_BYTES,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// Decodes JSON, naming the JSON path of a failure.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de)
        .map_err(|e| Error::decode(std::any::type_name::<T>(), body, e))
}

/// A random request id (UUID v4 form).
fn generate_request_id() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

impl HarborClientBuilder {
    fn new(url: String, exact_root: bool) -> Self {
        HarborClientBuilder {
            url,
            exact_root,
            transport: Transport::builder(),
            prebuilt: None,
            version_check: VersionCheck::default(),
            credentials: None,
        }
    }

    /// How operations Harbor added after 2.2 are checked against the server's version before
    /// sending (default [`VersionCheck::Detect`]: read once from `GET /systeminfo`).
    pub fn version_check(mut self, check: VersionCheck) -> Self {
        self.version_check = check;
        self
    }

    /// The credentials, bound to the Harbor's host (the URL given to the builder) and sent
    /// nowhere else:
    ///
    /// - a user (database, LDAP or UAA): `Credentials::basic("alice", password)`;
    /// - a robot account: `Credentials::robot("robot$project+ci", secret)?` (the full name as
    ///   Harbor shows it);
    /// - an OIDC user's CLI secret: `Credentials::basic(user, cli_secret)` (Harbor in
    ///   `oidc_auth` mode accepts it on a subset of the API);
    /// - an OIDC ID token: `Credentials::bearer(id_token)`.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Trusts an extra root certificate (a private CA; with a TLS feature).
    #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "rustls-tls", feature = "native-tls"))))]
    pub fn add_root_certificate(mut self, cert: reqwest::Certificate) -> Self {
        self.transport = self.transport.add_root_certificate(cert);
        self
    }

    /// Accepts any server certificate. **Dangerous**: anyone on the path can read and
    /// change the traffic, credentials included. For test setups only (with a TLS
    /// feature).
    #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "rustls-tls", feature = "native-tls"))))]
    pub fn danger_accept_invalid_certs(mut self, yes: bool) -> Self {
        self.transport = self.transport.danger_accept_invalid_certs(yes);
        self
    }

    /// The TCP/TLS connect timeout (default 30 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.transport = self.transport.connect_timeout(d);
        self
    }

    /// The longest a request may go without moving (default 300 s): waiting for the next
    /// bytes of an answer, or with a body (a `POST`, `PUT`), for the server to take more of
    /// it or to answer ([`Error::Stalled`](crate::Error::Stalled)); see
    /// [`TransportBuilder::read_timeout`].
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.transport = self.transport.read_timeout(d);
        self
    }

    /// The least an answer must bring: `bytes` in every `window` of waiting, else a timeout
    /// (default 1 KiB in 300 s; see [`TransportBuilder::low_speed_limit`]).
    pub fn low_speed_limit(mut self, bytes: u64, window: Duration) -> Self {
        self.transport = self.transport.low_speed_limit(bytes, window);
        self
    }

    /// Retries of idempotent calls (GET, HEAD, PUT, DELETE) on 408/429/5xx and transport
    /// errors (default [`RetryPolicy::default`]); POST and PATCH are never retried.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.transport = self.transport.retry_policy(policy);
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.transport = self.transport.user_agent(ua);
        self
    }

    /// Uses an existing transport (its keychain and TLS settings); the other settings of this
    /// builder, [`HarborClientBuilder::credentials`] included, are then ignored.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.prebuilt = Some(transport);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the URL is not an absolute `http`/`https` URL, holds user info
    /// (`https://user:pass@…`: give credentials with [`HarborClientBuilder::credentials`]),
    /// or the transport cannot be built. The message never quotes the user info.
    pub fn build(self) -> Result<HarborClient> {
        let config = |message: String| Error::Config {
            message,
            source: None,
        };
        let mut url = Url::parse(&self.url).map_err(|e| Error::Config {
            message: format!("invalid Harbor URL {:?}", redact_user_info(&self.url)),
            source: Some(Box::new(e)),
        })?;
        if crate::transport::has_user_info(&url) {
            return Err(config(format!(
                "the Harbor URL {:?} holds user info (`user:pass@`), which is never sent: \
                 pass credentials with HarborClientBuilder::credentials instead",
                crate::error::display_url(&url)
            )));
        }
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(config(format!(
                "the Harbor URL {:?} must be an absolute http or https URL",
                redact_user_info(&self.url)
            )));
        }
        url.set_query(None);
        url.set_fragment(None);
        let path = url.path().trim_end_matches('/').to_owned();
        if !self.exact_root && !path.ends_with("/api/v2.0") {
            url.set_path(&format!("{path}/api/v2.0"));
        } else {
            url.set_path(&path);
        }
        let transport = match (self.prebuilt, self.credentials) {
            (Some(t), _) => t,
            (None, None) => self.transport.build()?,
            (None, Some(credentials)) => {
                let host = url.host_str().unwrap_or_default();
                let host = match url.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host.to_owned(),
                };
                self.transport
                    .keychain(Keychain::new().with(&host, credentials))
                    .build()?
            }
        };
        Ok(HarborClient {
            inner: Arc::new(Inner {
                transport,
                api_root: url,
                version_check: self.version_check,
                server_version: tokio::sync::OnceCell::new(),
            }),
        })
    }
}

/// Whether the request asked Harbor to end `Location` in the name
/// (`X-Resource-Name-In-Location: true`).
fn names_asked(headers: &HeaderMap) -> bool {
    headers
        .get(NAME_IN_LOCATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The answer to a `201 Created`: Harbor sends the new resource's URL in `Location` and
/// (except for robots) no body.
///
/// What ends `Location` depends on the operation: the new id for most, a name when the
/// request sent `X-Resource-Name-In-Location: true`
/// ([`CreateProjectParams::resource_name_in_location`](crate::api::CreateProjectParams::resource_name_in_location)),
/// the copied reference for [`HarborClient::copy_artifact`], the name for preheat policies
/// and instances. [`Created::id`] answers only when it is an id;
/// [`Created::last_segment`] always gives the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Created {
    /// The `Location` header, e.g. `/api/v2.0/projects/12`.
    pub location: Option<String>,
    /// Whether the operation puts the new id (not a name or reference) at the end of
    /// `Location`.
    id_in_location: bool,
}

impl Created {
    /// A `Created` for a `Location` that ends in the new id.
    pub(crate) fn with_id_location(location: Option<String>) -> Self {
        Created {
            location,
            id_in_location: true,
        }
    }

    /// The last path segment of `Location`, URL-decoded: the new id, or the name or
    /// reference for the operations that put one there (see [`Created`]).
    pub fn last_segment(&self) -> Option<String> {
        let loc = self.location.as_deref()?;
        let path = loc.split(['?', '#']).next().unwrap_or(loc);
        let seg = path.trim_end_matches('/').rsplit('/').next()?;
        if seg.is_empty() {
            return None;
        }
        Some(
            url::form_urlencoded::parse(format!("x={seg}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| seg.to_owned()),
        )
    }

    /// The new resource's numeric id, when `Location` ends in one.
    ///
    /// `None` when the operation puts a name or reference there instead, even one that
    /// reads as a number (a project named `2024` created with `X-Resource-Name-In-Location`,
    /// a tag `2024` copied with [`HarborClient::copy_artifact`]): read
    /// [`Created::last_segment`] then.
    pub fn id(&self) -> Option<i64> {
        if !self.id_in_location {
            return None;
        }
        self.last_segment()?.parse().ok()
    }
}

/// A fully read answer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Response {
    /// The status (always 2xx: errors are returned as [`Error::Api`]).
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// A request being built for the API (path relative to the API root).
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Option<Bytes>,
}

impl ApiRequest {
    pub(crate) fn new(method: Method, path: String) -> Self {
        ApiRequest {
            method,
            path,
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
        }
    }

    pub(crate) fn query(&mut self, name: &str, value: impl ToString) {
        self.query.push((name.to_owned(), value.to_string()));
    }

    fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn header(&mut self, name: &'static str, value: &str) -> Result<()> {
        let v = HeaderValue::from_str(value)
            .map_err(|_| Error::invalid("header value", value, format!("not valid for {name}")))?;
        // Only the generated operations' own headers come here (none a credential): the
        // transport marks credential headers sensitive as every request goes out.
        self.headers.insert(HeaderName::from_static_lower(name), v);
        Ok(())
    }

    /// Sends `X-Is-Resource-Name: true` when the project is addressed by name.
    pub(crate) fn project_header(&mut self, project: &ProjectRef) {
        if project.is_name() {
            self.headers.insert(
                HeaderName::from_static_lower(IS_RESOURCE_NAME),
                HeaderValue::from_static("true"),
            );
        }
    }

    pub(crate) fn json<T: Serialize + ?Sized>(&mut self, body: &T) -> Result<()> {
        let bytes =
            serde_json::to_vec(body).map_err(|e| Error::invalid("JSON body", "", e.to_string()))?;
        self.body = Some(Bytes::from(bytes));
        Ok(())
    }
}

trait FromStaticLower {
    fn from_static_lower(name: &'static str) -> HeaderName;
}

impl FromStaticLower for HeaderName {
    /// Header names are case-insensitive; `HeaderName` wants lower case.
    fn from_static_lower(name: &'static str) -> HeaderName {
        HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .unwrap_or(HeaderName::from_static("x-invalid-header"))
    }
}

/// A request to any API path, built with [`HarborClient::raw`].
#[derive(Debug)]
#[must_use]
pub struct RawRequest {
    client: HarborClient,
    req: ApiRequest,
    error: Option<Error>,
}

impl RawRequest {
    /// Appends a query parameter (encoded for you).
    pub fn query(mut self, name: &str, value: impl ToString) -> Self {
        self.req.query(name, value);
        self
    }

    /// Sets a header. The value of one that carries credentials (`Authorization`,
    /// `Proxy-Authorization`, `Cookie`) is hidden in `Debug` and sent only to the Harbor's
    /// origin, never across a redirect to another one.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                let v = guard_credential(&n, v);
                self.req.headers.insert(n, v);
            }
            _ => {
                self.error.get_or_insert(Error::invalid(
                    "header",
                    name,
                    "invalid header name or value",
                ));
            }
        }
        self
    }

    /// Addresses a project: sends `X-Is-Resource-Name: true` for a name.
    pub fn project(mut self, project: &ProjectRef) -> Self {
        self.req.project_header(project);
        self
    }

    /// Sets the `X-Request-Id` (one is generated otherwise).
    pub fn request_id(self, id: &str) -> Self {
        self.header(REQUEST_ID, id)
    }

    /// Sets a JSON body.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        if let Err(e) = self.req.json(body) {
            self.error.get_or_insert(e);
        }
        self
    }

    fn ready(self) -> Result<(HarborClient, ApiRequest)> {
        match self.error {
            Some(e) => Err(e),
            None => Ok((self.client, self.req)),
        }
    }

    /// Sends and returns the answer as read.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad header or body, [`Error::Api`] for a non-2xx
    /// status, [`Error::Transport`] when no answer arrived.
    pub async fn send(self) -> Result<Response> {
        let (c, r) = self.ready()?;
        c.execute(r).await
    }

    /// Sends and decodes a JSON answer.
    ///
    /// # Errors
    ///
    /// As [`RawRequest::send`], plus [`Error::Decode`] naming the JSON path that failed.
    pub async fn send_json<T: DeserializeOwned>(self) -> Result<T> {
        let (c, r) = self.ready()?;
        c.send_json(r).await
    }

    /// Sends and decodes a JSON array answer as a [`Page`] (with `X-Total-Count` and
    /// `Link`).
    ///
    /// # Errors
    ///
    /// As [`RawRequest::send_json`].
    pub async fn send_page<T: DeserializeOwned>(self) -> Result<Page<T>> {
        let (c, r) = self.ready()?;
        c.send_page(r).await
    }

    /// Sends and returns the body as text (for `text/plain` logs).
    ///
    /// # Errors
    ///
    /// As [`RawRequest::send`].
    pub async fn send_text(self) -> Result<String> {
        let (c, r) = self.ready()?;
        c.send_text(r).await
    }

    /// Sends and ignores the body.
    ///
    /// # Errors
    ///
    /// As [`RawRequest::send`].
    pub async fn send_empty(self) -> Result<()> {
        let (c, r) = self.ready()?;
        c.send_empty(r).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_gets_the_api_path_once() {
        for (given, want) in [
            ("https://h.example", "https://h.example/api/v2.0"),
            ("https://h.example/", "https://h.example/api/v2.0"),
            ("https://h.example/api/v2.0", "https://h.example/api/v2.0"),
            ("https://h.example/api/v2.0/", "https://h.example/api/v2.0"),
            (
                "https://h.example/prefix",
                "https://h.example/prefix/api/v2.0",
            ),
        ] {
            let c = HarborClient::builder(given).build().unwrap();
            assert_eq!(c.api_root().as_str(), want, "{given}");
        }
        let c = HarborClient::builder_with_api_root("http://127.0.0.1:4010")
            .build()
            .unwrap();
        assert_eq!(c.api_root().as_str(), "http://127.0.0.1:4010/");
        assert!(HarborClient::builder("ftp://x").build().is_err());
        assert!(HarborClient::builder("not a url").build().is_err());
    }

    #[test]
    fn a_url_with_user_info_is_refused_without_quoting_it() {
        for given in [
            "https://alice:s3cret@harbor.example",
            "https://s3cret@harbor.example/api/v2.0",
            "https://:s3cret@harbor.example:8443/",
        ] {
            for builder in [
                HarborClient::builder(given),
                HarborClient::builder_with_api_root(given),
            ] {
                let e = builder.build().unwrap_err();
                assert!(matches!(e, Error::Config { .. }), "{e}");
                let text = format!("{e} {e:?}");
                assert!(!text.contains("s3cret"), "{text}");
                assert!(text.contains("HarborClientBuilder::credentials"), "{text}");
                assert!(text.contains("harbor.example"), "{text}");
            }
        }
        // Nor when the URL does not parse or has the wrong scheme.
        for given in [
            "https://alice:s3cret@bad host/",
            "https://alice:s3cret@[::1/",
            "ftp://alice:s3cret@harbor.example/",
            "alice:s3cret@harbor.example",
        ] {
            let e = HarborClient::builder(given).build().unwrap_err();
            assert!(matches!(e, Error::Config { .. }), "{e}");
            let text = format!("{e} {e:?}");
            assert!(!text.contains("s3cret"), "{text}");
        }
    }

    #[test]
    fn raw_request_debug_hides_credential_headers() {
        let c = HarborClient::builder("https://harbor.example")
            .build()
            .unwrap();
        let r = c
            .raw(Method::GET, "/projects")
            .header("Authorization", "Bearer s3cret-token")
            .header("cookie", "sid=s3cret")
            .header("X-Trace", "visible");
        let debug = format!("{r:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("visible"), "{debug}");
    }

    #[test]
    fn credentials_are_bound_to_the_harbor_host() {
        let c = HarborClient::builder("https://harbor.example:8443/")
            .credentials(Credentials::basic("admin", "pw"))
            .build()
            .unwrap();
        let kc = c.transport().keychain();
        let user = |host: &str| match kc.lookup(host, None) {
            harbor_auth::Lookup::Ready(b) => b.credentials().username().map(str::to_owned),
            other => panic!("{other:?}"),
        };
        assert_eq!(user("harbor.example:8443").as_deref(), Some("admin"));
        assert_eq!(
            user("harbor.example"),
            None,
            "another port is another origin"
        );
        assert_eq!(user("registry-1.docker.io"), None);
    }

    #[test]
    fn created_parses_the_id() {
        let c = Created::with_id_location(Some("/api/v2.0/projects/12".into()));
        assert_eq!(c.id(), Some(12));
        let c = Created::with_id_location(Some("/api/v2.0/projects/my%2Dproj".into()));
        assert_eq!(c.last_segment().as_deref(), Some("my-proj"));
        assert_eq!(Created::with_id_location(None).id(), None);
    }

    #[test]
    fn the_name_is_asked_for_with_a_true_header() {
        let names = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert("x-resource-name-in-location", HeaderValue::from_static(v));
            h
        };
        assert!(!names_asked(&HeaderMap::new()));
        assert!(!names_asked(&names("false")));
        assert!(names_asked(&names("true")));
        assert!(names_asked(&names(" True ")));
        let copied = Created {
            location: Some("/api/v2.0/projects/team/repositories/app/artifacts/2024".into()),
            id_in_location: false,
        };
        assert_eq!(copied.id(), None);
        assert_eq!(copied.last_segment().as_deref(), Some("2024"));
    }

    #[test]
    fn request_ids_look_like_uuids() {
        let id = generate_request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes().get(14), Some(&b'4'));
    }
}
