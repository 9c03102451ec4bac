//! Fan-out over repositories × artifacts against a loopback Harbor with many repositories
//! (Prism answers one example repository; the cap needs a server that counts the listings in
//! flight and answers slowly).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use futures_util::{StreamExt as _, TryStreamExt as _};
use harbor_client::api::{FanOut, HarborClient, VersionCheck};

const REPOS: usize = 230; // three pages of repositories
const ARTIFACTS_PER_REPO: usize = 3;

#[derive(Default)]
struct Counters {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    artifact_listings: AtomicUsize,
}

fn query(uri: &axum::http::Uri, name: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn page<T: serde::Serialize>(all: &[T], uri: &axum::http::Uri) -> Response<Body> {
    let page: usize = query(uri, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let size: usize = query(uri, "page_size")
        .and_then(|p| p.parse().ok())
        .unwrap_or(10);
    let items: Vec<&T> = all.iter().skip((page - 1) * size).take(size).collect();
    Response::builder()
        .header("content-type", "application/json")
        .header("x-total-count", all.len().to_string())
        .body(Body::from(serde_json::to_vec(&items).unwrap()))
        .unwrap()
}

/// A Harbor with `REPOS` repositories in project `team` (one of them missing when listed),
/// each with `ARTIFACTS_PER_REPO` artifacts, listed slowly.
async fn harbor(counters: Arc<Counters>) -> String {
    let app = axum::Router::new().fallback(move |req: Request<Body>| {
        let counters = counters.clone();
        async move {
            let path = req.uri().path().to_owned();
            let repos: Vec<serde_json::Value> = (0..REPOS)
                .map(|i| serde_json::json!({"name": format!("team/app-{i}")}))
                .collect();
            if path == "/api/v2.0/projects/team/repositories" || path == "/api/v2.0/repositories" {
                return page(&repos, req.uri());
            }
            let Some(repo) = path
                .strip_prefix("/api/v2.0/projects/team/repositories/")
                .and_then(|p| p.strip_suffix("/artifacts"))
            else {
                return Response::builder().status(404).body(Body::empty()).unwrap();
            };
            counters.artifact_listings.fetch_add(1, Ordering::SeqCst);
            let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            counters.max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(15)).await;
            counters.in_flight.fetch_sub(1, Ordering::SeqCst);
            if repo == "app-7" {
                return Response::builder()
                    .status(404)
                    .header("content-type", "application/json")
                    .body(Body::from(
                        r#"{"errors":[{"code":"NOT_FOUND","message":"gone"}]}"#,
                    ))
                    .unwrap();
            }
            let artifacts: Vec<serde_json::Value> = (0..ARTIFACTS_PER_REPO)
                .map(|i| serde_json::json!({"digest": format!("sha256:{repo}-{i}")}))
                .collect();
            page(&artifacts, req.uri())
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn client(url: &str) -> HarborClient {
    HarborClient::builder(url)
        .version_check(VersionCheck::Off)
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_artifact_of_a_project_once_with_the_cap_respected() {
    let counters = Arc::new(Counters::default());
    let url = harbor(counters.clone()).await;
    let results: Vec<_> = client(&url)
        .artifacts_of_project_stream("team", FanOut::default().concurrency(5))
        .collect()
        .await;
    let (ok, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    assert_eq!(
        failed.len(),
        1,
        "the vanished repository is one error, the rest goes on"
    );
    let err = failed.into_iter().next().unwrap().unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(err.resource(), Some("repository `team/app-7`"));
    let digests: HashSet<String> = ok
        .into_iter()
        .map(|a| {
            let a = a.unwrap();
            assert_eq!(a.project_name, "team");
            let d = a.artifact.digest.clone().unwrap();
            assert!(d.contains(a.repository.as_str()), "{d} in {}", a.repository);
            d
        })
        .collect();
    assert_eq!(digests.len(), (REPOS - 1) * ARTIFACTS_PER_REPO);
    assert_eq!(counters.artifact_listings.load(Ordering::SeqCst), REPOS);
    let max = counters.max_in_flight.load(Ordering::SeqCst);
    assert!(max <= 5, "at most 5 listings at once, saw {max}");
    assert!(max >= 2, "the listings do run concurrently, saw {max}");
}

#[tokio::test]
async fn a_cap_of_one_lists_one_repository_at_a_time() {
    let counters = Arc::new(Counters::default());
    let url = harbor(counters.clone()).await;
    let n = client(&url)
        .artifacts_of_system_stream(FanOut::default().concurrency(1))
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    assert_eq!(n, (REPOS - 1) * ARTIFACTS_PER_REPO);
    assert_eq!(counters.max_in_flight.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_stream_is_lazy_a_consumer_that_stops_early_stops_the_listings() {
    let counters = Arc::new(Counters::default());
    let url = harbor(counters.clone()).await;
    let first: Vec<_> = client(&url)
        .artifacts_of_project_stream(
            "team",
            FanOut::default().concurrency(3).with_scan_overview(true),
        )
        .take(4)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(first.len(), 4);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let listed = counters.artifact_listings.load(Ordering::SeqCst);
    assert!(
        listed <= 6,
        "no listing beyond what the consumer asked for: {listed}"
    );
}
