//! Manifests: OCI image manifest and index, Docker schema 2 manifest and manifest list, Docker
//! schema 1 (read only, see [`Schema1Manifest`]).

use std::collections::BTreeMap;

use bytes::Bytes;
use http::Method;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use serde::{Deserialize, Serialize};

use super::listing::read_capped;
use super::schema1::{Schema1Manifest, digested_bytes, is_schema1, not_pushable};
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
    /// Docker foreign (non-distributable) gzip layer: fetched from its `urls`, not the registry.
    pub const DOCKER_FOREIGN_LAYER_GZIP: &'static str =
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    /// OCI non-distributable layer (deprecated by OCI 1.1; `+gzip` and `+zstd` variants too).
    pub const OCI_LAYER_NONDISTRIBUTABLE_TAR: &'static str =
        "application/vnd.oci.image.layer.nondistributable.v1.tar";
    /// OCI non-distributable gzip layer.
    pub const OCI_LAYER_NONDISTRIBUTABLE_GZIP: &'static str =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    /// Docker schema 1 manifest, unsigned (read only: never pushed).
    pub const DOCKER_SCHEMA1: &'static str = "application/vnd.docker.distribution.manifest.v1+json";
    /// Docker schema 1 manifest, signed (libtrust "pretty JWS"; read only: never pushed).
    pub const DOCKER_SCHEMA1_SIGNED: &'static str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
    /// The media type of a schema 1 layer (the manifest names none; this is distribution's).
    pub const DOCKER_SCHEMA1_LAYER: &'static str =
        "application/vnd.docker.container.image.rootfs.diff+x-gtar";

    /// Every manifest type this client accepts, in preference order (sent as `Accept`):
    /// schema 1 last, so that a registry that can serve anything newer does.
    pub const MANIFEST_TYPES: [&'static str; 6] = [
        Self::OCI_INDEX,
        Self::OCI_MANIFEST,
        Self::DOCKER_MANIFEST_LIST,
        Self::DOCKER_MANIFEST,
        Self::DOCKER_SCHEMA1_SIGNED,
        Self::DOCKER_SCHEMA1,
    ];

    /// Whether the type is an index or a manifest list.
    pub fn is_index(media_type: &str) -> bool {
        media_type == Self::OCI_INDEX || media_type == Self::DOCKER_MANIFEST_LIST
    }

    /// Whether the type is Docker schema 1, signed or not.
    pub fn is_schema1(media_type: &str) -> bool {
        is_schema1(media_type)
    }

    /// Whether a layer of this type is non-distributable ("foreign"): Docker's foreign layer
    /// or OCI's `nondistributable` layers (any compression).
    pub fn is_nondistributable(media_type: &str) -> bool {
        media_type == Self::DOCKER_FOREIGN_LAYER_GZIP
            || media_type.starts_with(Self::OCI_LAYER_NONDISTRIBUTABLE_TAR)
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

    /// Whether the blob is a foreign layer: a non-distributable media type
    /// ([`MediaType::is_nondistributable`]) or download `urls`. Registries do not hold such
    /// blobs; image transfers skip them unless
    /// [`ImageOptions::fetch_foreign_layers`](super::ImageOptions::fetch_foreign_layers).
    pub fn is_foreign(&self) -> bool {
        MediaType::is_nondistributable(&self.media_type) || !self.urls.is_empty()
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

    /// The same platform with a CPU variant (`v8`, `v7`).
    #[must_use]
    pub fn with_variant(mut self, variant: impl Into<String>) -> Self {
        self.variant = Some(variant.into());
        self
    }

    /// The platform this program runs on, in OCI terms (Go's `GOOS`/`GOARCH` names, as in
    /// image indexes): `darwin` for macOS, `amd64`, `arm64` with variant `v8`, `arm` with
    /// `v7`, `386`, `ppc64le`, `loong64` ...
    pub fn current() -> Self {
        Self::from_rust(
            std::env::consts::OS,
            std::env::consts::ARCH,
            cfg!(target_endian = "little"),
        )
    }

    /// Rust's names (`std::env::consts`) in OCI terms.
    fn from_rust(os: &str, arch: &str, little_endian: bool) -> Self {
        let os = match os {
            "macos" => "darwin",
            other => other,
        };
        let (arch, variant) = match (arch, little_endian) {
            ("x86_64", _) => ("amd64", None),
            ("aarch64", _) => ("arm64", Some("v8")),
            ("arm", _) => ("arm", Some("v7")),
            ("x86", _) => ("386", None),
            ("powerpc64", true) => ("ppc64le", None),
            ("powerpc64", false) => ("ppc64", None),
            ("powerpc", _) => ("ppc", None),
            ("mips64", true) => ("mips64le", None),
            ("mips", true) => ("mipsle", None),
            ("loongarch64", _) => ("loong64", None),
            (other, _) => (other, None),
        };
        let p = Platform::new(os, arch);
        match variant {
            Some(v) => p.with_variant(v),
            None => p,
        }
    }

    /// Whether an index entry for this platform serves `want`: same OS and architecture, and
    /// the same variant when both name one (`arm64` entries often name none).
    pub fn satisfies(&self, want: &Platform) -> bool {
        self.os == want.os
            && self.architecture == want.architecture
            && (want.variant.is_none() || self.variant.is_none() || self.variant == want.variant)
    }
}

impl std::fmt::Display for Platform {
    /// `os/architecture[/variant]`, as `docker --platform` takes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
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
        self.manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| p.satisfies(want)))
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
    /// A Docker schema 1 manifest (read only: pulled, never pushed).
    Schema1(Schema1Manifest),
}

