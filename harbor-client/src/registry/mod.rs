//! The OCI distribution (registry v2) client.
//!
//! [`RegistryClient`] speaks to any registry named in a [`ImageReference`] or [`Repository`]:
//!
//! | area | methods |
//! | --- | --- |
//! | ping | [`ping`](RegistryClient::ping) |
//! | listing | [`list_tags`](RegistryClient::list_tags), [`list_tags_stream`](RegistryClient::list_tags_stream), [`list_catalog`](RegistryClient::list_catalog), [`list_catalog_stream`](RegistryClient::list_catalog_stream) (follow `Link`, checking the host) |
//! | manifests | [`get_manifest`](RegistryClient::get_manifest), [`head_manifest`](RegistryClient::head_manifest), [`put_manifest`](RegistryClient::put_manifest), [`delete_manifest`](RegistryClient::delete_manifest); [`Manifest`] (OCI, Docker schema 2, Docker schema 1 read only: [`Schema1Manifest`]) |
//! | blobs | [`head_blob`](RegistryClient::head_blob), [`get_blob`](RegistryClient::get_blob) (a stream verified on the fly, resumed transparently when the connection breaks), [`get_blob_range`](RegistryClient::get_blob_range), [`pull_blob_to_file`](RegistryClient::pull_blob_to_file), [`delete_blob`](RegistryClient::delete_blob) |
//! | uploads | [`push_blob`](RegistryClient::push_blob) (monolithic), [`push_blob_file`](RegistryClient::push_blob_file) (streamed or chunked, resumed after failures), [`push_blob_stream`](RegistryClient::push_blob_stream) (unknown digest, hashed while sending, in chunks kept until acknowledged, resumed), [`start_upload`](RegistryClient::start_upload) and [`UploadSession`] for manual control, [`mount_blob`](RegistryClient::mount_blob) |
//! | referrers | [`referrers`](RegistryClient::referrers) (API with `Link` paging, else the tag schema), [`add_referrer_to_tag_schema`](RegistryClient::add_referrer_to_tag_schema), [`remove_referrer_from_tag_schema`](RegistryClient::remove_referrer_from_tag_schema) |
//! | artifacts | [`push_artifact`](RegistryClient::push_artifact) ([`Artifact`], [`ArtifactFile`]), [`pull_artifact`](RegistryClient::pull_artifact) |
//! | images | [`pull_image`](RegistryClient::pull_image) into an OCI image layout, [`push_image`](RegistryClient::push_image) from one, [`copy_image`](RegistryClient::copy_image) between repositories or registries |
//!
//! ## Images as they are: platforms, signatures, attachments
//!
//! An image is often an index of platforms with a cosign signature, an SBOM and attestations
//! attached. [`pull_image`](RegistryClient::pull_image), [`push_image`](RegistryClient::push_image)
//! and [`copy_image`](RegistryClient::copy_image) move it whole:
//!
//! - **Platforms**: push and copy move the whole index; a pull takes this machine's platform
//!   ([`Platform::current`], in OCI names: `darwin`, `arm64`/`v8`) unless
//!   [`ImageOptions::all_platforms`] (the layout keeps the index) or
//!   [`ImageOptions::platforms`] say otherwise.
//! - **Referrers**: the manifests whose `subject` is any manifest moved (a signature, an SBOM,
//!   an attestation, and their own referrers, recursively) go along, from the referrers API
//!   or, on registries without one (distribution 2.8), the referrers tag schema
//!   (`sha256-<hex>`). An OCI layout keeps them the same way ([`OciLayout::referrers`]).
//! - **Cosign tags**: `sha256-<hex>.sig`, `.att` and `.sbom` of every manifest moved go along
//!   under the same names.
//! - **Pushing a referrer**: [`put_manifest`](RegistryClient::put_manifest) reports the
//!   registry's `OCI-Subject`; without it the client keeps the subject's `sha256-<hex>` index
//!   up to date itself (`If-Match` where the registry honours it, read back and retried when a
//!   concurrent writer wins), and [`delete_manifest`](RegistryClient::delete_manifest) takes a
//!   deleted referrer out of it.
//! - **Blob locations**: the client remembers which repositories hold each blob (kept across
//!   runs with [`RegistryClientBuilder::blob_cache_dir`]) and mounts from any of them on the
//!   destination registry instead of uploading; a refused mount becomes an upload.
//!
//! - **Legacy and foreign content**: Docker schema 1 manifests ([`Schema1Manifest`], signed
//!   or not; signatures kept, not verified) are read and pulled (layers base first, each blob
//!   once; the digest over the signed payload, as the registry's), never pushed or copied
//!   ([`Error::Schema1NotPushable`]). Foreign layers
//!   ([`Descriptor::is_foreign`]) are left out unless
//!   [`ImageOptions::fetch_foreign_layers`], which fetches them from their URLs without
//!   credentials.
//! - **Long transfers**: uploads go in chunks kept until acknowledged (or, from a source read
//!   again, one streamed request) and resume from the `Range` the registry reports after a cut
//!   or an expired token; a copy reads its source again when the destination dropped the
//!   session, a one-shot stream that cannot fails with
//!   [`Error::UploadSessionLost`].
//! - **Rate limits**: an error carries the server's `Retry-After` and `RateLimit-*` quota
//!   ([`Error::retry_after`](crate::Error::retry_after),
//!   [`Error::rate_limit`](crate::Error::rate_limit)), [`RegistryClient::rate_limit`] gives the
//!   last quota a registry stated, a `429` without `Retry-After` backs off for seconds, and
//!   [`RegistryClientBuilder::max_transfers_per_host`] caps blob transfers per host across
//!   all operations of a client.
//!
//! ```no_run
//! # async fn demo() -> harbor_client::Result<()> {
//! use harbor_client::registry::{ImageOptions, ImageReference, RegistryClient};
//! let client = RegistryClient::builder().build()?;
//! let src: ImageReference = "harbor.example/library/app:1.0".parse()?;
//! let dst: ImageReference = "mirror.example/library/app:1.0".parse()?;
//! // Every platform, the signature tags and every referrer, recursively.
//! client.copy_image(&src, &dst, &ImageOptions::default()).await?;
//! // The image alone.
//! let bare = ImageOptions::default().referrers(false).cosign_tags(false);
//! client.copy_image(&src, &dst, &bare).await?;
//! # Ok(()) }
//! ```
//!
//! Loopback registries (`localhost`, `127.0.0.0/8`, `[::1]`) are spoken to over plain HTTP;
//! others over HTTPS unless [`RegistryClientBuilder::plain_http`] says otherwise (or the host
//! is insecure in the [`Registries`] settings: then HTTPS falls back to HTTP).
//!
//! Each registry gets its own credentials from the [`Keychain`]
//! ([`RegistryClientBuilder::keychain`]), so a copy between two registries authenticates on
//! each side with that side's credentials, and a registry never receives another's. The
//! [`Registries`] settings ([`RegistryClientBuilder::registries`]) add mirrors tried before
//! the origin for pulls (manifests and blobs), `location` rewrites and `blocked` prefixes.

