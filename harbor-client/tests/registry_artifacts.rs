//! Artifacts ORAS style against a real `docker-registry`: files pushed with titles and an
//! `artifactType`, attached to an image, listed by type, pulled back by title; a hostile title
//! from a loopback server never leaves the target directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::phase::{Cut, GET_BLOB, PhaseProxy, phase};
use common::{make_image, noise};
use harbor_client::registry::{
    Artifact, ArtifactFile, Descriptor, ImageOptions, ImageReference, MediaType, RegistryClient,
    Repository, TITLE,
};

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn artifacts_attach_list_by_type_and_pull_back_by_title() {
    let Some(reg) = common::registry().await else {
        return;
    };
    let c = RegistryClient::builder().build().unwrap();
    let repo = Repository::new(&reg.host(), "team/app".parse().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    make_image(dir.path(), "v1", &[noise(500, 1)]).await;
    let image = ImageReference::with_tag(repo.clone(), "v1".parse().unwrap());
    c.push_image(dir.path(), &image, &ImageOptions::default())
        .await
        .unwrap();
    let subject = c.head_manifest(&image).await.unwrap();

    let on_disk = dir.path().join("report.html");
    std::fs::write(&on_disk, noise(300_000, 2)).unwrap();
    let sbom = Artifact::new("application/spdx+json")
        .file(
            ArtifactFile::from_bytes(
                "sbom.spdx.json",
                "application/spdx+json",
                &b"{\"spdxVersion\":\"SPDX-2.3\"}"[..],
            )
            .unwrap(),
        )
        .file(ArtifactFile::from_path(&on_disk, "text/html").unwrap())
        .annotation("org.opencontainers.image.created", "2026-12-01T00:00:00Z")
        .subject(subject.clone());
    let pushed = c.push_artifact(&repo, &sbom, None).await.unwrap();
    assert_eq!(pushed.referrers_tag_updated, Some(subject.digest.clone()));
    let other = Artifact::new("application/vnd.openvex+json").subject(subject.clone());
    let vex = c.push_artifact(&repo, &other, None).await.unwrap();

    let listed = c
        .referrers(&repo, &subject.digest, Some("application/spdx+json"))
        .await
        .unwrap();
    assert_eq!(listed.manifests.len(), 1);
    assert_eq!(listed.manifests[0].digest, pushed.digest);
    assert_eq!(
        listed.manifests[0]
            .annotations
            .get("org.opencontainers.image.created")
            .map(String::as_str),
        Some("2026-12-01T00:00:00Z")
    );
    let all = c.referrers(&repo, &subject.digest, None).await.unwrap();
    assert_eq!(all.manifests.len(), 2);

    // The artifact with no file has the empty descriptor as its only layer (OCI 1.1).
    let m = c
        .get_manifest(&ImageReference::with_digest(
            repo.clone(),
            vex.digest.clone(),
        ))
        .await
        .unwrap();
    let harbor_client::registry::Manifest::Image(m) = m.parse().unwrap() else {
        panic!()
    };
    assert_eq!(
        m.artifact_type.as_deref(),
        Some("application/vnd.openvex+json")
    );
    assert_eq!(m.layers[0].media_type, MediaType::OCI_EMPTY);

    let out = tempfile::tempdir().unwrap();
    let files = c
        .pull_artifact(
            &ImageReference::with_digest(repo.clone(), pushed.digest.clone()),
            out.path(),
        )
        .await
        .unwrap();
    assert_eq!(
        files,
        vec![
            out.path().join("sbom.spdx.json"),
            out.path().join("report.html")
        ]
    );
    assert_eq!(
        std::fs::read(out.path().join("report.html")).unwrap(),
        noise(300_000, 2)
    );

    // A tag works too, and two files of one title are refused before anything is sent.
    let tagged = c
        .push_artifact(
            &repo,
            &Artifact::new("application/x"),
            Some(&"notes".parse().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(tagged.referrers_tag_updated, None);
    let twice = Artifact::new("application/x")
        .file(ArtifactFile::from_bytes("a", "text/plain", &b"1"[..]).unwrap())
        .file(ArtifactFile::from_bytes("a", "text/plain", &b"2"[..]).unwrap());
    assert!(matches!(
        c.push_artifact(&repo, &twice, None).await,
        Err(harbor_client::Error::InvalidInput { .. })
    ));
}

/// Distribution 2.8 stores a manifest whose layer title is `../escaped.txt`: the real
/// registry serves it, and the pull refuses it before any blob download (a proxy whose cut on
/// the first blob GET must never fire counts them).
#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn a_hostile_title_never_leaves_the_directory() {
    let Some(reg) = common::registry().await else {
        return;
    };
    let c = RegistryClient::builder().build().unwrap();
    let repo: Repository = format!("{}/evil/app", reg.host()).parse().unwrap();
    let layer = b"owned".to_vec();
    let ld = c.push_blob(&repo, layer.clone().into()).await.unwrap();
    let config = c.push_blob(&repo, b"{}".to_vec().into()).await.unwrap();
    let mut desc = Descriptor::new("text/plain", ld, layer.len() as u64);
    desc.annotations
        .insert(TITLE.to_owned(), "../escaped.txt".to_owned());
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "artifactType": "text/plain",
        "config": Descriptor::new(MediaType::OCI_EMPTY, config, 2),
        "layers": [desc],
    }))
    .unwrap();
    let stored: ImageReference = format!("{}/evil/app:v1", reg.host()).parse().unwrap();
    c.put_manifest(&stored, manifest.into(), Some(MediaType::OCI_MANIFEST))
        .await
        .unwrap();

    let proxy = PhaseProxy::start(reg.addr, Some(phase(GET_BLOB, 1, Cut::Answer(0)))).await;
    let r: ImageReference = format!("{}/evil/app:v1", proxy.host()).parse().unwrap();
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join("out");
    let e = c.pull_artifact(&r, &target).await.unwrap_err();
    assert!(
        matches!(e, harbor_client::Error::InvalidInput { .. }),
        "{e}"
    );
    assert!(!root.path().join("escaped.txt").exists());
    assert_eq!(proxy.fired(), 0, "refused before any download");
}
