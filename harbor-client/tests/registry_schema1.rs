//! Docker schema 1 against the real `docker-registry` (distribution 2.8): it still serves
//! signed schema 1 manifests (it converts a schema 2 image for a client that asks for nothing
//! newer, signing with its own key, and serves a stored one to anyone) and takes one back on a
//! `PUT` only with `compatibility.schema1.enabled`. The tests store such a manifest that way,
//! then read it with the client: decoded, its digest the registry's (over the signed payload,
//! not the bytes, which the registry signs afresh on each answer), pulled into a layout base
//! layer first with each blob once, and never pushed or copied.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{noise, tool};
use harbor_client::registry::{
    Digest, ImageOptions, ImageReference, Manifest, MediaType, OciLayout, ProgressEvent,
    RegistryClient, Repository, Schema1Manifest,
};
use harbor_client::transport::Request;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};

const SCHEMA1_ON: &str = "compatibility:\n  schema1:\n    enabled: true\n";

/// The gzipped empty tar distribution gives every schema 1 history step that changed no file.
const EMPTY_LAYER: &str = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";

/// A registry that takes schema 1 back; `None` when docker-registry is absent.
async fn legacy_registry() -> Option<harbor_testkit::Registry> {
    let bin = tool("docker-registry")?;
    Some(common::registry_in(bin, tempfile::tempdir().unwrap(), SCHEMA1_ON.to_owned()).await)
}

/// A schema 2 image of two layers and two history steps that changed no file, pushed to
/// `repo:v1`. Returns the two layers' digests, base first.
async fn push_schema2(c: &RegistryClient, repo: &Repository) -> [Digest; 2] {
    let l1 = c
        .push_blob(repo, Bytes::from(noise(70_000, 1)))
        .await
        .unwrap();
    let l2 = c
        .push_blob(repo, Bytes::from(noise(90_000, 2)))
        .await
        .unwrap();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [l1.to_string(), l2.to_string()]},
        "history": [
            {"created_by": "base"}, {"created_by": "ENV A=1", "empty_layer": true},
            {"created_by": "app"}, {"created_by": "CMD app", "empty_layer": true}
        ]
    });
    let config = Bytes::from(serde_json::to_vec(&config).unwrap());
    let (cd, cl) = (Digest::sha256_of(&config), config.len());
    c.push_blob(repo, config).await.unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": MediaType::DOCKER_MANIFEST,
        "config": {"mediaType": MediaType::DOCKER_CONFIG, "digest": cd.to_string(), "size": cl},
        "layers": [
            {"mediaType": MediaType::DOCKER_LAYER_GZIP, "digest": l1.to_string(), "size": 70_000},
            {"mediaType": MediaType::DOCKER_LAYER_GZIP, "digest": l2.to_string(), "size": 90_000}
        ]
    });
    let r = ImageReference::with_tag(repo.clone(), "v1".parse().unwrap());
    c.put_manifest(
        &r,
        Bytes::from(serde_json::to_vec(&manifest).unwrap()),
        None,
    )
    .await
    .unwrap();
    [l1, l2]
}

/// Asks distribution for `from:v1` as schema 1 (it converts and signs it) and stores those
/// bytes as `to:v1` with a raw `PUT` (mounting the blobs first). Returns the bytes and the
/// registry's `Docker-Content-Digest`.
async fn store_schema1(c: &RegistryClient, from: &Repository, to: &Repository) -> (Bytes, Digest) {
    let url = |repo: &Repository| {
        url::Url::parse(&format!(
            "http://{}/v2/{}/manifests/v1",
            repo.registry(),
            repo.name()
        ))
        .unwrap()
    };
    let resp = c
        .transport()
        .execute_checked(Request::new(http::Method::GET, url(from)).header(
            ACCEPT,
            HeaderValue::from_static(MediaType::DOCKER_SCHEMA1_SIGNED),
        ))
        .await
        .unwrap();
    assert_eq!(
        resp.headers()[CONTENT_TYPE],
        MediaType::DOCKER_SCHEMA1_SIGNED
    );
    let digest: Digest = resp.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = resp.bytes().await.unwrap();
    let m = Schema1Manifest::from_slice(&bytes).unwrap();
    for l in m.layers() {
        c.mount_blob(to, &l.digest, from).await.unwrap();
    }
    c.transport()
        .execute_checked(
            Request::new(http::Method::PUT, url(to))
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static(MediaType::DOCKER_SCHEMA1_SIGNED),
                )
                .body(bytes.clone()),
        )
        .await
        .unwrap();
    (bytes, digest)
}

