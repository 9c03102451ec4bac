//! The blobs of an image transfer: pulled into a layout, pushed from one, copied between
//! registries (skipped when there, mounted where the registry allows, else streamed through),
//! foreign layers left out or fetched from their URLs.

use futures_util::{StreamExt as _, TryStreamExt as _, stream};

use super::image::{End, ImageOptions, ProgressEvent};
use super::layout::OciLayout;
use super::manifest::Descriptor;
use super::resumable::{OnBytes, Reopen, Source, Upload};
use super::upload::{MountOutcome, UploadSession};
use super::{Digest, RegistryClient, Repository};
use crate::error::{Error, Result};

impl RegistryClient {
    /// Moves blobs from one side to the other, `concurrency` at a time. Foreign layers are
    /// left out unless the options fetch them.
    pub(super) async fn move_blobs(
        &self,
        src: End<'_>,
        dst: End<'_>,
        blobs: Vec<Descriptor>,
        options: &ImageOptions,
    ) -> Result<()> {
        stream::iter(blobs.into_iter().map(Ok))
            .try_for_each_concurrent(options.concurrency, |d| async move {
                if d.is_foreign() && !options.fetch_foreign {
                    options.emit(ProgressEvent::ForeignLayerSkipped { digest: d.digest });
                    return Ok(());
                }
                let hosts: Vec<&str> = [src, dst]
                    .iter()
                    .filter_map(|e| match e {
                        End::Registry(r) => Some(r.registry()),
                        End::Layout(_) => None,
                    })
                    .collect();
                let _slots = self.transfer_slots(&hosts).await;
                match (src, dst) {
                    (End::Registry(s), End::Registry(t)) => self.copy_blob(s, t, d, options).await,
                    (End::Registry(s), End::Layout(l)) => self.pull_blob(s, l, d, options).await,
                    (End::Layout(l), End::Registry(t)) => {
                        self.push_blob_from(l, t, d, options).await
                    }
                    (End::Layout(_), End::Layout(_)) => Err(Error::invalid(
                        "transfer",
                        "layout to layout",
                        "copy the directory instead",
                    )),
                }
            })
            .await
    }

    /// One blob from a registry (or, for a foreign layer, its URLs) into a layout.
    async fn pull_blob(
        &self,
        repo: &Repository,
        layout: &OciLayout,
        d: Descriptor,
        options: &ImageOptions,
    ) -> Result<()> {
        if d.urls.is_empty() {
            self.remember(repo, &d.digest);
        }
        if layout.has_blob(&d.digest, d.size).await? {
            options.emit(ProgressEvent::BlobSkipped { digest: d.digest });
            return Ok(());
        }
        options.emit(ProgressEvent::BlobStarted {
            digest: d.digest.clone(),
            size: d.size,
        });
        let cb = bytes_events(options, &d.digest);
        let path = layout.blob_path(&d.digest);
        if d.urls.is_empty() {
            self.pull_blob_to_file_with(repo, &d.digest, Some(d.size), &path, &*cb)
                .await?;
        } else {
            self.fetch_foreign_urls(&d, |stream| {
                let (path, cb) = (path.clone(), cb.clone());
                let d = &d;
                async move {
                    super::blob::stream_to_file(stream, &d.digest, Some(d.size), &path, &*cb)
                        .await
                        .map(drop)
                }
            })
            .await?;
        }
        options.emit(ProgressEvent::BlobDone { digest: d.digest });
        Ok(())
    }

    /// One blob from a layout to a registry (a foreign layer the layout lacks: from its URLs).
    async fn push_blob_from(
        &self,
        layout: &OciLayout,
        repo: &Repository,
        d: Descriptor,
        options: &ImageOptions,
    ) -> Result<()> {
        let Needed::Upload(session) = self.needed(repo, &d, None, options).await? else {
            return Ok(());
        };
        let cb = bytes_events(options, &d.digest);
        let path = layout.blob_path(&d.digest);
        if d.is_foreign() && !d.urls.is_empty() && !layout.has_blob(&d.digest, d.size).await? {
            discard(session).await;
            self.upload_foreign(repo, &d, cb).await?;
        } else {
            let open: Reopen<'_> =
                Box::new(move |at| Box::pin(super::upload::open_file_at(path.clone(), at)));
            self.upload_resumable(Source::Reopen(open), Upload::of(repo, session, &d, cb))
                .await?;
        }
        self.remember(repo, &d.digest);
        options.emit(ProgressEvent::BlobDone { digest: d.digest });
        Ok(())
    }

