//! Interoperability with `skopeo` through a real `docker-registry`, both ways.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{blob_names, gzip_stored, make_image, noise, skopeo, tool};
use harbor_client::registry::{ImageOptions, ImageReference, OciLayout, RegistryClient};

#[harbor_testkit::needs("docker-registry", "skopeo")]
#[tokio::test]
async fn skopeo_pushes_and_we_pull_the_same_digests() {
    let Some(reg) = common::registry().await else {
        return;
    };
    if tool("skopeo").is_none() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let desc = make_image(
        src.path(),
        "v1",
        &[
            gzip_stored(&noise(400_000, 11)),
            gzip_stored(&noise(1234, 12)),
        ],
    )
    .await;
    let dest = format!("docker://{}/interop/from-skopeo:v1", reg.host());
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", src.path().display()),
        &dest,
    ]);

    let c = RegistryClient::builder().build().unwrap();
    let r: ImageReference = format!("{}/interop/from-skopeo:v1", reg.host())
        .parse()
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let got = c
        .pull_image(&r, out.path(), &ImageOptions::default())
        .await
        .unwrap();
    assert_eq!(
        got.digest, desc.digest,
        "skopeo kept the manifest bytes; we see the same digest"
    );
    assert_eq!(blob_names(out.path()), blob_names(src.path()));
    for name in blob_names(src.path()) {
        assert_eq!(
            std::fs::read(out.path().join("blobs/sha256").join(&name)).unwrap(),
            std::fs::read(src.path().join("blobs/sha256").join(&name)).unwrap()
        );
    }
}

#[harbor_testkit::needs("docker-registry", "skopeo")]
#[tokio::test]
async fn we_push_and_skopeo_copies_out_the_same_layout() {
    let Some(reg) = common::registry().await else {
        return;
    };
    if tool("skopeo").is_none() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let desc = make_image(
        src.path(),
        "v2",
        &[
            gzip_stored(&noise(300_000, 21)),
            gzip_stored(&noise(99, 22)),
            gzip_stored(&noise(5000, 23)),
        ],
    )
    .await;
    let c = RegistryClient::builder().build().unwrap();
    let r: ImageReference = format!("{}/interop/from-us:v2", reg.host())
        .parse()
        .unwrap();
    c.push_image(src.path(), &r, &ImageOptions::default())
        .await
        .unwrap();

    let theirs = tempfile::tempdir().unwrap();
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}/interop/from-us:v2", reg.host()),
        &format!("oci:{}:v2", theirs.path().display()),
    ]);
    let ours = tempfile::tempdir().unwrap();
    c.pull_image(&r, ours.path(), &ImageOptions::default())
        .await
        .unwrap();

    let their_layout = OciLayout::open(theirs.path()).await.unwrap();
    let our_layout = OciLayout::open(ours.path()).await.unwrap();
    let t = their_layout.find_manifest(Some("v2")).await.unwrap();
    let o = our_layout.find_manifest(Some("v2")).await.unwrap();
    assert_eq!(t.digest, desc.digest);
    assert_eq!(o.digest, t.digest);
    assert_eq!(o.media_type, t.media_type);
    assert_eq!(o.size, t.size);
    assert_eq!(blob_names(theirs.path()), blob_names(ours.path()));
}
