//! Long streamed transfers survive: `push_blob_stream` (a one-shot stream of unknown digest)
//! and the streaming path of `copy_image`, against a real `docker-registry` through the
//! request-aware fault proxy (`common::phase`), with a connection cut during a `PATCH` and a
//! token expiring mid-upload. Each case ends in a completed blob, verified by reading it back
//! directly, or in the typed error that says what was lost. Rows of the fault-matrix table
//! in the crate docs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::noise;
use common::phase::{Cut, PATCH, PhaseProxy, assert_renewed, bounded, phase, short_token_registry};
use harbor_client::registry::{Digest, ImageOptions, ImageReference, RegistryClient, Repository};

/// 300 KiB + 3: three 128 KiB chunks.
const BLOB: usize = 300 * 1024 + 3;
const CHUNK: u64 = 128 * 1024;

/// `data` as a one-shot stream of 48 KiB items (not aligned with the chunks).
fn one_shot(
    data: &[u8],
) -> impl futures_util::Stream<Item = harbor_client::Result<Bytes>> + Send + 'static {
    let items: Vec<harbor_client::Result<Bytes>> = data
        .chunks(48 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(items)
}

fn chunked() -> RegistryClient {
    RegistryClient::builder().chunk_size(CHUNK).build().unwrap()
}

/// The registry at `direct` holds `data` as its blob (read back directly, verified).
async fn assert_holds(direct: &Repository, data: &[u8]) {
    let c = RegistryClient::builder().build().unwrap();
    let back = common::collect(c.get_blob(direct, &Digest::sha256_of(data)).await.unwrap())
        .await
        .unwrap();
    assert!(back.as_ref() == data, "the registry holds exactly the blob");
}

