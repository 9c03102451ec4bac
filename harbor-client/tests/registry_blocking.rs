//! The blocking registry client against a real `docker-registry` (with and without token
//! auth) and `skopeo`: push, list, fetch, pull back byte-identical, delete; verification and
//! resume through a fault proxy; no deadlock when clones feed each other through a pipe; and
//! the `Error::Config` answer inside an async runtime.
//!
//! The harness (registry, token service, proxy) runs on a multi-thread runtime the test owns;
//! the blocking client is called from the test's own thread, outside any runtime.

#![cfg(feature = "blocking")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{Fault, FaultProxy, blob_names, gzip_stored, make_image, noise, skopeo, tool};
use harbor_client::Error;
use harbor_client::registry::blocking::{MountOutcome, RegistryClient};
use harbor_client::registry::{
    Descriptor, Digest, ImageOptions, ImageReference, MediaType, ProgressEvent, Repository,
};
use harbor_client::transport::{Credentials, Keychain};

fn harness() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn client() -> RegistryClient {
    RegistryClient::new(
        harbor_client::registry::RegistryClient::builder()
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn repo(host: &str, name: &str) -> Repository {
    format!("{host}/{name}").parse().unwrap()
}

/// Runs `f` on a thread of its own and fails the test if it does not end in time (a hang is
/// a failure, not a stuck test run).
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("no answer within {secs} s: a deadlock or a hang")
        }
        Err(e) => panic!("the checked thread failed (its panic is printed above): {e}"),
    }
}

/// Pushes a config and two layers through three upload paths, then the manifest under `tag`.
/// Returns the manifest bytes and the blobs.
fn push_by_hand(c: &RegistryClient, r: &Repository, tag: &str) -> (Bytes, Vec<(Digest, Vec<u8>)>) {
    // A layer from a `Read` (digest unknown beforehand, hashed while sending).
    let layer1 = noise(700_000, 1);
    let (d1, n1) = c
        .push_blob_stream(r, std::io::Cursor::new(layer1.clone()))
        .unwrap();
    assert_eq!((d1.clone(), n1), (Digest::sha256_of(&layer1), 700_000));
    // A layer through a manual session: a chunk, then the rest with the final PUT.
    let layer2 = noise(90_000, 2);
    let d2 = Digest::sha256_of(&layer2);
    let mut s = c.start_upload(r).unwrap();
    s.patch_chunk(Bytes::copy_from_slice(&layer2[..40_000]))
        .unwrap();
    assert_eq!(s.offset(), 40_000);
    s.finish(&d2, Some(Bytes::copy_from_slice(&layer2[40_000..])))
        .unwrap();
    // The config in one request.
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let dc = c.push_blob(r, Bytes::from_static(config)).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "config": Descriptor::new(MediaType::OCI_CONFIG, dc.clone(), config.len() as u64),
        "layers": [
            Descriptor::new(MediaType::OCI_LAYER_GZIP, d1.clone(), layer1.len() as u64),
            Descriptor::new(MediaType::OCI_LAYER_GZIP, d2.clone(), layer2.len() as u64),
        ],
    }))
    .unwrap();
    let reference = ImageReference::with_tag(r.clone(), tag.parse().unwrap());
    let md = c
        .put_manifest(&reference, manifest.clone().into(), None)
        .unwrap();
    assert_eq!(md.digest, Digest::sha256_of(&manifest));
    (
        manifest.into(),
        vec![(dc, config.to_vec()), (d1, layer1), (d2, layer2)],
    )
}

