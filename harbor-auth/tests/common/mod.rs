//! Shared harness for the integration tests: a real `docker-registry` with token auth on a
//! loopback port (the guard, tool lookup and free ports come from `harbor-testkit`), our token
//! endpoint served by axum, and keys/certificates generated at run time.
#![allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::path::Path;

use harbor_auth::server::{KeyKind, SigningKey, TokenEndpoint};
pub use harbor_testkit::{Registry, free_port, tool};

/// A generated key with a self-signed certificate holding it.
pub struct KeyWithCert {
    pub key: SigningKey,
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
}

fn rcgen_key(key: &SigningKey) -> rcgen::KeyPair {
    use secrecy::ExposeSecret;
    rcgen::KeyPair::from_pem(key.to_pkcs8_pem().unwrap().expose_secret()).unwrap()
}

pub fn self_signed(kind: KeyKind, cn: &str) -> KeyWithCert {
    let key = SigningKey::generate(kind).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![cn.to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.self_signed(&rcgen_key(&key)).unwrap();
    KeyWithCert {
        key,
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
    }
}

/// A CA, and a leaf signing key certified by it (for `x5c`).
pub struct Chain {
    pub ca_pem: String,
    pub leaf: KeyWithCert,
}

pub fn chain(kind: KeyKind, name: &str) -> Chain {
    let ca_key = SigningKey::generate(KeyKind::EcP256).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} CA"));
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen_key(&ca_key)).unwrap();
    let leaf_key = SigningKey::generate(kind).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![format!("{name}.token-signer")]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} token signer"));
    let leaf = params.signed_by(&rcgen_key(&leaf_key), &ca).unwrap();
    Chain {
        ca_pem: ca.pem(),
        leaf: KeyWithCert {
            key: leaf_key,
            cert_pem: leaf.pem(),
            cert_der: leaf.der().to_vec(),
        },
    }
}

pub const SERVICE: &str = "harbor-auth-test-registry";
pub const ISSUER: &str = "harbor-auth-test-issuer";

/// Starts `docker-registry` (at `bin`) with token auth: `realm` is our endpoint, the trusted
/// bundle holds `bundle_pem`.
pub fn start_registry(bin: &Path, realm: &str, bundle_pem: &str) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.pem");
    std::fs::write(&bundle, bundle_pem).unwrap();
    let auth = format!(
        "auth:\n  token:\n    realm: {realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {bundle}\n",
        bundle = bundle.display(),
    );
    Registry::start_in(bin, dir, &auth)
}

/// Our token endpoint on a loopback port, served by axum on the test's tokio runtime.
pub struct TokenServer {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TokenServer {
    pub async fn start(endpoint: TokenEndpoint) -> TokenServer {
        use axum::body::Body;
        use axum::extract::State;
        use axum::http::Request;
        use axum::response::IntoResponse;

        async fn token(
            State(ep): State<TokenEndpoint>,
            req: Request<Body>,
        ) -> axum::response::Response {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
                return axum::http::StatusCode::PAYLOAD_TOO_LARGE.into_response();
            };
            let req = Request::from_parts(parts, bytes);
            let resp = tokio::task::spawn_blocking(move || ep.handle(&req))
                .await
                .unwrap();
            resp.map(Body::from).into_response()
        }

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new()
            .route("/token", axum::routing::get(token).post(token))
            .with_state(endpoint);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TokenServer { port, task }
    }

    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A Basic `Authorization` header value.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A `GET /token?QUERY` to `endpoint`, with an optional `Authorization` header.
pub fn get(
    endpoint: &TokenEndpoint,
    query: &str,
    auth: Option<&str>,
) -> http::Response<bytes::Bytes> {
    let mut b = http::Request::builder()
        .method(http::Method::GET)
        .uri(format!("/token?{query}"));
    if let Some(a) = auth {
        b = b.header(http::header::AUTHORIZATION, a);
    }
    endpoint.handle(&b.body(bytes::Bytes::new()).unwrap())
}

/// A form `POST /token` (OAuth2) to `endpoint`.
pub fn post(endpoint: &TokenEndpoint, form: &[(&str, &str)]) -> http::Response<bytes::Bytes> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let req = http::Request::builder()
        .method(http::Method::POST)
        .uri("/token")
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(bytes::Bytes::from(body))
        .unwrap();
    endpoint.handle(&req)
}
