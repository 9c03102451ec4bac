//! Whole images: pull into an OCI image layout, push from one, copy between repositories,
//! each with the platforms asked for and what is attached to the image (referrers and the
//! cosign tags).

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt as _;

use super::layout::OciLayout;
use super::manifest::{
    Descriptor, ImageIndex, Manifest, MediaType, PulledManifest, referrer_entry,
};
use super::schema1::not_pushable;
use super::{Digest, ImageReference, Platform, RegistryClient, Repository, referrers_tag};
use crate::error::{Error, Result};

/// A progress callback; called from the transfer tasks, so keep it quick.
pub type Progress = Arc<dyn Fn(ProgressEvent) + Send + Sync>;

/// What happened during an image transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// A blob transfer starts.
    BlobStarted {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// More bytes of a blob moved.
    BlobBytes {
        /// The blob.
        digest: Digest,
        /// Bytes since the last event.
        bytes: u64,
    },
    /// A blob is done.
    BlobDone {
        /// The blob.
        digest: Digest,
    },
    /// A blob was already there.
    BlobSkipped {
        /// The blob.
        digest: Digest,
    },
    /// A blob was mounted from another repository.
    BlobMounted {
        /// The blob.
        digest: Digest,
    },
    /// A manifest was written or pushed.
    ManifestDone {
        /// The manifest.
        digest: Digest,
    },
    /// A foreign (non-distributable) layer was left out: not fetched, not uploaded (see
    /// [`ImageOptions::fetch_foreign_layers`]).
    ForeignLayerSkipped {
        /// The layer.
        digest: Digest,
    },
}

/// The suffixes of the tags cosign attaches to an image (`sha256-<hex>.sig` ...).
pub const COSIGN_TAG_SUFFIXES: [&str; 3] = [".sig", ".att", ".sbom"];

/// How deep indexes may nest in a transfer (an index of indexes ...).
const MAX_NESTING: usize = 8;

/// Which manifests of an index move.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum Platforms {
    /// The operation's default: this machine's platform for a pull, all for push and copy.
    #[default]
    Default,
    /// One platform: its image manifest alone, without the index.
    One(Platform),
    /// Several platforms: an index of those (rewritten, so with a new digest, when some are
    /// left out).
    Set(Vec<Platform>),
    /// The whole index as it is.
    All,
}

/// Options for [`RegistryClient::pull_image`], [`RegistryClient::push_image`] and
/// [`RegistryClient::copy_image`].
#[derive(Clone)]
#[must_use]
pub struct ImageOptions {
    pub(super) concurrency: usize,
    platforms: Platforms,
    referrers: bool,
    cosign_tags: bool,
    pub(super) fetch_foreign: bool,
    pub(super) progress: Option<Progress>,
}

impl std::fmt::Debug for ImageOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageOptions")
            .field("concurrency", &self.concurrency)
            .field("platforms", &self.platforms)
            .field("referrers", &self.referrers)
            .field("cosign_tags", &self.cosign_tags)
            .field("fetch_foreign", &self.fetch_foreign)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            concurrency: 4,
            platforms: Platforms::Default,
            referrers: true,
            cosign_tags: true,
            fetch_foreign: false,
            progress: None,
        }
    }
}

impl ImageOptions {
    /// How many blobs move at once (default 4, at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Moves only this platform's image manifest out of an index (not the index). Default:
    /// [`Platform::current`] for [`pull_image`](RegistryClient::pull_image), the whole index
    /// for push and copy.
    pub fn platform(mut self, p: Platform) -> Self {
        self.platforms = Platforms::One(p);
        self
    }

    /// Moves an index with only these platforms. When some of the index's entries are left
    /// out the index is rewritten, so it gets a new digest (and signatures of the original
    /// index no longer apply to it); when all are asked for it moves as it is.
    pub fn platforms(mut self, platforms: impl IntoIterator<Item = Platform>) -> Self {
        self.platforms = Platforms::Set(platforms.into_iter().collect());
        self
    }