/// Push, list, fetch, pull back, delete: what a CLI tool does, against the real registry.
fn roundtrip(c: &RegistryClient, host: &str) {
    c.ping(host).unwrap();
    let r = repo(host, "blocking/app");
    let (manifest, blobs) = push_by_hand(c, &r, "v1");
    let v2 = ImageReference::with_tag(r.clone(), "v2".parse().unwrap());
    c.put_manifest(&v2, manifest.clone(), Some(MediaType::OCI_MANIFEST))
        .unwrap();

    // Listing: a page, every page, lazily.
    let page = c.list_tags(&r, None, None).unwrap();
    assert_eq!(page.tags, ["v1", "v2"]);
    assert_eq!(c.list_tags_all(&r, Some(1)).unwrap(), ["v1", "v2"]);
    let lazy: Vec<String> = c.list_tags_iter(&r, None).map(Result::unwrap).collect();
    assert_eq!(lazy, ["v1", "v2"]);
    assert!(
        c.list_catalog_all(host, Some(1))
            .unwrap()
            .contains(&"blocking/app".to_owned())
    );

    // The manifest as pushed.
    let v1 = ImageReference::with_tag(r.clone(), "v1".parse().unwrap());
    let got = c.get_manifest(&v1).unwrap();
    assert_eq!(got.bytes, manifest);
    assert_eq!(got.digest, Digest::sha256_of(&manifest));
    assert_eq!(c.head_manifest(&v1).unwrap().digest, got.digest);

    // Every blob back, byte-identical, through each download path.
    let dir = tempfile::tempdir().unwrap();
    for (d, data) in &blobs {
        assert_eq!(c.head_blob(&r, d).unwrap(), data.len() as u64);
        let mut reader = c.get_blob(&r, d).unwrap();
        assert_eq!(reader.size(), Some(data.len() as u64));
        let mut read = Vec::new();
        reader.read_to_end(&mut read).unwrap();
        assert!(read == *data, "get_blob reads the pushed bytes");
        let mut written = Vec::new();
        let n = c
            .pull_blob_to_writer(&r, d, Some(data.len() as u64), &mut written)
            .unwrap();
        assert_eq!(n, data.len() as u64);
        assert!(
            written == *data,
            "pull_blob_to_writer writes the pushed bytes"
        );
        let path = dir.path().join(d.encoded());
        c.pull_blob_to_file(&r, d, Some(data.len() as u64), &path)
            .unwrap();
        assert!(std::fs::read(&path).unwrap() == *data);
    }
    let (d1, layer1) = &blobs[1];
    let mut part = Vec::new();
    c.get_blob_range(&r, d1, 1000, Some(1999))
        .unwrap()
        .read_to_end(&mut part)
        .unwrap();
    assert_eq!(part, layer1[1000..2000]);
    let e = c
        .pull_blob_to_writer(&r, d1, Some(5), &mut Vec::new())
        .unwrap_err();
    assert!(matches!(e, Error::Protocol { .. }), "{e}");

    // Referrers on a registry without the API: the tag-schema fallback, empty.
    let refs = c.referrers(&r, &got.digest, None).unwrap();
    assert!(refs.from_tag_schema && refs.manifests.is_empty());

    // Delete the manifest (both tags go with it) and a blob.
    let by_digest = ImageReference::with_digest(r.clone(), got.digest.clone());
    c.delete_manifest(&by_digest).unwrap();
    assert!(c.get_manifest(&v1).unwrap_err().is_not_found());
    assert!(c.get_manifest(&by_digest).unwrap_err().is_not_found());
    c.delete_blob(&r, d1).unwrap();
    assert!(!c.blob_exists(&r, d1).unwrap());
}

#[harbor_testkit::needs("docker-registry")]
#[test]
fn push_list_fetch_pull_delete_without_auth() {
    let rt = harness();
    let Some(reg) = rt.block_on(common::registry()) else {
        return;
    };
    roundtrip(&client(), &reg.host());
}

#[harbor_testkit::needs("docker-registry")]
#[test]
fn push_list_fetch_pull_delete_with_token_auth() {
    let rt = harness();
    let Some((reg, tokens)) = rt.block_on(common::auth::start(None, Duration::from_secs(300)))
    else {
        return;
    };
    let c = RegistryClient::new(
        harbor_client::registry::RegistryClient::builder()
            .keychain(Keychain::new().with(&reg.host(), Credentials::basic("u", "p")))
            .build()
            .unwrap(),
    )
    .unwrap();
    roundtrip(&c, &reg.host());
    assert!(tokens.count() > 0, "the registry asked for tokens");
    // The cache is shared by clones: the same operation again needs no new token.
    let before = tokens.count();
    let r = repo(&reg.host(), "blocking/app");
    c.clone().list_tags(&r, None, None).unwrap();
    assert_eq!(tokens.count(), before);
}

