//! Redirects (blob downloads sent to object storage): `Authorization` never reaches another
//! origin, and the content is still verified.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::fake::{Fake, Seen, authz, resp};
use harbor_client::api::{HarborClient, VersionCheck};
use harbor_client::registry::{Digest, RegistryClient, Repository};
use harbor_client::transport::{Credentials, Keychain, Request, Transport};
use http::Method;
use http::header::{AUTHORIZATION, COOKIE, HeaderName, HeaderValue, PROXY_AUTHORIZATION};

#[tokio::test]
async fn authorization_is_not_forwarded_to_another_origin() {
    let blob = b"layer bytes served by the storage origin".to_vec();
    let digest = Digest::sha256_of(&blob);
    let b2 = blob.clone();
    let storage = Fake::start(move |_| {
        resp(
            200,
            &[("content-length", &b2.len().to_string())],
            b2.clone(),
        )
    })
    .await;
    let storage_host = storage.host();
    let registry = Fake::start(move |s| {
        if s.uri.path().contains("/blobs/") {
            let loc = format!("http://{storage_host}/signed/blob?sig=abc");
            resp(307, &[("location", loc.as_str())], "")
        } else {
            resp(404, &[], "")
        }
    })
    .await;
    let c = RegistryClient::builder()
        .configure_transport(|b| {
            b.keychain(Keychain::new().with(&registry.host(), Credentials::basic("u", "p")))
                .preemptive_basic(true)
        })
        .build()
        .unwrap();
    let repo: Repository = format!("{}/p/app", registry.host()).parse().unwrap();
    let got = common::collect(c.get_blob(&repo, &digest).await.unwrap())
        .await
        .unwrap();
    assert_eq!(got.as_ref(), blob.as_slice());
    assert_eq!(
        registry.count(|s| authz(s).is_some()),
        1,
        "the registry got the credentials"
    );
    assert_eq!(storage.count(|_| true), 1);
    assert_eq!(
        storage.count(|s| authz(s).is_some()),
        0,
        "the storage origin never sees Authorization"
    );

    // A same-host redirect on another port is another origin too.
    let wrong = Digest::sha256_of(b"other");
    let e = common::collect(c.get_blob(&repo, &wrong).await.unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(e, harbor_client::Error::DigestMismatch { .. }),
        "{e}"
    );
    assert_eq!(storage.count(|s| authz(s).is_some()), 0);
}

/// `Authorization`, `Proxy-Authorization` and `Cookie` the caller sets itself
/// (`transport::Request::header`, `RawRequest::header`) reach the origin only; other headers
/// follow the redirect.
#[tokio::test]
async fn caller_credential_headers_are_not_forwarded_to_another_origin() {
    let storage = Fake::start(|_| resp(200, &[], "[]")).await;
    let storage_host = storage.host();
    let origin = Fake::start(move |s| {
        let loc = format!("http://{storage_host}{}", s.uri.path());
        resp(302, &[("location", loc.as_str())], "")
    })
    .await;
    let credential_headers = ["authorization", "proxy-authorization", "cookie"];
    let has = |s: &Seen, name: &str| s.headers.contains_key(name);

    let t = Transport::builder().build().unwrap();
    let url = url::Url::parse(&format!("http://{}/v2/", origin.host())).unwrap();
    let r = Request::new(Method::GET, url)
        .header(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer caller-token"),
        )
        .header(
            PROXY_AUTHORIZATION,
            HeaderValue::from_static("Basic cHJveHk6cHc="),
        )
        .header(COOKIE, HeaderValue::from_static("sid=caller"))
        .header(
            HeaderName::from_static("x-trace"),
            HeaderValue::from_static("t1"),
        );
    assert_eq!(t.execute(r).await.unwrap().status(), 200);

    let api = HarborClient::builder_with_api_root(format!("http://{}", origin.host()))
        .version_check(VersionCheck::Off)
        .build()
        .unwrap();
    let _: serde_json::Value = api
        .raw(Method::GET, "/projects")
        .header("Authorization", "Bearer caller-token")
        .header("Proxy-Authorization", "Basic cHJveHk6cHc=")
        .header("Cookie", "sid=caller")
        .header("X-Trace", "t2")
        .send_json()
        .await
        .unwrap();

    assert_eq!(origin.count(|_| true), 2);
    assert_eq!(storage.count(|_| true), 2);
    for name in credential_headers {
        assert_eq!(origin.count(|s| has(s, name)), 2, "the origin gets {name}");
        assert_eq!(storage.count(|s| has(s, name)), 0, "{name} left the origin");
    }
    assert_eq!(
        storage.count(|s| has(s, "x-trace")),
        2,
        "other headers follow"
    );
}

#[tokio::test]
async fn redirect_loops_end_with_an_error() {
    let f = Fake::start(|s| {
        let loc = format!("{}x", s.uri.path());
        resp(302, &[("location", loc.as_str())], "")
    })
    .await;
    let c = RegistryClient::builder().build().unwrap();
    let repo: Repository = format!("{}/p/app", f.host()).parse().unwrap();
    let e = c
        .get_blob(&repo, &Digest::sha256_of(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(e, harbor_client::Error::Protocol { .. }), "{e}");
    assert!(f.count(|_| true) <= 12);
}

#[tokio::test]
async fn a_redirect_to_a_location_with_user_info_is_not_followed() {
    // `reqwest` would send `user:pass@` as Basic credentials to the host it names.
    let storage = Fake::start(|_| resp(200, &[], "x")).await;
    let target = format!("http://u:s3cret@{}/blob", storage.host());
    let origin = Fake::start(move |_| resp(302, &[("location", target.as_str())], "")).await;
    let c = RegistryClient::builder().build().unwrap();
    let repo: Repository = format!("{}/p/app", origin.host()).parse().unwrap();
    let e = c
        .get_blob(&repo, &Digest::sha256_of(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(e, harbor_client::Error::Protocol { .. }), "{e}");
    assert!(e.to_string().contains("user info"), "{e}");
    assert!(!format!("{e} {e:?}").contains("s3cret"), "{e:?}");
    assert_eq!(storage.count(|_| true), 0, "the location was not followed");
}
