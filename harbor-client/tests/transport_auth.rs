//! The reactive token flow: token counts per scope set, single-flight and Harbor's "Basic after
//! Bearer" against a programmable fake registry and token service (distribution does not show
//! Harbor's quirks); `insufficient_scope` and refused credentials against the real registry.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::fake::{Fake, Seen, authz, query_all, resp};
use harbor_client::registry::{ImageReference, RegistryClient};
use harbor_client::transport::{Credentials, Keychain, Request, Transport};
use http::Method;

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

/// The actions a request needs, Harbor/distribution style.
fn needed(s: &Seen) -> (String, &'static str) {
    let path = s.uri.path();
    let name = path
        .trim_start_matches("/v2/")
        .split("/manifests/")
        .next()
        .unwrap()
        .split("/blobs/")
        .next()
        .unwrap()
        .to_owned();
    let actions = match s.method {
        Method::GET | Method::HEAD => "pull",
        Method::DELETE => "delete",
        _ => "push",
    };
    (name, actions)
}

/// Whether a `Bearer` token (the granted scopes, space-separated) allows the request.
fn allowed(token: &str, name: &str, action: &str) -> bool {
    token.split(' ').any(|sc| {
        let Some((rest, acts)) = sc.rsplit_once(':') else {
            return false;
        };
        rest == format!("repository:{name}") && acts.split(',').any(|a| a == action)
    })
}

struct Behaviour {
    /// Answer `Basic realm="harbor"` to a token lacking scope, as Harbor does.
    harbor_quirk: bool,
    /// Accept Basic u:p on /v2 (Harbor does).
    accept_basic: bool,
}