#[harbor_testkit::needs("docker-registry")]
#[test]
fn images_move_with_progress_and_callbacks_cannot_reenter() {
    let rt = harness();
    let Some(reg) = rt.block_on(common::registry()) else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    let desc = rt.block_on(make_image(
        src.path(),
        "v1",
        &[noise(300_000, 3), noise(10, 4)],
    ));
    let c = client();
    let events = Arc::new(Mutex::new(Vec::new()));
    let reentry = Arc::new(Mutex::new(None));
    let (ev, re, inner) = (events.clone(), reentry.clone(), c.clone());
    let probe = repo(&reg.host(), "blocking/img");
    let opts = ImageOptions::default()
        .concurrency(2)
        .progress(Arc::new(move |e| {
            // Calling the blocking client from its own runtime must be refused, not hang.
            re.lock()
                .unwrap()
                .get_or_insert_with(|| inner.head_blob(&probe, &Digest::sha256_of(b"")));
            ev.lock().unwrap().push(e);
        }));
    let r: ImageReference = format!("{}/blocking/img:v1", reg.host()).parse().unwrap();
    assert_eq!(c.push_image(src.path(), &r, &opts).unwrap(), desc.digest);
    let done = |evs: &[ProgressEvent]| {
        evs.iter()
            .filter(|e| matches!(e, ProgressEvent::BlobDone { .. }))
            .count()
    };
    assert_eq!(
        done(&events.lock().unwrap()),
        3,
        "two layers and the config"
    );
    let reentered = reentry.lock().unwrap().take().unwrap();
    assert!(
        matches!(reentered, Err(Error::Config { .. })),
        "{reentered:?}"
    );

    // Copy within the registry (mounted), then pull the copy into a layout.
    events.lock().unwrap().clear();
    let dst: ImageReference = format!("{}/blocking/copy:v1", reg.host()).parse().unwrap();
    assert_eq!(c.copy_image(&r, &dst, &opts).unwrap(), desc.digest);
    let mounted = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, ProgressEvent::BlobMounted { .. }))
        .count();
    assert_eq!(mounted, 3);
    let out = tempfile::tempdir().unwrap();
    let pulled = c.pull_image(&dst, out.path(), &opts).unwrap();
    assert_eq!(pulled.digest, desc.digest);
    assert_eq!(blob_names(out.path()), blob_names(src.path()));

    // A mount from a repository that has the blob is done at once; from one that lacks it,
    // the registry opens an upload the blocking session can complete or cancel.
    let layer = Digest::sha256_of(&noise(10, 4));
    let empty = repo(&reg.host(), "blocking/empty");
    let m = c.mount_blob(&empty, &layer, r.repository()).unwrap();
    assert!(matches!(m, MountOutcome::Mounted));
    let unknown = Digest::sha256_of(b"nowhere");
    match c.mount_blob(&empty, &unknown, r.repository()).unwrap() {
        MountOutcome::Upload(s) => {
            assert_eq!(s.repository(), &empty);
            s.cancel().unwrap();
        }
        other => panic!("expected an upload session, got {other:?}"),
    }
}