    /// Moves a whole index, every platform, as it is (the default for push and copy; a pull
    /// then keeps the index in the layout).
    pub fn all_platforms(mut self) -> Self {
        self.platforms = Platforms::All;
        self
    }

    /// Whether the referrers of every manifest moved go along, recursively (a signature of
    /// an SBOM of the image): from the referrers API, else the referrers tag schema
    /// (`sha256-<hex>`). Default `true`.
    pub fn referrers(mut self, yes: bool) -> Self {
        self.referrers = yes;
        self
    }

    /// Whether cosign's tags of every manifest moved (`sha256-<hex>.sig`, `.att`, `.sbom`)
    /// go along, under the same names. Default `true`.
    pub fn cosign_tags(mut self, yes: bool) -> Self {
        self.cosign_tags = yes;
        self
    }

    /// Whether foreign (non-distributable) layers are fetched: layers of a non-distributable
    /// media type (Docker's `…rootfs.foreign.diff.tar.gzip`, OCI's
    /// `…layer.nondistributable.v1.tar*`) or with download `urls` (see
    /// [`Descriptor::is_foreign`]).
    ///
    /// Default `false`: they are left out, as registries expect. A pull does not download
    /// them (the layout lacks their blobs, as the OCI image layout allows), a copy or push
    /// keeps their descriptors in the manifest and uploads nothing
    /// ([`ProgressEvent::ForeignLayerSkipped`]).
    ///
    /// `true`: each is downloaded from the first of its `urls` that serves it (`http` and
    /// `https` only, without any credentials of the registries, its size and digest
    /// verified) and then moved as any other blob (written to the layout, uploaded to the
    /// destination); [`Error::ForeignLayerUnavailable`] when none does. A foreign layer
    /// without `urls` is taken from the source itself.
    pub fn fetch_foreign_layers(mut self, yes: bool) -> Self {
        self.fetch_foreign = yes;
        self
    }

    /// A progress callback.
    pub fn progress(mut self, p: Progress) -> Self {
        self.progress = Some(p);
        self
    }

    pub(super) fn emit(&self, e: ProgressEvent) {
        if let Some(p) = &self.progress {
            p(e);
        }
    }
}

/// The blobs of an image manifest, each once: old Docker images list their empty layer
/// several times, and two transfers of one blob would race for its file. Schema 1 layers come
/// base first, with size 0 (schema 1 does not say).
fn blobs_of(m: &Manifest) -> Vec<Descriptor> {
    match m {
        Manifest::Image(i) => {
            let mut seen = HashSet::new();
            std::iter::once(&i.config)
                .chain(i.layers.iter())
                .filter(|d| seen.insert(d.digest.clone()))
                .cloned()
                .collect()
        }
        Manifest::Schema1(s) => s.layers(),
        _ => Vec::new(),
    }
}