impl Manifest {
    /// Parses manifest bytes. The kind comes from the `mediaType` field, else from the
    /// `Content-Type` the registry sent, else from the shape (`schemaVersion: 1` means Docker
    /// schema 1, `manifests` an index); unknown fields are ignored.
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
            #[serde(default)]
            schema_version: Option<u32>,
        }
        let probe: Probe = decode("manifest", bytes)?;
        let ty = probe
            .media_type
            .or_else(|| content_type.map(str::to_owned))
            .unwrap_or_default();
        if is_schema1(&ty) || probe.schema_version == Some(1) {
            return Ok(Manifest::Schema1(Schema1Manifest::from_slice(bytes)?));
        }
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
    /// OCI type for the kind (for schema 1, the signed or unsigned schema 1 type).
    pub fn media_type(&self) -> &str {
        match self {
            Manifest::Image(m) => m.media_type.as_deref().unwrap_or(MediaType::OCI_MANIFEST),
            Manifest::Index(m) => m.media_type.as_deref().unwrap_or(MediaType::OCI_INDEX),
            Manifest::Schema1(m) if m.signatures.is_empty() => MediaType::DOCKER_SCHEMA1,
            Manifest::Schema1(_) => MediaType::DOCKER_SCHEMA1_SIGNED,
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
    /// The bytes as served (the digest covers exactly these, except for a signed Docker
    /// schema 1 manifest: see [`PulledManifest::digest`]).
    pub bytes: Bytes,
    /// The media type (`Content-Type`, else the `mediaType` field).
    pub media_type: String,
    /// The digest of the bytes; for a signed Docker schema 1 manifest, of its signed payload
    /// (the bytes without the `signatures`, see [`Schema1Manifest::signed_payload`]), as
    /// registries compute it.
    pub digest: Digest,
    /// The registry's `ETag` for this manifest, when it sent one: give it back as `If-Match`
    /// to replace the manifest only if nobody else has meanwhile.
    pub etag: Option<String>,
}

/// What the registry answered to [`RegistryClient::put_manifest`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushedManifest {
    /// The digest of the pushed bytes.
    pub digest: Digest,
    /// The registry's `OCI-Subject` header: it has a referrers API and indexed the manifest
    /// as a referrer of this subject.
    pub oci_subject: Option<Digest>,
    /// The subject whose referrers tag (`sha256-<hex>`) this client updated because the
    /// manifest has a `subject` and the registry answered no `OCI-Subject` (no referrers API).
    pub referrers_tag_updated: Option<Digest>,
}

