//! Copies, pulls and pushes keep what is attached to an image: referrers (kept by the
//! referrers tag schema on distribution 2.8, which has no referrers API) and cosign's tags,
//! between two real `docker-registry` instances, read back by `skopeo`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::Bytes;
use common::{make_index, skopeo, tool};
use harbor_client::registry::{
    Descriptor, Digest, ImageOptions, ImageReference, MediaType, OciLayout, RegistryClient,
    Repository, referrers_tag,
};

const SPDX: &str = "application/spdx+json";
const COSIGN_SIG: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

/// Pushes a one-file artifact manifest (empty config) with an optional subject, under `tag`
/// or by digest. Returns its descriptor.
async fn put_artifact(
    c: &RegistryClient,
    repo: &Repository,
    artifact_type: Option<&str>,
    config_type: &str,
    layer: (&str, &[u8]),
    subject: Option<&Descriptor>,
    tag: Option<&str>,
) -> Descriptor {
    let config = Bytes::from_static(b"{}");
    let cd = c.push_blob(repo, config.clone()).await.unwrap();
    let ld = c
        .push_blob(repo, Bytes::copy_from_slice(layer.1))
        .await
        .unwrap();
    let mut m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "config": Descriptor::new(config_type, cd, 2),
        "layers": [Descriptor::new(layer.0, ld, layer.1.len() as u64)],
    });
    if let Some(t) = artifact_type {
        m["artifactType"] = t.into();
    }
    if let Some(s) = subject {
        m["subject"] = serde_json::to_value(s).unwrap();
    }
    let bytes = serde_json::to_vec(&m).unwrap();
    let d = Digest::sha256_of(&bytes);
    let r = match tag {
        Some(t) => ImageReference::with_tag(repo.clone(), t.parse().unwrap()),
        None => ImageReference::with_digest(repo.clone(), d.clone()),
    };
    let pushed = c
        .put_manifest(&r, bytes.clone().into(), Some(MediaType::OCI_MANIFEST))
        .await
        .unwrap();
    assert_eq!(pushed.digest, d);
    assert_eq!(
        pushed.oci_subject, None,
        "distribution 2.8 has no referrers API"
    );
    assert_eq!(
        pushed.referrers_tag_updated,
        subject.map(|s| s.digest.clone()),
        "the client keeps the referrers tag index itself"
    );
    Descriptor::new(MediaType::OCI_MANIFEST, d, bytes.len() as u64)
}

/// An image as found in a Harbor of today: a two-platform index, a cosign signature under
/// `sha256-<hex>.sig`, an SPDX SBOM attached through `subject`, and a signature of the SBOM.
struct Signed {
    index: Descriptor,
    sig: Descriptor,
    sbom: Descriptor,
    sbom_sig: Descriptor,
}