mod artifact;
mod blob;
mod blob_transfer;
#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
mod foreign;
mod image;
mod layout;
mod listing;
mod locations;
mod manifest;
mod referrers;
mod resumable;
mod schema1;
mod upload;

use std::sync::Arc;

use http::Method;
use url::Url;

pub use artifact::{Artifact, ArtifactFile, TITLE};
pub use blob::BlobStream;
pub use image::{COSIGN_TAG_SUFFIXES, ImageOptions, Progress, ProgressEvent};
pub use layout::{OciLayout, REF_NAME};
pub use listing::{CatalogPage, MAX_LIST_BODY, MAX_LIST_PAGES, TagPage};
pub use manifest::{
    Descriptor, ImageIndex, ImageManifest, Manifest, MediaType, Platform, PulledManifest,
    PushedManifest,
};
pub use schema1::{FsLayer, Schema1History, Schema1Manifest, Schema1Signature};
// The names of the registry API, shared with the rest of the SDK (defined in `harbor-types`).
// `Reference` (a tag or a digest) is deliberately not re-exported here: until this release
// `registry::Reference` was the whole image reference, now `ImageReference`, and a silent
// change of meaning under the old name would still compile.
pub use harbor_types::{
    DOCKER_HUB, DOCKER_HUB_API, Digest, Hasher, ImageReference, Repository, RepositoryName, Tag,
    api_host,
};

