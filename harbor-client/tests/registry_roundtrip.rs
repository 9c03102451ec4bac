//! Against a real `docker-registry` without auth: push/pull round trips, chunked uploads,
//! mounts, listing with `Link`, referrers fallback, deletes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{Registry, collect, make_image, make_index, noise};
use futures_util::TryStreamExt;
use harbor_client::registry::{
    Descriptor, Digest, ImageOptions, ImageReference, MediaType, MountOutcome, OciLayout,
    ProgressEvent, RegistryClient, Repository, referrers_tag,
};

fn client() -> RegistryClient {
    RegistryClient::builder().build().unwrap()
}

fn repo(reg: &Registry, name: &str) -> Repository {
    format!("{}/{name}", reg.host()).parse().unwrap()
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn push_then_pull_is_byte_identical() {
    let Some(reg) = common::registry().await else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    let layers = vec![noise(300_000, 1), noise(5, 2), noise(70_000, 3)];
    let desc = make_image(src.path(), "v1", &layers).await;
    let c = client();
    c.ping(&reg.host()).await.unwrap();
    let r: ImageReference = format!("{}/proj/app:v1", reg.host()).parse().unwrap();

    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let opts = ImageOptions::default()
        .concurrency(2)
        .progress(Arc::new(move |e| ev.lock().unwrap().push(e)));
    let pushed = c.push_image(src.path(), &r, &opts).await.unwrap();
    assert_eq!(pushed, desc.digest);
    let done = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, ProgressEvent::BlobDone { .. }))
        .count();
    assert_eq!(done, 4, "three layers and the config were uploaded");

    // Pushing again uploads nothing.
    events.lock().unwrap().clear();
    c.push_image(src.path(), &r, &opts).await.unwrap();
    assert!(
        !events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, ProgressEvent::BlobStarted { .. }))
    );

    let dst = tempfile::tempdir().unwrap();
    let got = c
        .pull_image(&r, dst.path(), &ImageOptions::default())
        .await
        .unwrap();
    assert_eq!(got.digest, desc.digest);
    let out = OciLayout::open(dst.path()).await.unwrap();
    for l in &layers {
        let d = Digest::sha256_of(l);
        assert_eq!(&std::fs::read(out.blob_path(&d)).unwrap(), l);
    }
    assert_eq!(
        out.find_manifest(Some("v1")).await.unwrap().digest,
        desc.digest
    );

    // Manifest: raw bytes, media type, digest; HEAD agrees.
    let m = c.get_manifest(&r).await.unwrap();
    assert_eq!(m.digest, desc.digest);
    assert_eq!(m.media_type, MediaType::OCI_MANIFEST);
    let h = c.head_manifest(&r).await.unwrap();
    assert_eq!(h.digest, desc.digest);
    let by_digest = ImageReference::with_digest(r.repository().clone(), desc.digest.clone());
    assert_eq!(c.get_manifest(&by_digest).await.unwrap().bytes, m.bytes);

    // Blob stream verifies; ranged reads work.
    let d = Digest::sha256_of(&layers[0]);
    let all = collect(c.get_blob(r.repository(), &d).await.unwrap())
        .await
        .unwrap();
    assert_eq!(all.as_ref(), layers[0].as_slice());
    let part = collect(
        c.get_blob_range(r.repository(), &d, 10, Some(19))
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(part.as_ref(), &layers[0][10..20]);
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn index_pull_picks_the_platform_and_copy_keeps_digests() {
    let Some(reg) = common::registry().await else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    let index = make_index(src.path(), "multi").await;
    let c = client();
    let r: ImageReference = format!("{}/proj/multi:multi", reg.host()).parse().unwrap();
    assert_eq!(
        c.push_image(src.path(), &r, &ImageOptions::default())
            .await
            .unwrap(),
        index.digest
    );

    let dst = tempfile::tempdir().unwrap();
    let opts =
        ImageOptions::default().platform(harbor_client::registry::Platform::new("linux", "arm64"));
    let got = c.pull_image(&r, dst.path(), &opts).await.unwrap();
    assert_eq!(got.media_type, MediaType::OCI_MANIFEST);
    assert_ne!(got.digest, index.digest);

    // Copy within the registry (mounts) keeps the index digest.
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let copy_opts = ImageOptions::default().progress(Arc::new(move |e| ev.lock().unwrap().push(e)));
    let to: ImageReference = format!("{}/other/multi:copy", reg.host()).parse().unwrap();
    assert_eq!(
        c.copy_image(&r, &to, &copy_opts).await.unwrap(),
        index.digest
    );
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, ProgressEvent::BlobMounted { .. })),
        "same-registry copies mount"
    );
    assert_eq!(c.head_manifest(&to).await.unwrap().digest, index.digest);
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn chunked_upload_with_chunks_smaller_than_the_blob() {
    let Some(reg) = common::registry().await else {
        return;
    };
    let c = RegistryClient::builder()
        .chunk_size(64 * 1024)
        .build()
        .unwrap();
    let repo = repo(&reg, "chunks/app");
    let data = noise(300_001, 9);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    std::fs::write(&path, &data).unwrap();
    let digest = Digest::sha256_of(&data);
    c.push_blob_file(&repo, &path, &digest).await.unwrap();
    assert_eq!(
        c.head_blob(&repo, &digest).await.unwrap(),
        data.len() as u64
    );

    // Manual session: two chunks, status query, finish with a last chunk.
    let data2 = noise(10_000, 10);
    let d2 = Digest::sha256_of(&data2);
    let mut s = c.start_upload(&repo).await.unwrap();
    s.patch_chunk(Bytes::copy_from_slice(&data2[..4000]))
        .await
        .unwrap();
    assert_eq!(s.offset(), 4000);
    s.patch_chunk(Bytes::copy_from_slice(&data2[4000..9000]))
        .await
        .unwrap();
    assert_eq!(s.refresh().await.unwrap(), 9000);
    s.finish(&d2, Some(Bytes::copy_from_slice(&data2[9000..])))
        .await
        .unwrap();
    let back = collect(c.get_blob(&repo, &d2).await.unwrap())
        .await
        .unwrap();
    assert_eq!(back.as_ref(), data2.as_slice());

    // Cancel leaves nothing behind.
    let s = c.start_upload(&repo).await.unwrap();
    let loc = s.location().clone();
    s.cancel().await.unwrap();
    let gone = reqwest::get(loc).await.unwrap();
    assert_eq!(gone.status(), 404);
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn streamed_upload_with_unknown_digest_and_mount() {
    let Some(reg) = common::registry().await else {
        return;
    };
    let c = client();
    let a = repo(&reg, "mount/a");
    let b = repo(&reg, "mount/b");
    let data = noise(200_000, 4);
    let chunks: Vec<harbor_client::Result<Bytes>> = data
        .chunks(30_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let (digest, size) = c
        .push_blob_stream(&a, futures_util::stream::iter(chunks))
        .await
        .unwrap();
    assert_eq!(digest, Digest::sha256_of(&data));
    assert_eq!(size, data.len() as u64);

    assert!(!c.blob_exists(&b, &digest).await.unwrap());
    let out = c.mount_blob(&b, &digest, &a).await.unwrap();
    assert!(matches!(out, MountOutcome::Mounted));
    assert!(c.blob_exists(&b, &digest).await.unwrap());

    // Mounting a blob the source lacks opens an upload session instead (202).
    let missing = Digest::sha256_of(b"missing");
    match c.mount_blob(&b, &missing, &a).await.unwrap() {
        MountOutcome::Upload(s) => s.cancel().await.unwrap(),
        other => panic!("expected an upload session, got {other:?}"),
    }

    // Monolithic push and delete.
    let small = c.push_blob(&a, Bytes::from_static(b"hello")).await.unwrap();
    assert_eq!(c.head_blob(&a, &small).await.unwrap(), 5);
    c.delete_blob(&a, &small).await.unwrap();
    let e = c.head_blob(&a, &small).await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn tags_follow_link_pages_and_catalog_lists() {
    let Some(reg) = common::registry().await else {
        return;
    };
    let c = client();
    let src = tempfile::tempdir().unwrap();
    make_image(src.path(), "t", &[noise(100, 5)]).await;
    let mut want = Vec::new();
    for i in 0..7 {
        let tag = format!("t{i}");
        let r: ImageReference = format!("{}/list/app:{tag}", reg.host()).parse().unwrap();
        let layout = OciLayout::open(src.path()).await.unwrap();
        let d = layout.find_manifest(Some("t")).await.unwrap();
        let bytes = layout.read_blob(&d.digest).await.unwrap();
        if i == 0 {
            c.push_image(
                src.path(),
                &format!("{}/list/app:t", reg.host()).parse().unwrap(),
                &ImageOptions::default(),
            )
            .await
            .unwrap();
        }
        c.put_manifest(&r, bytes, None).await.unwrap();
        want.push(tag);
    }
    want.push("t".into());
    want.sort();
    let repo = repo(&reg, "list/app");
    // distribution 2.8 ignores `n` on tags (paging came in 3.0); the stream gets them all
    // either way.
    let mut all: Vec<String> = c
        .list_tags_stream(&repo, Some(3))
        .try_collect()
        .await
        .unwrap();
    all.sort(); // 2.8 does not sort them either
    assert_eq!(all, want);

    // The catalog pages with `Link` on 2.8: one repository per page.
    for name in ["list/b", "list/c"] {
        let r: ImageReference = format!("{}/{name}:t", reg.host()).parse().unwrap();
        c.push_image(src.path(), &r, &ImageOptions::default())
            .await
            .unwrap();
    }
    let page = c.list_catalog(&reg.host(), Some(1), None).await.unwrap();
    assert_eq!(page.repositories, vec!["list/app".to_owned()]);
    assert!(
        page.next.is_some(),
        "a short page with more to come carries Link"
    );
    let cat: Vec<String> = c
        .list_catalog_stream(&reg.host(), Some(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        cat,
        vec![
            "list/app".to_owned(),
            "list/b".to_owned(),
            "list/c".to_owned()
        ]
    );
    let after = c
        .list_catalog(&reg.host(), Some(10), Some("list/app"))
        .await
        .unwrap();
    assert_eq!(
        after.repositories,
        vec!["list/b".to_owned(), "list/c".to_owned()]
    );
    assert!(after.next.is_none());

    let e = c
        .list_tags(&repo.with_name("nope/x".parse().unwrap()), None, None)
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn referrers_fall_back_to_the_tag_schema_on_distribution_2_8() {
    let Some(reg) = common::registry().await else {
        return;
    };
    let c = client();
    let src = tempfile::tempdir().unwrap();
    let subject = make_image(src.path(), "v1", &[noise(100, 6)]).await;
    let r: ImageReference = format!("{}/ref/app:v1", reg.host()).parse().unwrap();
    c.push_image(src.path(), &r, &ImageOptions::default())
        .await
        .unwrap();
    let repo = r.repository().clone();

    let none = c.referrers(&repo, &subject.digest, None).await.unwrap();
    assert!(none.from_tag_schema);
    assert!(none.manifests.is_empty());

    // An artifact manifest with a subject, recorded in the tag schema.
    let empty = Digest::sha256_of(b"{}");
    c.push_blob(&repo, Bytes::from_static(b"{}")).await.unwrap();
    let artifact = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "artifactType": "application/vnd.example.sig",
        "config": Descriptor::new(MediaType::OCI_EMPTY, empty.clone(), 2),
        "layers": [Descriptor::new(MediaType::OCI_EMPTY, empty, 2)],
        "subject": subject,
    }))
    .unwrap();
    let ad = Digest::sha256_of(&artifact);
    c.put_manifest(
        &ImageReference::with_digest(repo.clone(), ad.clone()),
        artifact.clone().into(),
        None,
    )
    .await
    .unwrap();
    let mut desc = Descriptor::new(MediaType::OCI_MANIFEST, ad.clone(), artifact.len() as u64);
    desc.artifact_type = Some("application/vnd.example.sig".into());
    c.add_referrer_to_tag_schema(&repo, &subject.digest, desc.clone())
        .await
        .unwrap();
    c.add_referrer_to_tag_schema(&repo, &subject.digest, desc)
        .await
        .unwrap();

    let got = c.referrers(&repo, &subject.digest, None).await.unwrap();
    assert!(got.from_tag_schema);
    assert_eq!(got.manifests.len(), 1, "added once");
    assert_eq!(got.manifests[0].digest, ad);
    let sigs = c
        .referrers(&repo, &subject.digest, Some("application/vnd.example.sig"))
        .await
        .unwrap();
    assert_eq!(sigs.manifests.len(), 1);
    let other = c
        .referrers(&repo, &subject.digest, Some("application/other"))
        .await
        .unwrap();
    assert!(other.manifests.is_empty(), "filtered on the client");
    let tags: Vec<String> = c.list_tags_stream(&repo, None).try_collect().await.unwrap();
    assert!(tags.contains(&referrers_tag(&subject.digest).unwrap().to_string()));

    // Delete by digest.
    let by_digest = ImageReference::with_digest(repo.clone(), ad);
    c.delete_manifest(&by_digest).await.unwrap();
    assert!(c.get_manifest(&by_digest).await.unwrap_err().is_not_found());
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn wrong_digest_in_reference_is_refused() {
    let Some(reg) = common::registry().await else {
        return;
    };
    let c = client();
    let src = tempfile::tempdir().unwrap();
    make_image(src.path(), "v1", &[noise(10, 7)]).await;
    let r: ImageReference = format!("{}/d/app:v1", reg.host()).parse().unwrap();
    c.push_image(src.path(), &r, &ImageOptions::default())
        .await
        .unwrap();
    let m = c.get_manifest(&r).await.unwrap();
    // Pushing bytes under a digest they do not have is refused before sending.
    let wrong = ImageReference::with_digest(r.repository().clone(), Digest::sha256_of(b"x"));
    let e = c
        .put_manifest(&wrong, m.bytes.clone(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, harbor_client::Error::InvalidInput { .. }),
        "{e}"
    );
}
