//! Faults between client and a real `docker-registry`, injected by a loopback TCP proxy:
//! cut downloads resume, flipped bytes fail verification, cut uploads resume.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Fault, FaultProxy, Registry, noise};
use harbor_client::registry::{Digest, RegistryClient, Repository};

const BLOB: usize = 3 * 1024 * 1024 + 17;

async fn setup(name: &str) -> Option<(Registry, Repository, Vec<u8>, Digest)> {
    let reg = common::registry().await?;
    let direct = RegistryClient::builder().build().unwrap();
    let repo: Repository = format!("{}/{name}", reg.host()).parse().unwrap();
    let data = noise(BLOB, 42);
    let d = direct.push_blob(&repo, data.clone().into()).await.unwrap();
    Some((reg, repo, data, d))
}

fn via(proxy: &FaultProxy, repo: &Repository) -> Repository {
    format!("{}/{}", proxy.host(), repo.name()).parse().unwrap()
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn download_cut_mid_blob_is_resumed_with_correct_bytes() {
    let Some((reg, repo, data, d)) = setup("faults/down").await else {
        return;
    };
    let proxy = FaultProxy::start(reg.addr, Fault::CutDownstreamAfter(1_000_000)).await;
    let c = RegistryClient::builder().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    let n = c
        .pull_blob_to_file(&via(&proxy, &repo), &d, Some(BLOB as u64), &path)
        .await
        .unwrap();
    assert_eq!(n, BLOB as u64);
    assert_eq!(
        proxy.faults_fired.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert!(
        std::fs::read(&path).unwrap() == data,
        "resumed bytes are the right bytes"
    );
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn flipped_byte_fails_verification_and_writes_nothing() {
    let Some((reg, repo, _data, d)) = setup("faults/flip").await else {
        return;
    };
    let proxy = FaultProxy::start(reg.addr, Fault::FlipDownstreamAt(500_000)).await;
    let c = RegistryClient::builder().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    let e = c
        .pull_blob_to_file(&via(&proxy, &repo), &d, Some(BLOB as u64), &path)
        .await
        .unwrap_err();
    assert!(
        matches!(e, harbor_client::Error::DigestMismatch { .. }),
        "{e}"
    );
    assert!(e.is_retryable());
    assert!(proxy.faults_fired.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert!(!path.exists(), "nothing is stored as if valid");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no partial file left"
    );
}

async fn upload_cut_is_resumed(chunk: Option<u64>, name: &str) {
    let Some(reg) = common::registry().await else {
        return;
    };
    let proxy = FaultProxy::start(reg.addr, Fault::CutUpstreamAfter(1_500_000)).await;
    let mut b = RegistryClient::builder();
    if let Some(c) = chunk {
        b = b.chunk_size(c);
    }
    let c = b.build().unwrap();
    let repo: Repository = format!("{}/{name}", proxy.host()).parse().unwrap();
    let data = noise(BLOB, 7);
    let d = Digest::sha256_of(&data);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    std::fs::write(&path, &data).unwrap();
    c.push_blob_file(&repo, &path, &d).await.unwrap();
    assert_eq!(
        proxy.faults_fired.load(std::sync::atomic::Ordering::SeqCst),
        1
    );

    let direct = RegistryClient::builder().build().unwrap();
    let at_registry: Repository = format!("{}/{name}", reg.host()).parse().unwrap();
    let back = common::collect(direct.get_blob(&at_registry, &d).await.unwrap())
        .await
        .unwrap();
    assert!(back.as_ref() == data.as_slice());
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn chunked_upload_cut_mid_chunk_is_resumed() {
    upload_cut_is_resumed(Some(512 * 1024), "faults/chunked").await;
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn streamed_upload_cut_is_resumed() {
    upload_cut_is_resumed(None, "faults/streamed").await;
}