/// A registry holding a signed schema 1 image at `legacy/app:v1`, with what the test needs to
/// know of it.
struct Legacy {
    reg: harbor_testkit::Registry,
    client: RegistryClient,
    image: ImageReference,
    /// The layers, base first.
    layers: [Digest; 2],
    /// The registry's digest of the manifest.
    digest: Digest,
}

async fn legacy() -> Legacy {
    let reg = legacy_registry().await.expect("checked by `needs`");
    let client = RegistryClient::builder().build().unwrap();
    let modern: Repository = format!("{}/modern/app", reg.host()).parse().unwrap();
    let old: Repository = format!("{}/legacy/app", reg.host()).parse().unwrap();
    let layers = push_schema2(&client, &modern).await;
    let (_, digest) = store_schema1(&client, &modern, &old).await;
    // The client prefers what is newer: the converted repository answers schema 2.
    let m = client
        .get_manifest(&ImageReference::with_tag(modern, "v1".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(m.media_type, MediaType::DOCKER_MANIFEST);
    Legacy {
        image: ImageReference::with_tag(old, "v1".parse().unwrap()),
        reg,
        client,
        layers,
        digest,
    }
}

#[harbor_testkit::needs("docker-registry", "skopeo")]
#[tokio::test]
async fn a_signed_schema1_manifest_is_read_with_the_digest_the_registry_names() {
    let l = legacy().await;
    let pulled = l.client.get_manifest(&l.image).await.unwrap();
    assert_eq!(pulled.media_type, MediaType::DOCKER_SCHEMA1_SIGNED);
    assert_eq!(
        pulled.digest, l.digest,
        "the registry's Docker-Content-Digest"
    );
    assert_ne!(
        Digest::sha256_of(&pulled.bytes),
        l.digest,
        "the digest covers the payload, not the signed bytes"
    );
    let Manifest::Schema1(m) = pulled.parse().unwrap() else {
        panic!("not schema 1")
    };
    assert_eq!(m.schema_version, 1);
    assert_eq!(m.architecture, "amd64");
    // Newest first: CMD (empty), app, ENV (empty), base.
    let sums: Vec<String> = m.fs_layers.iter().map(|f| f.blob_sum.to_string()).collect();
    assert_eq!(
        sums,
        [
            EMPTY_LAYER,
            l.layers[1].as_str(),
            EMPTY_LAYER,
            l.layers[0].as_str()
        ]
    );
    assert_eq!(m.history.len(), 4);
    assert!(m.history[3].v1_compatibility.contains("\"id\""));
    assert_eq!(m.signatures.len(), 1, "kept, not verified");
    // By digest too, verified against it.
    let by_digest = ImageReference::with_digest(l.image.repository().clone(), l.digest.clone());
    assert_eq!(
        l.client.get_manifest(&by_digest).await.unwrap().digest,
        l.digest
    );
    let head = l.client.head_manifest(&l.image).await.unwrap();
    assert_eq!(head.digest, l.digest);
    // skopeo computes the same digest.
    if tool("skopeo").is_some() {
        let out = common::skopeo_out(&[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{}", l.image),
        ]);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["Digest"], l.digest.as_str());
    }
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_schema1_image_pulls_into_a_layout_base_first_each_blob_once() {
    let l = legacy().await;
    let dir = tempfile::tempdir().unwrap();
    let started = Arc::new(Mutex::new(Vec::new()));
    let s2 = started.clone();
    let opts = ImageOptions::default()
        .concurrency(1)
        .progress(Arc::new(move |e| {
            if let ProgressEvent::BlobStarted { digest, size } = e {
                s2.lock().unwrap().push((digest.to_string(), size));
            }
        }));
    let desc = l
        .client
        .pull_image(&l.image, dir.path(), &opts)
        .await
        .unwrap();
    assert_eq!(desc.digest, l.digest);
    assert_eq!(desc.media_type, MediaType::DOCKER_SCHEMA1);
    // Base first, the empty layer once, with the sizes the registry gave.
    let started = started.lock().unwrap().clone();
    let order: Vec<&str> = started.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(
        order,
        [l.layers[0].as_str(), EMPTY_LAYER, l.layers[1].as_str()]
    );
    assert_eq!(started[0].1, 70_000);
    assert_eq!(started[1].1, 32);
    // The layout holds the signed payload under the digest, and each blob under its own.
    let layout = OciLayout::open(dir.path()).await.unwrap();
    let index = layout.index().await.unwrap();
    assert_eq!(index.manifests.len(), 1);
    assert_eq!(index.manifests[0].digest, l.digest);
    let kept = layout.read_blob(&l.digest).await.unwrap();
    let served = l.client.get_manifest(&l.image).await.unwrap().bytes;
    assert_eq!(
        kept,
        Schema1Manifest::signed_payload(&served).unwrap().as_ref()
    );
    assert!(
        Schema1Manifest::from_slice(&kept)
            .unwrap()
            .signatures
            .is_empty()
    );
    let names = common::blob_names(dir.path());
    assert_eq!(
        names.len(),
        4,
        "manifest, two layers, the empty layer: {names:?}"
    );
    for n in &names {
        let bytes = std::fs::read(dir.path().join("blobs/sha256").join(n)).unwrap();
        assert_eq!(&Digest::sha256_of(&bytes).encoded(), n);
    }
    drop(l.reg);
}

/// Nothing is recorded at `dst`.
async fn assert_absent(c: &RegistryClient, dst: &ImageReference) {
    assert!(c.get_manifest(dst).await.unwrap_err().is_not_found());
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_schema1_image_is_never_pushed_or_copied() {
    let l = legacy().await;
    let dst: ImageReference = format!("{}/copied/app:v1", l.reg.host()).parse().unwrap();
    let is_schema1_refusal = |e: &harbor_client::Error| {
        matches!(e, harbor_client::Error::Schema1NotPushable { .. })
            && e.to_string().contains("skopeo copy --format v2s2")
    };
    // A copy is refused before anything moves: no manifest, no blob at the destination.
    let e = l
        .client
        .copy_image(&l.image, &dst, &ImageOptions::default())
        .await
        .unwrap_err();
    assert!(is_schema1_refusal(&e), "{e:?}");
    assert_absent(&l.client, &dst).await;
    for layer in &l.layers {
        assert!(!l.client.blob_exists(dst.repository(), layer).await.unwrap());
    }
    // The manifest itself, and an image pulled into a layout.
    let served = l.client.get_manifest(&l.image).await.unwrap();
    for media_type in [None, Some(MediaType::DOCKER_SCHEMA1_SIGNED)] {
        let e = l
            .client
            .put_manifest(&dst, served.bytes.clone(), media_type)
            .await
            .unwrap_err();
        assert!(is_schema1_refusal(&e), "{e:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    l.client
        .pull_image(&l.image, dir.path(), &ImageOptions::default())
        .await
        .unwrap();
    let e = l
        .client
        .push_image(dir.path(), &dst, &ImageOptions::default())
        .await
        .unwrap_err();
    assert!(is_schema1_refusal(&e), "{e:?}");
    assert_absent(&l.client, &dst).await;
}
