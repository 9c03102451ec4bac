//! What a registry or a Harbor sends is untrusted: huge tag lists, catalogs and referrers are
//! cut at a cap with a typed error after bounded reading; a `Link` that goes round in a circle
//! stops a listing (and the pull that lists tags) with a typed error; an index that lists a
//! child again moves it once; an upload offset near `u64::MAX` is a typed error, not an
//! overflow; a registry that ignores `Range` is caught; an image that lists a layer twice
//! pulls (against the real `docker-registry`); a blob in the layout with the right size and
//! the wrong bytes is fetched again; errors show no presigned URL signature and no robot secret.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use bytes::Bytes;
use common::fake::{Fake, Seen, resp};
use common::phase::bounded;
use common::{make_image, noise, registry};
use futures_util::{StreamExt as _, TryStreamExt as _};
use harbor_client::registry::{
    Descriptor, Digest, ImageIndex, ImageOptions, ImageReference, MAX_LIST_BODY, MediaType,
    RegistryClient, Repository,
};
use harbor_client::transport::RetryPolicy;
use harbor_client::{Error, HarborClient};

/// A body of `total` bytes, produced lazily 1 MiB at a time: `prefix`, then `filler`
/// repeated. `sent` counts what the server actually produced.
fn huge_body(
    prefix: &'static str,
    filler: &'static [u8],
    total: u64,
    sent: Arc<AtomicU64>,
) -> Body {
    let chunk: bytes::Bytes = filler.repeat((1 << 20) / filler.len()).into();
    let first = futures_util::stream::once(async move {
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(prefix.as_bytes()))
    });
    let rest = futures_util::stream::unfold(0u64, move |n| {
        let chunk = chunk.clone();
        let sent = sent.clone();
        async move {
            if n >= total {
                return None;
            }
            sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            Some((Ok(chunk), n + (1 << 20)))
        }
    });
    Body::from_stream(first.chain(rest))
}

const THREE_HUNDRED_MB: u64 = 300 << 20;

