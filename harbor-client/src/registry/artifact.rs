//! Artifacts, ORAS style: files pushed as an OCI manifest with an `artifactType`, each layer
//! titled with `org.opencontainers.image.title`, optionally attached to a subject.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::manifest::{Descriptor, Manifest, MediaType, PushedManifest};
use super::{Digest, ImageReference, RegistryClient, Repository, Tag};
use crate::error::{Error, Result};

/// The annotation that names an artifact's file.
pub const TITLE: &str = "org.opencontainers.image.title";

/// The empty JSON object `{}`: the config of an artifact (and its only layer when it has no
/// file), as the OCI image spec 1.1 asks.
const EMPTY_JSON: &[u8] = b"{}";

#[derive(Debug, Clone)]
enum Source {
    Bytes(Bytes),
    Path(PathBuf),
}

/// One file of an [`Artifact`].
#[derive(Debug, Clone)]
pub struct ArtifactFile {
    title: String,
    media_type: String,
    source: Source,
}

impl ArtifactFile {
    /// A file from memory, named `title`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `title` is not a plain file name (see
    /// [`ArtifactFile::from_path`]).
    pub fn from_bytes(
        title: impl Into<String>,
        media_type: impl Into<String>,
        data: impl Into<Bytes>,
    ) -> Result<Self> {
        let title = title.into();
        check_title(&title)?;
        Ok(ArtifactFile {
            title,
            media_type: media_type.into(),
            source: Source::Bytes(data.into()),
        })
    }

    /// A file on disk, streamed when pushed, named by its file name.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the path has no file name that is plain UTF-8.
    pub fn from_path(path: impl Into<PathBuf>, media_type: impl Into<String>) -> Result<Self> {
        let path = path.into();
        let title = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                Error::invalid(
                    "artifact file",
                    &path.display().to_string(),
                    "has no UTF-8 file name to title it with",
                )
            })?
            .to_owned();
        check_title(&title)?;
        Ok(ArtifactFile {
            title,
            media_type: media_type.into(),
            source: Source::Path(path),
        })
    }

    /// The file's name (its `org.opencontainers.image.title`).
    pub fn title(&self) -> &str {
        &self.title
    }
}

/// A title names a file in one directory: no separators, not `.` or `..`, not empty. A
/// pulled artifact's titles come from the registry, so this keeps them inside the target.
fn check_title(title: &str) -> Result<()> {
    let bad = title.is_empty()
        || title == "."
        || title == ".."
        || title.contains(['/', '\\', '\0'])
        || title.len() > 255;
    if bad {
        return Err(Error::invalid(
            "artifact title",
            title,
            "a title must be a plain file name (no path separators, not . or ..)",
        ));
    }
    Ok(())
}

/// An artifact to push: an `artifactType`, files, annotations and an optional subject.
///
/// ```no_run
/// # async fn demo() -> harbor_client::Result<()> {
/// use harbor_client::registry::{Artifact, ArtifactFile, ImageReference, RegistryClient};
/// let client = RegistryClient::builder().build()?;
/// let image: ImageReference = "harbor.example/library/app:1.0".parse()?;
/// let subject = client.head_manifest(&image).await?;
/// let sbom = Artifact::new("application/spdx+json")
///     .file(ArtifactFile::from_path("sbom.spdx.json", "application/spdx+json")?)
///     .subject(subject);
/// let pushed = client.push_artifact(image.repository(), &sbom, None).await?;
/// println!("{}", pushed.digest);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Artifact {
    artifact_type: String,
    files: Vec<ArtifactFile>,
    subject: Option<Descriptor>,
    annotations: BTreeMap<String, String>,
}

impl Artifact {
    /// An artifact of this type (`application/spdx+json`, `application/vnd.cncf.helm.chart`…).
    pub fn new(artifact_type: impl Into<String>) -> Self {
        Artifact {
            artifact_type: artifact_type.into(),
            files: Vec::new(),
            subject: None,
            annotations: BTreeMap::new(),
        }
    }

    /// Adds a file (a layer titled with its name).
    pub fn file(mut self, f: ArtifactFile) -> Self {
        self.files.push(f);
        self
    }

    /// Attaches the artifact to a manifest (e.g. from [`RegistryClient::head_manifest`]): it
    /// becomes one of its referrers.
    pub fn subject(mut self, subject: Descriptor) -> Self {
        self.subject = Some(subject);
        self
    }

    /// Adds a manifest annotation.
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }
}

