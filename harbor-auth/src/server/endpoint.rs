//! The token endpoint: the HTTP handler that checks the caller, asks the authoriser and
//! issues, over `http` types.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};

use super::hooks::{Authorizer, CredentialChecker};
use super::issuer::TokenIssuer;
use super::refresh::RefreshTokens;
use crate::error::Result;
use crate::scope::ScopeSet;

/// A ready token endpoint (`GET` with `service`/`scope`/`account`, and OAuth2 `POST` with
/// `grant_type=password`, and `refresh_token` once [refresh tokens are
/// on](TokenEndpoint::with_refresh_tokens)) over `http` types, for any framework.
///
/// It parses scopes as Harbor does (every `scope` parameter, each split on spaces), checks
/// Basic credentials with the [`CredentialChecker`], grants the intersection of asked and
/// [`Authorizer::allowed`], and answers the token response. Errors: `400` for a wrong
/// `service` or a bad scope (`400 invalid_grant` for a bad refresh token), `401` with
/// `WWW-Authenticate: Basic` for bad credentials, `405` for other methods. Error bodies are
/// OAuth2's `{"error","error_description"}` and never hold a secret.
///
/// Checking a bcrypt password takes tens of milliseconds: call [`TokenEndpoint::handle`] from
/// a blocking-capable thread (`tokio::task::spawn_blocking`) in async servers.
#[derive(Clone)]
pub struct TokenEndpoint {
    issuer: TokenIssuer,
    service: String,
    checker: Option<Arc<dyn CredentialChecker>>,
    authorizer: Arc<dyn Authorizer>,
    anonymous: bool,
    refresh: Option<Arc<RefreshTokens>>,
}

impl fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("issuer", &self.issuer)
            .field("service", &self.service)
            .field("anonymous", &self.anonymous)
            .field(
                "refresh_token_lifetime",
                &self.refresh.as_ref().map(|r| r.lifetime()),
            )
            .finish_non_exhaustive()
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn error_response(status: StatusCode, code: &str, detail: &str) -> Response<Bytes> {
    let body = serde_json::json!({ "error": code, "error_description": detail });
    json_response(status, body.to_string().into_bytes())
}

impl TokenEndpoint {
    /// An endpoint for `service` (the registry's `auth.token.service`), allowing anonymous
    /// requests and granting nothing until an authoriser and a credential checker are set.
    pub fn new(issuer: TokenIssuer, service: &str) -> Self {
        Self {
            issuer,
            service: service.to_owned(),
            checker: None,
            authorizer: Arc::new(|_: Option<&str>, _: &ScopeSet| ScopeSet::new()),
            anonymous: true,
            refresh: None,
        }
    }

    /// Sets the credential checker (without one, every credentialed request is refused).
    #[must_use]
    pub fn with_credentials(mut self, checker: impl CredentialChecker + 'static) -> Self {
        self.checker = Some(Arc::new(checker));
        self
    }

    /// Sets the authoriser.
    #[must_use]
    pub fn with_authorizer(mut self, authorizer: impl Authorizer + 'static) -> Self {
        self.authorizer = Arc::new(authorizer);
        self
    }

    /// Whether requests without credentials get (anonymous) tokens; default true.
    #[must_use]
    pub fn allow_anonymous(mut self, allow: bool) -> Self {
        self.anonymous = allow;
        self
    }