pub use referrers::{Referrers, referrers_tag};
#[cfg(fuzzing)]
pub use upload::fuzz_range_end;
pub use upload::{MountOutcome, UploadSession};

use crate::error::{Error, Result};
use crate::transport::{Keychain, Registries, Request, Transport, TransportBuilder};

/// The OCI distribution API client. Cheap to clone; clones share connections and tokens.
///
/// ```no_run
/// # async fn demo() -> harbor_client::Result<()> {
/// use harbor_client::registry::{ImageReference, RegistryClient};
/// let client = RegistryClient::builder().build()?;
/// let image: ImageReference = "harbor.example/library/nginx:1.27".parse()?;
/// let manifest = client.get_manifest(&image).await?;
/// println!("{} {}", manifest.digest, manifest.media_type);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    plain_http: PlainHttp,
    chunk_size: Option<u64>,
    resume_attempts: u32,
    locations: locations::BlobLocations,
    /// Blob transfers in flight per registry host, shared by every operation of the client.
    per_host: Option<(usize, SlotMap)>,
}

/// Transfer slots per registry host.
type SlotMap = std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>;

#[derive(Debug, Clone)]
enum PlainHttp {
    LoopbackOnly,
    All,
    Never,
}

/// Builds a [`RegistryClient`].
#[derive(Debug)]
#[must_use]
pub struct RegistryClientBuilder {
    transport: Option<Transport>,
    transport_builder: TransportBuilder,
    plain_http: PlainHttp,
    chunk_size: Option<u64>,
    resume_attempts: u32,
    blob_cache_dir: Option<std::path::PathBuf>,
    max_transfers_per_host: Option<usize>,
}

impl RegistryClientBuilder {
    /// Uses an existing transport (shares its connections and token cache, e.g. with the
    /// Harbor API client). Transport settings of this builder are then ignored.
    pub fn transport(mut self, t: Transport) -> Self {
        self.transport = Some(t);
        self
    }

    /// Adjusts the transport this builder creates.
    pub fn configure_transport(
        mut self,
        f: impl FnOnce(TransportBuilder) -> TransportBuilder,
    ) -> Self {
        self.transport_builder = f(self.transport_builder);
        self
    }

    /// Sets where credentials come from: the keychain binds them per registry host (and
    /// repository prefix), so every registry this client talks to gets its own. Default: none
    /// (anonymous). `Keychain::from_default_files()` (feature `docker-config`) gives what
    /// `docker` and `podman` would use.
    pub fn keychain(self, keychain: Keychain) -> Self {
        self.configure_transport(|b| b.keychain(keychain))
    }

    /// Sets per-registry settings: mirrors for pulls, `location` rewrites, `blocked` prefixes,
    /// insecure hosts and TLS per host (see [`Registries`]).
    pub fn registries(self, registries: Registries) -> Self {
        self.configure_transport(|b| b.registries(registries))
    }

    /// `true`: plain HTTP for every registry; `false`: HTTPS even on loopback. Default:
    /// plain HTTP on loopback only.
    pub fn plain_http(mut self, yes: bool) -> Self {
        self.plain_http = if yes {
            PlainHttp::All
        } else {
            PlainHttp::Never
        };
        self
    }

