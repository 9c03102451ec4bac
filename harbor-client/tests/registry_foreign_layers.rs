//! Foreign (non-distributable) layers: a Docker schema 2 image whose last layer is a
//! `…rootfs.foreign.diff.tar.gzip` with a URL on its publisher's host, held by a real
//! `docker-registry` (which accepts such a manifest without the blob), the publisher a loopback
//! HTTP server on another loopback address. By default pulls, pushes and copies leave the layer
//! out (skopeo reads what was copied, fetching the layer from its URL itself); with
//! `fetch_foreign_layers` it is downloaded from the URL, verified, with no credentials, and
//! moved as any blob; a URL that fails or lies is a typed error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::fake::{Fake, authz, resp};
use common::{gzip_stored, noise, tool};
use harbor_client::registry::{
    Descriptor, Digest, ImageOptions, ImageReference, MediaType, OciLayout, ProgressEvent,
    RegistryClient,
};
use harbor_client::transport::{Credentials, Keychain};

const PUBLISHER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// distribution refuses every foreign layer URL unless its configuration allows some.
const ALLOW_URLS: &str =
    "validation:\n  manifests:\n    urls:\n      allow:\n        - ^https?://\n";

/// A registry that takes manifests with foreign layers; with htpasswd auth knowing `u`/`p`
/// when `auth`.
async fn registry(auth: bool) -> harbor_testkit::Registry {
    let bin = tool("docker-registry").expect("checked by `needs`");
    let dir = tempfile::tempdir().unwrap();
    let mut extra = ALLOW_URLS.to_owned();
    if auth {
        extra.push_str(&harbor_testkit::htpasswd_auth(dir.path(), &[("u", "p")]));
    }
    common::registry_in(bin, dir, extra).await
}

/// The publisher: serves `layer` at `/layers/good`, other bytes of the same size at
/// `/layers/wrong`, 404 elsewhere.
async fn publisher(layer: Vec<u8>) -> Fake {
    let wrong = noise(layer.len(), 999);
    Fake::start_at(PUBLISHER, move |s| match s.uri.path() {
        "/layers/good" => resp(200, &[], layer.clone()),
        "/layers/wrong" => resp(200, &[], wrong.clone()),
        _ => resp(404, &[], "no such layer"),
    })
    .await
}

/// A Docker schema 2 image in a layout under `v1`: a config, an ordinary layer, and a foreign
/// layer whose blob the layout does not hold, listed with `urls`. Returns the manifest's and
/// the two layers' descriptors.
async fn image(
    dir: &Path,
    foreign: &[u8],
    urls: Vec<String>,
) -> (Descriptor, Descriptor, Descriptor) {
    let layout = OciLayout::create(dir).await.unwrap();
    let plain = gzip_stored(&noise(50_000, 1));
    let pd = Descriptor::new(
        MediaType::DOCKER_LAYER_GZIP,
        Digest::sha256_of(&plain),
        plain.len() as u64,
    );
    layout.write_blob(&pd.digest, &plain).await.unwrap();
    let mut fd = Descriptor::new(
        MediaType::DOCKER_FOREIGN_LAYER_GZIP,
        Digest::sha256_of(foreign),
        foreign.len() as u64,
    );
    fd.urls = urls;
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "windows", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [fd.digest.to_string(), pd.digest.to_string()]},
    }))
    .unwrap();
    let cd = Digest::sha256_of(&config);
    layout.write_blob(&cd, &config).await.unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::DOCKER_MANIFEST,
        "config": Descriptor::new(MediaType::DOCKER_CONFIG, cd, config.len() as u64),
        "layers": [fd.clone(), pd.clone()],
    }))
    .unwrap();
    let md = Descriptor::new(
        MediaType::DOCKER_MANIFEST,
        Digest::sha256_of(&manifest),
        manifest.len() as u64,
    );
    layout.write_blob(&md.digest, &manifest).await.unwrap();
    layout.add_manifest(md.clone(), Some("v1")).await.unwrap();
    (md, pd, fd)
}

