//! The fault matrix: image pushes and pulls against a real `docker-registry`, with one fault
//! each, injected at a named phase of the transfer by a request-aware loopback proxy (a
//! connection cut in the POST, each PATCH, the PUT, the manifest PUT; in the manifest GET and
//! each blob GET), the registry restarted mid-upload, a token expiring during a streamed
//! upload, the disk filling during a pull, and a slow-loris registry trickling bytes.
//!
//! Every case must end in a completed, verified transfer or a clear typed error, within a
//! hard timeout, and leave no partial file and no corrupt file under its final name. The
//! table of cases and outcomes is in the `registry` module docs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::noise;
use common::phase::{
    Cut, GET_BLOB, GET_MANIFEST, Hold, PATCH, POST, PUT_BLOB, PUT_MANIFEST, Phase, PhaseProxy,
    assert_renewed, bounded, phase, short_token_registry,
};
use harbor_client::registry::{
    Digest, ImageOptions, ImageReference, OciLayout, RegistryClient, Repository,
};
use harbor_client::transport::RetryPolicy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// Images and checks
// ---------------------------------------------------------------------------------------------

/// Three layers of 300 KiB + a few bytes: three PATCHes each with 128 KiB chunks.
const LAYER: usize = 300 * 1024 + 3;
const CHUNK: u64 = 128 * 1024;

/// An image of a config and three layers in a layout under `dir`, tagged `v1`.
async fn image(dir: &Path, seed: u64) -> Digest {
    let layers = [
        noise(LAYER, seed),
        noise(LAYER, seed + 1),
        noise(LAYER, seed + 2),
    ];
    common::make_image(dir, "v1", &layers).await.digest
}

/// Every file under `dir`: none is a partial download or a temporary file, and every blob
/// lies under the name of its own digest.
fn assert_clean_layout(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                !name.ends_with(".partial") && !name.ends_with(".tmp"),
                "a partial file was left behind: {}",
                p.display()
            );
            if p.parent().is_some_and(|q| q.ends_with("blobs/sha256")) {
                let actual = Digest::sha256_of(&std::fs::read(&p).unwrap());
                assert_eq!(
                    actual.encoded(),
                    name,
                    "a corrupt blob under its final name"
                );
            }
        }
    }
}

/// The image the registry holds under `reference` is `want`, blob for blob (pulled directly,
/// verified, into a fresh layout).
async fn assert_registry_holds(reference: &ImageReference, want: &Digest) {
    let direct = plain_client();
    let dir = tempfile::tempdir().unwrap();
    let got = direct
        .pull_image(reference, dir.path(), &ImageOptions::default())
        .await
        .unwrap();
    assert_eq!(&got.digest, want);
    assert_clean_layout(dir.path());
}

fn via(proxy: &PhaseProxy, path: &str) -> ImageReference {
    format!("{}/{path}", proxy.host()).parse().unwrap()
}

fn plain_client() -> RegistryClient {
    RegistryClient::builder().build().unwrap()
}

fn chunked_client() -> RegistryClient {
    RegistryClient::builder().chunk_size(CHUNK).build().unwrap()
}

/// One blob at a time, so that "the nth blob" is a fixed blob.
fn one_at_a_time() -> ImageOptions {
    ImageOptions::default().concurrency(1)
}

// ---------------------------------------------------------------------------------------------
// Push: a cut in each phase
// ---------------------------------------------------------------------------------------------

/// Pushes a three-layer image through a proxy cutting at `phase`; returns the push's result
/// after checking that the fault fired and, on success, that the registry holds the image.
async fn push_cut(phase: Phase, client: RegistryClient, name: &str) -> harbor_client::Result<()> {
    let reg = common::registry().await.expect("checked by `needs`");
    let src = tempfile::tempdir().unwrap();
    let want = image(src.path(), 11).await;
    let proxy = PhaseProxy::start(reg.addr, Some(phase)).await;
    let target = via(&proxy, &format!("{name}:v1"));
    let result = bounded(client.push_image(src.path(), &target, &one_at_a_time())).await;
    assert_eq!(proxy.fired(), 1, "the fault fired once: {phase:?}");
    assert_clean_layout(src.path());
    if let Ok(d) = &result {
        assert_eq!(d, &want);
        let direct: ImageReference = format!("{}/{name}:v1", reg.host()).parse().unwrap();
        assert_registry_holds(&direct, &want).await;
    }
    result.map(drop)
}

