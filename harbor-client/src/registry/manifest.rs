//! Manifests: OCI image manifest and index, Docker schema 2 manifest and manifest list.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::Method;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use serde::{Deserialize, Serialize};

use super::listing::read_capped;
use super::{Digest, ImageReference, RegistryClient};
use crate::error::{Error, Result};
use crate::transport::Request;

/// Media type constants.
#[derive(Debug)]
#[non_exhaustive]
pub struct MediaType;

impl MediaType {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &'static str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &'static str = "application/vnd.oci.image.index.v1+json";
    /// OCI image config.
    pub const OCI_CONFIG: &'static str = "application/vnd.oci.image.config.v1+json";
    /// OCI gzip layer.
    pub const OCI_LAYER_GZIP: &'static str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// OCI uncompressed layer.
    pub const OCI_LAYER_TAR: &'static str = "application/vnd.oci.image.layer.v1.tar";
    /// OCI empty descriptor (`{}`) for artifacts.
    pub const OCI_EMPTY: &'static str = "application/vnd.oci.empty.v1+json";
    /// Docker schema 2 manifest.
    pub const DOCKER_MANIFEST: &'static str =
        "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: &'static str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker container config.
    pub const DOCKER_CONFIG: &'static str = "application/vnd.docker.container.image.v1+json";
    /// Docker gzip layer.
    pub const DOCKER_LAYER_GZIP: &'static str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    /// Every manifest type this client accepts, in preference order (sent as `Accept`).
    pub const MANIFEST_TYPES: [&'static str; 4] = [
        Self::OCI_INDEX,
        Self::OCI_MANIFEST,
        Self::DOCKER_MANIFEST_LIST,
        Self::DOCKER_MANIFEST,
    ];

    /// Whether the type is an index or a manifest list.
    pub fn is_index(media_type: &str) -> bool {
        media_type == Self::OCI_INDEX || media_type == Self::DOCKER_MANIFEST_LIST
    }
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Descriptor {
    /// The media type of the content.
    pub media_type: String,
    /// The content digest.
    pub digest: Digest,
    /// The size in bytes.
    pub size: u64,
    /// Alternative download URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The platform, for index entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type, for referrers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A descriptor.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            platform: None,
            artifact_type: None,
        }
    }
}

/// A platform in an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Platform {
    /// CPU architecture (`amd64`, `arm64`).
    pub architecture: String,
    /// Operating system (`linux`).
    pub os: String,
    /// OS version.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// OS features.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant (`v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// A platform from OS and architecture.
    pub fn new(os: impl Into<String>, architecture: impl Into<String>) -> Self {
        Platform {
            architecture: architecture.into(),
            os: os.into(),
            os_version: None,
            os_features: Vec::new(),
            variant: None,
        }
    }

    /// The platform this program runs on, in OCI terms.
    pub fn current() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform::new(std::env::consts::OS, arch)
    }
}

/// An image manifest (OCI or Docker schema 2: the same shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// The media type; absent in some OCI manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, in order.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// The media type; absent in some OCI indexes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifests.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageIndex {
    /// An empty OCI index.
    pub fn new() -> Self {
        ImageIndex {
            schema_version: 2,
            media_type: Some(MediaType::OCI_INDEX.to_owned()),
            artifact_type: None,
            manifests: Vec::new(),
            subject: None,
            annotations: BTreeMap::new(),
        }
    }

    /// The entry for a platform (OS and architecture; variant when both sides give one).
    pub fn find_platform(&self, want: &Platform) -> Option<&Descriptor> {
        self.manifests.iter().find(|d| {
            d.platform.as_ref().is_some_and(|p| {
                p.os == want.os
                    && p.architecture == want.architecture
                    && (want.variant.is_none() || p.variant.is_none() || p.variant == want.variant)
            })
        })
    }
}

impl Default for ImageIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// A parsed manifest of any supported kind.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Manifest {
    /// An image manifest.
    Image(ImageManifest),
    /// An index or manifest list.
    Index(ImageIndex),
}

impl Manifest {
    /// Parses manifest bytes. The kind comes from the `mediaType` field, else from the
    /// `Content-Type` the registry sent, else from the shape (`manifests` means an index);
    /// unknown fields are ignored.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when the bytes are not such a manifest (the error names the JSON path).
    pub fn from_slice(bytes: &[u8], content_type: Option<&str>) -> Result<Self> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            #[serde(default)]
            media_type: Option<String>,
            #[serde(default)]
            manifests: Option<serde::de::IgnoredAny>,
        }
        let probe: Probe = decode("manifest", bytes)?;
        let ty = probe
            .media_type
            .or_else(|| content_type.map(str::to_owned))
            .unwrap_or_default();
        let index = if MediaType::is_index(&ty) {
            true
        } else if ty == MediaType::OCI_MANIFEST || ty == MediaType::DOCKER_MANIFEST {
            false
        } else {
            probe.manifests.is_some()
        };
        if index {
            Ok(Manifest::Index(decode("image index", bytes)?))
        } else {
            Ok(Manifest::Image(decode("image manifest", bytes)?))
        }
    }

    /// The media type to send as `Content-Type` when pushing: the `mediaType` field, else the
    /// OCI type for the kind.
    pub fn media_type(&self) -> &str {
        match self {
            Manifest::Image(m) => m.media_type.as_deref().unwrap_or(MediaType::OCI_MANIFEST),
            Manifest::Index(m) => m.media_type.as_deref().unwrap_or(MediaType::OCI_INDEX),
        }
    }
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| Error::decode(what, bytes, e))
}

