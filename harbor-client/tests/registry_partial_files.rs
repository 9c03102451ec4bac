//! Downloads write to `<target>.<random>.partial` and rename it into place once verified; a
//! download that does not end, because its future was dropped (a caller's timeout, a sibling
//! layer failing in a concurrent pull), leaves no such file behind. A real `docker-registry`
//! behind the request-aware proxy holding the answer mid-blob; a loopback fake where the
//! order of two layers' faults must be fixed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use common::fake::{Fake, resp};
use common::noise;
use common::phase::{Cut, GET_BLOB, Hold, PhaseProxy, bounded, phase};
use futures_util::{StreamExt as _, stream};
use harbor_client::registry::{
    Descriptor, Digest, ImageOptions, ImageReference, MediaType, RegistryClient, Repository,
};

/// 2 MiB + 5: several reads, held after the first 256 KiB.
const BLOB: usize = 2 * 1024 * 1024 + 5;

/// Every `*.partial` file under `dir`, at any depth.
fn partials(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "partial") {
                found.push(p);
            }
        }
    }
    found
}

/// Waits until a `*.partial` file whose name starts with `prefix` (a blob's hex digest: its
/// file is `<hex>.<random>.partial`) is under `dir`.
async fn a_partial_appears(dir: &Path, prefix: &str) {
    let named = |p: &PathBuf| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(prefix))
    };
    while !partials(dir).iter().any(named) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_download_dropped_mid_blob_leaves_no_partial_file() {
    let reg = common::registry().await.expect("checked by `needs`");
    let data = noise(BLOB, 3);
    let direct: Repository = format!("{}/partial/drop", reg.host()).parse().unwrap();
    let d = RegistryClient::builder()
        .build()
        .unwrap()
        .push_blob(&direct, data.into())
        .await
        .unwrap();
    let hold = Arc::new(Hold::default());
    let proxy = PhaseProxy::start_with(
        reg.addr,
        Some(phase(GET_BLOB, 1, Cut::Answer(256 * 1024))),
        Some(hold.clone()),
        None,
    )
    .await;
    let repo: Repository = format!("{}/partial/drop", proxy.host()).parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    let client = RegistryClient::builder().build().unwrap();
    let mut pull = Box::pin(client.pull_blob_to_file(&repo, &d, Some(BLOB as u64), &path));
    bounded(async {
        tokio::select! {
            r = &mut pull => panic!("the download ended while the proxy held it: {r:?}"),
            () = async {
                hold.reached.notified().await;
                a_partial_appears(dir.path(), "").await;
            } => {}
        }
    })
    .await;
    // What a caller's `tokio::time::timeout` does at its deadline.
    drop(pull);
    assert_eq!(partials(dir.path()), Vec::<PathBuf>::new());
    assert!(!path.exists(), "nothing is stored as if valid");
    hold.release.notify_one();
}

/// A pull of two layers, one held mid-body and one failing verification once the first has
/// its partial file: the failure ends the pull, the held download's future is dropped with
/// it, and neither leaves a partial file in the layout.
#[tokio::test]
async fn a_failed_layer_leaves_no_partial_file_of_its_siblings() {
    let held = noise(512 * 1024, 1);
    let bad = noise(64 * 1024, 2);
    let (held_d, bad_d) = (Digest::sha256_of(&held), Digest::sha256_of(&bad));
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}"#.to_vec();
    let config_d = Digest::sha256_of(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "config": Descriptor::new(MediaType::OCI_CONFIG, config_d.clone(), config.len() as u64),
        "layers": [
            Descriptor::new(MediaType::OCI_LAYER_GZIP, held_d.clone(), held.len() as u64),
            Descriptor::new(MediaType::OCI_LAYER_GZIP, bad_d.clone(), bad.len() as u64),
        ],
    }))
    .unwrap();
    // The failing layer answers once the test says so.
    let (go, go_rx) = tokio::sync::watch::channel(false);
    let (held_at, bad_at) = (held_d.to_string(), bad_d.to_string());
    let fake = Fake::start(move |s| {
        let path = s.uri.path();
        if path.contains("/manifests/") {
            return resp(
                200,
                &[("content-type", MediaType::OCI_MANIFEST)],
                manifest.clone(),
            );
        }
        if path.ends_with(&config_d.to_string()) {
            return resp(200, &[], config.clone());
        }
        if path.ends_with(&held_at) {
            // The first 64 KiB, then nothing, ever.
            let first = Bytes::copy_from_slice(&held[..64 * 1024]);
            let body = stream::once(async move { Ok::<_, std::io::Error>(first) })
                .chain(stream::pending());
            return resp(200, &[], Body::from_stream(body));
        }
        if path.ends_with(&bad_at) {
            // The right length, the wrong bytes.
            let mut rx = go_rx.clone();
            let wrong = Bytes::from(vec![0u8; bad.len()]);
            let body = stream::once(async move {
                let _ = rx.wait_for(|go| *go).await;
                Ok::<_, std::io::Error>(wrong)
            });
            return resp(200, &[], Body::from_stream(body));
        }
        resp(404, &[], "")
    })
    .await;
    let reference: ImageReference = format!("{}/partial/app:v1", fake.host()).parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = RegistryClient::builder().build().unwrap();
    let options = ImageOptions::default()
        .concurrency(4)
        .referrers(false)
        .cosign_tags(false);
    let mut pull = Box::pin(client.pull_image(&reference, dir.path(), &options));
    let err = bounded(async {
        tokio::select! {
            r = &mut pull => panic!("the pull ended before the held layer had its partial file: {r:?}"),
            () = a_partial_appears(dir.path(), held_d.encoded()) => {}
        }
        go.send(true).unwrap();
        (&mut pull).await.unwrap_err()
    })
    .await;
    assert!(
        matches!(err, harbor_client::Error::DigestMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(partials(dir.path()), Vec::<PathBuf>::new());
    let layout = harbor_client::registry::OciLayout::open(dir.path())
        .await
        .unwrap();
    assert!(!layout.blob_path(&held_d).exists());
    assert!(!layout.blob_path(&bad_d).exists());
}
