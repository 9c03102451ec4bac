//! The client remembers where blobs are: a second copy into another repository of a
//! registry that already holds the blobs mounts them instead of uploading, also in a later
//! run through the cache directory; a refused mount falls back to an upload. Two real
//! `docker-registry` instances.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use common::{gzip_stored, make_image, noise, tool};
use harbor_client::registry::{
    Digest, ImageOptions, ImageReference, ProgressEvent, RegistryClient, Repository,
};

/// Copies and returns (uploaded, mounted) digests.
async fn copy(
    c: &RegistryClient,
    src: &ImageReference,
    dst: &ImageReference,
) -> (Vec<Digest>, Vec<Digest>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let e2 = events.clone();
    let opts = ImageOptions::default().progress(Arc::new(move |e| e2.lock().unwrap().push(e)));
    c.copy_image(src, dst, &opts).await.unwrap();
    let events = events.lock().unwrap();
    let uploaded = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::BlobDone { digest } => Some(digest.clone()),
            _ => None,
        })
        .collect();
    let mounted = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::BlobMounted { digest } => Some(digest.clone()),
            _ => None,
        })
        .collect();
    (uploaded, mounted)
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn repeat_copies_mount_from_where_the_blobs_are() {
    let Some(a) = common::registry().await else {
        return;
    };
    let b = common::registry_in_at(
        tool("docker-registry").unwrap(),
        tempfile::tempdir().unwrap(),
        std::net::Ipv4Addr::new(127, 0, 0, 3),
        String::new(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let layers: Vec<Vec<u8>> = (0..3)
        .map(|i| gzip_stored(&noise(50_000, 40 + i)))
        .collect();
    make_image(dir.path(), "v1", &layers).await;
    let cache = tempfile::tempdir().unwrap();
    let c = RegistryClient::builder()
        .blob_cache_dir(cache.path())
        .build()
        .unwrap();
    let src = ImageReference::with_tag(
        Repository::new(&a.host(), "src/app".parse().unwrap()).unwrap(),
        "v1".parse().unwrap(),
    );
    c.push_image(dir.path(), &src, &ImageOptions::default())
        .await
        .unwrap();
    let dst = |name: &str| {
        ImageReference::with_tag(
            Repository::new(&b.host(), name.parse().unwrap()).unwrap(),
            "v1".parse().unwrap(),
        )
    };

    let (up, mounted) = copy(&c, &src, &dst("one/app")).await;
    assert_eq!(
        (up.len(), mounted.len()),
        (4, 0),
        "the first copy uploads config and layers"
    );
    let (up, mounted) = copy(&c, &src, &dst("two/app")).await;
    assert_eq!(
        (up.len(), mounted.len()),
        (0, 4),
        "the repeat copy mounts every blob"
    );

    // A later run of another client reads the memory from the cache directory.
    let later = RegistryClient::builder()
        .blob_cache_dir(cache.path())
        .build()
        .unwrap();
    let (up, mounted) = copy(&later, &src, &dst("three/app")).await;
    assert_eq!((up.len(), mounted.len()), (0, 4));

    // The remembered repositories lost a layer: the mount is refused, the layer is uploaded,
    // the others are still mounted, and the copy is whole.
    let gone = Digest::sha256_of(&layers[0]);
    for repo in ["one/app", "two/app", "three/app"] {
        later
            .delete_blob(dst(repo).repository(), &gone)
            .await
            .unwrap();
    }
    let (up, mounted) = copy(&later, &src, &dst("four/app")).await;
    assert_eq!(up, vec![gone.clone()]);
    assert_eq!(mounted.len(), 3);
    let copied = common::collect(
        later
            .get_blob(dst("four/app").repository(), &gone)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(copied.as_ref(), layers[0].as_slice());
}