/// Pushes a one-shot stream through a proxy cutting at `cut` of the `nth` PATCH.
async fn push_stream_cut(nth: usize, cut: Cut, name: &str) -> harbor_client::Result<(Digest, u64)> {
    let reg = common::registry().await.expect("checked by `needs`");
    let proxy = PhaseProxy::start(reg.addr, Some(phase(PATCH, nth, cut))).await;
    let data = noise(BLOB, nth as u64);
    let repo: Repository = format!("{}/{name}", proxy.host()).parse().unwrap();
    let result = bounded(chunked().push_blob_stream(&repo, one_shot(&data))).await;
    assert_eq!(proxy.fired(), 1, "the fault fired once");
    if let Ok((digest, size)) = &result {
        assert_eq!(digest, &Digest::sha256_of(&data));
        assert_eq!(*size, BLOB as u64);
        let direct: Repository = format!("{}/{name}", reg.host()).parse().unwrap();
        assert_holds(&direct, &data).await;
    }
    result
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_stream_cut_in_its_first_chunk_restarts_and_completes() {
    // Nothing was acknowledged before the chunk in flight: it is all in memory, so a new
    // session (distribution dropped the old one) takes it again.
    push_stream_cut(1, Cut::Body(50_000), "s/first")
        .await
        .unwrap();
}

/// The outcome of a cut in a later chunk of a one-shot stream on distribution 2.8: the
/// registry no longer knows the session (the status request answers 404), and the first
/// chunk, which it had acknowledged, left with the stream.
fn assert_lost(e: &harbor_client::Error) {
    let harbor_client::Error::UploadSessionLost {
        acknowledged,
        source,
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!(*acknowledged, CHUNK);
    assert!(
        source.is_not_found() || source.status() == Some(http::StatusCode::NOT_FOUND),
        "{source:?}"
    );
    assert!(e.to_string().contains("cannot be read again"), "{e}");
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_stream_cut_in_a_later_chunk_is_upload_session_lost() {
    // distribution drops the session after a PATCH broken mid-body.
    let e = push_stream_cut(2, Cut::Body(60_000), "s/lost")
        .await
        .unwrap_err();
    assert_lost(&e);
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_stream_whose_chunk_answer_is_lost_is_upload_session_lost() {
    // The registry took the second chunk but its answer, with the new `Location`, never
    // came: distribution signs the upload's offset into the `_state` of each `Location`, so
    // the old one no longer matches (404 BLOB_UPLOAD_INVALID) and the session cannot go on.
    let e = push_stream_cut(2, Cut::Answer(0), "s/answer")
        .await
        .unwrap_err();
    assert_lost(&e);
}

/// A fake upload endpoint that counts the bytes it received, for the memory bound.
#[tokio::test]
async fn a_stream_is_read_at_most_one_chunk_ahead_of_what_the_registry_received() {
    use common::fake::{Fake, resp};
    let received = Arc::new(AtomicU64::new(0));
    let r2 = received.clone();
    let fake = Fake::start(move |s| match s.method.as_str() {
        "POST" => resp(202, &[("location", "/v2/m/blobs/uploads/u")], ""),
        "PATCH" => {
            let total = r2.fetch_add(s.body.len() as u64, Ordering::SeqCst) + s.body.len() as u64;
            let range = format!("0-{}", total - 1);
            resp(
                202,
                &[
                    ("location", "/v2/m/blobs/uploads/u"),
                    ("range", range.as_str()),
                ],
                "",
            )
        }
        "PUT" => resp(201, &[], ""),
        _ => resp(404, &[], ""),
    })
    .await;
    let chunk: u64 = 1024 * 1024;
    let item: u64 = 64 * 1024;
    let total: u64 = 16 * chunk + 5;
    let pulled = Arc::new(AtomicU64::new(0));
    let worst = Arc::new(AtomicU64::new(0));
    let (p2, w2, r3) = (pulled.clone(), worst.clone(), received.clone());
    let stream = futures_util::stream::unfold(0u64, move |at| {
        let (p, w, r) = (p2.clone(), w2.clone(), r3.clone());
        async move {
            if at >= total {
                return None;
            }
            let n = item.min(total - at);
            let ahead = p.fetch_add(n, Ordering::SeqCst) + n - r.load(Ordering::SeqCst);
            w.fetch_max(ahead, Ordering::SeqCst);
            Some((Ok(Bytes::from(vec![7u8; n as usize])), at + n))
        }
    });
    let c = RegistryClient::builder().chunk_size(chunk).build().unwrap();
    let repo: Repository = format!("{}/m", fake.host()).parse().unwrap();
    let (_, size) = c.push_blob_stream(&repo, stream).await.unwrap();
    assert_eq!(size, total);
    assert_eq!(received.load(Ordering::SeqCst), total);
    let worst = worst.load(Ordering::SeqCst);
    assert!(
        worst <= chunk + item,
        "read {worst} bytes ahead of the registry; one chunk ({chunk}) and one item at most"
    );
}

// ---------------------------------------------------------------------------------------------
// copy_image: the source is read again
// ---------------------------------------------------------------------------------------------

/// Copies a three-layer image from a registry to another reached through a proxy cutting at
/// the `nth` PATCH; the copy must complete and the destination hold the image.
async fn copy_cut(client: RegistryClient, nth: usize, cut: Cut, name: &str) {
    let (Some(src_reg), Some(dst_reg)) = (common::registry().await, common::registry().await)
    else {
        panic!("checked by `needs`")
    };
    let dir = tempfile::tempdir().unwrap();
    let layers = [noise(BLOB, 61), noise(BLOB, 62), noise(BLOB, 63)];
    let want = common::make_image(dir.path(), "v1", &layers).await.digest;
    let src: ImageReference = format!("{}/{name}:v1", src_reg.host()).parse().unwrap();
    let plain = RegistryClient::builder().build().unwrap();
    plain
        .push_image(dir.path(), &src, &ImageOptions::default())
        .await
        .unwrap();

    let proxy = PhaseProxy::start(dst_reg.addr, Some(phase(PATCH, nth, cut))).await;
    let dst: ImageReference = format!("{}/{name}:v1", proxy.host()).parse().unwrap();
    let copied = bounded(client.copy_image(&src, &dst, &ImageOptions::default().concurrency(1)))
        .await
        .unwrap();
    assert_eq!(copied, want);
    assert_eq!(proxy.fired(), 1, "the fault fired once");
    // Read back directly: every blob verified against its digest.
    let direct: ImageReference = format!("{}/{name}:v1", dst_reg.host()).parse().unwrap();
    let back = tempfile::tempdir().unwrap();
    let got = plain
        .pull_image(&direct, back.path(), &ImageOptions::default())
        .await
        .unwrap();
    assert_eq!(got.digest, want);
    for l in &layers {
        assert!(common::blob_names(back.path()).contains(Digest::sha256_of(l).encoded()));
    }
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_streamed_copy_cut_in_a_patch_reads_the_source_again_and_completes() {
    // PATCH 1 is the config, 2 the first layer's one streamed request.
    copy_cut(
        RegistryClient::builder().build().unwrap(),
        2,
        Cut::Body(100_000),
        "c/streamed",
    )
    .await;
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_chunked_copy_cut_in_a_later_chunk_reads_the_source_again_and_completes() {
    // PATCH 1 is the config; 2, 3, 4 the first layer's chunks: the cut in the second chunk
    // loses the session, and the copy starts the layer again from the source.
    copy_cut(chunked(), 3, Cut::Body(60_000), "c/chunked").await;
}

// ---------------------------------------------------------------------------------------------
// A token expiring mid-upload
// ---------------------------------------------------------------------------------------------

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_token_expiring_during_a_chunked_stream_is_renewed_and_the_upload_completes() {
    let (reg, svc, proxy) = short_token_registry().await;
    let data = noise(3_000_000, 71);
    let repo: Repository = format!("{}/t/stream", proxy.host()).parse().unwrap();
    let c = RegistryClient::builder()
        .chunk_size(256 * 1024)
        .build()
        .unwrap();
    let started = Instant::now();
    let (digest, size) = bounded(c.push_blob_stream(&repo, one_shot(&data)))
        .await
        .unwrap();
    assert_renewed(&svc, started);
    assert_eq!(
        (digest, size),
        (Digest::sha256_of(&data), data.len() as u64)
    );
    let direct: Repository = format!("{}/t/stream", reg.host()).parse().unwrap();
    assert_holds(&direct, &data).await;
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_token_expiring_during_a_copy_is_renewed_and_the_copy_completes() {
    let src_reg = common::registry().await.expect("checked by `needs`");
    let (dst_reg, svc, proxy) = short_token_registry().await;
    let dir = tempfile::tempdir().unwrap();
    let layer = noise(3_000_000, 81);
    let want = common::make_image(dir.path(), "v1", std::slice::from_ref(&layer))
        .await
        .digest;
    let src: ImageReference = format!("{}/t/copy:v1", src_reg.host()).parse().unwrap();
    let c = RegistryClient::builder().build().unwrap();
    c.push_image(dir.path(), &src, &ImageOptions::default())
        .await
        .unwrap();
    let dst: ImageReference = format!("{}/t/copy:v1", proxy.host()).parse().unwrap();
    let events = Arc::new(Mutex::new(0u64));
    let e2 = events.clone();
    let opts = ImageOptions::default().progress(Arc::new(move |e| {
        if let harbor_client::registry::ProgressEvent::BlobBytes { bytes, .. } = e {
            *e2.lock().unwrap() += bytes;
        }
    }));
    let started = Instant::now();
    assert_eq!(
        bounded(c.copy_image(&src, &dst, &opts)).await.unwrap(),
        want
    );
    assert!(started.elapsed() > Duration::from_millis(2500));
    assert!(
        svc.count() >= 2,
        "the token was renewed: {} requests",
        svc.count()
    );
    let direct: Repository = format!("{}/t/copy", dst_reg.host()).parse().unwrap();
    assert_holds(&direct, &layer).await;
    // Progress counts each byte once, whatever was sent again.
    let config_and_layer = *events.lock().unwrap();
    assert!(config_and_layer >= layer.len() as u64);
    assert!(
        config_and_layer < layer.len() as u64 + 4096,
        "{config_and_layer}"
    );
}
