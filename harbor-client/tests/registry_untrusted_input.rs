//! What a registry or a Harbor sends is untrusted: huge tag lists, catalogs and referrers are
//! cut at a cap with a typed error after bounded reading; an image that lists a layer twice
//! pulls (against the real `docker-registry`); a blob in the layout with the right size and
//! the wrong bytes is fetched again; errors show no presigned URL signature and no robot secret.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use common::fake::{Fake, resp};
use common::{make_image, noise, registry};
use futures_util::StreamExt as _;
use harbor_client::registry::{
    Digest, ImageOptions, ImageReference, MAX_LIST_BODY, RegistryClient, Repository,
};
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
