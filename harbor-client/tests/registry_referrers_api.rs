//! The referrers API itself (paged with `Link`, `OCI-Subject` on push), a race on the
//! referrers tag index, and a deletion that must not leave a stale entry there: distribution
//! 2.8 serves neither a referrers API nor `If-Match`, so a loopback server stands for a
//! registry that does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use common::fake::{Fake, resp};
use harbor_client::registry::{
    Descriptor, Digest, ImageIndex, ImageReference, MediaType, RegistryClient, Repository,
    referrers_tag,
};

fn referrer(n: u8, artifact_type: &str) -> Descriptor {
    let mut d = Descriptor::new(MediaType::OCI_MANIFEST, Digest::sha256_of(&[n]), 100);
    d.artifact_type = Some(artifact_type.to_owned());
    d
}

fn index_of(list: Vec<Descriptor>) -> Vec<u8> {
    let mut i = ImageIndex::new();
    i.manifests = list;
    serde_json::to_vec(&i).unwrap()
}

fn artifact_manifest(subject: &Digest) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": Descriptor::new(MediaType::OCI_EMPTY, Digest::sha256_of(b"{}"), 2),
        "layers": [],
        "subject": Descriptor::new(MediaType::OCI_MANIFEST, subject.clone(), 10),
    }))
    .unwrap()
}

#[tokio::test]
async fn referrers_api_pages_are_followed_and_oci_subject_is_reported() {
    let subject = Digest::sha256_of(b"subject");
    let s2 = subject.clone();
    let fake = Fake::start(move |s| {
        let path = s.uri.path();
        if path == format!("/v2/app/referrers/{s2}") {
            let ct = ("content-type", MediaType::OCI_INDEX);
            return if s.uri.query().is_some_and(|q| q.contains("page=2")) {
                resp(
                    200,
                    &[ct],
                    index_of(vec![referrer(2, "application/spdx+json")]),
                )
            } else {
                let next = format!("</v2/app/referrers/{s2}?page=2>; rel=\"next\"");
                resp(
                    200,
                    &[ct, ("link", &next)],
                    index_of(vec![referrer(
                        1,
                        "application/vnd.dev.cosign.artifact.sig.v1+json",
                    )]),
                )
            };
        }
        if s.method == "PUT" && path.starts_with("/v2/app/manifests/sha256:") {
            return resp(201, &[("oci-subject", s2.as_str())], "");
        }
        resp(404, &[], "")
    })
    .await;
    let c = RegistryClient::builder().build().unwrap();
    let repo = Repository::new(&fake.host(), "app".parse().unwrap()).unwrap();

    let all = c.referrers(&repo, &subject, None).await.unwrap();
    assert!(!all.from_tag_schema);
    assert_eq!(
        all.manifests,
        vec![
            referrer(1, "application/vnd.dev.cosign.artifact.sig.v1+json"),
            referrer(2, "application/spdx+json")
        ]
    );
    // The server did not say it filtered: the client does.
    let sboms = c
        .referrers(&repo, &subject, Some("application/spdx+json"))
        .await
        .unwrap();
    assert_eq!(sboms.manifests, vec![referrer(2, "application/spdx+json")]);

    let bytes = artifact_manifest(&subject);
    let r = ImageReference::with_digest(repo.clone(), Digest::sha256_of(&bytes));
    let pushed = c.put_manifest(&r, bytes.into(), None).await.unwrap();
    assert_eq!(pushed.oci_subject, Some(subject.clone()));
    assert_eq!(pushed.referrers_tag_updated, None);
    let tag = referrers_tag(&subject).unwrap();
    assert_eq!(
        fake.count(|s| s.uri.path().ends_with(tag.as_str())),
        0,
        "a registry with a referrers API keeps the list itself; the tag index is not touched"
    );
}

/// The registry's referrers tag index, with an ETag that changes with every write.
#[derive(Default)]
struct TagIndex {
    body: Option<Vec<u8>>,
    etag: u32,
    /// A concurrent writer adds this entry just before the client's first write lands.
    intruder: Option<Descriptor>,
}

