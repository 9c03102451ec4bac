//! A hostile registry as the source of a copy never receives a credential: not when it
//! answers `Basic` challenges, not when it names a token realm on its own host, not through a
//! redirect to a third host (for which the keychain even holds a password). The destination is
//! a real `docker-registry` with htpasswd auth on another loopback address, and every request
//! the hostile hosts saw is checked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use common::fake::{Fake, Seen, authz, query_all, resp};
use common::htpasswd_registry;
use harbor_client::registry::{Digest, ImageOptions, ImageReference, MediaType, RegistryClient};
use harbor_client::transport::{Credentials, Keychain};

const DEST_USER: (&str, &str) = ("bob", "bob-secret-pw");
const THIRD_USER: (&str, &str) = ("third", "third-secret-pw");
/// The only token the hostile registry hands out (and so the only Authorization it may see).
const EVIL_TOKEN: &str = "evil-token";

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// A small image the hostile registry serves: (manifest, config, layer).
fn image() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let layer = b"hostile layer".to_vec();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "config": {"mediaType": MediaType::OCI_CONFIG, "digest": Digest::sha256_of(&config).to_string(), "size": config.len()},
        "layers": [{"mediaType": MediaType::OCI_LAYER_GZIP, "digest": Digest::sha256_of(&layer).to_string(), "size": layer.len()}],
    });
    (serde_json::to_vec(&manifest).unwrap(), config, layer)
}

/// Serves the image at `/v2/x/...`.
fn serve_image(s: &Seen) -> http::Response<axum::body::Body> {
    let (manifest, config, layer) = image();
    let path = s.uri.path();
    if path.contains("/manifests/") {
        return resp(200, &[("content-type", MediaType::OCI_MANIFEST)], manifest);
    }
    for blob in [config, layer] {
        if path.ends_with(&Digest::sha256_of(&blob).to_string()) {
            return resp(200, &[("content-length", &blob.len().to_string())], blob);
        }
    }
    resp(404, &[], "")
}

/// Asserts that no request carried a credential of ours: an `Authorization` header other than
/// the hostile's own token, an `account` parameter, or a password anywhere.
fn assert_no_credentials(who: &str, seen: &[Seen]) {
    assert!(!seen.is_empty(), "{who} saw no request at all");
    let secrets = [DEST_USER, THIRD_USER];
    for s in seen {
        let auth = authz(s);
        assert!(
            auth.is_none() || auth.as_deref() == Some(&format!("Bearer {EVIL_TOKEN}")),
            "{who} got Authorization {auth:?} on {} {}",
            s.method,
            s.uri
        );
        assert!(
            query_all(&s.uri, "account").is_empty(),
            "{who} learnt an account name: {}",
            s.uri
        );
        let body = String::from_utf8_lossy(&s.body);
        let everything = format!("{} {:?} {body}", s.uri, s.headers);
        for (user, password) in secrets {
            let b64 =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            assert!(
                !everything.contains(password) && !everything.contains(&b64),
                "{who} received {user}'s password: {everything}"
            );
        }
    }
}

struct Setup {
    dest: harbor_testkit::Registry,
    client: RegistryClient,
}

impl Setup {
    /// Copies `x:v1` from the hostile registry to the destination.
    async fn copy_from(&self, hostile: &Fake) -> harbor_client::Result<Digest> {
        let src: ImageReference = format!("{}/x:v1", hostile.host()).parse().unwrap();
        let dst: ImageReference = format!("{}/copied/x:v1", self.dest.host()).parse().unwrap();
        self.client
            .copy_image(&src, &dst, &ImageOptions::default())
            .await
    }
}