fn fake_registry(
    b: Behaviour,
    port_cell: Arc<std::sync::OnceLock<u16>>,
) -> impl Fn(&Seen) -> http::Response<axum::body::Body> {
    move |s: &Seen| {
        let port = *port_cell.get().unwrap();
        if s.uri.path() == "/token" {
            let scopes = query_all(&s.uri, "scope");
            assert_eq!(query_all(&s.uri, "service"), vec!["fake".to_owned()]);
            // Harbor-style body: `access_token` present and empty.
            let body = serde_json::json!({"token": scopes.join(" "), "access_token": "", "expires_in": 1800});
            return resp(
                200,
                &[("content-type", "application/json")],
                body.to_string(),
            );
        }
        let (name, action) = needed(s);
        let ok = match authz(s) {
            Some(a) if a.starts_with("Bearer ") => allowed(&a[7..], &name, action),
            Some(a) if a.starts_with("Basic ") => b.accept_basic && a == "Basic dTpw", // u:p
            _ => false,
        };
        if ok {
            return resp(
                200,
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                MANIFEST,
            );
        }
        if b.harbor_quirk && authz(s).is_some() {
            return resp(401, &[("www-authenticate", r#"Basic realm="harbor""#)], "");
        }
        let scope = if action == "push" {
            format!("repository:{name}:pull,push")
        } else {
            format!("repository:{name}:{action}")
        };
        let mut challenge = format!(
            r#"Bearer realm="http://127.0.0.1:{port}/token",service="fake",scope="{scope}""#
        );
        if authz(s).is_some() {
            challenge.push_str(r#",error="insufficient_scope""#);
        }
        resp(
            401,
            &[
                ("www-authenticate", challenge.as_str()),
                ("content-type", "application/json"),
            ],
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
        )
    }
}

async fn start(b: Behaviour) -> Fake {
    let cell = Arc::new(std::sync::OnceLock::new());
    let fake = Fake::start(fake_registry(b, cell.clone())).await;
    cell.set(fake.addr.port()).unwrap();
    fake
}

fn tokens(f: &Fake) -> usize {
    f.count(|s| s.uri.path() == "/token")
}

#[tokio::test]
async fn one_token_per_scope_set_and_cached_afterwards() {
    let f = start(Behaviour {
        harbor_quirk: false,
        accept_basic: false,
    })
    .await;
    let c = RegistryClient::builder().build().unwrap();
    let r: ImageReference = format!("{}/p/app:v1", f.host()).parse().unwrap();
    for _ in 0..5 {
        c.get_manifest(&r).await.unwrap();
    }
    assert_eq!(
        tokens(&f),
        1,
        "one token for the pull scope, then the cache"
    );
    // After the first challenge the token goes along up front: no more 401s.
    assert_eq!(f.count(|s| s.uri.path().starts_with("/v2/")), 6);

    // Another scope set (push) is one more token, and only one.
    for _ in 0..3 {
        c.put_manifest(&r, MANIFEST.into(), None).await.unwrap();
    }
    assert_eq!(tokens(&f), 2);
    let token_req = f
        .seen
        .lock()
        .unwrap()
        .iter()
        .rfind(|s| s.uri.path() == "/token")
        .cloned()
        .unwrap();
    assert_eq!(
        query_all(&token_req.uri, "scope"),
        vec!["repository:p/app:pull,push".to_owned()]
    );
}

#[tokio::test]
async fn sixty_four_concurrent_pulls_fetch_one_token() {
    let f = start(Behaviour {
        harbor_quirk: false,
        accept_basic: false,
    })
    .await;
    let c = RegistryClient::builder().build().unwrap();
    let r: ImageReference = format!("{}/p/app:v1", f.host()).parse().unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let c = c.clone();
            let r = r.clone();
            tokio::spawn(async move { c.get_manifest(&r).await.map(|m| m.digest) })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        tokens(&f),
        1,
        "single-flight: one token request for 64 pulls"
    );
}

/// The real registry with the test token service: a push-needing request that announces only
/// `pull` gets `insufficient_scope`; the client merges the scopes and retries, one token more.
#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn insufficient_scope_merges_and_retries() {
    let Some((reg, svc)) = common::auth::start(None, Duration::from_secs(1800)).await else {
        return;
    };
    let t = Transport::builder()
        .keychain(Keychain::new().with(&reg.host(), Credentials::basic("u", "p")))
        .build()
        .unwrap();
    let base = format!("http://{}/v2/p/app", reg.host());
    // Warm up with a pull token (the manifest is unknown: 404, but the token is cached).
    let r = t
        .execute(
            Request::new(Method::GET, format!("{base}/manifests/v1").parse().unwrap())
                .scope("repository:p/app:pull"),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(svc.count(), 1);
    // An upload that only announces pull: the registry says insufficient_scope; we merge and
    // retry.
    let r = t
        .execute_checked(
            Request::new(
                Method::POST,
                format!("{base}/blobs/uploads/").parse().unwrap(),
            )
            .scope("repository:p/app:pull"),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(svc.count(), 2, "{:?}", svc.requests.lock().unwrap());
}

#[tokio::test]
async fn harbor_basic_after_bearer_is_handled_anonymously() {
    let f = start(Behaviour {
        harbor_quirk: true,
        accept_basic: false,
    })
    .await;
    let t = Transport::builder().build().unwrap();
    let url: url::Url = format!("http://{}/v2/p/app/manifests/v1", f.host())
        .parse()
        .unwrap();
    t.execute_checked(Request::new(Method::GET, url.clone()).scope("repository:p/app:pull"))
        .await
        .unwrap();
    // Token lacks push -> Harbor answers Basic; we retry bare, get the Bearer challenge with
    // the right scope, and fetch the right token.
    let r = t
        .execute_checked(
            Request::new(Method::PUT, url)
                .scope("repository:p/app:pull")
                .body(MANIFEST.as_bytes().to_vec()),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(tokens(&f), 2);
}

#[tokio::test]
async fn harbor_basic_after_bearer_uses_basic_credentials_when_held() {
    let f = start(Behaviour {
        harbor_quirk: true,
        accept_basic: true,
    })
    .await;
    let t = Transport::builder()
        .keychain(Keychain::new().with(&f.host(), Credentials::basic("u", "p")))
        .build()
        .unwrap();
    let url: url::Url = format!("http://{}/v2/p/app/manifests/v1", f.host())
        .parse()
        .unwrap();
    t.execute_checked(Request::new(Method::GET, url.clone()).scope("repository:p/app:pull"))
        .await
        .unwrap();
    let r = t
        .execute_checked(
            Request::new(Method::PUT, url)
                .scope("repository:p/app:pull")
                .body(MANIFEST.as_bytes().to_vec()),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let last = f.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(authz(&last).as_deref(), Some("Basic dTpw"));
    // The token service got the credentials too.
    let tok = f
        .seen
        .lock()
        .unwrap()
        .iter()
        .find(|s| s.uri.path() == "/token")
        .cloned()
        .unwrap();
    assert_eq!(authz(&tok).as_deref(), Some("Basic dTpw"));
}

#[tokio::test]
async fn preemptive_basic_skips_the_token_dance() {
    let f = start(Behaviour {
        harbor_quirk: true,
        accept_basic: true,
    })
    .await;
    let c = RegistryClient::builder()
        .configure_transport(|b| {
            b.keychain(Keychain::new().with(&f.host(), Credentials::basic("u", "p")))
                .preemptive_basic(true)
        })
        .build()
        .unwrap();
    let r: ImageReference = format!("{}/p/app:v1", f.host()).parse().unwrap();
    c.get_manifest(&r).await.unwrap();
    assert_eq!(tokens(&f), 0);
    assert_eq!(f.count(|_| true), 1, "one request, no challenge");
}

/// The real registry's token service refuses a wrong password: an auth error after a bounded
/// number of token requests, never a loop, and the password is never quoted.
#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn refused_credentials_are_an_auth_error_not_a_loop() {
    let Some((reg, svc)) = common::auth::start(None, Duration::from_secs(1800)).await else {
        return;
    };
    let c = RegistryClient::builder()
        .keychain(Keychain::new().with(&reg.host(), Credentials::basic("u", "wrong")))
        .build()
        .unwrap();
    let r: ImageReference = format!("{}/p/app:v1", reg.host()).parse().unwrap();
    let e = c.get_manifest(&r).await.unwrap_err();
    assert!(e.is_unauthorized(), "{e}");
    assert!(!e.to_string().contains("wrong"), "no secret in errors: {e}");
    assert!(
        (1..=2).contains(&svc.count()),
        "bounded token requests: {:?}",
        svc.users.lock().unwrap()
    );
}

/// Credentials written into a URL (`user:pass@host`) would be sent as Basic by `reqwest` on
/// every request, past the keychain's binding: refused before anything is sent, and never
/// quoted in the error.
#[tokio::test]
async fn credentials_in_a_url_are_refused_before_anything_is_sent() {
    let f = Fake::start(|_| resp(200, &[], "{}")).await;
    let no_secret = |e: &harbor_client::Error| {
        let text = format!("{e} {e:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("keychain"), "{text}");
    };

    let t = Transport::builder().build().unwrap();
    let url = url::Url::parse(&format!("http://alice:s3cret@{}/v2/", f.host())).unwrap();
    let e = t.execute(Request::new(Method::GET, url)).await.unwrap_err();
    assert!(
        matches!(e, harbor_client::Error::InvalidInput { .. }),
        "{e}"
    );
    no_secret(&e);

    let c = RegistryClient::builder().plain_http(true).build().unwrap();
    let e = c
        .ping(&format!("alice:s3cret@{}", f.host()))
        .await
        .unwrap_err();
    no_secret(&e);
    let e = c
        .list_catalog(&format!("s3cret@{}", f.host()), None, None)
        .await
        .unwrap_err();
    no_secret(&e);
    assert_eq!(f.count(|_| true), 0, "nothing reached the server");

    // The registry client's settings: refused when it is built.
    let e = RegistryClient::builder()
        .registries(
            harbor_client::transport::Registries::new().registry(
                harbor_client::transport::RegistrySettings::new(&f.host())
                    .location(&format!("alice:s3cret@{}", f.host())),
            ),
        )
        .build()
        .unwrap_err();
    assert!(matches!(e, harbor_client::Error::Config { .. }), "{e}");
    no_secret(&e);
}
