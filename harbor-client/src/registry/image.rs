//! Whole images: pull into an OCI image layout, push from one, copy between repositories.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _, stream};

use super::layout::OciLayout;
use super::manifest::{Descriptor, Manifest, PulledManifest};
use super::upload::MountOutcome;
use super::{Digest, ImageReference, Platform, RegistryClient, Repository};
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
}

/// Options for [`RegistryClient::pull_image`], [`RegistryClient::push_image`] and
/// [`RegistryClient::copy_image`].
#[derive(Clone)]
#[must_use]
pub struct ImageOptions {
    concurrency: usize,
    platform: Option<Platform>,
    progress: Option<Progress>,
}

impl std::fmt::Debug for ImageOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageOptions")
            .field("concurrency", &self.concurrency)
            .field("platform", &self.platform)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            concurrency: 4,
            platform: None,
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

    /// The platform to pick from an index when pulling (default: this machine's).
    pub fn platform(mut self, p: Platform) -> Self {
        self.platform = Some(p);
        self
    }

    /// A progress callback.
    pub fn progress(mut self, p: Progress) -> Self {
        self.progress = Some(p);
        self
    }

    fn emit(&self, e: ProgressEvent) {
        if let Some(p) = &self.progress {
            p(e);
        }
    }
}

/// The blobs of an image manifest, each once: old Docker images list their empty layer
/// several times, and two transfers of one blob would race for its file.
fn blobs_of(m: &Manifest) -> Vec<Descriptor> {
    match m {
        Manifest::Image(i) => {
            let mut seen = std::collections::HashSet::new();
            std::iter::once(&i.config)
                .chain(i.layers.iter())
                .filter(|d| seen.insert(d.digest.clone()))
                .cloned()
                .collect()
        }
        Manifest::Index(_) => Vec::new(),
    }
}

impl RegistryClient {
    /// Pulls an image into an OCI image layout directory (created if needed): index → the
    /// platform's manifest → config → layers, `concurrency` blobs at a time, each streamed to
    /// disk and verified. A blob listed twice is fetched once; a blob already in the layout is
    /// skipped only when its content matches its digest (else it is fetched again). The manifest is recorded in
    /// `index.json` under the reference's tag. Returns the manifest's descriptor.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when an index has no manifest for the platform; errors of
    /// [`RegistryClient::get_manifest`] and [`RegistryClient::pull_blob_to_file`].
    pub async fn pull_image(
        &self,
        reference: &ImageReference,
        dir: &Path,
        options: &ImageOptions,
    ) -> Result<Descriptor> {
        let layout = OciLayout::create(dir).await?;
        let repo = reference.repository();
        let mut pulled = self.get_manifest(reference).await?;
        let mut manifest = pulled.parse()?;
        if let Manifest::Index(index) = &manifest {
            let want = options.platform.clone().unwrap_or_else(Platform::current);
            let child = index.find_platform(&want).ok_or_else(|| {
                Error::invalid(
                    "reference",
                    &reference.to_string(),
                    format!(
                        "the index has no manifest for {}/{}",
                        want.os, want.architecture
                    ),
                )
            })?;
            let child_ref = ImageReference::with_digest(repo.clone(), child.digest.clone());
            pulled = self.get_manifest(&child_ref).await?;
            manifest = pulled.parse()?;
        }
        let blobs = blobs_of(&manifest);
        stream::iter(blobs.into_iter().map(Ok))
            .try_for_each_concurrent(options.concurrency, |d| {
                let layout = &layout;
                async move {
                    if layout.has_blob(&d.digest, d.size).await? {
                        options.emit(ProgressEvent::BlobSkipped { digest: d.digest });
                        return Ok(());
                    }
                    options.emit(ProgressEvent::BlobStarted {
                        digest: d.digest.clone(),
                        size: d.size,
                    });
                    let digest = d.digest.clone();
                    let cb = |n: u64| {
                        options.emit(ProgressEvent::BlobBytes {
                            digest: digest.clone(),
                            bytes: n,
                        });
                    };
                    self.pull_blob_to_file_with(
                        repo,
                        &d.digest,
                        Some(d.size),
                        &layout.blob_path(&d.digest),
                        &cb,
                    )
                    .await?;
                    options.emit(ProgressEvent::BlobDone { digest: d.digest });
                    Ok::<_, Error>(())
                }
            })
            .await?;
        layout.write_blob(&pulled.digest, &pulled.bytes).await?;
        let desc = pulled.descriptor();
        layout
            .add_manifest(desc.clone(), reference.tag().map(|t| t.as_str()))
            .await?;
        options.emit(ProgressEvent::ManifestDone {
            digest: pulled.digest.clone(),
        });
        Ok(desc)
    }

