//! Chunked uploads resume from the `Range` the upload status reports, against a fake registry
//! that keeps half of a failed chunk (as a registry that stores what it received does);
//! `OCI-Chunk-Min-Length` raises the chunk size; the `Location` is used verbatim.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use common::fake::{Fake, Seen, resp};
use harbor_client::registry::{Digest, RegistryClient, Repository};

#[derive(Default)]
struct Upload {
    received: Vec<u8>,
    patches: usize,
    state: u64,
}

fn handler(up: Arc<Mutex<Upload>>) -> impl Fn(&Seen) -> http::Response<axum::body::Body> {
    move |s: &Seen| {
        let mut u = up.lock().unwrap();
        let path = s.uri.path().to_owned();
        let query = s.uri.query().unwrap_or("").to_owned();
        let next_location = |u: &mut Upload| {
            u.state += 1;
            format!("/v2/a/blobs/uploads/u1?_state=s{}", u.state)
        };
        match s.method.as_str() {
            "POST" => {
                let loc = next_location(&mut u);
                resp(
                    202,
                    &[
                        ("location", loc.as_str()),
                        ("oci-chunk-min-length", "1000"),
                        ("range", "0-0"),
                    ],
                    "",
                )
            }
            "PATCH" => {
                // The state token must be the last one handed out: the Location is verbatim.
                assert_eq!(
                    query,
                    format!("_state=s{}", u.state),
                    "Location used verbatim"
                );
                let range = s
                    .headers
                    .get("content-range")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                let start: usize = range.split('-').next().unwrap().parse().unwrap();
                if start != u.received.len() {
                    return resp(
                        416,
                        &[],
                        r#"{"errors":[{"code":"RANGE_INVALID","message":"out of order"}]}"#,
                    );
                }
                u.patches += 1;
                if u.patches == 2 {
                    // Keep half of this chunk, then fail.
                    let half = s.body.len() / 2;
                    u.received.extend_from_slice(&s.body[..half]);
                    return resp(500, &[], "storage hiccup");
                }
                u.received.extend_from_slice(&s.body);
                let loc = next_location(&mut u);
                let r = format!("0-{}", u.received.len() - 1);
                resp(
                    202,
                    &[("location", loc.as_str()), ("range", r.as_str())],
                    "",
                )
            }
            "GET" if path.starts_with("/v2/a/blobs/uploads/") => {
                let loc = next_location(&mut u);
                let r = format!("0-{}", u.received.len().max(1) - 1);
                resp(
                    204,
                    &[("location", loc.as_str()), ("range", r.as_str())],
                    "",
                )
            }
            "PUT" => {
                let digest = url::form_urlencoded::parse(query.as_bytes())
                    .find(|(k, _)| k == "digest")
                    .map(|(_, v)| v.into_owned())
                    .unwrap();
                if Digest::sha256_of(&u.received).to_string() == digest {
                    resp(201, &[("location", "/v2/a/blobs/x")], "")
                } else {
                    resp(
                        400,
                        &[],
                        r#"{"errors":[{"code":"DIGEST_INVALID","message":"bad"}]}"#,
                    )
                }
            }
            _ => resp(404, &[], ""),
        }
    }
}

#[tokio::test]
async fn a_failed_chunk_resumes_from_the_reported_range() {
    let up = Arc::new(Mutex::new(Upload::default()));
    let fake = Fake::start(handler(up.clone())).await;
    let c = RegistryClient::builder()
        .chunk_size(300) // below the registry's minimum: raised to 1000
        .build()
        .unwrap();
    let repo: Repository = format!("{}/a", fake.host()).parse().unwrap();
    let data = common::noise(4321, 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    std::fs::write(&path, &data).unwrap();
    let d = Digest::sha256_of(&data);
    c.push_blob_file(&repo, &path, &d).await.unwrap();

    assert!(
        up.lock().unwrap().received == data,
        "the registry holds exactly the blob"
    );
    let patches: Vec<usize> = fake
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.method == http::Method::PATCH)
        .map(|s| s.body.len())
        .collect();
    assert!(
        patches.iter().rev().skip(1).all(|&n| n >= 1000),
        "{patches:?}"
    );
    assert_eq!(
        fake.count(|s| s.method == http::Method::GET),
        1,
        "one status query"
    );
    // After the failure the next chunk starts where the registry says it stands (1500), not
    // where the failed chunk started (1000) or ended (2000).
    let second_after_failure = fake
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.method == http::Method::PATCH)
        .nth(2)
        .map(|s| {
            s.headers
                .get("content-range")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .unwrap();
    assert!(
        second_after_failure.starts_with("1500-"),
        "{second_after_failure}"
    );
}

#[tokio::test]
async fn a_streamed_chunk_the_registry_kept_half_of_is_completed_from_memory() {
    // A registry that keeps the session after a failed chunk (this fake keeps half of the
    // second one; distribution 2.8 drops the session instead): the one-shot stream's
    // unacknowledged half is sent again from memory, followed by fresh bytes up to a whole
    // chunk, and nothing is read twice from the stream.
    let up = Arc::new(Mutex::new(Upload::default()));
    let fake = Fake::start(handler(up.clone())).await;
    let c = RegistryClient::builder().chunk_size(300).build().unwrap();
    let repo: Repository = format!("{}/a", fake.host()).parse().unwrap();
    let data = common::noise(4321, 4);
    let items: Vec<harbor_client::Result<bytes::Bytes>> = data
        .chunks(700)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let (digest, size) = c
        .push_blob_stream(&repo, futures_util::stream::iter(items))
        .await
        .unwrap();
    assert_eq!((digest, size), (Digest::sha256_of(&data), 4321));
    assert!(
        up.lock().unwrap().received == data,
        "the registry holds exactly the blob"
    );
    let ranges: Vec<String> = fake
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.method == http::Method::PATCH)
        .map(|s| s.headers["content-range"].to_str().unwrap().to_owned())
        .collect();
    // 1000-byte chunks (the registry's minimum); the second failed after 500 bytes were kept.
    assert_eq!(
        ranges,
        ["0-999", "1000-1999", "1500-2499", "2500-3499", "3500-4320"]
    );
}