    /// One blob from a registry to a registry: skipped when there, mounted on the same
    /// registry, else streamed through without touching the disk. After a cut or an expired
    /// token on the destination, the source is read again where the upload stands (a ranged
    /// `GET`), or from its start when the destination dropped the session.
    async fn copy_blob(
        &self,
        src: &Repository,
        dst: &Repository,
        d: Descriptor,
        options: &ImageOptions,
    ) -> Result<()> {
        let from_urls = d.is_foreign() && !d.urls.is_empty();
        let mount_from = Some(src).filter(|_| !from_urls);
        let Needed::Upload(session) = self.needed(dst, &d, mount_from, options).await? else {
            return Ok(());
        };
        let cb = bytes_events(options, &d.digest);
        if from_urls {
            discard(session).await;
            self.upload_foreign(dst, &d, cb).await?;
        } else {
            self.remember(src, &d.digest);
            let digest = &d.digest;
            let open: Reopen<'_> = Box::new(move |at| {
                Box::pin(async move {
                    let s = if at == 0 {
                        self.get_blob(src, digest).await?
                    } else {
                        self.get_blob_range(src, digest, at, None).await?
                    };
                    Ok(s.boxed())
                })
            });
            self.upload_resumable(Source::Reopen(open), Upload::of(dst, session, &d, cb))
                .await?;
        }
        self.remember(dst, &d.digest);
        options.emit(ProgressEvent::BlobDone { digest: d.digest });
        Ok(())
    }

    /// Whether `dst` needs the blob uploaded: not when it holds it or a mount (from
    /// `mount_from` or a repository remembered) brings it, else with the upload session a
    /// refused mount opened, if any. Emits the blob's progress event.
    async fn needed(
        &self,
        dst: &Repository,
        d: &Descriptor,
        mount_from: Option<&Repository>,
        options: &ImageOptions,
    ) -> Result<Needed> {
        let digest = d.digest.clone();
        if self.blob_exists_scoped(dst, &digest, "pull,push").await? {
            self.remember(dst, &digest);
            options.emit(ProgressEvent::BlobSkipped { digest });
            return Ok(Needed::No);
        }
        let session = match self.mount_known(dst, &digest, mount_from).await? {
            Some(MountOutcome::Mounted) => {
                options.emit(ProgressEvent::BlobMounted { digest });
                return Ok(Needed::No);
            }
            Some(MountOutcome::Upload(s)) => Some(s),
            None => None,
        };
        options.emit(ProgressEvent::BlobStarted {
            digest,
            size: d.size,
        });
        Ok(Needed::Upload(session))
    }

    /// Uploads a foreign layer downloaded from the first of its URLs that serves it.
    async fn upload_foreign(&self, dst: &Repository, d: &Descriptor, cb: OnBytes) -> Result<()> {
        self.fetch_foreign_urls(d, |stream| {
            let cb = cb.clone();
            async move {
                self.upload_resumable(Source::Once(stream.boxed()), Upload::of(dst, None, d, cb))
                    .await
                    .map(drop)
            }
        })
        .await
    }

    /// Remembers that `repo` holds a blob.
    pub(super) fn remember(&self, repo: &Repository, digest: &Digest) {
        self.inner
            .locations
            .record(repo.registry(), digest, repo.name().as_str());
    }

    /// Tries to mount a blob into `dst` from a repository of its registry known to hold it:
    /// `src` first when it is on the same registry, then the remembered ones (at most three
    /// tries). `None` when there was nothing to try or every try failed; an upload session
    /// when the registry refused the mount and opened an upload instead (the caller uploads
    /// through it). A refused source is forgotten.
    async fn mount_known(
        &self,
        dst: &Repository,
        digest: &Digest,
        src: Option<&Repository>,
    ) -> Result<Option<MountOutcome>> {
        let mut candidates: Vec<String> = src
            .filter(|s| s.registry() == dst.registry())
            .map(|s| s.name().as_str().to_owned())
            .into_iter()
            .collect();
        for c in self
            .inner
            .locations
            .candidates(dst.registry(), digest, dst.name().as_str())
        {
            if !candidates.contains(&c) {
                candidates.push(c);
            }
        }
        for name in candidates.into_iter().take(3) {
            let Ok(from) = name
                .parse()
                .and_then(|n| Repository::new(dst.registry(), n))
            else {
                continue;
            };
            match self.mount_blob(dst, digest, &from).await {
                Ok(MountOutcome::Mounted) => {
                    self.remember(dst, digest);
                    return Ok(Some(MountOutcome::Mounted));
                }
                Ok(upload) => {
                    self.inner
                        .locations
                        .forget(dst.registry(), digest, from.name().as_str());
                    return Ok(Some(upload));
                }
                Err(e) => {
                    tracing::debug!(from = %from, error = %e, "mount failed; trying the next");
                    self.inner
                        .locations
                        .forget(dst.registry(), digest, from.name().as_str());
                }
            }
        }
        Ok(None)
    }
}

/// What a destination needs of a blob.
enum Needed {
    /// Nothing: it holds the blob (now).
    No,
    /// An upload, through this session if a refused mount opened one.
    Upload(Option<UploadSession>),
}

/// Cancels the upload session a refused mount opened, when the blob goes another way.
async fn discard(session: Option<UploadSession>) {
    if let Some(s) = session
        && let Err(e) = s.cancel().await
    {
        tracing::debug!(error = %e, "could not cancel the upload a refused mount opened");
    }
}

/// A progress callback sending [`ProgressEvent::BlobBytes`] for one blob.
fn bytes_events(options: &ImageOptions, digest: &Digest) -> OnBytes {
    let progress = options.progress.clone();
    let digest = digest.clone();
    std::sync::Arc::new(move |n: u64| {
        if let Some(p) = &progress {
            p(ProgressEvent::BlobBytes {
                digest: digest.clone(),
                bytes: n,
            });
        }
    })
}