/// A manifest as fetched: the exact bytes, their media type and digest.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PulledManifest {
    /// The bytes as served (the digest covers exactly these).
    pub bytes: Bytes,
    /// The media type (`Content-Type`, else the `mediaType` field).
    pub media_type: String,
    /// The digest of the bytes.
    pub digest: Digest,
}

impl PulledManifest {
    /// Parses the bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when they are not a supported manifest.
    pub fn parse(&self) -> Result<Manifest> {
        Manifest::from_slice(&self.bytes, Some(&self.media_type))
    }

    /// A descriptor for this manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            self.media_type.clone(),
            self.digest.clone(),
            self.bytes.len() as u64,
        )
    }
}

/// The largest manifest accepted (the spec asks registries to take at least 4 MB).
pub(crate) const MAX_MANIFEST: usize = 8 * 1024 * 1024;

fn accept_header() -> HeaderValue {
    HeaderValue::from_static(
        "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json",
    )
}

fn header_digest(headers: &http::HeaderMap) -> Result<Option<Digest>> {
    headers
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(Digest::parse)
        .transpose()
        .map_err(Into::into)
}

impl RegistryClient {
    /// Fetches a manifest by tag or digest, accepting every OCI and Docker manifest type,
    /// from the configured mirrors first (see [`Registries`](crate::transport::Registries)).
    ///
    /// The digest is computed over the bytes received and checked against the digest in the
    /// reference (when asked by digest) and against `Docker-Content-Digest` (when sent with
    /// the same algorithm).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] (404 when unknown), [`Error::DigestMismatch`] when the bytes do not match,
    /// [`Error::TooLarge`] for a manifest over 8 MiB.
    pub async fn get_manifest(&self, reference: &ImageReference) -> Result<PulledManifest> {
        self.get_manifest_scoped(reference, "pull").await
    }

    pub(crate) async fn get_manifest_scoped(
        &self,
        reference: &ImageReference,
        actions: &str,
    ) -> Result<PulledManifest> {
        if actions != "pull" {
            return self.fetch_manifest(reference, actions).await;
        }
        self.pull_from_mirrors(
            reference.repository(),
            reference.digest().is_some(),
            |repo| {
                let r = ImageReference::new(
                    repo,
                    reference.tag().cloned(),
                    reference.digest().cloned(),
                );
                async move { self.fetch_manifest(&r, "pull").await }
            },
        )
        .await
    }