#[harbor_testkit::needs("docker-registry")]
#[test]
fn downloads_resume_and_verify_like_the_async_client() {
    let rt = harness();
    let Some(reg) = rt.block_on(common::registry()) else {
        return;
    };
    let c = client();
    let data = noise(3 * 1024 * 1024 + 17, 42);
    let direct = repo(&reg.host(), "blocking/faults");
    let d = c.push_blob(&direct, data.clone().into()).unwrap();

    // The connection cut mid-blob: resumed, the right bytes.
    let cut = rt.block_on(FaultProxy::start(
        reg.addr,
        Fault::CutDownstreamAfter(1_000_000),
    ));
    let mut got = Vec::new();
    c.get_blob(&repo(&cut.host(), "blocking/faults"), &d)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(
        cut.faults_fired.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert!(got == data, "resumed bytes are the right bytes");

    // A flipped byte: the read fails with InvalidData, the harbor error inside, and keeps
    // failing rather than reporting a clean end.
    let flip = rt.block_on(FaultProxy::start(
        reg.addr,
        Fault::FlipDownstreamAt(500_000),
    ));
    let mut reader = c
        .get_blob(&repo(&flip.host(), "blocking/faults"), &d)
        .unwrap();
    let e = reader.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    let inner = e.get_ref().and_then(|e| e.downcast_ref::<Error>());
    assert!(matches!(inner, Some(Error::DigestMismatch { .. })), "{e}");
    assert!(reader.read(&mut [0u8; 16]).is_err());
    // A proxy of its own: the first one's connection may be reused past its flip offset.
    let flip = rt.block_on(FaultProxy::start(
        reg.addr,
        Fault::FlipDownstreamAt(500_000),
    ));
    let e = c
        .pull_blob_to_writer(
            &repo(&flip.host(), "blocking/faults"),
            &d,
            None,
            &mut std::io::sink(),
        )
        .unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
}

/// A writer that says when it is first written to.
struct Started<W>(W, Option<std::sync::mpsc::Sender<()>>);

impl<W: std::io::Write> std::io::Write for Started<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(tx) = self.1.take() {
            let _ = tx.send(());
        }
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[harbor_testkit::needs("docker-registry")]
#[test]
fn clones_feed_each_other_through_a_pipe_without_deadlock() {
    let rt = harness();
    let Some(reg) = rt.block_on(common::registry()) else {
        return;
    };
    let c = client();
    let src = repo(&reg.host(), "blocking/pipe-src");
    let data = noise(2 * 1024 * 1024 + 5, 9);
    let d = c.push_blob(&src, data.clone().into()).unwrap();
    let host = reg.host();
    within(60, move || {
        // One clone downloads into a pipe (64 KiB of buffer: the writer blocks), another
        // uploads from its other end at the same time.
        // The upload starts only once the download is under way and its writer blocks: a
        // client that held its runtime while writing would never let the upload drain the pipe.
        let (pipe_r, pipe_w) = std::io::pipe().unwrap();
        let (started_tx, started) = std::sync::mpsc::channel();
        let mut w = Started(pipe_w, Some(started_tx));
        let (down, s2, d2) = (c.clone(), src.clone(), d.clone());
        let t = std::thread::spawn(move || down.pull_blob_to_writer(&s2, &d2, None, &mut w));
        started.recv().unwrap();
        let via_pipe = repo(&host, "blocking/pipe-dst");
        let (pd, n) = c.push_blob_stream(&via_pipe, pipe_r).unwrap();
        assert_eq!(t.join().unwrap().unwrap(), n);
        assert_eq!(pd, d);
        // A BlobReader of the same client fed straight into an upload.
        let reader = c.get_blob(&src, &d).unwrap();
        let direct = repo(&host, "blocking/reader-dst");
        assert_eq!(c.push_blob_stream(&direct, reader).unwrap(), (d.clone(), n));
        // Four clones at once on the shared runtime and pool.
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (c, s, d) = (c.clone(), src.clone(), d.clone());
                std::thread::spawn(move || {
                    let mut v = Vec::new();
                    c.get_blob(&s, &d).unwrap().read_to_end(&mut v).unwrap();
                    v
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().unwrap() == data);
        }
    });
}

#[harbor_testkit::needs("docker-registry")]
#[test]
fn a_failing_reader_fails_the_upload_with_its_error() {
    struct Broken(usize);
    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(7);
            self.0 -= n;
            Ok(n)
        }
    }
    let rt = harness();
    let Some(reg) = rt.block_on(common::registry()) else {
        return;
    };
    let c = client();
    let r = repo(&reg.host(), "blocking/broken");
    let e = within(60, move || {
        c.push_blob_stream(&r, Broken(600_000)).unwrap_err()
    });
    assert!(
        matches!(&e, Error::Io { source, .. } if source.to_string() == "disk on fire"),
        "{e}"
    );
}

#[harbor_testkit::needs("docker-registry")]
#[test]
fn a_reader_used_inside_a_runtime_refuses_then_goes_on_outside() {
    let rt = harness();
    let Some(reg) = rt.block_on(common::registry()) else {
        return;
    };
    let c = client();
    let r = repo(&reg.host(), "blocking/inside");
    let data = noise(100_000, 5);
    let d = c.push_blob(&r, data.clone().into()).unwrap();
    let mut reader = c.get_blob(&r, &d).unwrap();
    let mut first = [0u8; 10];
    reader.read_exact(&mut first).unwrap();
    let (e, mid, mut reader) = rt.block_on(async move {
        // Bytes already buffered are served without the runtime; the next network read is
        // refused.
        let mut mid = Vec::new();
        loop {
            match reader.fill_buf() {
                Ok([]) => break (None, mid, reader),
                Ok(b) => {
                    let n = b.len();
                    mid.extend_from_slice(b);
                    reader.consume(n);
                }
                Err(e) => break (Some(e), mid, reader),
            }
        }
    });
    let e = e.expect("a network read inside the runtime fails");
    let inner = e.get_ref().and_then(|e| e.downcast_ref::<Error>());
    assert!(matches!(inner, Some(Error::Config { .. })), "{e}");
    // Outside the runtime again, the transfer goes on where it stopped and still verifies.
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    let all: Vec<u8> = first.iter().chain(&mid).chain(&rest).copied().collect();
    assert!(
        all == data,
        "no byte lost or repeated around the refused read"
    );
}