/// The destination registry and a client whose keychain knows it and the third host.
async fn setup(third_host: &str) -> Option<Setup> {
    let dest = htpasswd_registry(ip(2), DEST_USER).await?;
    let keychain = Keychain::new()
        .with(&dest.host(), Credentials::basic(DEST_USER.0, DEST_USER.1))
        .with(third_host, Credentials::basic(THIRD_USER.0, THIRD_USER.1));
    let client = RegistryClient::builder()
        .keychain(keychain)
        .build()
        .unwrap();
    Some(Setup { dest, client })
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_basic_challenge_from_the_source_gets_no_password() {
    let hostile = Fake::start_at(ip(5), |_| {
        resp(
            401,
            &[("www-authenticate", r#"Basic realm="hand it over""#)],
            "",
        )
    })
    .await;
    let Some(s) = setup("127.0.0.6:1").await else {
        return;
    };
    let e = s.copy_from(&hostile).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e}");
    assert_no_credentials("the hostile registry", &hostile.all());
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_realm_on_the_hostile_host_gets_an_anonymous_request_only() {
    let port = Arc::new(OnceLock::<u16>::new());
    let p = port.clone();
    let hostile = Fake::start_at(ip(5), move |s| {
        if s.uri.path() == "/token" {
            return resp(
                200,
                &[("content-type", "application/json")],
                format!(r#"{{"token":"{EVIL_TOKEN}","expires_in":300}}"#),
            );
        }
        if authz(s).as_deref() == Some(&format!("Bearer {EVIL_TOKEN}")) {
            return serve_image(s);
        }
        let challenge = format!(
            r#"Bearer realm="http://127.0.0.5:{}/token",service="evil",scope="repository:x:pull""#,
            p.get().unwrap()
        );
        resp(401, &[("www-authenticate", challenge.as_str())], "")
    })
    .await;
    port.set(hostile.addr.port()).unwrap();
    let Some(s) = setup("127.0.0.6:1").await else {
        return;
    };
    // The image is public on the hostile side: the copy works, the destination getting its
    // own credentials, the hostile side an anonymous token request and nothing else.
    let digest = s.copy_from(&hostile).await.unwrap();
    assert_eq!(digest, Digest::sha256_of(&image().0));
    let seen = hostile.all();
    assert!(
        seen.iter().any(|r| r.uri.path() == "/token"),
        "the realm was asked"
    );
    assert_no_credentials("the hostile registry", &seen);
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_a_third_host_carries_no_credential() {
    // The third host challenges both ways, with a realm on itself; the keychain holds a
    // password for it.
    let third_port = Arc::new(OnceLock::<u16>::new());
    let tp = third_port.clone();
    let third = Fake::start_at(ip(6), move |s| {
        if s.uri.path() == "/token" {
            return resp(200, &[], r#"{"token":"third-token"}"#);
        }
        let bearer = format!(
            r#"Bearer realm="http://127.0.0.6:{}/token",service="third""#,
            tp.get().unwrap()
        );
        let mut r = resp(401, &[("www-authenticate", bearer.as_str())], "");
        r.headers_mut().append(
            "www-authenticate",
            http::HeaderValue::from_static(r#"Basic realm="third""#),
        );
        r
    })
    .await;
    third_port.set(third.addr.port()).unwrap();
    let third_host = third.host();
    let hostile = Fake::start_at(ip(5), move |s| {
        let loc = format!("http://{third_host}{}", s.uri.path());
        resp(307, &[("location", loc.as_str())], "")
    })
    .await;
    let Some(s) = setup(&third.host()).await else {
        return;
    };
    let e = s.copy_from(&hostile).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e}");
    assert_no_credentials("the hostile registry", &hostile.all());
    assert_no_credentials("the third host", &third.all());
    assert_eq!(
        third.count(|r| r.uri.path() == "/token"),
        0,
        "a 401 from a redirect target is never answered"
    );
    // The blob path too: a redirect of a blob download to the third host carries nothing.
    let repo: harbor_client::registry::Repository =
        format!("{}/x", hostile.host()).parse().unwrap();
    let e = s
        .client
        .get_blob(&repo, &Digest::sha256_of(b"anything"))
        .await
        .unwrap_err();
    assert!(e.is_unauthorized(), "{e}");
    assert_no_credentials("the third host", &third.all());
}