/// A matrix row whose transfer must complete: one test named `$name` running
/// `$run(phase, client, repository)` with a repository named after it.
macro_rules! completes {
    ($name:ident, $run:ident, $phase:expr, $client:expr) => {
        #[harbor_testkit::needs("docker-registry")]
        #[tokio::test]
        async fn $name() {
            $run($phase, $client, concat!("m/", stringify!($name)))
                .await
                .unwrap();
        }
    };
}

completes!(
    push_cut_after_the_post_reached_the_registry_completes,
    push_cut,
    phase(POST, 2, Cut::Answer(0)),
    chunked_client()
);

// PATCH 1 is the config's only chunk; 2, 3 and 4 are the first layer's.
completes!(
    push_cut_in_the_first_patch_of_a_layer_completes,
    push_cut,
    phase(PATCH, 2, Cut::Body(100_000)),
    chunked_client()
);

completes!(
    push_cut_in_a_middle_patch_of_a_layer_completes,
    push_cut,
    phase(PATCH, 3, Cut::Body(60_000)),
    chunked_client()
);

completes!(
    push_cut_in_the_last_patch_of_a_layer_completes,
    push_cut,
    phase(PATCH, 4, Cut::Body(50)),
    chunked_client()
);

completes!(
    push_cut_before_a_patch_is_answered_completes,
    push_cut,
    phase(PATCH, 2, Cut::Answer(0)),
    chunked_client()
);

completes!(
    push_cut_in_a_streamed_patch_completes,
    push_cut,
    phase(PATCH, 2, Cut::Body(150_000)),
    plain_client()
);

completes!(
    push_cut_before_the_blob_put_is_answered_completes,
    push_cut,
    phase(PUT_BLOB, 2, Cut::Answer(0)),
    chunked_client()
);

completes!(
    push_cut_in_the_manifest_put_body_completes,
    push_cut,
    phase(PUT_MANIFEST, 1, Cut::Body(100)),
    chunked_client()
);