/// The parts of a manifest that make it a referrer: its subject, and the descriptor a
/// referrers index lists it with (`artifactType`, else the config's media type; annotations).
pub(crate) fn referrer_entry(bytes: &[u8], media_type: &str) -> Option<(Digest, Descriptor)> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        #[serde(default)]
        subject: Option<Descriptor>,
        #[serde(default)]
        artifact_type: Option<String>,
        #[serde(default)]
        config: Option<Descriptor>,
        #[serde(default)]
        annotations: BTreeMap<String, String>,
    }
    let probe: Probe = serde_json::from_slice(bytes).ok()?;
    let subject = probe.subject?;
    let mut d = Descriptor::new(
        media_type.to_owned(),
        Digest::sha256_of(bytes),
        bytes.len() as u64,
    );
    d.artifact_type = probe
        .artifact_type
        .or_else(|| probe.config.map(|c| c.media_type));
    d.annotations = probe.annotations;
    Some((subject.digest, d))
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

    /// The manifest as a content-addressed store keeps it: the bytes themselves, except for a
    /// signed Docker schema 1 manifest, which becomes its signed payload (the unsigned form,
    /// with the same digest), because the bytes of a content-addressed blob must hash to its
    /// name. Used for the manifests an OCI layout receives.
    ///
    /// # Errors
    ///
    /// As [`Schema1Manifest::signed_payload`].
    pub fn content_addressed(&self) -> Result<PulledManifest> {
        if self.media_type != MediaType::DOCKER_SCHEMA1_SIGNED {
            return Ok(self.clone());
        }
        let payload = Schema1Manifest::signed_payload(&self.bytes)?.into_owned();
        Ok(PulledManifest {
            bytes: Bytes::from(payload),
            media_type: MediaType::DOCKER_SCHEMA1.to_owned(),
            digest: self.digest.clone(),
            etag: None,
        })
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

/// A condition on a manifest PUT, for read-modify-write of shared indexes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Precondition<'a> {
    /// None.
    None,
    /// `If-Match: <etag>`.
    IfMatch(&'a str),
    /// `If-None-Match: *` (only when nothing is there yet).
    IfAbsent,
}

/// The largest manifest accepted (the spec asks registries to take at least 4 MB).
pub(crate) const MAX_MANIFEST: usize = 8 * 1024 * 1024;

fn accept_header() -> HeaderValue {
    HeaderValue::from_static(
        "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.v1+prettyjws, application/vnd.docker.distribution.manifest.v1+json",
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

    pub(crate) async fn fetch_manifest(
        &self,
        reference: &ImageReference,
        actions: &str,
    ) -> Result<PulledManifest> {
        let repo = reference.repository();
        let url = self.url(
            repo,
            &format!("manifests/{}", reference.manifest_reference()),
        )?;
        let scope = self.scope(repo, actions);
        // The transport retries a GET that got no answer; a connection cut while the body
        // comes is retried here (a manifest is small: it is fetched again whole).
        let mut retries_left = self.inner.resume_attempts;
        let (headers, body) = loop {
            let req = Request::new(Method::GET, url.clone())
                .header(ACCEPT, accept_header())
                .scope(&scope);
            let resp = self.send(req).await?;
            let headers = resp.headers().clone();
            match read_capped(resp, &url, MAX_MANIFEST, "manifest").await {
                Ok(body) => break (headers, body),
                Err(e @ Error::Transport { .. }) if retries_left > 0 => {
                    retries_left -= 1;
                    tracing::debug!(error = %e, "manifest download broke; fetching it again");
                }
                Err(e) => return Err(e),
            }
        };
        let ct = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_owned())
            .filter(|s| !s.is_empty() && s != "application/json" && s != "text/plain");
        let wanted = reference.digest().cloned();
        let hasher_for = wanted
            .as_ref()
            .map_or_else(|| Ok(super::Hasher::sha256()), Digest::hasher)?;
        let mut h = hasher_for;
        // A signed schema 1 manifest's digest covers its payload without the signatures.
        h.update(&digested_bytes(&body, ct.as_deref())?);
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
        let media_type = match ct {
            Some(ct) => ct,
            None => Manifest::from_slice(&body, None)?.media_type().to_owned(),
        };
        let etag = headers
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(PulledManifest {
            bytes: Bytes::from(body),
            media_type,
            digest: actual,
            etag,
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

    /// Pushes manifest bytes under the reference's digest, else its tag.
    ///
    /// The content type is `media_type`, else the manifest's `mediaType` field, else the OCI
    /// type for its kind. When pushing by digest the bytes must hash to it.
    ///
    /// A manifest with a `subject` is a referrer: a registry with a referrers API answers
    /// `OCI-Subject` ([`PushedManifest::oci_subject`]); when it does not, this client adds the
    /// manifest to the subject's referrers tag index (`sha256-<hex>`) itself
    /// ([`PushedManifest::referrers_tag_updated`]), as
    /// [`add_referrer_to_tag_schema`](RegistryClient::add_referrer_to_tag_schema) does.
    ///
    /// # Errors
    ///
    /// [`Error::Schema1NotPushable`] for a Docker schema 1 manifest (nothing is sent);
    /// [`Error::InvalidInput`] when pushing by a digest the bytes do not match, or the reference
    /// has neither tag nor digest; [`Error::Decode`] when the bytes are not a manifest and no
    /// media type was given; [`Error::Api`] when the registry refuses (e.g.
    /// `MANIFEST_BLOB_UNKNOWN`); errors of the referrers tag update.
    pub async fn put_manifest(
        &self,
        reference: &ImageReference,
        bytes: Bytes,
        media_type: Option<&str>,
    ) -> Result<PushedManifest> {
        let media_type = match media_type {
            Some(m) => m.to_owned(),
            None => Manifest::from_slice(&bytes, None)?.media_type().to_owned(),
        };
        // Refused before anything is sent: distribution 2.8 answers a bare 500 (or 400 when
        // it was told to take schema 1), other registries refuse it too.
        if is_schema1(&media_type)
            || matches!(Manifest::from_slice(&bytes, None), Ok(Manifest::Schema1(_)))
        {
            return Err(not_pushable(&reference.to_string()));
        }
        let entry = referrer_entry(&bytes, &media_type);
        let (digest, oci_subject) = self
            .put_manifest_if(reference, bytes, &media_type, Precondition::None)
            .await?;
        let mut referrers_tag_updated = None;
        if let Some((subject, desc)) = entry
            && oci_subject.is_none()
        {
            self.add_referrer_to_tag_schema(reference.repository(), &subject, desc)
                .await?;
            referrers_tag_updated = Some(subject);
        }
        Ok(PushedManifest {
            digest,
            oci_subject,
            referrers_tag_updated,
        })
    }

    /// The PUT itself, with an optional precondition; returns the digest and `OCI-Subject`.
    pub(crate) async fn put_manifest_if(
        &self,
        reference: &ImageReference,
        bytes: Bytes,
        media_type: &str,
        precondition: Precondition<'_>,
    ) -> Result<(Digest, Option<Digest>)> {
        let repo = reference.repository();
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
        let ct = HeaderValue::from_str(media_type)
            .map_err(|_| Error::invalid("media type", media_type, "not a valid header value"))?;
        let mut req = Request::new(Method::PUT, url)
            .header(CONTENT_TYPE, ct)
            .body(bytes)
            .scope(&self.scope(repo, "pull,push"));
        match precondition {
            Precondition::None => {}
            Precondition::IfMatch(etag) => {
                if let Ok(v) = HeaderValue::from_str(etag) {
                    req = req.header(http::header::IF_MATCH, v);
                }
            }
            Precondition::IfAbsent => {
                req = req.header(http::header::IF_NONE_MATCH, HeaderValue::from_static("*"));
            }
        }
        let resp = self.send(req).await?;
        let oci_subject = resp
            .headers()
            .get("oci-subject")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        Ok((digest, oci_subject))
    }

    /// Deletes a manifest (by digest; registries such as Harbor refuse deletion by tag).
    ///
    /// When the manifest is a referrer (it has a `subject`), its entry also leaves the
    /// subject's referrers tag index (`sha256-<hex>`), if there is one. To know, the manifest
    /// is read first; when that read fails for another reason than 404, nothing is deleted
    /// (deleting anyway could leave a stale entry in the referrers tag index).
    ///
    /// # Errors
    ///
    /// [`Error::Api`]: 404 when unknown, 400/405 when deletion is disabled or by tag refused;
    /// errors of the read before the deletion (401/403 without pull access, 5xx,
    /// [`Error::Transport`], [`Error::Decode`], ...; nothing was deleted then); errors of the
    /// referrers tag update.
    pub async fn delete_manifest(&self, reference: &ImageReference) -> Result<()> {
        // A referrer leaves its subject's referrers tag index too (a registry with a
        // referrers API does that itself; then the tag index, if any, is stale anyway).
        let entry = match self.fetch_manifest(reference, "pull").await {
            Ok(m) => referrer_entry(&m.bytes, &m.media_type),
            // Not there to read: the DELETE says what the registry makes of it.
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        self.delete_manifest_only(reference).await?;
        if let Some((subject, desc)) = entry {
            self.remove_referrer_from_tag_schema(reference.repository(), &subject, &desc.digest)
                .await?;
        }
        Ok(())
    }

    pub(crate) async fn delete_manifest_only(&self, reference: &ImageReference) -> Result<()> {
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
    fn current_platform_uses_oci_names() {
        let mac_arm = Platform::from_rust("macos", "aarch64", true);
        assert_eq!(mac_arm.to_string(), "darwin/arm64/v8");
        assert_eq!(
            Platform::from_rust("linux", "x86_64", true).to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::from_rust("linux", "arm", true).to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            Platform::from_rust("linux", "powerpc64", true).architecture,
            "ppc64le"
        );
        assert_eq!(
            Platform::from_rust("linux", "powerpc64", false).architecture,
            "ppc64"
        );
        assert_eq!(
            Platform::from_rust("linux", "loongarch64", true).architecture,
            "loong64"
        );
        // An arm64 entry without a variant serves an arm64/v8 machine, not a v7 one.
        let entry = Platform::new("linux", "arm64");
        assert!(entry.satisfies(&Platform::from_rust("linux", "aarch64", true)));
        assert!(!entry.satisfies(&mac_arm));
        assert!(
            !Platform::new("linux", "arm")
                .with_variant("v6")
                .satisfies(&Platform::new("linux", "arm").with_variant("v7"))
        );
    }

    #[test]
    fn referrer_entries_take_the_artifact_type_else_the_config_type() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/vnd.example.config","digest":"{D}","size":3}},"layers":[],"subject":{{"mediaType":"{}","digest":"{D}","size":3}},"annotations":{{"a":"b"}}}}"#,
            MediaType::OCI_MANIFEST,
            MediaType::OCI_MANIFEST
        );
        let (subject, d) = referrer_entry(m.as_bytes(), MediaType::OCI_MANIFEST).unwrap();
        assert_eq!(subject.as_str(), D);
        assert_eq!(
            d.artifact_type.as_deref(),
            Some("application/vnd.example.config")
        );
        assert_eq!(d.annotations.get("a").map(String::as_str), Some("b"));
        assert_eq!(d.digest, Digest::sha256_of(m.as_bytes()));
        let with_type = m.replace(
            r#""schemaVersion":2,"#,
            r#""schemaVersion":2,"artifactType":"application/spdx+json","#,
        );
        let (_, d) = referrer_entry(with_type.as_bytes(), MediaType::OCI_MANIFEST).unwrap();
        assert_eq!(d.artifact_type.as_deref(), Some("application/spdx+json"));
        let plain = m.replace("subject", "other");
        assert!(referrer_entry(plain.as_bytes(), MediaType::OCI_MANIFEST).is_none());
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