#[tokio::test]
async fn a_300_mb_tag_list_is_refused_after_bounded_reading() {
    for (path_part, prefix, what) in [
        ("/tags/list", r#"{"name":"a","tags":["#, "tag list"),
        ("/_catalog", r#"{"repositories":["#, "catalog"),
        (
            "/referrers/",
            r#"{"schemaVersion":2,"manifests":["#,
            "referrers index",
        ),
    ] {
        let sent = Arc::new(AtomicU64::new(0));
        let s2 = sent.clone();
        let f = Fake::start(move |s| {
            if !s.uri.path().contains(path_part) {
                return resp(404, &[], "");
            }
            // Chunked: no Content-Length to refuse up front, the cap must hold while reading.
            let mut r = http::Response::new(huge_body(
                prefix,
                b"\"v1.0.0-tag\",",
                THREE_HUNDRED_MB,
                s2.clone(),
            ));
            r.headers_mut().insert(
                "content-type",
                http::HeaderValue::from_static("application/json"),
            );
            r
        })
        .await;
        let c = RegistryClient::builder().build().unwrap();
        let repo: Repository = format!("{}/a", f.host()).parse().unwrap();
        let e = match what {
            "tag list" => c.list_tags(&repo, None, None).await.unwrap_err(),
            "catalog" => c.list_catalog(&f.host(), None, None).await.unwrap_err(),
            _ => c
                .referrers(&repo, &Digest::sha256_of(b"x"), None)
                .await
                .unwrap_err(),
        };
        assert!(
            matches!(e, Error::TooLarge { what: w, .. } if w == what),
            "{what}: {e}"
        );
        // The server produced a little more than the cap (socket buffers), not 300 MB.
        let produced = sent.load(Ordering::SeqCst);
        assert!(
            produced < (MAX_LIST_BODY as u64) * 3,
            "{what}: {produced} bytes produced"
        );
    }
}

#[tokio::test]
async fn a_tag_list_announced_too_large_is_not_read_at_all() {
    let sent = Arc::new(AtomicU64::new(0));
    let s2 = sent.clone();
    let f = Fake::start(move |_| {
        let body = huge_body(r#"{"tags":["#, b"\"t\",", THREE_HUNDRED_MB, s2.clone());
        let mut r = http::Response::new(body);
        r.headers_mut().insert(
            "content-length",
            http::HeaderValue::from_str(&(THREE_HUNDRED_MB + 9).to_string()).unwrap(),
        );
        r
    })
    .await;
    let c = RegistryClient::builder().build().unwrap();
    let repo: Repository = format!("{}/a", f.host()).parse().unwrap();
    let e = c.list_tags(&repo, None, None).await.unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    let produced = sent.load(Ordering::SeqCst);
    assert!(produced < 32 << 20, "{produced} bytes produced");
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_listing_a_layer_twice_pulls() {
    let Some(reg) = registry().await else {
        return;
    };
    // Old Docker images repeat their empty layer.
    let empty = vec![
        0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let src = tempfile::tempdir().unwrap();
    let desc = make_image(
        src.path(),
        "v1",
        &[empty.clone(), noise(300_000, 51), empty.clone(), empty],
    )
    .await;
    let c = RegistryClient::builder().build().unwrap();
    let r: ImageReference = format!("{}/old/image:v1", reg.host()).parse().unwrap();
    c.push_image(src.path(), &r, &ImageOptions::default().concurrency(4))
        .await
        .unwrap();
    for round in 0..3 {
        let out = tempfile::tempdir().unwrap();
        let got = c
            .pull_image(&r, out.path(), &ImageOptions::default().concurrency(4))
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(got.digest, desc.digest);
        // No temporary file is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(out.path().join("blobs/sha256"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_of_the_right_size_with_wrong_bytes_is_fetched_again() {
    let Some(reg) = registry().await else {
        return;
    };
    let layer = noise(100_000, 52);
    let src = tempfile::tempdir().unwrap();
    make_image(src.path(), "v1", std::slice::from_ref(&layer)).await;
    let c = RegistryClient::builder().build().unwrap();
    let r: ImageReference = format!("{}/team/app:v1", reg.host()).parse().unwrap();
    c.push_image(src.path(), &r, &ImageOptions::default())
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    c.pull_image(&r, out.path(), &ImageOptions::default())
        .await
        .unwrap();
    let path = out
        .path()
        .join("blobs/sha256")
        .join(Digest::sha256_of(&layer).encoded());
    let mut corrupt = layer.clone();
    corrupt[500] ^= 0xff;
    std::fs::write(&path, &corrupt).unwrap();
    c.pull_image(&r, out.path(), &ImageOptions::default())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        layer,
        "verified, not trusted by size"
    );
}

#[tokio::test]
async fn a_transport_error_shows_no_presigned_query() {
    // A closed port stands for a storage backend that cannot be reached.
    let closed = common::free_port();
    let f = Fake::start(move |_| {
        let loc = format!(
            "http://127.0.0.1:{closed}/bucket/blob?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=SIGNATURE-SECRET"
        );
        resp(307, &[("location", loc.as_str())], "")
    })
    .await;
    let c = RegistryClient::builder()
        .configure_transport(|t| t.retry_policy(harbor_client::transport::RetryPolicy::none()))
        .build()
        .unwrap();
    let repo: Repository = format!("{}/p/app", f.host()).parse().unwrap();
    let e = c
        .get_blob(&repo, &Digest::sha256_of(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e}");
    let mut shown = format!("{e} {e:?}");
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        shown.push_str(&format!(" {s} {s:?}"));
        src = s.source();
    }
    assert!(!shown.contains("SIGNATURE-SECRET"), "{shown}");
    assert!(!shown.contains("AKIAEXAMPLE"), "{shown}");
    assert!(
        shown.contains("/bucket/blob"),
        "the place is still named: {shown}"
    );
}

#[tokio::test]
async fn a_robot_secret_never_reaches_an_error() {
    // Harbor answers the creation with the robot's secret; here in a shape the model refuses.
    let f = Fake::start(|_| {
        resp(
            201,
            &[("content-type", "application/json")],
            r#"{"id":"forty-two","name":"robot$ci","secret":"ROBOT-SECRET-VALUE","creation_time":"2024-01-01T00:00:00Z"}"#,
        )
    })
    .await;
    let c = HarborClient::builder(format!("http://{}", f.host()))
        .build()
        .unwrap();
    let e = c.create_robot(&Default::default()).await.unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e}");
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("ROBOT-SECRET-VALUE"), "{shown}");
    assert!(
        shown.contains("robot$ci"),
        "the rest of the excerpt stays: {shown}"
    );
}

/// A small image: (manifest, config, layer).
fn tiny_image() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let layer = b"a layer".to_vec();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "config": Descriptor::new(MediaType::OCI_CONFIG, Digest::sha256_of(&config), config.len() as u64),
        "layers": [Descriptor::new(MediaType::OCI_LAYER_GZIP, Digest::sha256_of(&layer), layer.len() as u64)],
    }))
    .unwrap();
    (manifest, config, layer)
}

