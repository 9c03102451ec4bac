//! Redirects (blob downloads sent to object storage): `Authorization` never reaches another
//! origin, and the content is still verified.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::fake::{Fake, authz, resp};
use harbor_client::registry::{Digest, RegistryClient, Repository};
use harbor_client::transport::{Credentials, Keychain};

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