    /// Turns on refresh (offline) tokens that live `lifetime` (at least 60 s), the rest of
    /// the distribution token protocol:
    ///
    /// - `GET` with valid credentials and `offline_token=true` (what `docker login` sends), and
    ///   `POST grant_type=password` with `access_type=offline`, also answer `refresh_token`.
    /// - `POST grant_type=refresh_token&refresh_token=…&service=…&scope=…` (what containerd
    ///   and this crate's `fetch::TokenFetcher` send for an identity or refresh token) answers
    ///   an access token for the refresh token's subject: the [`CredentialChecker::is_active`]
    ///   hook and then the [`Authorizer`] are asked again, as for a password grant. The
    ///   response carries the **same** refresh token, as the spec says; it is not rotated, so
    ///   it stops working when its own lifetime ends (log in again). A `username` form
    ///   field is ignored: the subject comes from the token.
    /// - Anonymous requests never get a refresh token.
    ///
    /// Without this call, `offline_token` and `access_type` are ignored and the refresh grant
    /// is refused with `400 unsupported_grant_type`.
    ///
    /// The tokens are **stateless**: a JWT signed with the issuer's key and clock, `sub` the
    /// user, `aud` = `urn:harbor-auth:refresh-token:<service>` and no `access` claim. A
    /// registry refuses it as a bearer token (wrong audience, and it grants nothing), and this
    /// endpoint refuses (`400 invalid_grant`) one that is expired, tampered, signed by another
    /// key, issued for another service, or an access token. Any endpoint holding the same key
    /// and service accepts it, so they survive restarts and work behind a load balancer.
    /// Revoking them all means rotating the signing key; one user's are revoked by making
    /// [`CredentialChecker::is_active`] answer `false` (for [`Htpasswd`](super::Htpasswd): remove the user).
    ///
    /// ```
    /// use std::time::Duration;
    /// use harbor_auth::server::{Htpasswd, KeyKind, SigningKey, TokenEndpoint, TokenIssuer};
    ///
    /// # fn main() -> harbor_auth::Result<()> {
    /// let key = SigningKey::generate(KeyKind::EcP256)?;
    /// let issuer = TokenIssuer::builder(key, "my-issuer").build()?;
    /// let users = Htpasswd::parse(&Htpasswd::hash_line("alice", "pw", 4)?)?;
    /// let endpoint = TokenEndpoint::new(issuer, "my-registry")
    ///     .with_credentials(users)
    ///     .with_refresh_tokens(Duration::from_secs(30 * 24 * 3600))?;
    /// # let _ = endpoint; Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Key`](crate::Error::Key) when the refresh-token header or verifier cannot be built from the
    /// issuer's key (it should not happen for a key the issuer signs with).
    pub fn with_refresh_tokens(mut self, lifetime: Duration) -> Result<Self> {
        let refresh = RefreshTokens::new(&self.issuer, &self.service, lifetime)?;
        self.refresh = Some(Arc::new(refresh));
        Ok(self)
    }