/// Options recording the foreign layers skipped.
fn recording(fetch: bool) -> (ImageOptions, Arc<Mutex<Vec<Digest>>>) {
    let skipped = Arc::new(Mutex::new(Vec::new()));
    let s2 = skipped.clone();
    let opts = ImageOptions::default()
        .fetch_foreign_layers(fetch)
        .progress(Arc::new(move |e| {
            if let ProgressEvent::ForeignLayerSkipped { digest } = e {
                s2.lock().unwrap().push(digest);
            }
        }));
    (opts, skipped)
}

/// A client with credentials for the registry and for the publisher's host, sent up front:
/// the publisher must still get none.
fn client(registry: &str, publisher: &str) -> RegistryClient {
    RegistryClient::builder()
        .keychain(
            Keychain::new()
                .with(registry, Credentials::basic("u", "p"))
                .with(publisher, Credentials::basic("u", "p")),
        )
        .configure_transport(|t| t.preemptive_basic(true))
        .build()
        .unwrap()
}

#[harbor_testkit::needs("docker-registry", "skopeo")]
#[tokio::test]
async fn foreign_layers_are_left_out_by_default_and_skopeo_reads_the_copy() {
    let reg = registry(true).await;
    let other = registry(false).await;
    let foreign = gzip_stored(&noise(40_000, 7));
    let pubr = publisher(foreign.clone()).await;
    let url = format!("http://{}/layers/good", pubr.host());
    let src_dir = tempfile::tempdir().unwrap();
    let (md, pd, fd) = image(src_dir.path(), &foreign, vec![url]).await;
    let c = client(&reg.host(), &pubr.host());

    // Push: the registry takes the manifest without the foreign blob.
    let src: ImageReference = format!("{}/win/app:v1", reg.host()).parse().unwrap();
    let (opts, skipped) = recording(false);
    assert_eq!(
        c.push_image(src_dir.path(), &src, &opts).await.unwrap(),
        md.digest
    );
    assert_eq!(
        skipped.lock().unwrap().as_slice(),
        std::slice::from_ref(&fd.digest)
    );
    assert!(!c.blob_exists(src.repository(), &fd.digest).await.unwrap());

    // Pull: the layout lacks the foreign blob only.
    let out = tempfile::tempdir().unwrap();
    let (opts, skipped) = recording(false);
    assert_eq!(
        c.pull_image(&src, out.path(), &opts).await.unwrap().digest,
        md.digest
    );
    assert_eq!(
        skipped.lock().unwrap().as_slice(),
        std::slice::from_ref(&fd.digest)
    );
    let names = common::blob_names(out.path());
    assert!(names.contains(pd.digest.encoded()));
    assert!(!names.contains(fd.digest.encoded()));

    // Copy: the descriptor is kept, the blob not uploaded.
    let dst: ImageReference = format!("{}/win/app:v1", other.host()).parse().unwrap();
    let (opts, skipped) = recording(false);
    assert_eq!(c.copy_image(&src, &dst, &opts).await.unwrap(), md.digest);
    assert_eq!(
        skipped.lock().unwrap().as_slice(),
        std::slice::from_ref(&fd.digest)
    );
    assert!(!c.blob_exists(dst.repository(), &fd.digest).await.unwrap());
    assert!(c.blob_exists(dst.repository(), &pd.digest).await.unwrap());
    assert_eq!(pubr.all().len(), 0, "nothing asked the publisher");

    // skopeo reads the copy as it is, and takes the foreign layer from its URL itself.
    if tool("skopeo").is_some() {
        let raw = common::skopeo_out(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{dst}"),
        ]);
        assert_eq!(Digest::sha256_of(&raw), md.digest);
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (
            format!("docker://{dst}"),
            format!("dir:{}", dir.path().display()),
        );
        // On a blocking thread: the publisher skopeo fetches from runs on this runtime.
        tokio::task::spawn_blocking(move || {
            common::skopeo(&["copy", "--src-tls-verify=false", &from, &to]);
        })
        .await
        .unwrap();
        assert_eq!(
            std::fs::read(dir.path().join(fd.digest.encoded())).unwrap(),
            foreign
        );
        assert!(
            !pubr.all().is_empty(),
            "skopeo fetched the layer from the publisher"
        );
    }
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn foreign_layers_are_fetched_from_their_urls_without_credentials_when_asked() {
    let reg = registry(true).await;
    let other = registry(false).await;
    let foreign = gzip_stored(&noise(300_000, 8));
    let pubr = publisher(foreign.clone()).await;
    // The first URL has no such layer: the next one is tried.
    let urls = vec![
        format!("http://{}/layers/gone", pubr.host()),
        format!("http://{}/layers/good", pubr.host()),
    ];
    let src_dir = tempfile::tempdir().unwrap();
    let (md, _, fd) = image(src_dir.path(), &foreign, urls).await;
    let c = client(&reg.host(), &pubr.host());
    let src: ImageReference = format!("{}/win/app:v1", reg.host()).parse().unwrap();
    c.push_image(src_dir.path(), &src, &ImageOptions::default())
        .await
        .unwrap();

    let out = tempfile::tempdir().unwrap();
    let (opts, skipped) = recording(true);
    assert_eq!(
        c.pull_image(&src, out.path(), &opts).await.unwrap().digest,
        md.digest
    );
    assert!(skipped.lock().unwrap().is_empty());
    assert_eq!(
        std::fs::read(out.path().join("blobs/sha256").join(fd.digest.encoded())).unwrap(),
        foreign
    );

    let dst: ImageReference = format!("{}/win/fetched:v1", other.host()).parse().unwrap();
    assert_eq!(c.copy_image(&src, &dst, &opts).await.unwrap(), md.digest);
    let back = common::collect(c.get_blob(dst.repository(), &fd.digest).await.unwrap())
        .await
        .unwrap();
    assert!(
        back.as_ref() == foreign.as_slice(),
        "uploaded like any blob"
    );

    let seen = pubr.all();
    assert!(seen.iter().any(|s| s.uri.path() == "/layers/good"));
    assert!(
        seen.iter().all(|s| authz(s).is_none()),
        "the publisher got no credentials"
    );
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_foreign_layer_no_url_serves_is_a_typed_error_and_leaves_nothing() {
    let reg = registry(false).await;
    let foreign = gzip_stored(&noise(20_000, 9));
    let pubr = publisher(foreign.clone()).await;
    let urls = vec![
        format!("http://{}/layers/gone", pubr.host()),
        format!("http://{}/layers/wrong", pubr.host()),
    ];
    let src_dir = tempfile::tempdir().unwrap();
    let (_, _, fd) = image(src_dir.path(), &foreign, urls).await;
    let c = RegistryClient::builder().build().unwrap();
    let src: ImageReference = format!("{}/win/app:v1", reg.host()).parse().unwrap();
    c.push_image(src_dir.path(), &src, &ImageOptions::default())
        .await
        .unwrap();

    let out = tempfile::tempdir().unwrap();
    let opts = ImageOptions::default().fetch_foreign_layers(true);
    let e = c.pull_image(&src, out.path(), &opts).await.unwrap_err();
    let harbor_client::Error::ForeignLayerUnavailable { digest, urls, last } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(digest, fd.digest.as_str());
    assert_eq!(urls.len(), 2);
    assert!(
        matches!(
            last.as_deref(),
            Some(harbor_client::Error::DigestMismatch { .. })
        ),
        "the wrong bytes were caught: {last:?}"
    );
    assert!(!common::blob_names(out.path()).contains(fd.digest.encoded()));
    let layout = OciLayout::open(out.path()).await.unwrap();
    assert!(
        layout.index().await.unwrap().manifests.is_empty(),
        "no image recorded"
    );

    // A copy fails the same way, and the destination gets no manifest.
    let dst: ImageReference = format!("{}/win/failed:v1", reg.host()).parse().unwrap();
    let e = c.copy_image(&src, &dst, &opts).await.unwrap_err();
    assert!(
        matches!(e, harbor_client::Error::ForeignLayerUnavailable { .. }),
        "{e:?}"
    );
    assert!(c.get_manifest(&dst).await.unwrap_err().is_not_found());
}
