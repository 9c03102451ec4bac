//! Rate limits as Docker Hub states them (`RateLimit-*`, `Retry-After`, `429`) and the
//! per-host transfer limit. No real registry sends these headers: a loopback server does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::fake::{Fake, resp};
use harbor_client::registry::{
    Descriptor, Digest, ImageOptions, ImageReference, MediaType, RegistryClient,
};
use harbor_client::transport::RetryPolicy;

const QUOTA: [(&str, &str); 2] = [
    ("ratelimit-limit", "100;w=21600"),
    ("ratelimit-remaining", "0;w=21600"),
];

#[tokio::test]
async fn a_429_without_retry_after_backs_off_for_seconds_and_reports_the_quota() {
    let fake = Fake::start(|_| {
        resp(
            429,
            &QUOTA,
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"pull rate limit"}]}"#,
        )
    })
    .await;
    let c = RegistryClient::builder()
        .configure_transport(|t| t.retry_policy(RetryPolicy::default().with_max_retries(1)))
        .build()
        .unwrap();
    let r: ImageReference = format!("{}/library/alpine:3", fake.host()).parse().unwrap();
    let started = Instant::now();
    let e = c.get_manifest(&r).await.unwrap_err();
    let waited = started.elapsed();
    assert_eq!(fake.count(|_| true), 2, "one retry");
    assert!(
        waited >= Duration::from_secs(1),
        "backed off {waited:?}, not milliseconds"
    );
    assert_eq!(e.status().map(|s| s.as_u16()), Some(429));
    let q = e.rate_limit().unwrap();
    assert_eq!((q.limit, q.remaining), (100, 0));
    assert_eq!(q.window, Some(Duration::from_secs(21600)));
    assert_eq!(e.retry_after(), None);
    assert!(e.to_string().contains("0 of 100 requests left"), "{e}");
    assert_eq!(
        c.rate_limit(&fake.host()),
        Some(q),
        "the client keeps the last quota seen"
    );
}

#[tokio::test]
async fn retry_after_is_on_the_error_and_quotas_of_successes_are_kept() {
    let fake = Fake::start(|s| {
        if s.uri.path().contains("/limited/") {
            return resp(429, &[("retry-after", "7")], "");
        }
        resp(
            200,
            &[
                ("content-type", MediaType::OCI_INDEX),
                ("ratelimit-limit", "100;w=21600"),
                ("ratelimit-remaining", "76;w=21600"),
            ],
            r#"{"schemaVersion":2,"manifests":[]}"#,
        )
    })
    .await;
    let c = RegistryClient::builder()
        .configure_transport(|t| t.retry_policy(RetryPolicy::none()))
        .build()
        .unwrap();
    let ok: ImageReference = format!("{}/library/alpine:3", fake.host()).parse().unwrap();
    c.get_manifest(&ok).await.unwrap();
    let q = c.rate_limit(&fake.host()).unwrap();
    assert_eq!((q.limit, q.remaining), (100, 76));
    let limited: ImageReference = format!("{}/limited/x:1", fake.host()).parse().unwrap();
    let e = c.get_manifest(&limited).await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert!(c.rate_limit("other.example").is_none());
}

/// A registry serving one image of `n` layers, slowly, counting blob downloads in flight.
async fn slow_image(n: u8) -> (Fake, Arc<AtomicUsize>) {
    let blobs: Vec<Vec<u8>> = (0..=n).map(|i| vec![i; 64]).collect();
    let config = Descriptor::new(MediaType::OCI_CONFIG, Digest::sha256_of(&blobs[0]), 64);
    let layers: Vec<Descriptor> = blobs[1..]
        .iter()
        .map(|b| Descriptor::new(MediaType::OCI_LAYER_GZIP, Digest::sha256_of(b), 64))
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": MediaType::OCI_MANIFEST,
        "config": config, "layers": layers,
    }))
    .unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (f2, p2) = (in_flight.clone(), peak.clone());
    let fake = Fake::start(move |s| {
        if s.uri.path().contains("/manifests/") {
            return resp(
                200,
                &[("content-type", MediaType::OCI_MANIFEST)],
                manifest.clone(),
            );
        }
        let now = f2.fetch_add(1, Ordering::SeqCst) + 1;
        p2.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(150));
        f2.fetch_sub(1, Ordering::SeqCst);
        let body = blobs
            .iter()
            .find(|b| s.uri.path().ends_with(Digest::sha256_of(b).encoded()))
            .cloned()
            .unwrap_or_default();
        resp(200, &[], body)
    })
    .await;
    (fake, peak)
}

async fn two_pulls_at_once(c: &RegistryClient, host: &str) {
    let r: ImageReference = format!("{host}/app/x:1").parse().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let opts = ImageOptions::default()
        .concurrency(4)
        .referrers(false)
        .cosign_tags(false);
    let (x, y) = tokio::join!(
        c.pull_image(&r, a.path(), &opts),
        c.pull_image(&r, b.path(), &opts)
    );
    x.unwrap();
    y.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn one_client_holds_a_per_host_transfer_limit_across_operations() {
    let (fake, peak) = slow_image(6).await;
    let limited = RegistryClient::builder()
        .max_transfers_per_host(2)
        .build()
        .unwrap();
    two_pulls_at_once(&limited, &fake.host()).await;
    assert_eq!(
        peak.load(Ordering::SeqCst),
        2,
        "two pulls of 4 at once share 2 slots"
    );

    // Without the limit the same two pulls run more at once (so the check above can fail).
    let (fake, peak) = slow_image(6).await;
    let free = RegistryClient::builder().build().unwrap();
    two_pulls_at_once(&free, &fake.host()).await;
    assert!(peak.load(Ordering::SeqCst) > 2);
}