async fn publish(c: &RegistryClient, repo: &Repository) -> Signed {
    let dir = tempfile::tempdir().unwrap();
    let index = make_index(dir.path(), "v1").await;
    let r = ImageReference::with_tag(repo.clone(), "v1".parse().unwrap());
    c.push_image(dir.path(), &r, &ImageOptions::default())
        .await
        .unwrap();
    let sig_tag = format!("{}.sig", referrers_tag(&index.digest).unwrap());
    let sig = put_artifact(
        c,
        repo,
        None,
        MediaType::OCI_CONFIG,
        (
            "application/vnd.dev.cosign.simplesigning.v1+json",
            br#"{"critical":{"type":"cosign container image signature"}}"#,
        ),
        None,
        Some(&sig_tag),
    )
    .await;
    let sbom = put_artifact(
        c,
        repo,
        Some(SPDX),
        MediaType::OCI_EMPTY,
        (SPDX, br#"{"spdxVersion":"SPDX-2.3","name":"app"}"#),
        Some(&index),
        None,
    )
    .await;
    let sbom_sig = put_artifact(
        c,
        repo,
        Some(COSIGN_SIG),
        MediaType::OCI_EMPTY,
        (COSIGN_SIG, b"signature-of-the-sbom"),
        Some(&sbom),
        None,
    )
    .await;
    Signed {
        index,
        sig,
        sbom,
        sbom_sig,
    }
}

/// Asserts that `repo` holds the whole signed image.
async fn assert_complete(c: &RegistryClient, repo: &Repository, s: &Signed) {
    let top = c
        .get_manifest(&ImageReference::with_tag(
            repo.clone(),
            "v1".parse().unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(top.digest, s.index.digest, "the index arrives as it was");
    let harbor_client::registry::Manifest::Index(index) = top.parse().unwrap() else {
        panic!("not an index")
    };
    assert_eq!(index.manifests.len(), 2);
    for child in &index.manifests {
        c.get_manifest(&ImageReference::with_digest(
            repo.clone(),
            child.digest.clone(),
        ))
        .await
        .unwrap();
    }
    let sig_tag = format!("{}.sig", referrers_tag(&s.index.digest).unwrap());
    let sig = c
        .get_manifest(&ImageReference::with_tag(
            repo.clone(),
            sig_tag.parse().unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(sig.digest, s.sig.digest, "the cosign signature tag arrives");
    let refs = c.referrers(repo, &s.index.digest, None).await.unwrap();
    assert!(refs.from_tag_schema);
    assert_eq!(
        refs.manifests.iter().map(|d| &d.digest).collect::<Vec<_>>(),
        vec![&s.sbom.digest],
        "the SBOM arrives and is listed as the index's referrer"
    );
    assert_eq!(refs.manifests[0].artifact_type.as_deref(), Some(SPDX));
    let by_type = c
        .referrers(repo, &s.index.digest, Some(COSIGN_SIG))
        .await
        .unwrap();
    assert!(by_type.manifests.is_empty());
    let refs = c
        .referrers(repo, &s.sbom.digest, Some(COSIGN_SIG))
        .await
        .unwrap();
    assert_eq!(
        refs.manifests.iter().map(|d| &d.digest).collect::<Vec<_>>(),
        vec![&s.sbom_sig.digest],
        "the signature of the SBOM arrives too (referrers recursively)"
    );
}

#[harbor_testkit::needs("docker-registry", "skopeo")]
#[tokio::test]
async fn copy_between_registries_keeps_signatures_sboms_and_platforms() {
    let Some(a) = common::registry().await else {
        return;
    };
    if tool("skopeo").is_none() {
        return;
    }
    let b = common::registry_in_at(
        tool("docker-registry").unwrap(),
        tempfile::tempdir().unwrap(),
        std::net::Ipv4Addr::new(127, 0, 0, 2),
        String::new(),
    )
    .await;
    let c = RegistryClient::builder().build().unwrap();
    let src_repo = Repository::new(&a.host(), "team/app".parse().unwrap()).unwrap();
    let s = publish(&c, &src_repo).await;
    assert_complete(&c, &src_repo, &s).await;

    let src = ImageReference::with_tag(src_repo.clone(), "v1".parse().unwrap());
    let dst_repo = Repository::new(&b.host(), "mirror/app".parse().unwrap()).unwrap();
    let dst = ImageReference::with_tag(dst_repo.clone(), "v1".parse().unwrap());
    let got = c
        .copy_image(&src, &dst, &ImageOptions::default())
        .await
        .unwrap();
    assert_eq!(got, s.index.digest);
    assert_complete(&c, &dst_repo, &s).await;

    // skopeo reads back what we pushed: the signature by its cosign tag, the referrers
    // index by its tag, and the whole index with both platforms.
    let base = format!("docker://{}/mirror/app", b.host());
    let raw = skopeo_out(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("{base}:{}.sig", referrers_tag(&s.index.digest).unwrap()),
    ]);
    // skopeo ends what it prints with a newline of its own.
    let raw = raw.strip_suffix(b"\n").unwrap_or(&raw);
    assert_eq!(Digest::sha256_of(raw), s.sig.digest);
    let raw = skopeo_out(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("{base}:{}", referrers_tag(&s.index.digest).unwrap()),
    ]);
    assert!(String::from_utf8_lossy(&raw).contains(s.sbom.digest.as_str()));
    let out = tempfile::tempdir().unwrap();
    skopeo(&[
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        &format!("{base}:v1"),
        &format!("oci:{}:v1", out.path().display()),
    ]);
    let copied = OciLayout::open(out.path()).await.unwrap();
    assert_eq!(
        copied.find_manifest(Some("v1")).await.unwrap().digest,
        s.index.digest
    );

    // Opting out copies the image alone.
    let bare_repo = Repository::new(&b.host(), "bare/app".parse().unwrap()).unwrap();
    let bare = ImageReference::with_tag(bare_repo.clone(), "v1".parse().unwrap());
    c.copy_image(
        &src,
        &bare,
        &ImageOptions::default().referrers(false).cosign_tags(false),
    )
    .await
    .unwrap();
    assert!(
        c.referrers(&bare_repo, &s.index.digest, None)
            .await
            .unwrap()
            .manifests
            .is_empty()
    );
    let tags = c.list_tags(&bare_repo, None, None).await.unwrap().tags;
    assert_eq!(tags, vec!["v1".to_owned()]);

    // Deleting a referrer takes it out of its subject's referrers tag index; the last one
    // takes the index away.
    c.delete_manifest(&ImageReference::with_digest(
        dst_repo.clone(),
        s.sbom_sig.digest.clone(),
    ))
    .await
    .unwrap();
    assert!(
        c.referrers(&dst_repo, &s.sbom.digest, None)
            .await
            .unwrap()
            .manifests
            .is_empty()
    );
    let sbom_index_tag =
        ImageReference::with_tag(dst_repo.clone(), referrers_tag(&s.sbom.digest).unwrap());
    assert!(
        c.get_manifest(&sbom_index_tag)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        c.referrers(&dst_repo, &s.index.digest, None)
            .await
            .unwrap()
            .manifests
            .len(),
        1,
        "the other subject's index is untouched"
    );
}

#[harbor_testkit::needs("docker-registry", "skopeo")]
#[tokio::test]
async fn pull_into_a_layout_and_push_back_keep_what_is_attached() {
    let Some(a) = common::registry().await else {
        return;
    };
    if tool("skopeo").is_none() {
        return;
    }
    let c = RegistryClient::builder().build().unwrap();
    let src_repo = Repository::new(&a.host(), "team/app".parse().unwrap()).unwrap();
    let s = publish(&c, &src_repo).await;
    let src = ImageReference::with_tag(src_repo.clone(), "v1".parse().unwrap());

    let dir = tempfile::tempdir().unwrap();
    let pulled = c
        .pull_image(&src, dir.path(), &ImageOptions::default().all_platforms())
        .await
        .unwrap();
    assert_eq!(pulled.digest, s.index.digest, "the layout keeps the index");
    let layout = OciLayout::open(dir.path()).await.unwrap();
    let refs = layout.referrers(&s.index.digest).await.unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].digest, s.sbom.digest);
    assert_eq!(refs[0].artifact_type.as_deref(), Some(SPDX));
    assert_eq!(
        layout.referrers(&s.sbom.digest).await.unwrap()[0].digest,
        s.sbom_sig.digest
    );
    let sig_tag = format!("{}.sig", referrers_tag(&s.index.digest).unwrap());
    assert_eq!(
        layout.resolve(&sig_tag).await.unwrap().unwrap().digest,
        s.sig.digest
    );

    // skopeo reads the layout we wrote, every platform.
    let out = tempfile::tempdir().unwrap();
    skopeo(&[
        "copy",
        "--all",
        &format!("oci:{}:v1", dir.path().display()),
        &format!("oci:{}:v1", out.path().display()),
    ]);

    let back_repo = Repository::new(&a.host(), "back/app".parse().unwrap()).unwrap();
    let back = ImageReference::with_tag(back_repo.clone(), "v1".parse().unwrap());
    let d = c
        .push_image(dir.path(), &back, &ImageOptions::default())
        .await
        .unwrap();
    assert_eq!(d, s.index.digest);
    assert_complete(&c, &back_repo, &s).await;
}

fn skopeo_out(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(tool("skopeo").unwrap())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