impl RegistryClient {
    /// Pushes an artifact: each file as a blob (files on disk streamed), the empty config,
    /// then the manifest under `tag`, else by digest. With a subject the artifact becomes a
    /// referrer of it (see [`RegistryClient::put_manifest`] for registries without a
    /// referrers API). Find it again with [`RegistryClient::referrers`] filtered by its
    /// artifact type.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for two files with one title; errors of the uploads and of
    /// [`RegistryClient::put_manifest`].
    pub async fn push_artifact(
        &self,
        repo: &Repository,
        artifact: &Artifact,
        tag: Option<&Tag>,
    ) -> Result<PushedManifest> {
        let mut titles = std::collections::HashSet::new();
        if let Some(f) = artifact.files.iter().find(|f| !titles.insert(&f.title)) {
            return Err(Error::invalid(
                "artifact",
                &f.title,
                "two files have this title",
            ));
        }
        let empty = Descriptor::new(MediaType::OCI_EMPTY, Digest::sha256_of(EMPTY_JSON), 2);
        if !self
            .blob_exists_scoped(repo, &empty.digest, "pull,push")
            .await?
        {
            self.push_blob(repo, Bytes::from_static(EMPTY_JSON)).await?;
        }
        let mut layers = Vec::with_capacity(artifact.files.len());
        for f in &artifact.files {
            let (digest, size) = match &f.source {
                Source::Bytes(b) => (self.push_blob(repo, b.clone()).await?, b.len() as u64),
                Source::Path(p) => {
                    let (digest, size) = hash_file(p).await?;
                    self.push_blob_file(repo, p, &digest).await?;
                    (digest, size)
                }
            };
            let mut d = Descriptor::new(f.media_type.clone(), digest, size);
            d.annotations.insert(TITLE.to_owned(), f.title.clone());
            layers.push(d);
        }
        if layers.is_empty() {
            layers.push(empty.clone());
        }
        let mut manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MediaType::OCI_MANIFEST,
            "artifactType": artifact.artifact_type,
            "config": empty,
            "layers": layers,
        });
        if let Some(s) = &artifact.subject {
            manifest["subject"] = serde_json::to_value(s)
                .map_err(|e| Error::invalid("artifact", "subject", e.to_string()))?;
        }
        if !artifact.annotations.is_empty() {
            manifest["annotations"] = serde_json::to_value(&artifact.annotations)
                .map_err(|e| Error::invalid("artifact", "annotations", e.to_string()))?;
        }
        let bytes = serde_json::to_vec(&manifest)
            .map_err(|e| Error::invalid("artifact", "manifest", e.to_string()))?;
        let reference = match tag {
            Some(t) => ImageReference::with_tag(repo.clone(), t.clone()),
            None => ImageReference::with_digest(repo.clone(), Digest::sha256_of(&bytes)),
        };
        self.put_manifest(&reference, bytes.into(), Some(MediaType::OCI_MANIFEST))
            .await
    }

    /// Pulls an artifact's files into `dir` (created if needed), each under its title
    /// (`org.opencontainers.image.title`), verified as it is written; layers without a title
    /// are left out. Returns the files written, in manifest order.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the reference is an index, or a title is not a plain
    /// file name (a hostile `../x` never leaves `dir`) or appears twice; errors of
    /// [`RegistryClient::get_manifest`] and [`RegistryClient::pull_blob_to_file`].
    pub async fn pull_artifact(
        &self,
        reference: &ImageReference,
        dir: &Path,
    ) -> Result<Vec<PathBuf>> {
        let pulled = self.get_manifest(reference).await?;
        let Manifest::Image(m) = pulled.parse()? else {
            return Err(Error::invalid(
                "artifact",
                &reference.to_string(),
                "is an index, not an artifact manifest",
            ));
        };
        let mut titled = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for layer in &m.layers {
            let Some(title) = layer.annotations.get(TITLE) else {
                continue;
            };
            check_title(title)?;
            if !seen.insert(title.clone()) {
                return Err(Error::invalid(
                    "artifact title",
                    title,
                    "two layers have this title",
                ));
            }
            titled.push((dir.join(title), layer));
        }
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| Error::io(dir, e))?;
        let mut written = Vec::with_capacity(titled.len());
        for (path, layer) in titled {
            self.pull_blob_to_file_with(
                reference.repository(),
                &layer.digest,
                Some(layer.size),
                &path,
                &|_| {},
            )
            .await?;
            written.push(path);
        }
        Ok(written)
    }
}

/// The sha256 digest and size of a file, read in 256 KiB pieces.
async fn hash_file(path: &Path) -> Result<(Digest, u64)> {
    use tokio::io::AsyncReadExt as _;
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(path, e))?;
    let mut hasher = super::Hasher::sha256();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).await.map_err(|e| Error::io(path, e))?;
        if n == 0 {
            return Ok((hasher.finish(), size));
        }
        size += n as u64;
        hasher.update(buf.get(..n).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_stay_inside_the_directory() {
        for bad in ["", ".", "..", "../etc/passwd", "a/b", "a\\b", "/abs"] {
            assert!(
                ArtifactFile::from_bytes(bad, "text/plain", Bytes::new()).is_err(),
                "{bad:?}"
            );
        }
        let ok = ArtifactFile::from_bytes("sbom.spdx.json", "application/spdx+json", Bytes::new())
            .unwrap();
        assert_eq!(ok.title(), "sbom.spdx.json");
        let from_disk = ArtifactFile::from_path("/some/dir/report.json", "x").unwrap();
        assert_eq!(from_disk.title(), "report.json");
        assert!(ArtifactFile::from_path("/", "x").is_err());
    }
}
