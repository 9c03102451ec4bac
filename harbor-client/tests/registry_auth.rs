//! Against a real `docker-registry` with token auth, its tokens signed by `harbor-auth`'s
//! issuer: round trips, mounts, token counts, single-flight, a token expiring mid-upload.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{auth, make_image, noise};
use harbor_client::registry::{
    Digest, ImageOptions, ImageReference, MountOutcome, RegistryClient, Repository,
};
use harbor_client::transport::{Credentials, Keychain};

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn push_pull_round_trip_with_one_token_per_scope_set() {
    let Some((reg, svc)) = auth::start(None, Duration::from_secs(1800)).await else {
        return;
    };
    let c = RegistryClient::builder()
        .keychain(Keychain::new().with(&reg.host(), Credentials::basic("u", "p")))
        .build()
        .unwrap();
    let src = tempfile::tempdir().unwrap();
    let desc = make_image(
        src.path(),
        "v1",
        &[noise(200_000, 1), noise(3000, 2), noise(10, 3)],
    )
    .await;
    let r: ImageReference = format!("{}/team/app:v1", reg.host()).parse().unwrap();

    assert_eq!(
        c.push_image(src.path(), &r, &ImageOptions::default().concurrency(4))
            .await
            .unwrap(),
        desc.digest
    );
    assert_eq!(
        svc.count(),
        1,
        "the whole push is one token request: {:?}",
        svc.requests.lock().unwrap()
    );
    assert_eq!(
        svc.requests.lock().unwrap()[0],
        vec!["repository:team/app:pull,push".to_owned()]
    );

    let out = tempfile::tempdir().unwrap();
    let got = c
        .pull_image(&r, out.path(), &ImageOptions::default())
        .await
        .unwrap();
    assert_eq!(got.digest, desc.digest, "byte-identical manifest");
    // The push token (pull,push) covers the pull: the cache serves it, no new request.
    assert_eq!(svc.count(), 1);
    // Another repository is another scope set: exactly one more request for a whole pull.
    let other: ImageReference = format!("{}/team/other:v1", reg.host()).parse().unwrap();
    let fresh = RegistryClient::builder().build().unwrap();
    let e = fresh
        .pull_image(&other, out.path(), &ImageOptions::default())
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(svc.count(), 2);
    assert_eq!(
        svc.requests.lock().unwrap()[1],
        vec!["repository:team/other:pull".to_owned()]
    );
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn sixty_four_concurrent_pulls_make_one_token_request() {
    let Some((reg, svc)) = auth::start(None, Duration::from_secs(1800)).await else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    make_image(src.path(), "v1", &[noise(1000, 4)]).await;
    let r: ImageReference = format!("{}/team/many:v1", reg.host()).parse().unwrap();
    RegistryClient::builder()
        .build()
        .unwrap()
        .push_image(src.path(), &r, &ImageOptions::default())
        .await
        .unwrap();
    let before = svc.count();

    let c = RegistryClient::builder().build().unwrap();
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
    assert_eq!(svc.count() - before, 1, "single-flight");
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn mount_gets_a_token_with_both_scopes() {
    let Some((reg, svc)) = auth::start(None, Duration::from_secs(1800)).await else {
        return;
    };
    let c = RegistryClient::builder()
        .keychain(Keychain::new().with(&reg.host(), Credentials::basic("u", "p")))
        .build()
        .unwrap();
    let a: Repository = format!("{}/team/a", reg.host()).parse().unwrap();
    let b: Repository = format!("{}/other/b", reg.host()).parse().unwrap();
    let d = c.push_blob(&a, Bytes::from(noise(5000, 5))).await.unwrap();
    let out = c.mount_blob(&b, &d, &a).await.unwrap();
    assert!(matches!(out, MountOutcome::Mounted), "{out:?}");
    let reqs = svc.requests.lock().unwrap().clone();
    assert!(
        reqs.iter()
            .any(|r| r.contains(&"repository:other/b:pull,push".to_owned())
                && r.contains(&"repository:team/a:pull".to_owned())),
        "{reqs:?}"
    );
    assert_eq!(c.head_blob(&b, &d).await.unwrap(), 5000);
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_token_expiring_in_the_middle_of_an_upload_is_renewed() {
    // Tokens are issued with a clock 60 s + lifetime - 2 s behind: the registry (60 s leeway)
    // accepts each for about 2 s, while the token response says it lives for a minute.
    let lifetime = Duration::from_secs(60);
    let clock = Arc::new(auth::BehindClock(
        Duration::from_secs(60) + lifetime - Duration::from_secs(2),
    ));
    let Some((reg, svc)) = auth::start(Some(clock), lifetime).await else {
        return;
    };
    let c = RegistryClient::builder()
        .keychain(Keychain::new().with(&reg.host(), Credentials::basic("u", "p")))
        .build()
        .unwrap();
    let repo: Repository = format!("{}/team/slow", reg.host()).parse().unwrap();
    let data = noise(300_000, 6);
    let digest = Digest::sha256_of(&data);

    let mut s = c.start_upload(&repo).await.unwrap();
    s.patch_chunk(Bytes::copy_from_slice(&data[..100_000]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    s.patch_chunk(Bytes::copy_from_slice(&data[100_000..200_000]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    s.finish(&digest, Some(Bytes::copy_from_slice(&data[200_000..])))
        .await
        .unwrap();
    assert!(
        svc.count() >= 3,
        "the token was renewed: {} requests",
        svc.count()
    );
    let back = common::collect(c.get_blob(&repo, &digest).await.unwrap())
        .await
        .unwrap();
    assert!(back.as_ref() == data.as_slice());
}
