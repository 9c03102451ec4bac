//! A token service built on `harbor-auth`'s `TokenEndpoint`, counting its requests, and the
//! `auth:` configuration that makes `docker-registry` trust it.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

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

/// Knows one user, `u` with password `p`.
struct OneUser;

impl harbor_auth::server::CredentialChecker for OneUser {
    fn check(&self, username: &str, password: &secrecy::SecretString) -> bool {
        use secrecy::ExposeSecret;
        username == "u" && password.expose_secret() == "p"
    }
}

/// A running token service; aborted on drop.
pub struct TokenService {
    pub port: u16,
    /// The `scope` parameters of every token request, in order.
    pub requests: Arc<Mutex<Vec<Vec<String>>>>,
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
        format!("http://127.0.0.1:{}/token", self.port)
    }
}

/// Starts a registry with token auth and its token service. `clock` sets the issuer's time
/// (tokens that expire early for the expiry test). Everyone may do everything; user `u` with
/// password `p` is known, anonymous requests are allowed too.
pub async fn start(
    clock: Option<Arc<dyn Clock>>,
    lifetime: Duration,
) -> Option<(Registry, TokenService)> {
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
    let mut b = TokenIssuer::builder(key, ISSUER).lifetime(lifetime);
    if let Some(c) = clock {
        b = b.clock(c);
    }
    let issuer = b.build().unwrap();
    let endpoint = TokenEndpoint::new(issuer, SERVICE)
        .allow_anonymous(true)
        .with_credentials(OneUser)
        .with_authorizer(|_: Option<&str>, asked: &ScopeSet| asked.clone());

    let requests = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let reqs = requests.clone();
    let app = axum::Router::new().route(
        "/token",
        axum::routing::get(move |req: axum::http::Request<axum::body::Body>| {
            let ep = endpoint.clone();
            let reqs = reqs.clone();
            async move {
                let (parts, _) = req.into_parts();
                reqs.lock()
                    .unwrap()
                    .push(super::fake::query_all(&parts.uri, "scope"));
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
        port,
        requests,
        task,
    };

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("root.crt");
    std::fs::write(&bundle, cert).unwrap();
    let auth = format!(
        "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
        svc.realm(),
        bundle.display()
    );
    let reg = super::registry_in(bin, dir, auth).await;
    Some((reg, svc))
}