    /// Pushes the image named by the reference's tag in a layout's `index.json` (or its only
    /// image) to the reference: blobs the registry lacks first, `concurrency` at a time,
    /// streamed from disk; then the manifest (for an index: each child manifest, then the
    /// index). Returns the pushed manifest's digest.
    ///
    /// # Errors
    ///
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
        let repo = reference.repository();
        let bytes = layout.read_blob(&top.digest).await?;
        let manifest = Manifest::from_slice(&bytes, Some(&top.media_type))?;
        if let Manifest::Index(index) = &manifest {
            for child in &index.manifests {
                let child_bytes = layout.read_blob(&child.digest).await?;
                let child_manifest = Manifest::from_slice(&child_bytes, Some(&child.media_type))?;
                self.push_layout_blobs(&layout, repo, &blobs_of(&child_manifest), options)
                    .await?;
                let r = ImageReference::with_digest(repo.clone(), child.digest.clone());
                self.put_manifest(&r, child_bytes, Some(&child.media_type))
                    .await?;
            }
        } else {
            self.push_layout_blobs(&layout, repo, &blobs_of(&manifest), options)
                .await?;
        }
        let target = match reference.tag() {
            Some(t) => ImageReference::with_tag(repo.clone(), t.clone()),
            None => ImageReference::with_digest(repo.clone(), top.digest.clone()),
        };
        let digest = self
            .put_manifest(&target, bytes, Some(&top.media_type))
            .await?;
        options.emit(ProgressEvent::ManifestDone {
            digest: digest.clone(),
        });
        Ok(digest)
    }

    async fn push_layout_blobs(
        &self,
        layout: &OciLayout,
        repo: &Repository,
        blobs: &[Descriptor],
        options: &ImageOptions,
    ) -> Result<()> {
        stream::iter(blobs.iter().cloned().map(Ok))
            .try_for_each_concurrent(options.concurrency, |d| async move {
                if self
                    .blob_exists_scoped(repo, &d.digest, "pull,push")
                    .await?
                {
                    options.emit(ProgressEvent::BlobSkipped { digest: d.digest });
                    return Ok(());
                }
                options.emit(ProgressEvent::BlobStarted {
                    digest: d.digest.clone(),
                    size: d.size,
                });
                let digest = d.digest.clone();
                let cb = |n: u64| {
                    options.emit(ProgressEvent::BlobBytes {
                        digest: digest.clone(),
                        bytes: n,
                    });
                };
                self.push_blob_file_with(repo, &layout.blob_path(&d.digest), &d.digest, &cb)
                    .await?;
                options.emit(ProgressEvent::BlobDone { digest: d.digest });
                Ok::<_, Error>(())
            })
            .await
    }

    /// Copies an image (with every platform of an index) from `src` to `dst`, possibly on
    /// another registry. Blobs the destination has are skipped; on the same registry they are
    /// mounted (a 202 answer continues as an upload); otherwise they are streamed from source
    /// to destination, verified, without touching the disk. Returns the manifest's digest,
    /// which is the source's (the bytes are copied as they are).
    ///
    /// # Errors
    ///
    /// Errors of the manifest and blob operations on either side.
    pub async fn copy_image(
        &self,
        src: &ImageReference,
        dst: &ImageReference,
        options: &ImageOptions,
    ) -> Result<Digest> {
        let top = self.get_manifest(src).await?;
        let manifest = top.parse()?;
        if let Manifest::Index(index) = &manifest {
            for child in &index.manifests {
                let child_src =
                    ImageReference::with_digest(src.repository().clone(), child.digest.clone());
                let pulled = self.get_manifest(&child_src).await?;
                self.copy_manifest_content(src.repository(), dst.repository(), &pulled, options)
                    .await?;
            }
        } else {
            self.copy_manifest_content(src.repository(), dst.repository(), &top, options)
                .await?;
        }
        let target = match (dst.tag(), src.tag()) {
            (Some(t), _) => ImageReference::with_tag(dst.repository().clone(), t.clone()),
            (None, Some(t)) => ImageReference::with_tag(dst.repository().clone(), t.clone()),
            (None, None) => {
                ImageReference::with_digest(dst.repository().clone(), top.digest.clone())
            }
        };
        let d = self
            .put_manifest(&target, top.bytes.clone(), Some(&top.media_type))
            .await?;
        options.emit(ProgressEvent::ManifestDone { digest: d.clone() });
        Ok(d)
    }

    /// Copies the blobs of one image manifest, then pushes it by digest.
    async fn copy_manifest_content(
        &self,
        src: &Repository,
        dst: &Repository,
        pulled: &PulledManifest,
        options: &ImageOptions,
    ) -> Result<()> {
        let manifest = pulled.parse()?;
        let same_registry = src.registry() == dst.registry();
        stream::iter(blobs_of(&manifest).into_iter().map(Ok))
            .try_for_each_concurrent(options.concurrency, |d| async move {
                if self.blob_exists_scoped(dst, &d.digest, "pull,push").await? {
                    options.emit(ProgressEvent::BlobSkipped { digest: d.digest });
                    return Ok(());
                }
                let session = if same_registry {
                    match self.mount_blob(dst, &d.digest, src).await? {
                        MountOutcome::Mounted => {
                            options.emit(ProgressEvent::BlobMounted { digest: d.digest });
                            return Ok(());
                        }
                        MountOutcome::Upload(s) => Some(s),
                    }
                } else {
                    None
                };
                options.emit(ProgressEvent::BlobStarted {
                    digest: d.digest.clone(),
                    size: d.size,
                });
                let source = self.get_blob(src, &d.digest).await?;
                let digest = d.digest.clone();
                let progress = options.progress.clone();
                let counted = source.inspect_ok(move |chunk: &Bytes| {
                    if let Some(p) = &progress {
                        p(ProgressEvent::BlobBytes {
                            digest: digest.clone(),
                            bytes: chunk.len() as u64,
                        });
                    }
                });
                let size = Some(d.size);
                match session {
                    Some(s) => {
                        let dg = d.digest.clone();
                        s.upload_stream(counted.boxed(), size, move || Ok((dg, d.size)))
                            .await?;
                    }
                    None => {
                        self.push_blob_stream_known(dst, counted.boxed(), &d.digest, size)
                            .await?;
                    }
                }
                options.emit(ProgressEvent::BlobDone { digest: d.digest });
                Ok::<_, Error>(())
            })
            .await?;
        let r = ImageReference::with_digest(dst.clone(), pulled.digest.clone());
        self.put_manifest(&r, pulled.bytes.clone(), Some(&pulled.media_type))
            .await?;
        Ok(())
    }
}