/// An index listing `child` (a manifest of `media_type`) twice.
fn index_twice(child: &[u8], media_type: &str) -> Vec<u8> {
    let d = Descriptor::new(media_type, Digest::sha256_of(child), child.len() as u64);
    let mut i = ImageIndex::new();
    i.manifests = vec![d.clone(), d];
    serde_json::to_vec(&i).unwrap()
}

/// Serves `manifests` (by digest, and the first also as `v1`) and `blobs` of any repository.
fn serve(s: &Seen, manifests: &[(&[u8], &str)], blobs: &[&[u8]]) -> Option<http::Response<Body>> {
    let path = s.uri.path();
    if let Some(r) = path.split("/manifests/").nth(1) {
        for (i, (m, ct)) in manifests.iter().enumerate() {
            if r == Digest::sha256_of(m).as_str() || (i == 0 && r == "v1") {
                return Some(resp(200, &[("content-type", ct)], m.to_vec()));
            }
        }
    }
    for b in blobs {
        if path.ends_with(Digest::sha256_of(b).as_str()) {
            return Some(resp(
                200,
                &[("content-length", &b.len().to_string())],
                b.to_vec(),
            ));
        }
    }
    None
}

#[tokio::test]
async fn a_tag_list_or_catalog_whose_link_goes_round_in_a_circle_stops() {
    // A `Link` to the page itself, and one that keeps `last` but changes another parameter.
    for (what, circle) in [("itself", false), ("the same last", true)] {
        let f = Fake::start(move |s| {
            let n = s.uri.query().map_or(0, |q| q.len());
            let next = if circle {
                format!("<{}?last=a&x={n}>; rel=\"next\"", s.uri.path())
            } else {
                format!("<{}>; rel=\"next\"", s.uri)
            };
            let body = if s.uri.path().ends_with("/_catalog") {
                r#"{"repositories":["a"]}"#
            } else {
                r#"{"name":"a","tags":["a"]}"#
            };
            resp(200, &[("link", next.as_str())], body)
        })
        .await;
        let c = RegistryClient::builder().build().unwrap();
        let repo: Repository = format!("{}/a", f.host()).parse().unwrap();
        let tags = bounded(c.list_tags_stream(&repo, Some(1)).try_collect::<Vec<_>>()).await;
        let e = tags.unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "tags, {what}: {e}");
        let repos = bounded(
            c.list_catalog_stream(&f.host(), None)
                .try_collect::<Vec<_>>(),
        )
        .await;
        let e = repos.unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "catalog, {what}: {e}");
        assert!(f.all().len() <= 6, "{what}: {} requests", f.all().len());
    }
}

#[tokio::test]
async fn a_referrers_list_whose_link_goes_round_in_a_circle_stops_at_once() {
    // A referrers page whose `Link` names itself: refused on the second page, not after the
    // 64 pages the cap allows.
    let f = Fake::start(|s| {
        let next = format!("<{}>; rel=\"next\"", s.uri);
        resp(
            200,
            &[("link", next.as_str()), ("content-type", MediaType::OCI_INDEX)],
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
        )
    })
    .await;
    let c = RegistryClient::builder().build().unwrap();
    let repo: Repository = format!("{}/a", f.host()).parse().unwrap();
    let e = bounded(c.referrers(&repo, &Digest::sha256_of(b"x"), None))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Protocol { .. }), "{e}");
    assert!(e.to_string().contains("page read already"), "{e}");
    assert_eq!(f.all().len(), 1, "the page was fetched once");
}

#[tokio::test]
async fn a_pull_from_a_registry_whose_tag_list_goes_round_in_a_circle_stops() {
    // Pulling lists the tags for cosign's; a `Link` to itself must not keep the pull going.
    let f = Fake::start(|s| {
        let (manifest, config, layer) = tiny_image();
        if s.uri.path().ends_with("/tags/list") {
            let next = format!("<{}>; rel=\"next\"", s.uri);
            return resp(
                200,
                &[("link", next.as_str())],
                r#"{"name":"x","tags":["v1"]}"#,
            );
        }
        serve(
            s,
            &[(&manifest, MediaType::OCI_MANIFEST)],
            &[&config, &layer],
        )
        .unwrap_or_else(|| resp(404, &[], ""))
    })
    .await;
    let c = RegistryClient::builder().build().unwrap();
    let r: ImageReference = format!("{}/x:v1", f.host()).parse().unwrap();
    let out = tempfile::tempdir().unwrap();
    let pulled = bounded(c.pull_image(&r, out.path(), &ImageOptions::default())).await;
    let e = pulled.unwrap_err();
    assert!(matches!(e, Error::Protocol { .. }), "{e}");
}