    async fn fetch_manifest(
        &self,
        reference: &ImageReference,
        actions: &str,
    ) -> Result<PulledManifest> {
        let repo = reference.repository();
        let url = self.url(
            repo,
            &format!("manifests/{}", reference.manifest_reference()),
        )?;
        let req = Request::new(Method::GET, url.clone())
            .header(ACCEPT, accept_header())
            .scope(&self.scope(repo, actions));
        let resp = self.send(req).await?;
        let headers = resp.headers().clone();
        let body = read_capped(resp, &url, MAX_MANIFEST, "manifest").await?;
        let wanted = reference.digest().cloned();
        let hasher_for = wanted
            .as_ref()
            .map_or_else(|| Ok(super::Hasher::sha256()), Digest::hasher)?;
        let mut h = hasher_for;
        h.update(&body);
        let actual = h.finish();
        if let Some(want) = &wanted
            && want != &actual
        {
            return Err(Error::DigestMismatch {
                expected: want.to_string(),
                actual: actual.to_string(),
            });
        }
        if let Some(hd) = header_digest(&headers).ok().flatten()
            && hd.algorithm() == actual.algorithm()
            && hd != actual
        {
            return Err(Error::DigestMismatch {
                expected: hd.to_string(),
                actual: actual.to_string(),
            });
        }
        let ct = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_owned())
            .filter(|s| !s.is_empty() && s != "application/json" && s != "text/plain");
        let media_type = match ct {
            Some(ct) => ct,
            None => Manifest::from_slice(&body, None)?.media_type().to_owned(),
        };
        Ok(PulledManifest {
            bytes: Bytes::from(body),
            media_type,
            digest: actual,
        })
    }

    /// Checks a manifest exists; returns its descriptor (digest from `Docker-Content-Digest`,
    /// media type and size from the headers).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] (404 when unknown), [`Error::Protocol`] when the registry sends no digest.
    pub async fn head_manifest(&self, reference: &ImageReference) -> Result<Descriptor> {
        let repo = reference.repository();
        let url = self.url(
            repo,
            &format!("manifests/{}", reference.manifest_reference()),
        )?;
        let req = Request::new(Method::HEAD, url)
            .header(ACCEPT, accept_header())
            .scope(&self.scope(repo, "pull"));
        let resp = self.send(req).await?;
        let h = resp.headers();
        let digest = match (header_digest(h)?, reference.digest()) {
            (Some(d), _) => d,
            (None, Some(d)) => d.clone(),
            (None, None) => {
                return Err(Error::protocol(
                    "the registry sent no Docker-Content-Digest for the manifest",
                ));
            }
        };
        let size = h
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let media_type = h
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(MediaType::OCI_MANIFEST)
            .to_owned();
        Ok(Descriptor::new(media_type, digest, size))
    }

    /// Pushes manifest bytes under the reference's digest, else its tag. Returns the digest.
    ///
    /// The content type is `media_type`, else the manifest's `mediaType` field, else the OCI
    /// type for its kind. When pushing by digest the bytes must hash to it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when pushing by a digest the bytes do not match, or the reference
    /// has neither tag nor digest; [`Error::Decode`] when the bytes are not a manifest and no
    /// media type was given; [`Error::Api`] when the registry refuses (e.g.
    /// `MANIFEST_BLOB_UNKNOWN`).
    pub async fn put_manifest(
        &self,
        reference: &ImageReference,
        bytes: Bytes,
        media_type: Option<&str>,
    ) -> Result<Digest> {
        let repo = reference.repository();
        let media_type = match media_type {
            Some(m) => m.to_owned(),
            None => Manifest::from_slice(&bytes, None)?.media_type().to_owned(),
        };
        let digest = Digest::sha256_of(&bytes);
        let target = match (reference.digest(), reference.tag()) {
            (Some(d), _) => {
                let mut h = d.hasher()?;
                h.update(&bytes);
                if &h.finish() != d {
                    return Err(Error::invalid(
                        "manifest",
                        d.as_str(),
                        "the bytes do not hash to the digest they are pushed under",
                    ));
                }
                d.to_string()
            }
            (None, Some(t)) => t.to_string(),
            (None, None) => {
                return Err(Error::invalid(
                    "reference",
                    &reference.to_string(),
                    "a manifest is pushed under a tag or a digest",
                ));
            }
        };
        let url = self.url(repo, &format!("manifests/{target}"))?;
        let ct = HeaderValue::from_str(&media_type)
            .map_err(|_| Error::invalid("media type", &media_type, "not a valid header value"))?;
        let req = Request::new(Method::PUT, url)
            .header(CONTENT_TYPE, ct)
            .body(bytes)
            .scope(&self.scope(repo, "pull,push"));
        self.send(req).await?;
        Ok(digest)
    }

    /// Deletes a manifest (by digest; registries such as Harbor refuse deletion by tag).
    ///
    /// # Errors
    ///
    /// [`Error::Api`]: 404 when unknown, 400/405 when deletion is disabled or by tag refused.
    pub async fn delete_manifest(&self, reference: &ImageReference) -> Result<()> {
        let repo = reference.repository();
        let url = self.url(
            repo,
            &format!("manifests/{}", reference.manifest_reference()),
        )?;
        self.send(Request::new(Method::DELETE, url).scope(&self.scope(repo, "delete")))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    #[test]
    fn manifest_without_media_type_and_with_unknown_fields() {
        let m = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{}","digest":"{D}","size":3}},"layers":[],"x-unknown":1}}"#,
            MediaType::OCI_CONFIG
        );
        let parsed = Manifest::from_slice(m.as_bytes(), None).unwrap();
        assert!(matches!(parsed, Manifest::Image(_)));
        assert_eq!(parsed.media_type(), MediaType::OCI_MANIFEST);
        let idx = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{D}","size":3,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#,
            MediaType::OCI_MANIFEST
        );
        let parsed = Manifest::from_slice(idx.as_bytes(), None).unwrap();
        let Manifest::Index(i) = parsed else {
            panic!("not an index")
        };
        assert!(i.find_platform(&Platform::new("linux", "arm64")).is_some());
        assert!(i.find_platform(&Platform::new("linux", "amd64")).is_none());
    }

    #[test]
    fn docker_list_by_content_type() {
        let idx = r#"{"schemaVersion":2,"manifests":[]}"#;
        let p =
            Manifest::from_slice(idx.as_bytes(), Some(MediaType::DOCKER_MANIFEST_LIST)).unwrap();
        assert!(matches!(p, Manifest::Index(_)));
    }

    #[test]
    fn decode_errors_name_the_path() {
        let m =
            r#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:nothex","size":3}}"#;
        let e = Manifest::from_slice(m.as_bytes(), None).unwrap_err();
        let Error::Decode { path, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(path, "config.digest");
    }
}
