//! The token endpoint: credential check, authorisation, issuance, over `http` types.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};

use super::issuer::TokenIssuer;
use crate::error::{Error, Result};
use crate::scope::ScopeSet;

/// Checks a user name and password.
pub trait CredentialChecker: Send + Sync {
    /// Whether the password is right for the user. Must take about the same time for unknown
    /// users as for a wrong password.
    fn check(&self, username: &str, password: &SecretString) -> bool;
}

/// Decides what a subject may do.
///
/// The endpoint grants the **intersection** of what was asked and what this returns, so an
/// authoriser may return more than asked (for example "everything in the user's projects").
pub trait Authorizer: Send + Sync {
    /// The access `subject` (`None` for anonymous) may have among `asked`.
    fn allowed(&self, subject: Option<&str>, asked: &ScopeSet) -> ScopeSet;
}

impl<F> Authorizer for F
where
    F: Fn(Option<&str>, &ScopeSet) -> ScopeSet + Send + Sync,
{
    fn allowed(&self, subject: Option<&str>, asked: &ScopeSet) -> ScopeSet {
        self(subject, asked)
    }
}

/// Users from an Apache htpasswd file with bcrypt hashes (`htpasswd -B`), the format
/// `docker-registry`'s own htpasswd auth uses.
pub struct Htpasswd {
    users: HashMap<String, String>,
    dummy: String,
}

impl fmt::Debug for Htpasswd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Htpasswd")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Htpasswd {
    /// Parses htpasswd text: `user:$2y$...` lines; blank lines and `#` comments are skipped.
    ///
    /// # Errors
    ///
    /// [`Error::Htpasswd`] naming the line when it is not `user:bcrypt-hash` (MD5, SHA-1 and crypt
    /// hashes are refused: regenerate with `htpasswd -B`).
    pub fn parse(text: &str) -> Result<Self> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: &str| Error::Htpasswd {
                reason: format!("htpasswd line {}: {what}", i + 1),
            };
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| bad("expected `user:hash`"))?;
            if user.is_empty() {
                return Err(bad("empty user name"));
            }
            if !(hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$2a$")) {
                return Err(bad(
                    "only bcrypt hashes are supported (create them with `htpasswd -B`)",
                ));
            }
            users.insert(user.to_owned(), hash.to_owned());
        }
        // Unknown users are checked against a dummy hash of the highest cost in the file, so
        // they take as long as a wrong password.
        let cost = users
            .values()
            .filter_map(|h| h.get(4..6).and_then(|c| c.parse::<u32>().ok()))
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST)
            .clamp(4, 31);
        let dummy =
            bcrypt::hash("dummy password for timing", cost).map_err(|e| Error::Htpasswd {
                reason: format!("bcrypt unavailable: {e}"),
            })?;
        Ok(Self { users, dummy })
    }

    /// Reads an htpasswd file.
    ///
    /// # Errors
    ///
    /// [`Error::Htpasswd`] when the file cannot be read or parsed.
    pub fn from_path(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Htpasswd {
            reason: format!("cannot read {}: {e}", path.display()),
        })?;
        Self::parse(&text)
    }

    /// A bcrypt hash line for `user` (for tests and tooling).
    ///
    /// # Errors
    ///
    /// [`Error::Htpasswd`] when hashing fails.
    pub fn hash_line(user: &str, password: &str, cost: u32) -> Result<String> {
        let h = bcrypt::hash(password, cost).map_err(|e| Error::Htpasswd {
            reason: format!("bcrypt failed: {e}"),
        })?;
        Ok(format!("{user}:{h}"))
    }
}

impl CredentialChecker for Htpasswd {
    fn check(&self, username: &str, password: &SecretString) -> bool {
        match self.users.get(username) {
            Some(h) => bcrypt::verify(password.expose_secret(), h).unwrap_or(false),
            None => {
                // Spend the same time as for a known user.
                let _ = bcrypt::verify(password.expose_secret(), &self.dummy);
                false
            }
        }
    }
}

/// A ready token endpoint (`GET` with `service`/`scope`/`account`, and OAuth2 `POST` with
/// `grant_type=password`) over `http` types, for any framework.
///
/// It parses scopes as Harbor does (every `scope` parameter, each split on spaces), checks
/// Basic credentials with the [`CredentialChecker`], grants the intersection of asked and
/// [`Authorizer::allowed`], and answers the token response. Errors: `400` for a wrong
/// `service` or a bad scope, `401` with `WWW-Authenticate: Basic` for bad credentials,
/// `405` for other methods.
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
}

impl fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("issuer", &self.issuer)
            .field("service", &self.service)
            .field("anonymous", &self.anonymous)
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

        let creds: Option<(String, SecretString)> = if oauth {
            match get("grant_type") {
                Some("password") => Some((
                    get("username").unwrap_or_default().to_owned(),
                    SecretString::from(get("password").unwrap_or_default().to_owned()),
                )),
                _ => {
                    return Err(Reject::BadRequest(
                        "unsupported_grant_type",
                        "only grant_type=password is supported",
                    ));
                }
            }
        } else {
            basic_credentials(req.headers().get(header::AUTHORIZATION))?
        };

        let subject = match creds {
            Some((user, password)) => {
                let ok = self
                    .checker
                    .as_ref()
                    .is_some_and(|c| c.check(&user, &password));
                if !ok {
                    tracing::info!(user = %user, "token request with wrong credentials");
                    return Err(UNAUTHORIZED);
                }
                Some(user)
            }
            None if self.anonymous => None,
            None => return Err(UNAUTHORIZED),
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
        let body = if oauth {
            let mut v: serde_json::Value =
                serde_json::from_slice(&issued.response_json()).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("scope".to_owned(), granted.to_string().into());
            }
            v.to_string().into_bytes()
        } else {
            issued.response_json()
        };
        Ok(json_response(StatusCode::OK, body))
    }
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