#[tokio::test]
async fn an_index_listing_a_child_again_moves_it_once() {
    // index -> child index (listed twice) -> image (listed twice): without remembering what
    // moved, the image would be fetched and pushed four times (2^depth).
    let (image, config, layer) = tiny_image();
    let child = index_twice(&image, MediaType::OCI_MANIFEST);
    let root = index_twice(&child, MediaType::OCI_INDEX);
    let (i2, c2) = (image.clone(), child.clone());
    let f = Fake::start(move |s| match (s.method.as_str(), s.uri.path()) {
        ("GET", p) if p.starts_with("/v2/src/") => serve(
            s,
            &[
                (&root, MediaType::OCI_INDEX),
                (&c2, MediaType::OCI_INDEX),
                (&i2, MediaType::OCI_MANIFEST),
            ],
            &[&config, &layer],
        )
        .unwrap_or_else(|| resp(404, &[], "")),
        // The destination holds every blob and takes every manifest.
        ("HEAD", p) if p.starts_with("/v2/dst/x/blobs/") => {
            resp(200, &[("content-length", "7")], "")
        }
        ("PUT", p) if p.starts_with("/v2/dst/x/manifests/") => resp(201, &[], ""),
        _ => resp(404, &[], ""),
    })
    .await;
    let c = RegistryClient::builder().build().unwrap();
    let src: ImageReference = format!("{}/src/x:v1", f.host()).parse().unwrap();
    let dst: ImageReference = format!("{}/dst/x:v1", f.host()).parse().unwrap();
    let options = ImageOptions::default().referrers(false).cosign_tags(false);
    bounded(c.copy_image(&src, &dst, &options)).await.unwrap();
    for (what, m) in [("child index", &child), ("image", &image)] {
        let d = Digest::sha256_of(m).to_string();
        let gets =
            f.count(|s| s.method == "GET" && s.uri.path() == format!("/v2/src/x/manifests/{d}"));
        let puts =
            f.count(|s| s.method == "PUT" && s.uri.path() == format!("/v2/dst/x/manifests/{d}"));
        assert_eq!((gets, puts), (1, 1), "the {what} moved once");
    }
}

#[tokio::test]
async fn an_upload_offset_near_u64_max_is_a_protocol_error_not_an_overflow() {
    // The registry reports 18446744073709551615 bytes received: one more byte does not fit.
    let f = Fake::start(|s| match s.method.as_str() {
        "POST" => resp(202, &[("location", "/v2/a/blobs/uploads/u1")], ""),
        "GET" => resp(204, &[("range", "0-18446744073709551614")], ""),
        _ => resp(202, &[], ""),
    })
    .await;
    let c = RegistryClient::builder().build().unwrap();
    let repo: Repository = format!("{}/a", f.host()).parse().unwrap();
    let mut session = c.start_upload(&repo).await.unwrap();
    assert_eq!(session.refresh().await.unwrap(), u64::MAX);
    let e = session
        .patch_chunk(Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Protocol { .. }), "{e}");
    let e = session
        .finish(&Digest::sha256_of(b"x"), Some(Bytes::from_static(b"x")))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Protocol { .. }), "{e}");
    assert_eq!(
        f.count(|s| s.method == "PATCH" || s.method == "PUT"),
        0,
        "nothing sent"
    );
}

#[tokio::test]
async fn a_registry_that_ignores_range_is_a_protocol_error() {
    let blob = noise(1000, 53);
    let b2 = blob.clone();
    let f = Fake::start(move |_| resp(200, &[], b2.clone())).await;
    let c = RegistryClient::builder()
        .configure_transport(|t| t.retry_policy(RetryPolicy::none()))
        .build()
        .unwrap();
    let repo: Repository = format!("{}/a", f.host()).parse().unwrap();
    let d = Digest::sha256_of(&blob);
    // Bytes 0..=99 asked, the whole blob answered: not what the caller asked for.
    for (start, end) in [(0, Some(99)), (10, Some(99)), (10, None)] {
        let e = c.get_blob_range(&repo, &d, start, end).await.unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{start}-{end:?}: {e}");
    }
    // The whole blob asked (from 0, no end): a 200 is the answer.
    let all = common::collect(c.get_blob_range(&repo, &d, 0, None).await.unwrap()).await;
    assert_eq!(all.unwrap().as_ref(), blob.as_slice());
    // An end before the start is refused before anything is sent.
    let before = f.all().len();
    let e = c
        .get_blob_range(&repo, &d, 10, Some(9))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    assert_eq!(f.all().len(), before);
}