    /// Uploads in chunks of this many bytes (raised to the registry's `OCI-Chunk-Min-Length`):
    /// files, streams ([`RegistryClient::push_blob_stream`]) and blobs copied between
    /// registries. Each chunk is kept in memory until the registry acknowledges it, and a
    /// failed one is sent again from the offset the registry reports. Default: a file or a
    /// copied blob goes in one streamed request, resumed after a failure by reading its source
    /// again where the registry stands; a one-shot stream in chunks of 8 MiB.
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = Some(bytes.max(1));
        self
    }

    /// Keeps the client's memory of where blobs are (which repositories of which registry
    /// hold each blob) in `dir/blob-locations.json`, read when the client is built and
    /// written after each image transfer, so that later runs mount too. Default: in memory
    /// only, for the client's lifetime. Copies and pushes use the memory to mount a blob from
    /// any repository of the destination registry known to hold it, and upload it when the
    /// registry refuses the mount.
    pub fn blob_cache_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.blob_cache_dir = Some(dir.into());
        self
    }

    /// At most `n` (at least 1) blob transfers at once per registry host, shared by every
    /// image and artifact operation of this client and its clones (each operation's own
    /// [`ImageOptions::concurrency`] still applies), so that parallel copies do not overrun a
    /// registry's rate limit or connection limit. Default: no shared limit.
    pub fn max_transfers_per_host(mut self, n: usize) -> Self {
        self.max_transfers_per_host = Some(n.max(1));
        self
    }

    /// How often a broken blob download or upload is resumed before giving up (default 5).
    pub fn resume_attempts(mut self, n: u32) -> Self {
        self.resume_attempts = n;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the transport cannot be built.
    pub fn build(self) -> Result<RegistryClient> {
        let transport = match self.transport {
            Some(t) => t,
            None => self.transport_builder.build()?,
        };
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                transport,
                plain_http: self.plain_http,
                chunk_size: self.chunk_size,
                resume_attempts: self.resume_attempts,
                locations: locations::BlobLocations::new(self.blob_cache_dir.as_deref()),
                per_host: self
                    .max_transfers_per_host
                    .map(|n| (n, std::sync::Mutex::new(std::collections::HashMap::new()))),
            }),
        })
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host
        .rsplit_once(':')
        .filter(|(h, p)| !h.ends_with(':') && p.parse::<u16>().is_ok() && !h.is_empty())
        .map_or(host, |(h, _)| h);
    let h = h.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl RegistryClient {
    /// A builder with the defaults (anonymous, plain HTTP on loopback only).
    pub fn builder() -> RegistryClientBuilder {
        RegistryClientBuilder {
            transport: None,
            transport_builder: Transport::builder(),
            plain_http: PlainHttp::LoopbackOnly,
            chunk_size: None,
            resume_attempts: 5,
            blob_cache_dir: None,
            max_transfers_per_host: None,
        }
    }

    /// The request quota `registry` stated last (`RateLimit-Limit`/`RateLimit-Remaining`,
    /// as Docker Hub sends on manifest requests), if it ever did.
    pub fn rate_limit(&self, registry: &str) -> Option<crate::transport::RateLimit> {
        let url = self.base(registry).ok()?;
        self.inner.transport.rate_limit(&url)
    }

    /// Waits for a transfer slot on each of `registries` (in a fixed order, so that two
    /// operations never wait on each other); the slots are held until the guard drops.
    pub(crate) async fn transfer_slots(
        &self,
        registries: &[&str],
    ) -> Vec<tokio::sync::OwnedSemaphorePermit> {
        let Some((n, map)) = &self.inner.per_host else {
            return Vec::new();
        };
        let mut hosts: Vec<String> = registries.iter().map(|r| r.to_ascii_lowercase()).collect();
        hosts.sort();
        hosts.dedup();
        let mut permits = Vec::with_capacity(hosts.len());
        for h in hosts {
            let sem = match map.lock() {
                Ok(mut m) => m
                    .entry(h)
                    .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(*n)))
                    .clone(),
                Err(_) => continue,
            };
            if let Ok(p) = sem.acquire_owned().await {
                permits.push(p);
            }
        }
        permits
    }

    /// The transport this client uses.
    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    fn scheme(&self, registry_host: &str) -> &'static str {
        match self.inner.plain_http {
            PlainHttp::All => "http",
            PlainHttp::Never => "https",
            PlainHttp::LoopbackOnly if is_loopback(registry_host) => "http",
            PlainHttp::LoopbackOnly => "https",
        }
    }

    /// `scheme://host/v2/` for a registry.
    fn base(&self, registry: &str) -> Result<Url> {
        let host = harbor_types::api_host(registry);
        Url::parse(&format!("{}://{host}/v2/", self.scheme(host)))
            .map_err(|e| bad_registry(registry, &e))
    }

    /// Where requests for `repo` really go: the settings' `location` applied. Refused when
    /// the settings block it.
    fn endpoint(&self, repo: &Repository) -> Result<Repository> {
        let settings = self.inner.transport.registries();
        let name = repo.name().as_str();
        if settings.is_blocked(repo.registry(), name) {
            return Err(Error::invalid(
                "repository",
                &repo.to_string(),
                "blocked by the registry settings",
            ));
        }
        let origin = settings.origin(repo.registry(), name);
        if origin.registry.eq_ignore_ascii_case(repo.registry()) && origin.name == name {
            return Ok(repo.clone());
        }
        Ok(Repository::new(&origin.registry, origin.name.parse()?)?)
    }

    /// The scope string for `actions` on a repository (its name where it really is).
    fn scope(&self, repo: &Repository, actions: &str) -> String {
        match self.endpoint(repo) {
            Ok(r) => format!("repository:{}:{actions}", r.name()),
            Err(_) => format!("repository:{}:{actions}", repo.name()),
        }
    }

    /// `…/v2/<name>/<path>`.
    fn url(&self, repo: &Repository, path: &str) -> Result<Url> {
        let repo = self.endpoint(repo)?;
        let base = self.base(repo.registry())?;
        base.join(&format!("{}/{path}", repo.name()))
            .map_err(|e| Error::invalid("repository", repo.name().as_str(), e.to_string()))
    }

    /// Runs a pull from each mirror that serves it, in order, and then from `repo` itself:
    /// the first success wins; a failing mirror is skipped (logged at debug level).
    async fn pull_from_mirrors<T, F, Fut>(
        &self,
        repo: &Repository,
        by_digest: bool,
        pull: F,
    ) -> Result<T>
    where
        F: Fn(Repository) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mirrors = self.inner.transport.registries().pull_sources(
            repo.registry(),
            repo.name().as_str(),
            by_digest,
        );
        for m in mirrors.iter().filter(|m| m.mirror) {
            let Ok(mirror) = m
                .name
                .parse()
                .and_then(|name| Repository::new(&m.registry, name))
            else {
                continue;
            };
            match pull(mirror).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    tracing::debug!(mirror = %m, error = %e, "mirror failed; trying the next")
                }
            }
        }
        pull(repo.clone()).await
    }

    async fn send(&self, req: Request) -> Result<reqwest::Response> {
        self.inner.transport.execute_checked(req).await
    }

    /// Checks that the registry speaks the v2 API (`GET /v2/`), authenticating if it asks.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] when the registry answers an error (401 with bad credentials, 404 when
    /// it is not a v2 registry), [`Error::Transport`] when it cannot be reached.
    pub async fn ping(&self, registry: &str) -> Result<()> {
        let url = self.base(registry)?;
        self.send(Request::new(Method::GET, url)).await?;
        Ok(())
    }
}