completes!(
    push_cut_before_the_manifest_put_is_answered_completes,
    push_cut,
    phase(PUT_MANIFEST, 1, Cut::Answer(0)),
    chunked_client()
);

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn push_cut_with_resuming_and_retries_off_is_a_typed_error() {
    let strict = RegistryClient::builder()
        .chunk_size(CHUNK)
        .resume_attempts(0)
        .configure_transport(|t| t.retry_policy(RetryPolicy::none()))
        .build()
        .unwrap();
    let e = push_cut(phase(PATCH, 2, Cut::Body(1000)), strict, "m/strict")
        .await
        .unwrap_err();
    assert!(matches!(e, harbor_client::Error::Transport { .. }), "{e:?}");
    assert!(e.is_retryable() && e.may_have_been_sent(), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Pull: a cut in each phase
// ---------------------------------------------------------------------------------------------

/// Pushes an image directly, then pulls it through a proxy cutting at `phase` into a fresh
/// layout; checks the layout is clean whatever the outcome, and holds the image on success.
async fn pull_cut(phase: Phase, client: RegistryClient, name: &str) -> harbor_client::Result<()> {
    let reg = common::registry().await.expect("checked by `needs`");
    let src = tempfile::tempdir().unwrap();
    let want = image(src.path(), 21).await;
    let direct = plain_client();
    let at: ImageReference = format!("{}/{name}:v1", reg.host()).parse().unwrap();
    direct
        .push_image(src.path(), &at, &ImageOptions::default())
        .await
        .unwrap();

    let proxy = PhaseProxy::start(reg.addr, Some(phase)).await;
    let dest = tempfile::tempdir().unwrap();
    let result = bounded(client.pull_image(
        &via(&proxy, &format!("{name}:v1")),
        dest.path(),
        &one_at_a_time(),
    ))
    .await;
    assert_eq!(proxy.fired(), 1, "the fault fired once: {phase:?}");
    assert_clean_layout(dest.path());
    let layout = OciLayout::open(dest.path()).await.unwrap();
    let listed = layout.index().await.unwrap().manifests;
    match &result {
        Ok(desc) => {
            assert_eq!(desc.digest, want);
            assert_eq!(listed.len(), 1, "the image is recorded");
            let again = OciLayout::open(dest.path()).await.unwrap();
            let m = again.read_blob(&want).await.unwrap();
            assert!(!m.is_empty());
        }
        Err(_) => assert!(listed.is_empty(), "a failed pull records no image"),
    }
    result.map(drop)
}

completes!(
    pull_cut_before_the_manifest_answer_completes,
    pull_cut,
    phase(GET_MANIFEST, 1, Cut::Answer(0)),
    plain_client()
);

completes!(
    pull_cut_in_the_manifest_answer_completes,
    pull_cut,
    phase(GET_MANIFEST, 1, Cut::Answer(600)),
    plain_client()
);

completes!(
    pull_cut_in_the_config_blob_completes,
    pull_cut,
    phase(GET_BLOB, 1, Cut::Answer(0)),
    plain_client()
);

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn pull_cut_in_each_layer_completes() {
    for nth in 2..=4 {
        pull_cut(
            phase(GET_BLOB, nth, Cut::Answer(50_000 * nth as u64)),
            plain_client(),
            &format!("m/pull-layer{nth}"),
        )
        .await
        .unwrap();
    }
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn pull_cut_with_resuming_off_is_a_typed_error_and_leaves_nothing() {
    let strict = RegistryClient::builder()
        .resume_attempts(0)
        .configure_transport(|t| t.retry_policy(RetryPolicy::none()))
        .build()
        .unwrap();
    let e = pull_cut(
        phase(GET_BLOB, 3, Cut::Answer(200_000)),
        strict,
        "m/pull-strict",
    )
    .await
    .unwrap_err();
    assert!(matches!(e, harbor_client::Error::Transport { .. }), "{e:?}");
    assert!(e.is_retryable(), "{e}");
}

// ---------------------------------------------------------------------------------------------
// The registry restarted mid-upload
// ---------------------------------------------------------------------------------------------

/// Pushes through a proxy that holds the connection of a layer's first PATCH after 100 kB,
/// restarts the registry (same port, same storage, same `http.secret`), then cuts the held
/// connection: the client finds the upload where the restarted registry has it, or opens a
/// new one, and completes.
async fn push_across_a_restart(client: RegistryClient, name: &str) {
    let mut reg = common::registry().await.expect("checked by `needs`");
    let src = tempfile::tempdir().unwrap();
    let want = image(src.path(), 31).await;
    let hold = Arc::new(Hold::default());
    let proxy = PhaseProxy::start_with(
        reg.addr,
        Some(phase(PATCH, 2, Cut::Body(100_000))),
        Some(hold.clone()),
        None,
    )
    .await;
    let target = via(&proxy, &format!("{name}:v1"));
    let src_path = src.path().to_owned();
    let push = tokio::spawn(async move {
        client
            .push_image(&src_path, &target, &one_at_a_time())
            .await
    });
    bounded(hold.reached.notified()).await;
    let reg = tokio::task::spawn_blocking(move || {
        reg.restart();
        reg
    })
    .await
    .unwrap();
    hold.release.notify_one();
    let pushed = bounded(push).await.unwrap().unwrap();
    assert_eq!(pushed, want);
    assert_eq!(proxy.fired(), 1);
    let direct: ImageReference = format!("{}/{name}:v1", reg.host()).parse().unwrap();
    assert_registry_holds(&direct, &want).await;
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn chunked_push_survives_a_registry_restart_mid_upload() {
    push_across_a_restart(chunked_client(), "m/restart-chunked").await;
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn streamed_push_survives_a_registry_restart_mid_upload() {
    push_across_a_restart(plain_client(), "m/restart-stream").await;
}

// ---------------------------------------------------------------------------------------------
// A token expiring during a streamed upload
// ---------------------------------------------------------------------------------------------

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_token_expiring_during_a_streamed_upload_is_renewed_and_the_push_completes() {
    // The 3 MB streamed PATCH outlives its token (see `short_token_registry`) and the PUT
    // that completes the upload meets a 401.
    let (reg, svc, proxy) = short_token_registry().await;
    let c = plain_client();
    let repo: Repository = format!("{}/m/token", proxy.host()).parse().unwrap();
    let data = noise(3_000_000, 41);
    let digest = Digest::sha256_of(&data);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    std::fs::write(&path, &data).unwrap();

    let started = Instant::now();
    bounded(c.push_blob_file(&repo, &path, &digest))
        .await
        .unwrap();
    assert_renewed(&svc, started);
    let direct: Repository = format!("{}/m/token", reg.host()).parse().unwrap();
    let back = common::collect(c.get_blob(&direct, &digest).await.unwrap())
        .await
        .unwrap();
    assert!(back.as_ref() == data.as_slice());
}

// ---------------------------------------------------------------------------------------------
// The disk filling during a pull
// ---------------------------------------------------------------------------------------------

/// The size of the small disk: room for the config and one layer, not for three.
const DISK: u64 = 512 * 1024;

/// A tmpfs of [`DISK`] bytes mounted on a new directory (root only); unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        if std::env::var_os("HARBOR_FAULT_MATRIX_DISK").is_some_and(|v| v == "rlimit") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={DISK}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// Pulls `reference` into `dest` (on a full disk): the pull must fail with an I/O error and
/// leave no partial file, no corrupt blob and no image recorded.
async fn pull_onto_a_full_disk(reference: &ImageReference, dest: &Path) {
    let c = plain_client();
    let e = bounded(c.pull_image(reference, dest, &one_at_a_time()))
        .await
        .unwrap_err();
    assert!(matches!(e, harbor_client::Error::Io { .. }), "{e:?}");
    assert!(!e.is_retryable(), "{e}");
    assert_clean_layout(dest);
    let layout = OciLayout::open(dest).await.unwrap();
    assert!(layout.index().await.unwrap().manifests.is_empty());
}

/// Where the child process finds its registry and target directory.
const DISK_CHILD: &str = "HARBOR_FAULT_MATRIX_DISK_CHILD";

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_pull_onto_a_full_disk_is_an_io_error_and_leaves_no_partial_file() {
    let reg = common::registry().await.expect("checked by `needs`");
    let src = tempfile::tempdir().unwrap();
    image(src.path(), 51).await;
    let direct = plain_client();
    let at: ImageReference = format!("{}/m/disk:v1", reg.host()).parse().unwrap();
    direct
        .push_image(src.path(), &at, &ImageOptions::default())
        .await
        .unwrap();

    if let Some(disk) = SmallDisk::mount() {
        // A real full filesystem: ENOSPC.
        pull_onto_a_full_disk(&at, disk.dir.path()).await;
        return;
    }
    // Without the right to mount: this test binary again, in a child process whose files may
    // not grow past half a layer (RLIMIT_FSIZE: EFBIG, as a full disk would give ENOSPC).
    let dest = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new("prlimit")
        .arg(format!("--fsize={}", LAYER / 2))
        .arg("--")
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "disk_full_child", "--ignored", "--nocapture"])
        .env(DISK_CHILD, format!("{at}|{}", dest.path().display()))
        .output();
    let out = bounded(out).await.expect("run prlimit (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_clean_layout(dest.path());
}

#[tokio::test]
#[ignore = "run as a child process by a_pull_onto_a_full_disk_is_an_io_error_and_leaves_no_partial_file"]
async fn disk_full_child() {
    let spec = std::env::var(DISK_CHILD).expect("only run as a child of the disk-full test");
    let (reference, dest) = spec.split_once('|').unwrap();
    // SIGXFSZ would kill the process at the limit: handled, the write fails with EFBIG.
    const SIGXFSZ: i32 = 25;
    let _handled =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(SIGXFSZ)).unwrap();
    pull_onto_a_full_disk(&reference.parse().unwrap(), Path::new(dest)).await;
}

// ---------------------------------------------------------------------------------------------
// A slow-loris registry
// ---------------------------------------------------------------------------------------------

/// What the slow registry trickles, one byte every 50 ms.
#[derive(Debug, Clone, Copy)]
enum Trickle {
    /// The status line, then header bytes, forever.
    Headers,
    /// Whole headers announcing a large body, then its bytes.
    Body,
}

/// A loopback fake registry that answers every request with a trickle; counts connections.
async fn slow_loris(trickle: Trickle) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let seen = conns.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if s.read(&mut b).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                // A resumed download asks for `Range: bytes=N-`: answered 206 from N.
                let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let from = text
                    .split("range: bytes=")
                    .nth(1)
                    .and_then(|r| r.split('-').next())
                    .and_then(|n| n.parse::<u64>().ok());
                let start = match (trickle, from) {
                    (Trickle::Headers, _) => "HTTP/1.1 200 OK\r\nX-Slow: ".to_owned(),
                    (Trickle::Body, None) => {
                        "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n".to_owned()
                    }
                    (Trickle::Body, Some(n)) => format!(
                        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {n}-999999/1000000\r\nContent-Length: {}\r\n\r\n",
                        1_000_000 - n
                    ),
                };
                if s.write_all(start.as_bytes()).await.is_err() {
                    return;
                }
                loop {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    if s.write_all(b"a").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, conns)
}

/// A client whose limits a test can wait for: headers within 2 s, at least 1 KiB per second
/// of waiting for a body, no retries, `resumes` resumed downloads.
fn impatient(resumes: u32) -> RegistryClient {
    RegistryClient::builder()
        .configure_transport(|t| {
            t.read_timeout(Duration::from_secs(2))
                .low_speed_limit(1024, Duration::from_secs(1))
                .retry_policy(RetryPolicy::none())
        })
        .resume_attempts(resumes)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_registry_trickling_headers_times_out_within_the_read_timeout() {
    let (addr, _) = slow_loris(Trickle::Headers).await;
    let r: ImageReference = format!("{addr}/m/slow:v1").parse().unwrap();
    let started = Instant::now();
    let e = bounded(impatient(0).get_manifest(&r)).await.unwrap_err();
    let took = started.elapsed();
    assert!(e.is_timeout(), "{e:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[tokio::test]
async fn a_registry_trickling_a_manifest_times_out_at_the_low_speed_limit() {
    let (addr, _) = slow_loris(Trickle::Body).await;
    let r: ImageReference = format!("{addr}/m/slow:v1").parse().unwrap();
    let started = Instant::now();
    let e = bounded(impatient(0).get_manifest(&r)).await.unwrap_err();
    let took = started.elapsed();
    assert!(e.is_timeout() && e.is_retryable(), "{e:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn a_registry_trickling_a_blob_times_out_after_the_resumes_and_leaves_nothing() {
    let (addr, conns) = slow_loris(Trickle::Body).await;
    let repo: Repository = format!("{addr}/m/slow").parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    let d = Digest::sha256_of(b"never comes");
    let started = Instant::now();
    // One resume: two trickles of a 1 s window each, then a typed timeout.
    let e = bounded(impatient(1).pull_blob_to_file(&repo, &d, Some(1_000_000), &path))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(e.is_timeout(), "{e:?}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(
        conns.load(Ordering::SeqCst),
        2,
        "the download was resumed once"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no partial file left"
    );
}

// ---------------------------------------------------------------------------------------------
// A slow link, and a registry that stops reading an upload or does not answer it
// ---------------------------------------------------------------------------------------------

/// A client with a read timeout of 2 s, no retries, no resumes: any cut fails the upload.
fn strict(chunk: Option<u64>) -> RegistryClient {
    let b = RegistryClient::builder()
        .configure_transport(|t| {
            t.read_timeout(Duration::from_secs(2))
                .retry_policy(RetryPolicy::none())
        })
        .resume_attempts(0);
    match chunk {
        Some(c) => b.chunk_size(c),
        None => b,
    }
    .build()
    .unwrap()
}

/// Pushes `size` bytes as a blob file with `client` through a proxy passing `rate` bytes
/// per second upstream; checks the registry holds it. Returns how long the push took.
async fn push_slowly(client: RegistryClient, size: usize, rate: u64, name: &str) -> Duration {
    let reg = common::registry().await.expect("checked by `needs`");
    let proxy = PhaseProxy::start_with(reg.addr, None, None, Some(rate)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    let data = noise(size, size as u64);
    std::fs::write(&path, &data).unwrap();
    let digest = Digest::sha256_of(&data);
    let repo: Repository = format!("{}/{name}", proxy.host()).parse().unwrap();
    let started = Instant::now();
    bounded(client.push_blob_file(&repo, &path, &digest))
        .await
        .expect("an upload that keeps moving is never cut");
    let took = started.elapsed();
    let direct: Repository = format!("{}/{name}", reg.host()).parse().unwrap();
    let back = common::collect(plain_client().get_blob(&direct, &digest).await.unwrap())
        .await
        .unwrap();
    assert!(
        back.as_ref() == data.as_slice(),
        "the registry holds the blob"
    );
    took
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_streamed_upload_three_times_longer_than_the_read_timeout_completes() {
    // 16 MB at 4 MB/s in one streamed PATCH, with a read timeout of 2 s. (The client's
    // socket may hold up to 4 MiB, 1 s at this rate: the last bytes the link has yet to carry
    // count toward the wait for the answer.)
    let took = push_slowly(strict(None), 16_000_000, 4_000_000, "m/slow-stream").await;
    assert!(took >= Duration::from_millis(3_500), "{took:?}");
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_chunked_upload_whose_chunk_outlasts_the_read_timeout_completes() {
    // A 12 MiB chunk in memory at 4 MB/s: 3.1 s for its PATCH, with a read timeout of 2 s.
    let took = push_slowly(
        strict(Some(12 << 20)),
        13_000_000,
        4_000_000,
        "m/slow-chunk",
    )
    .await;
    assert!(took >= Duration::from_millis(3_000), "{took:?}");
}

/// Pushes a blob file of `size` bytes in one streamed PATCH through a proxy that holds the
/// PATCH's connection at `cut` (never released): the push fails with `Error::Stalled`, its
/// body sent or not as `body_sent` says, after the 2 s read timeout.
async fn push_held_stalls(cut: Cut, size: usize, name: &str, body_sent: bool) {
    let reg = common::registry().await.expect("checked by `needs`");
    let hold = Arc::new(Hold::default());
    let proxy =
        PhaseProxy::start_with(reg.addr, Some(phase(PATCH, 1, cut)), Some(hold), None).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    let data = noise(size, 7);
    std::fs::write(&path, &data).unwrap();
    let repo: Repository = format!("{}/{name}", proxy.host()).parse().unwrap();
    let started = Instant::now();
    let e = bounded(strict(None).push_blob_file(&repo, &path, &Digest::sha256_of(&data)))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(proxy.fired(), 1, "the hold was reached");
    assert!(
        matches!(e, harbor_client::Error::Stalled { body_sent: sent, .. } if sent == body_sent),
        "{e:?}"
    );
    assert!(
        e.is_timeout() && e.is_retryable() && e.may_have_been_sent(),
        "{e:?}"
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_registry_that_stops_reading_an_upload_is_a_stall_within_the_read_timeout() {
    // 16 MB: far more than the sockets hold, so the client's writes stop.
    push_held_stalls(Cut::Body(200_000), 16_000_000, "m/stops-reading", false).await;
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn an_upload_the_registry_does_not_answer_is_a_stall_after_its_body() {
    push_held_stalls(Cut::Answer(0), 300_000, "m/no-answer", true).await;
}
