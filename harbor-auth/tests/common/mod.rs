//! Shared harness for the integration tests: external tools, a real `docker-registry` with
//! token auth on a loopback port, our token endpoint served by axum, and keys/certificates
//! generated at run time.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harbor_auth::server::{KeyKind, SigningKey, TokenEndpoint};

/// The path of an external tool, or `None` after a SKIP notice. Under `CI=true` a missing
/// tool fails the test instead.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "{name} is not on PATH and CI=true: install it (apt-get install docker-registry skopeo)"
            );
        }
        eprintln!("SKIP: {name} not on PATH");
    }
    found
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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

/// A running `docker-registry`, killed on drop.
pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const SERVICE: &str = "harbor-auth-test-registry";
pub const ISSUER: &str = "harbor-auth-test-issuer";

impl Registry {
    /// Starts `docker-registry serve` with token auth: `realm` is our endpoint, the bundle
    /// holds `bundle_pem`.
    pub fn start(bin: &Path, realm: &str, bundle_pem: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let bundle = dir.path().join("bundle.pem");
        std::fs::write(&bundle, bundle_pem).unwrap();
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let config = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: harbor-auth-test-http-secret\n\
             auth:\n  token:\n    realm: {realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {bundle}\n",
            storage = storage.display(),
            bundle = bundle.display(),
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let reg = Registry { child, port, dir };
        reg.wait_ready();
        reg
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
        panic!(
            "docker-registry did not listen on {} within 20 s; log:\n{log}",
            self.port
        );
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
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
