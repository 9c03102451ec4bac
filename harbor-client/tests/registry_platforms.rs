//! Multi-platform pulls, pushes and copies against a real `docker-registry`, compared with
//! `skopeo copy --all`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{blob_names, make_index, skopeo, tool};
use harbor_client::registry::{
    ImageOptions, ImageReference, Manifest, OciLayout, Platform, RegistryClient, Repository,
};

#[harbor_testkit::needs("docker-registry", "skopeo")]
#[tokio::test]
async fn whole_index_or_chosen_platforms_move_and_skopeo_agrees() {
    let Some(reg) = common::registry().await else {
        return;
    };
    if tool("skopeo").is_none() {
        return;
    }
    let c = RegistryClient::builder().build().unwrap();
    let src_dir = tempfile::tempdir().unwrap();
    let index = make_index(src_dir.path(), "v1").await;
    let repo = Repository::new(&reg.host(), "multi/app".parse().unwrap()).unwrap();
    let image = ImageReference::with_tag(repo.clone(), "v1".parse().unwrap());
    let pushed = c
        .push_image(src_dir.path(), &image, &ImageOptions::default())
        .await
        .unwrap();
    assert_eq!(
        pushed, index.digest,
        "push moves the whole index by default"
    );

    // Our pull of every platform and skopeo's `copy --all` hold the same blobs.
    let ours = tempfile::tempdir().unwrap();
    let got = c
        .pull_image(
            &image,
            ours.path(),
            &ImageOptions::default().all_platforms(),
        )
        .await
        .unwrap();
    assert_eq!(got.digest, index.digest, "the layout keeps the index");
    let theirs = tempfile::tempdir().unwrap();
    skopeo(&[
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        &format!("docker://{}/multi/app:v1", reg.host()),
        &format!("oci:{}:v1", theirs.path().display()),
    ]);
    assert_eq!(blob_names(ours.path()), blob_names(theirs.path()));
    assert_eq!(
        OciLayout::open(theirs.path())
            .await
            .unwrap()
            .find_manifest(Some("v1"))
            .await
            .unwrap()
            .digest,
        index.digest
    );

    // One platform: its manifest alone.
    let one = tempfile::tempdir().unwrap();
    let arm = c
        .pull_image(
            &image,
            one.path(),
            &ImageOptions::default().platform(Platform::new("linux", "arm64").with_variant("v8")),
        )
        .await
        .unwrap();
    assert_eq!(
        arm.media_type,
        harbor_client::registry::MediaType::OCI_MANIFEST
    );

    // A chosen set: an index of those, rewritten when some are left out; skopeo copies it.
    let dst = ImageReference::with_tag(
        Repository::new(&reg.host(), "multi/arm-only".parse().unwrap()).unwrap(),
        "v1".parse().unwrap(),
    );
    let d = c
        .copy_image(
            &image,
            &dst,
            &ImageOptions::default().platforms([Platform::new("linux", "arm64")]),
        )
        .await
        .unwrap();
    assert_ne!(d, index.digest);
    let copied = c.get_manifest(&dst).await.unwrap();
    let Manifest::Index(i) = copied.parse().unwrap() else {
        panic!("an index")
    };
    assert_eq!(i.manifests.len(), 1);
    assert_eq!(i.manifests[0].digest, arm.digest);
    let out = tempfile::tempdir().unwrap();
    skopeo(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        &format!("docker://{}/multi/arm-only:v1", reg.host()),
        &format!("oci:{}:v1", out.path().display()),
    ]);
    // Every platform asked for as a set: the index as it is.
    let both = c
        .copy_image(
            &image,
            &ImageReference::with_tag(dst.repository().clone(), "both".parse().unwrap()),
            &ImageOptions::default().platforms([
                Platform::new("linux", "amd64"),
                Platform::new("linux", "arm64"),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(both, index.digest);
    // A platform the index lacks is a clear error.
    let e = c
        .copy_image(
            &image,
            &dst,
            &ImageOptions::default().platforms([Platform::new("linux", "s390x")]),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("linux/s390x"), "{e}");
}