#[tokio::test]
async fn referrers_tag_update_loses_a_race_and_tries_again_with_if_match() {
    let subject = Digest::sha256_of(b"subject");
    let tag = referrers_tag(&subject).unwrap();
    let other = referrer(9, "application/vnd.other");
    let state = Arc::new(Mutex::new(TagIndex {
        body: Some(index_of(vec![referrer(1, "application/vnd.first")])),
        etag: 1,
        intruder: Some(other.clone()),
    }));
    let st = state.clone();
    let tag_path = format!("/v2/app/manifests/{tag}");
    let fake = Fake::start(move |s| {
        let path = s.uri.path();
        let mut st = st.lock().unwrap();
        if path == tag_path {
            if s.method == "GET" {
                return match &st.body {
                    Some(b) => resp(
                        200,
                        &[
                            ("content-type", MediaType::OCI_INDEX),
                            ("etag", &format!("\"{}\"", st.etag)),
                        ],
                        b.clone(),
                    ),
                    None => resp(404, &[], r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#),
                };
            }
            if s.method == "PUT" {
                if let Some(intruder) = st.intruder.take() {
                    let mut i: ImageIndex =
                        serde_json::from_slice(st.body.as_ref().unwrap()).unwrap();
                    i.manifests.push(intruder);
                    st.body = Some(serde_json::to_vec(&i).unwrap());
                    st.etag += 1;
                }
                let wanted = s.headers.get("if-match").and_then(|v| v.to_str().ok());
                if wanted != Some(&format!("\"{}\"", st.etag)) {
                    return resp(412, &[], "");
                }
                st.body = Some(s.body.to_vec());
                st.etag += 1;
                return resp(201, &[], "");
            }
        }
        if s.method == "PUT" && path.starts_with("/v2/app/manifests/sha256:") {
            return resp(201, &[], "");
        }
        resp(404, &[], "")
    })
    .await;
    let c = RegistryClient::builder().build().unwrap();
    let repo = Repository::new(&fake.host(), "app".parse().unwrap()).unwrap();
    let bytes = artifact_manifest(&subject);
    let mine = Digest::sha256_of(&bytes);
    let r = ImageReference::with_digest(repo.clone(), mine.clone());
    let pushed = c.put_manifest(&r, bytes.into(), None).await.unwrap();
    assert_eq!(pushed.referrers_tag_updated, Some(subject.clone()));

    let st = state.lock().unwrap();
    let i: ImageIndex = serde_json::from_slice(st.body.as_ref().unwrap()).unwrap();
    let listed: Vec<&Digest> = i.manifests.iter().map(|d| &d.digest).collect();
    assert_eq!(
        listed,
        vec![&referrer(1, "x").digest, &other.digest, &mine],
        "neither the concurrent writer's entry nor ours is lost"
    );
    let puts_with_if_match = fake.count(|s| {
        s.method == "PUT"
            && s.uri.path().ends_with(tag.as_str())
            && s.headers.contains_key("if-match")
    });
    assert_eq!(
        puts_with_if_match, 2,
        "the 412 made the client read again and retry"
    );
}

#[tokio::test]
async fn delete_manifest_deletes_nothing_when_the_read_before_it_fails() {
    // The read tells whether the manifest is a referrer whose entry must leave the referrers
    // tag index; a failed read (here 403, or a 5xx) must not turn into "not a referrer".
    for (status, deleted) in [(403, 0), (500, 0), (404, 1)] {
        let fake = Fake::start(move |s| match s.method.as_str() {
            "GET" => resp(status, &[], ""),
            "DELETE" => resp(202, &[], ""),
            _ => resp(404, &[], ""),
        })
        .await;
        let c = RegistryClient::builder()
            .configure_transport(|t| t.retry_policy(harbor_client::transport::RetryPolicy::none()))
            .build()
            .unwrap();
        let repo = Repository::new(&fake.host(), "app".parse().unwrap()).unwrap();
        let r = ImageReference::with_digest(repo, Digest::sha256_of(b"a referrer"));
        let result = c.delete_manifest(&r).await;
        assert_eq!(
            fake.count(|s| s.method == "DELETE"),
            deleted,
            "GET {status}"
        );
        match status {
            404 => result.unwrap(),
            _ => assert_eq!(
                result.unwrap_err().status().map(|s| s.as_u16()),
                Some(status),
                "the read's error is returned"
            ),
        }
    }
}