#[tokio::test]
async fn inside_an_async_runtime_every_call_is_a_config_error() {
    let c = client();
    let r = repo("127.0.0.1:9", "never/contacted");
    let d = Digest::sha256_of(b"x");
    let e = c.ping("127.0.0.1:9").unwrap_err();
    match &e {
        Error::Config { message, .. } => {
            assert!(
                message.contains("harbor_client::registry::RegistryClient"),
                "{message}"
            );
        }
        other => panic!("expected Error::Config, got {other:?}"),
    }
    assert!(matches!(c.get_blob(&r, &d), Err(Error::Config { .. })));
    assert!(matches!(
        c.push_blob_stream(&r, std::io::empty()),
        Err(Error::Config { .. })
    ));
    let mut tags = c.list_tags_iter(&r, None);
    assert!(matches!(tags.next(), Some(Err(Error::Config { .. }))));
    assert!(tags.next().is_none(), "the iterator ends after its error");
    // Dropping the last clone here must not panic either.
    drop(c);
}

/// Inside `spawn_blocking` the client refuses too (tokio does not tell that thread from an
/// async task), and its error says what works there: a plain thread of its own, on which
/// the same call reaches the registry.
#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_spawn_blocking_the_error_names_it_and_a_plain_thread_works() {
    let reg = common::registry().await.expect("checked by `needs`");
    let host = reg.host();
    let c = client();
    let (refused, on_a_thread) = tokio::task::spawn_blocking(move || {
        let refused = c.ping(&host);
        let on_a_thread = std::thread::scope(|s| s.spawn(|| c.ping(&host)).join().unwrap());
        (refused, on_a_thread)
    })
    .await
    .unwrap();
    match refused {
        Err(Error::Config { message, .. }) => {
            for needle in ["spawn_blocking", "block_in_place", "std::thread::scope"] {
                assert!(message.contains(needle), "{needle} in {message}");
            }
        }
        other => panic!("expected Error::Config, got {other:?}"),
    }
    on_a_thread.unwrap();
}

#[harbor_testkit::needs("docker-registry", "skopeo")]
#[test]
fn skopeo_interop_both_ways() {
    let rt = harness();
    let Some(reg) = rt.block_on(common::registry()) else {
        return;
    };
    if tool("skopeo").is_none() {
        return;
    }
    // skopeo pushes, the blocking client pulls the same digests and bytes.
    let src = tempfile::tempdir().unwrap();
    let desc = rt.block_on(make_image(
        src.path(),
        "v1",
        &[
            gzip_stored(&noise(400_000, 11)),
            gzip_stored(&noise(99, 12)),
        ],
    ));
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", src.path().display()),
        &format!("docker://{}/interop/skopeo-in:v1", reg.host()),
    ]);
    let c = client();
    let r: ImageReference = format!("{}/interop/skopeo-in:v1", reg.host())
        .parse()
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let got = c
        .pull_image(&r, out.path(), &ImageOptions::default())
        .unwrap();
    assert_eq!(got.digest, desc.digest);
    assert_eq!(blob_names(out.path()), blob_names(src.path()));
    for name in blob_names(src.path()) {
        let p = |d: &Path| std::fs::read(d.join("blobs/sha256").join(&name)).unwrap();
        assert!(p(out.path()) == p(src.path()), "blob {name}");
    }

    // The blocking client pushes; skopeo copies it out with the same manifest and blobs.
    let mine = tempfile::tempdir().unwrap();
    let desc = rt.block_on(make_image(
        mine.path(),
        "v2",
        &[gzip_stored(&noise(250_000, 13))],
    ));
    let r: ImageReference = format!("{}/interop/ours:v2", reg.host()).parse().unwrap();
    assert_eq!(
        c.push_image(mine.path(), &r, &ImageOptions::default())
            .unwrap(),
        desc.digest
    );
    let back = tempfile::tempdir().unwrap();
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}/interop/ours:v2", reg.host()),
        &format!("oci:{}:v2", back.path().display()),
    ]);
    assert_eq!(blob_names(back.path()), blob_names(mine.path()));
    assert!(
        blob_names(back.path()).contains(desc.digest.encoded()),
        "skopeo kept our manifest bytes"
    );
}
