//! The token endpoint: credential check, authorisation, issuance, over `http` types.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};

use super::issuer::TokenIssuer;
use super::refresh::RefreshTokens;
use crate::error::{Error, Result};
use crate::scope::ScopeSet;

/// Checks a user name and password.
pub trait CredentialChecker: Send + Sync {
    /// Whether the password is right for the user. Must take about the same time for unknown
    /// users as for a wrong password.
    fn check(&self, username: &str, password: &SecretString) -> bool;

    /// Whether `username` may still get tokens, asked before a refresh token of theirs is
    /// exchanged (see [`TokenEndpoint::with_refresh_tokens`]). Refresh tokens are stateless,
    /// so this is how a removed or disabled user loses them before they expire; the default
    /// answers `true`. [`Htpasswd`] answers whether the user is in the file.
    fn is_active(&self, username: &str) -> bool {
        let _ = username;
        true
    }
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

/// The highest bcrypt cost an htpasswd line may have: the most `htpasswd -B -C` makes. A
/// higher one makes every check of that user's password (and, through the timing dummy, of
/// every unknown user's) take minutes to days: cost 31 is 2^14 times cost 17.
const MAX_BCRYPT_COST: u32 = 17;

/// The cost of a `$2y$NN$...` bcrypt hash.
fn bcrypt_cost(hash: &str) -> Option<u32> {
    hash.get(4..6).and_then(|c| c.parse::<u32>().ok())
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
    /// hashes are refused: regenerate with `htpasswd -B`), or when its bcrypt cost is above 17
    /// (`htpasswd -B -C`'s maximum; checking such a password would take minutes to days).
    pub fn parse(text: &str) -> Result<Self> {
        let (users, cost) = Self::read(text)?;
        let dummy =
            bcrypt::hash("dummy password for timing", cost).map_err(|e| Error::Htpasswd {
                reason: format!("bcrypt unavailable: {e}"),
            })?;
        Ok(Self { users, dummy })
    }

    /// What [`Htpasswd::parse`] reads, without the bcrypt work: the user names and the cost of
    /// the dummy hash. For the `auth_htpasswd` fuzz target; only built by `cargo fuzz`
    /// (`--cfg fuzzing`).
    ///
    /// # Errors
    ///
    /// As [`Htpasswd::parse`].
    #[cfg(fuzzing)]
    #[doc(hidden)]
    pub fn fuzz_read(text: &str) -> Result<(Vec<String>, u32)> {
        let (users, cost) = Self::read(text)?;
        Ok((users.into_keys().collect(), cost))
    }

    /// The users (name to hash) of htpasswd text, and the cost the dummy hash must have.
    fn read(text: &str) -> Result<(HashMap<String, String>, u32)> {
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
            if let Some(cost) = bcrypt_cost(hash).filter(|&c| c > MAX_BCRYPT_COST) {
                return Err(bad(&format!(
                    "bcrypt cost {cost} is above {MAX_BCRYPT_COST}, the most `htpasswd -B -C` \
                     makes (each step doubles the time a password check takes)"
                )));
            }
            users.insert(user.to_owned(), hash.to_owned());
        }
        // Unknown users are checked against a dummy hash of the highest cost in the file, so
        // they take as long as a wrong password.
        let cost = users
            .values()
            .map(String::as_str)
            .filter_map(bcrypt_cost)
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST)
            .clamp(4, 31);
        Ok((users, cost))
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

    fn is_active(&self, username: &str) -> bool {
        self.users.contains_key(username)
    }
}

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
    /// [`CredentialChecker::is_active`] answer `false` (for [`Htpasswd`]: remove the user).
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
    /// [`Error::Key`] when the refresh-token header or verifier cannot be built from the
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
                    tracing::info!(user = %user, "token request with wrong credentials");
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