/// One side of a transfer: a repository of a registry or an OCI layout.
#[derive(Debug, Clone, Copy)]
pub(super) enum End<'a> {
    Registry(&'a Repository),
    Layout(&'a OciLayout),
}

/// How a manifest is recorded where it goes.
#[derive(Debug, Clone, Copy)]
enum Name<'a> {
    /// By digest only (a child of an index, a referrer).
    Digest,
    /// Under a tag (a cosign tag; the image itself).
    Tag(&'a str),
    /// The image itself without a tag: by digest, listed in a layout's `index.json`.
    Root,
}

impl RegistryClient {
    /// Pulls an image into an OCI image layout directory (created if needed): by default the
    /// manifest of this machine's platform out of an index ([`ImageOptions::all_platforms`]
    /// keeps the whole index, [`ImageOptions::platforms`] some), then config and layers,
    /// `concurrency` blobs at a time, each streamed to disk and verified. A blob listed twice
    /// is fetched once; a blob already in the layout is skipped only when its content matches
    /// its digest (else it is fetched again). The image is recorded in `index.json` under the
    /// reference's tag.
    ///
    /// What is attached to the image comes along (see [`ImageOptions::referrers`] and
    /// [`ImageOptions::cosign_tags`]): referrers are kept in the layout under the referrers
    /// tag schema (see [`OciLayout::referrers`]), cosign tags under their names.
    ///
    /// A Docker schema 1 manifest is pulled too (see [`Schema1Manifest`](super::Schema1Manifest)):
    /// its layers are fetched base first, each blob once, and the layout keeps its signed
    /// payload as an unsigned schema 1 manifest (same digest: a layout is content-addressed,
    /// and that digest covers the payload without the signatures). Foreign layers are left
    /// out unless [`ImageOptions::fetch_foreign_layers`].
    ///
    /// Returns the image's descriptor.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when an index has no manifest for a platform asked for; errors
    /// of [`RegistryClient::get_manifest`], [`RegistryClient::referrers`] and
    /// [`RegistryClient::pull_blob_to_file`].
    pub async fn pull_image(
        &self,
        reference: &ImageReference,
        dir: &Path,
        options: &ImageOptions,
    ) -> Result<Descriptor> {
        let layout = OciLayout::create(dir).await?;
        let repo = reference.repository();
        let root = self.get_manifest(reference).await?;
        let platforms = match &options.platforms {
            Platforms::Default => Platforms::One(Platform::current()),
            p => p.clone(),
        };
        let name = reference
            .tag()
            .map_or(Name::Root, |t| Name::Tag(t.as_str()));
        let put = self
            .transfer(
                End::Registry(repo),
                End::Layout(&layout),
                root,
                name,
                &platforms,
                options,
                &reference.to_string(),
            )
            .await?;
        Ok(put.descriptor())
    }

    /// Pushes the image named by the reference's tag in a layout's `index.json` (or its only
    /// image) to the reference: blobs the registry lacks first, `concurrency` at a time,
    /// streamed from disk; then the manifests (for an index: each child manifest, then the
    /// index), then what the layout holds attached to them (referrers and cosign tags, see
    /// [`ImageOptions`]). Returns the pushed manifest's digest.
    ///
    /// # Errors
    ///
    /// [`Error::Schema1NotPushable`] for a Docker schema 1 image (before anything is sent);
    /// [`Error::InvalidInput`] for a directory that is not a layout or names no such image;
    /// errors of the uploads and of [`RegistryClient::put_manifest`].
    pub async fn push_image(
        &self,
        dir: &Path,
        reference: &ImageReference,
        options: &ImageOptions,
    ) -> Result<Digest> {
        let layout = OciLayout::open(dir).await?;
        let top = layout
            .find_manifest(reference.tag().map(|t| t.as_str()))
            .await?;
        let root = self.end_manifest(End::Layout(&layout), &top).await?;
        let name = reference
            .tag()
            .map_or(Name::Root, |t| Name::Tag(t.as_str()));
        let put = self
            .transfer(
                End::Layout(&layout),
                End::Registry(reference.repository()),
                root,
                name,
                &options.platforms,
                options,
                &reference.to_string(),
            )
            .await?;
        Ok(put.digest)
    }

    /// Copies an image (by default with every platform of an index) from `src` to `dst`,
    /// possibly on another registry, with what is attached to it (referrers, recursively, and
    /// cosign tags; see [`ImageOptions`]). Blobs the destination has are skipped; on the same
    /// registry they are mounted (a 202 answer continues as an upload); otherwise they are
    /// streamed from source to destination, verified, without touching the disk. The tag is
    /// `dst`'s, else `src`'s, else the copy is by digest. Returns the manifest's digest,
    /// which is the source's (the bytes are copied as they are) unless a platform choice
    /// rewrote the index.
    ///
    /// A blob streamed across survives a cut connection or an expired token on the
    /// destination: the source is read again where the destination's upload stands, or from
    /// its start with a new upload session when the destination dropped the session (see
    /// [`RegistryClientBuilder::chunk_size`](super::RegistryClientBuilder::chunk_size) for
    /// chunks).
    ///
    /// A Docker schema 1 image is refused with [`Error::Schema1NotPushable`] before anything
    /// moves: registries no longer take schema 1, and converting it (a new config built from
    /// `v1Compatibility`, new digests, signatures lost) is a decision for the user
    /// (`skopeo copy --format v2s2`), not a side effect of a copy. Foreign layers keep their
    /// descriptors and are not uploaded unless [`ImageOptions::fetch_foreign_layers`].
    ///
    /// # Errors
    ///
    /// [`Error::Schema1NotPushable`] for a schema 1 image; errors of the manifest, referrers
    /// and blob operations on either side.
    pub async fn copy_image(
        &self,
        src: &ImageReference,
        dst: &ImageReference,
        options: &ImageOptions,
    ) -> Result<Digest> {
        let root = self.get_manifest(src).await?;
        let name = match (dst.tag(), src.tag()) {
            (Some(t), _) | (None, Some(t)) => Name::Tag(t.as_str()),
            (None, None) => Name::Root,
        };
        let put = self
            .transfer(
                End::Registry(src.repository()),
                End::Registry(dst.repository()),
                root,
                name,
                &options.platforms,
                options,
                &src.to_string(),
            )
            .await?;
        Ok(put.digest)
    }

    /// Moves `root` (after the platform choice) with its children and blobs, records it as
    /// `name`, then moves what is attached. Returns the manifest as recorded.
    #[allow(clippy::too_many_arguments)]
    async fn transfer(
        &self,
        src: End<'_>,
        dst: End<'_>,
        root: PulledManifest,
        name: Name<'_>,
        platforms: &Platforms,
        options: &ImageOptions,
        what: &str,
    ) -> Result<PulledManifest> {
        let root = self.choose_platforms(src, root, platforms, what).await?;
        if let End::Registry(r) = dst
            && MediaType::is_schema1(&root.media_type)
        {
            return Err(not_pushable(&r.to_string()));
        }
        // A layout keeps a signed schema 1 manifest as its payload (see `content_addressed`).
        let root = match dst {
            End::Layout(_) => root.content_addressed()?,
            End::Registry(_) => root,
        };
        let mut moved = Vec::new();
        let mut done = HashSet::from([root.digest.clone()]);
        self.transfer_tree(src, dst, &root, options, &mut moved, &mut done, 0)
            .await?;
        self.end_put(dst, &root, name).await?;
        options.emit(ProgressEvent::ManifestDone {
            digest: root.digest.clone(),
        });
        moved.push(root.digest.clone());
        if options.referrers || options.cosign_tags {
            self.transfer_attached(src, dst, moved, &mut done, options)
                .await?;
        }
        if let Err(e) = self.inner.locations.save().await {
            tracing::debug!(error = %e, "could not save the blob locations");
        }
        Ok(root)
    }

    /// The manifest to move for a platform choice: `root` itself, one child, or `root`
    /// rewritten with some of its children.
    async fn choose_platforms(
        &self,
        src: End<'_>,
        root: PulledManifest,
        platforms: &Platforms,
        what: &str,
    ) -> Result<PulledManifest> {
        let Manifest::Index(index) = root.parse()? else {
            return Ok(root);
        };
        let missing = |p: &Platform| {
            Error::invalid(
                "reference",
                what,
                format!("the index has no manifest for {p}"),
            )
        };
        match platforms {
            Platforms::Default | Platforms::All => Ok(root),
            Platforms::One(p) => {
                let child = index.find_platform(p).ok_or_else(|| missing(p))?;
                self.end_manifest(src, child).await
            }
            Platforms::Set(wanted) => {
                if let Some(p) = wanted.iter().find(|p| index.find_platform(p).is_none()) {
                    return Err(missing(p));
                }
                let keep: Vec<Descriptor> = index
                    .manifests
                    .iter()
                    .filter(|d| {
                        d.platform
                            .as_ref()
                            .is_some_and(|have| wanted.iter().any(|w| have.satisfies(w)))
                    })
                    .cloned()
                    .collect();
                if keep.len() == index.manifests.len() {
                    return Ok(root);
                }
                let mut chosen: ImageIndex = index;
                chosen.manifests = keep;
                let bytes = serde_json::to_vec(&chosen)
                    .map_err(|e| Error::invalid("image index", what, e.to_string()))?;
                Ok(PulledManifest {
                    digest: Digest::sha256_of(&bytes),
                    bytes: Bytes::from(bytes),
                    media_type: root.media_type,
                    etag: None,
                })
            }
        }
    }

    /// Moves what `m` needs before it can be recorded: the blobs of an image manifest, the
    /// children of an index (each recorded by digest). Collects the children's digests.
    ///
    /// `done` holds the children moved so far in the whole transfer: a child listed again
    /// (in this index or another) is not moved again, so an index that lists one child index
    /// many times, nested `MAX_NESTING` deep, costs one request per distinct manifest, not
    /// exponentially many.
    #[allow(clippy::too_many_arguments)]
    async fn transfer_tree(
        &self,
        src: End<'_>,
        dst: End<'_>,
        m: &PulledManifest,
        options: &ImageOptions,
        moved: &mut Vec<Digest>,
        done: &mut HashSet<Digest>,
        depth: usize,
    ) -> Result<()> {
        match m.parse()? {
            Manifest::Schema1(_) if matches!(dst, End::Registry(_)) => {
                Err(not_pushable(m.digest.as_str()))
            }
            Manifest::Schema1(s) => {
                let mut blobs = blobs_of(&Manifest::Schema1(s));
                if let End::Registry(repo) = src {
                    // Schema 1 does not say layer sizes; the registry does.
                    for b in &mut blobs {
                        b.size = self.head_blob(repo, &b.digest).await?;
                    }
                }
                self.move_blobs(src, dst, blobs, options).await
            }
            Manifest::Image(image) => {
                self.move_blobs(src, dst, blobs_of(&Manifest::Image(image)), options)
                    .await
            }
            Manifest::Index(index) => {
                if depth >= MAX_NESTING {
                    return Err(Error::invalid(
                        "image index",
                        m.digest.as_str(),
                        "indexes nest more than 8 deep",
                    ));
                }
                for child in &index.manifests {
                    if !done.insert(child.digest.clone()) {
                        continue;
                    }
                    let c = self.end_manifest(src, child).await?;
                    Box::pin(self.transfer_tree(src, dst, &c, options, moved, done, depth + 1))
                        .await?;
                    self.end_put(dst, &c, Name::Digest).await?;
                    options.emit(ProgressEvent::ManifestDone {
                        digest: c.digest.clone(),
                    });
                    moved.push(c.digest);
                }
                Ok(())
            }
        }
    }

    /// Moves the referrers and cosign tags of every manifest in `moved`, and theirs in turn;
    /// `done` records every manifest moved already (the trees' and the attached ones'), so
    /// that none is moved twice, however it is reached.
    async fn transfer_attached(
        &self,
        src: End<'_>,
        dst: End<'_>,
        moved: Vec<Digest>,
        done: &mut HashSet<Digest>,
        options: &ImageOptions,
    ) -> Result<()> {
        let tags: HashSet<String> = if options.cosign_tags {
            self.end_tags(src).await?.into_iter().collect()
        } else {
            HashSet::new()
        };
        let mut queue: VecDeque<Digest> = moved.into();
        while let Some(subject) = queue.pop_front() {
            let mut attached: Vec<(PulledManifest, Option<String>)> = Vec::new();
            if options.referrers {
                for r in self.end_referrers(src, &subject).await? {
                    if !done.contains(&r.digest) {
                        attached.push((self.end_manifest(src, &r).await?, None));
                    }
                }
            }
            if options.cosign_tags {
                let base = referrers_tag(&subject)?;
                for suffix in COSIGN_TAG_SUFFIXES {
                    let tag = format!("{base}{suffix}");
                    if tags.contains(&tag) {
                        attached.push((self.end_tagged(src, &tag).await?, Some(tag)));
                    }
                }
            }
            for (m, tag) in attached {
                let first = done.insert(m.digest.clone());
                let mut inner = Vec::new();
                if first {
                    self.transfer_tree(src, dst, &m, options, &mut inner, done, 0)
                        .await?;
                }
                let name = tag.as_deref().map_or(Name::Digest, Name::Tag);
                self.end_put(dst, &m, name).await?;
                options.emit(ProgressEvent::ManifestDone {
                    digest: m.digest.clone(),
                });
                if first {
                    queue.extend(inner);
                    queue.push_back(m.digest);
                }
            }
        }
        Ok(())
    }

    /// A manifest of a source by its descriptor.
    async fn end_manifest(&self, end: End<'_>, desc: &Descriptor) -> Result<PulledManifest> {
        match end {
            End::Registry(repo) => {
                self.get_manifest(&ImageReference::with_digest(
                    repo.clone(),
                    desc.digest.clone(),
                ))
                .await
            }
            End::Layout(layout) => Ok(PulledManifest {
                bytes: layout.read_blob(&desc.digest).await?,
                media_type: desc.media_type.clone(),
                digest: desc.digest.clone(),
                etag: None,
            }),
        }
    }

    /// A manifest of a source by tag.
    async fn end_tagged(&self, end: End<'_>, tag: &str) -> Result<PulledManifest> {
        match end {
            End::Registry(repo) => {
                self.get_manifest(&ImageReference::with_tag(repo.clone(), tag.parse()?))
                    .await
            }
            End::Layout(layout) => {
                let desc = layout.resolve(tag).await?.ok_or_else(|| {
                    Error::invalid("OCI layout", tag, "index.json names no such manifest")
                })?;
                self.end_manifest(end, &desc).await
            }
        }
    }

    /// The referrers of a manifest at a source.
    async fn end_referrers(&self, end: End<'_>, subject: &Digest) -> Result<Vec<Descriptor>> {
        match end {
            // From the mirrors first, as the manifests themselves.
            End::Registry(repo) => {
                self.pull_from_mirrors(repo, true, |r| async move {
                    Ok(self.referrers(&r, subject, None).await?.manifests)
                })
                .await
            }
            End::Layout(layout) => layout.referrers(subject).await,
        }
    }

    /// Every tag of a source.
    async fn end_tags(&self, end: End<'_>) -> Result<Vec<String>> {
        match end {
            End::Registry(repo) => {
                self.pull_from_mirrors(repo, false, |r| async move {
                    match self
                        .list_tags_stream(&r, None)
                        .try_collect::<Vec<_>>()
                        .await
                    {
                        Ok(tags) => Ok(tags),
                        Err(e) if e.is_not_found() => Ok(Vec::new()),
                        Err(e) => Err(e),
                    }
                })
                .await
            }
            End::Layout(layout) => layout.ref_names().await,
        }
    }

    /// Records a manifest at a destination. A layout also files a referrer under its subject
    /// (a registry does it in [`RegistryClient::put_manifest`]).
    async fn end_put(&self, end: End<'_>, m: &PulledManifest, name: Name<'_>) -> Result<()> {
        match end {
            End::Registry(repo) => {
                let r = match name {
                    Name::Tag(t) => ImageReference::with_tag(repo.clone(), t.parse()?),
                    Name::Digest | Name::Root => {
                        ImageReference::with_digest(repo.clone(), m.digest.clone())
                    }
                };
                self.put_manifest(&r, m.bytes.clone(), Some(&m.media_type))
                    .await?;
            }
            End::Layout(layout) => {
                let m = &m.content_addressed()?;
                layout.write_blob(&m.digest, &m.bytes).await?;
                match name {
                    Name::Tag(t) => layout.add_manifest(m.descriptor(), Some(t)).await?,
                    Name::Root => layout.add_manifest(m.descriptor(), None).await?,
                    Name::Digest => {}
                }
                if let Some((subject, desc)) = referrer_entry(&m.bytes, &m.media_type) {
                    layout.add_referrer(&subject, desc).await?;
                }
            }
        }
        Ok(())
    }
}