/// The error for a registry that makes no URL. Only what follows a last `@` is quoted: a
/// `user:password@` written into the registry never reaches a message.
pub(crate) fn bad_registry(registry: &str, error: &url::ParseError) -> Error {
    Error::invalid(
        "registry",
        &crate::error::redact_user_info(registry),
        error.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:80",
            "127.1.2.3",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "harbor.example",
            "10.0.0.1:5000",
            "[2001:db8::1]:5000",
            "localhost.example",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn urls_use_the_right_scheme_and_hub_host() {
        let c = RegistryClient::builder().build().unwrap();
        let r: ImageReference = "127.0.0.1:5000/a/b:t".parse().unwrap();
        assert_eq!(
            c.url(r.repository(), "tags/list").unwrap().as_str(),
            "http://127.0.0.1:5000/v2/a/b/tags/list"
        );
        let r: ImageReference = "alpine".parse().unwrap();
        assert_eq!(
            c.url(r.repository(), "manifests/latest").unwrap().as_str(),
            "https://registry-1.docker.io/v2/library/alpine/manifests/latest"
        );
    }

    #[test]
    fn a_registry_that_makes_no_url_is_quoted_without_its_user_info() {
        let c = RegistryClient::builder().build().unwrap();
        let err = c.base("user:s3cret@bad host").unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("bad host"),
            "{shown}"
        );
    }
}