    /// The issuer.
    pub fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// Handles one request to the token endpoint. Never panics; every failure is an HTTP answer.
    pub fn handle<B: AsRef<[u8]>>(&self, req: &Request<B>) -> Response<Bytes> {
        match self.try_handle(req) {
            Ok(r) => r,
            Err(Reject::MethodNotAllowed) => {
                let mut r = error_response(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "unsupported_method",
                    "use GET or POST",
                );
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
                r
            }
            Err(Reject::BadRequest(code, detail)) => {
                error_response(StatusCode::BAD_REQUEST, code, detail)
            }
            Err(Reject::Unauthorized(code, detail)) => {
                let mut r = error_response(StatusCode::UNAUTHORIZED, code, detail);
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"registry token service\""),
                );
                r
            }
            Err(Reject::Internal) => error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "signing failed",
            ),
        }
    }

    fn try_handle<B: AsRef<[u8]>>(
        &self,
        req: &Request<B>,
    ) -> std::result::Result<Response<Bytes>, Reject> {
        let (params, oauth) = match *req.method() {
            Method::GET => (
                pairs(req.uri().query().unwrap_or_default().as_bytes()),
                false,
            ),
            Method::POST => (pairs(req.body().as_ref()), true),
            _ => return Err(Reject::MethodNotAllowed),
        };
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if get("service") != Some(self.service.as_str()) {
            return Err(Reject::BadRequest("invalid_request", "unknown service"));
        }
        let mut asked = ScopeSet::new();
        for (_, v) in params.iter().filter(|(k, _)| k == "scope") {
            let s: ScopeSet = v
                .parse()
                .map_err(|_| Reject::BadRequest("invalid_scope", "malformed scope"))?;
            asked.merge(&s);
        }

        let (creds, offline) = if oauth {
            match (get("grant_type"), self.refresh.is_some()) {
                (Some("password"), _) => (
                    Caller::Password(
                        get("username").unwrap_or_default().to_owned(),
                        SecretString::from(get("password").unwrap_or_default().to_owned()),
                    ),
                    get("access_type") == Some("offline"),
                ),
                (Some("refresh_token"), true) => {
                    let token = get("refresh_token").filter(|t| !t.is_empty()).ok_or(
                        Reject::BadRequest(
                            "invalid_request",
                            "the refresh_token grant needs a refresh_token field",
                        ),
                    )?;
                    (Caller::Refresh(SecretString::from(token.to_owned())), true)
                }
                (_, false) => {
                    return Err(Reject::BadRequest(
                        "unsupported_grant_type",
                        "only grant_type=password is supported",
                    ));
                }
                (_, true) => {
                    return Err(Reject::BadRequest(
                        "unsupported_grant_type",
                        "only grant_type=password and grant_type=refresh_token are supported",
                    ));
                }
            }
        } else {
            let creds = match basic_credentials(req.headers().get(header::AUTHORIZATION))? {
                Some((user, password)) => Caller::Password(user, password),
                None => Caller::Anonymous,
            };
            let offline = get("offline_token").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            (creds, offline)
        };

        // The refresh token that goes back to a refresh grant: the same one.
        let mut presented_refresh = None;
        let subject = match creds {
            Caller::Password(user, password) => {
                let ok = self
                    .checker
                    .as_ref()
                    .is_some_and(|c| c.check(&user, &password));
                if !ok {
                    // The user name only at debug: a password typed into the user field
                    // would otherwise reach every log.
                    tracing::info!("token request with wrong credentials");
                    tracing::debug!(user = %user, "the wrong credentials' user name");
                    return Err(UNAUTHORIZED);
                }
                Some(user)
            }
            Caller::Refresh(token) => {
                let subject = self.refresh_subject(&token)?;
                presented_refresh = Some(token);
                Some(subject)
            }
            Caller::Anonymous if self.anonymous => None,
            Caller::Anonymous => return Err(UNAUTHORIZED),
        };

        let allowed = self.authorizer.allowed(subject.as_deref(), &asked);
        let granted = allowed.intersection(&asked);
        let issued = self
            .issuer
            .issue(
                subject.as_deref().unwrap_or_default(),
                &self.service,
                &granted,
            )
            .map_err(|_| Reject::Internal)?;
        tracing::debug!(subject = subject.as_deref().unwrap_or(""), granted = %granted, "token issued");
        let refresh_token = match (presented_refresh, &self.refresh, subject.as_deref()) {
            (Some(token), _, _) => Some(token),
            (None, Some(refresh), Some(subject)) if offline => {
                let token = refresh.mint(subject).map_err(|_| Reject::Internal)?;
                tracing::debug!(subject, "refresh token issued");
                Some(token)
            }
            _ => None,
        };
        let mut body = issued.response_object();
        if oauth {
            body.insert("scope".to_owned(), granted.to_string().into());
        }
        if let Some(token) = refresh_token {
            body.insert(
                "refresh_token".to_owned(),
                token.expose_secret().to_owned().into(),
            );
        }
        Ok(json_response(
            StatusCode::OK,
            serde_json::Value::Object(body).to_string().into_bytes(),
        ))
    }

    /// The subject of a refresh token, if it is valid and the subject still active.
    fn refresh_subject(&self, token: &SecretString) -> std::result::Result<String, Reject> {
        let refresh = self.refresh.as_ref().ok_or(INVALID_GRANT)?;
        let subject = refresh.subject(token.expose_secret()).map_err(|e| {
            // The reason only: never the token.
            let reason = e.token_rejection().map(|r| r.to_string());
            tracing::info!(
                reason = reason.as_deref().unwrap_or("invalid"),
                "refresh token refused"
            );
            INVALID_GRANT
        })?;
        let active = self.checker.as_ref().is_some_and(|c| c.is_active(&subject));
        if !active {
            tracing::info!(user = %subject, "refresh token of a user who is no longer active");
            return Err(INVALID_GRANT);
        }
        Ok(subject)
    }
}

/// Who is asking.
enum Caller {
    Anonymous,
    /// Basic credentials or the OAuth2 password grant.
    Password(String, SecretString),
    /// The OAuth2 refresh-token grant.
    Refresh(SecretString),
}

fn pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw).into_owned().collect()
}

type BasicCreds = Option<(String, SecretString)>;

/// Why a request is refused (turned into a response by `handle`).
enum Reject {
    MethodNotAllowed,
    BadRequest(&'static str, &'static str),
    Unauthorized(&'static str, &'static str),
    Internal,
}

const UNAUTHORIZED: Reject = Reject::Unauthorized("unauthorized", "authentication required");

const INVALID_GRANT: Reject = Reject::BadRequest(
    "invalid_grant",
    "the refresh token is invalid, expired, revoked or for another service; log in again",
);

fn basic_credentials(h: Option<&HeaderValue>) -> std::result::Result<BasicCreds, Reject> {
    let Some(h) = h else { return Ok(None) };
    let bad = || Reject::Unauthorized("invalid_request", "malformed Authorization header");
    let text = h.to_str().map_err(|_| bad())?;
    let (scheme, rest) = text.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (user, pass) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Some((user.to_owned(), SecretString::from(pass.to_owned()))))
}
