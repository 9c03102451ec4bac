//! A token service built on `harbor-auth`'s `TokenEndpoint`, counting its requests, and the
//! `auth:` configuration that makes `docker-registry` trust it.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use harbor_auth::server::{KeyKind, SigningKey, TokenEndpoint, TokenIssuer};
use harbor_auth::{Clock, ScopeSet};

use super::Registry;

pub const ISSUER: &str = "test-issuer";
pub const SERVICE: &str = "test-registry";

/// A clock running `behind` real time.
#[derive(Debug)]
pub struct BehindClock(pub Duration);

impl Clock for BehindClock {
    fn now(&self) -> SystemTime {
        SystemTime::now() - self.0
    }
}

/// Knows one user.
struct OneUser(&'static str, &'static str);

impl harbor_auth::server::CredentialChecker for OneUser {
    fn check(&self, username: &str, password: &secrecy::SecretString) -> bool {
        use secrecy::ExposeSecret;
        username == self.0 && password.expose_secret() == self.1
    }
}

/// A running token service; aborted on drop.
pub struct TokenService {
    pub ip: Ipv4Addr,
    pub port: u16,
    /// The `scope` parameters of every token request, in order.
    pub requests: Arc<Mutex<Vec<Vec<String>>>>,
    /// The Basic user name of every token request (empty when anonymous), in order.
    pub users: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TokenService {
    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn realm(&self) -> String {
        format!("http://{}:{}/token", self.ip, self.port)
    }

    /// The distinct user names that asked for tokens (anonymous as "").
    pub fn users_seen(&self) -> std::collections::BTreeSet<String> {
        self.users.lock().unwrap().iter().cloned().collect()
    }
}

/// The Basic user name of an `Authorization` header ("" without one).
fn basic_user(headers: &axum::http::HeaderMap) -> String {
    use base64::Engine as _;
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(u, _)| u.to_owned()))
        .unwrap_or_default()
}

/// How to run a token registry: where, whose tokens, for which user.
pub struct TokenSetup {
    /// The loopback address of the registry.
    pub registry_ip: Ipv4Addr,
    /// The loopback address of the token service (the realm).
    pub realm_ip: Ipv4Addr,
    pub issuer: &'static str,
    pub user: (&'static str, &'static str),
    pub clock: Option<Arc<dyn Clock>>,
    pub lifetime: Duration,
}

impl Default for TokenSetup {
    fn default() -> Self {
        Self {
            registry_ip: Ipv4Addr::LOCALHOST,
            realm_ip: Ipv4Addr::LOCALHOST,
            issuer: ISSUER,
            user: ("u", "p"),
            clock: None,
            lifetime: Duration::from_secs(1800),
        }
    }
}

/// Starts a registry with token auth and its token service. `clock` sets the issuer's time
/// (tokens that expire early for the expiry test). Everyone may do everything; user `u` with
/// password `p` is known, anonymous requests are allowed too.
pub async fn start(
    clock: Option<Arc<dyn Clock>>,
    lifetime: Duration,
) -> Option<(Registry, TokenService)> {
    start_with(TokenSetup {
        clock,
        lifetime,
        ..TokenSetup::default()
    })
    .await
}

/// Starts a registry with token auth by its own issuer (its own key), as `setup` says. Its one
/// user may do everything; anonymous callers get tokens that grant nothing.
pub async fn start_with(setup: TokenSetup) -> Option<(Registry, TokenService)> {
    let TokenSetup {
        registry_ip,
        realm_ip,
        issuer: issuer_name,
        user,
        clock,
        lifetime,
    } = setup;
    let bin = super::tool("docker-registry")?;
    let key = SigningKey::generate(KeyKind::Rsa).unwrap();
    let cert = {
        use secrecy::ExposeSecret;
        let kp = rcgen::KeyPair::from_pem(key.to_pkcs8_pem().unwrap().expose_secret()).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["token-signer".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "token-signer");
        params.self_signed(&kp).unwrap().pem()
    };
    let mut b = TokenIssuer::builder(key, issuer_name).lifetime(lifetime);
    if let Some(c) = clock {
        b = b.clock(c);
    }
    let issuer = b.build().unwrap();
    // The default user `u` may be anonymous too (the older tests); others must sign in.
    let anyone = user == ("u", "p");
    let endpoint = TokenEndpoint::new(issuer, SERVICE)
        .allow_anonymous(true)
        .with_credentials(OneUser(user.0, user.1))
        .with_authorizer(move |who: Option<&str>, asked: &ScopeSet| {
            if anyone || who.is_some() {
                asked.clone()
            } else {
                ScopeSet::new()
            }
        });

    let requests = Arc::new(Mutex::new(Vec::new()));
    let users = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind((realm_ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let reqs = requests.clone();
    let seen_users = users.clone();
    let app = axum::Router::new().route(
        "/token",
        axum::routing::get(move |req: axum::http::Request<axum::body::Body>| {
            let ep = endpoint.clone();
            let reqs = reqs.clone();
            let seen_users = seen_users.clone();
            async move {
                let (parts, _) = req.into_parts();
                reqs.lock()
                    .unwrap()
                    .push(super::fake::query_all(&parts.uri, "scope"));
                seen_users.lock().unwrap().push(basic_user(&parts.headers));
                let req = axum::http::Request::from_parts(parts, axum::body::Bytes::new());
                let resp = tokio::task::spawn_blocking(move || ep.handle(&req))
                    .await
                    .unwrap();
                resp.map(axum::body::Body::from)
            }
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let svc = TokenService {
        ip: realm_ip,
        port,
        requests,
        users,
        task,
    };

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("root.crt");
    std::fs::write(&bundle, cert).unwrap();
    let auth = format!(
        "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {issuer_name}\n    rootcertbundle: {}\n",
        svc.realm(),
        bundle.display()
    );
    let reg = super::registry_in_at(bin, dir, registry_ip, auth).await;
    Some((reg, svc))
}
