//! A blocking [`RegistryClient`]: the async registry client's API without `async`, as
//! `reqwest::blocking` does (feature `blocking`). For small CLI tools and build scripts.
//!
//! Every method of [`super::RegistryClient`] exists here with the same name and arguments
//! and returns the result directly. Where the async client hands out a stream, this one
//! hands out the `std` counterpart:
//!
//! | async | blocking |
//! | --- | --- |
//! | [`list_tags_stream`](super::RegistryClient::list_tags_stream), [`list_catalog_stream`](super::RegistryClient::list_catalog_stream) | [`list_tags_iter`](RegistryClient::list_tags_iter), [`list_catalog_iter`](RegistryClient::list_catalog_iter) (a [`NameIter`] fetching `Link` pages as it goes), or [`list_tags_all`](RegistryClient::list_tags_all), [`list_catalog_all`](RegistryClient::list_catalog_all) (a `Vec`) |
//! | [`get_blob`](super::RegistryClient::get_blob), [`get_blob_range`](super::RegistryClient::get_blob_range) → [`BlobStream`](super::BlobStream) | [`get_blob`](RegistryClient::get_blob), [`get_blob_range`](RegistryClient::get_blob_range) → [`BlobReader`] (`std::io::Read` + `BufRead`), and [`pull_blob_to_writer`](RegistryClient::pull_blob_to_writer) into any `std::io::Write` |
//! | [`push_blob_stream`](super::RegistryClient::push_blob_stream) from a `Stream` | [`push_blob_stream`](RegistryClient::push_blob_stream) from a `std::io::Read` |
//! | [`start_upload`](super::RegistryClient::start_upload), [`mount_blob`](super::RegistryClient::mount_blob) → [`super::UploadSession`] | the same → a blocking [`UploadSession`] ([`MountOutcome`]) |
//!
//! Downloads are verified and resumed exactly as in the async client (the same code runs
//! underneath); image operations keep their [`ImageOptions`] with the concurrency limit and
//! the progress callback.
//!
//! The client runs a current-thread tokio runtime of its own. Used on a thread inside a
//! tokio runtime context, every method fails with [`Error::Config`] instead of blocking:
//! in an async task, in a progress callback, and also in `tokio::task::spawn_blocking` and
//! `block_in_place` closures (tokio does not let a library tell those apart from an async
//! task). Use the async [`super::RegistryClient`] there, or call this client from a plain
//! thread (`std::thread::spawn`, or `std::thread::scope` inside `spawn_blocking`).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt as _;

use super::{
    CatalogPage, Descriptor, Digest, ImageOptions, ImageReference, PulledManifest, PushedManifest,
    Referrers, Repository, TagPage,
};
use crate::blocking_runtime::BlockingRuntime;
use crate::error::{Error, Result};

mod reader;
mod session;

pub use reader::{BlobReader, NameIter};
pub use session::{MountOutcome, UploadSession};

/// The size of the chunks [`RegistryClient::push_blob_stream`] reads from its reader.
const READ_CHUNK: usize = 256 * 1024;

/// The blocking OCI distribution client. Cheap to clone; clones share the runtime, the
/// connection pool and the token cache, and may be used from several threads at once.
///
/// ```no_run
/// use harbor_client::registry::{ImageOptions, ImageReference, RegistryClient as AsyncClient};
/// use harbor_client::registry::blocking::RegistryClient;
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = RegistryClient::new(AsyncClient::builder().build()?)?;
/// let image: ImageReference = "harbor.example/library/nginx:1.27".parse()?;
/// for tag in client.list_tags_iter(image.repository(), Some(100)) {
///     println!("{}", tag?);
/// }
/// let manifest = client.get_manifest(&image)?;
/// println!("{} {}", manifest.digest, manifest.media_type);
///
/// // A blob, verified while it streams into any `std::io::Write`.
/// let layer: harbor_client::registry::Digest =
///     "sha256:4b0bc1c4c3d5b0c5d1e2b0d63c4a5e9d0b4a6a3c0c5c2e1e8f9a0b1c2d3e4f5a".parse()?;
/// let mut out = std::fs::File::create("layer.tar.gz")?;
/// client.pull_blob_to_writer(image.repository(), &layer, None, &mut out)?;
///
/// // A whole image into an OCI image layout.
/// client.pull_image(&image, std::path::Path::new("nginx-oci"), &ImageOptions::default())?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RegistryClient {
    inner: super::RegistryClient,
    rt: Arc<BlockingRuntime>,
}

impl RegistryClient {
    /// Wraps an async client (build it with [`super::RegistryClient::builder`]).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the runtime cannot be created.
    pub fn new(client: super::RegistryClient) -> Result<Self> {
        Ok(RegistryClient {
            inner: client,
            rt: BlockingRuntime::new("harbor_client::registry::RegistryClient")?,
        })
    }

    /// The async client inside (it shares the connections and tokens of this one), for
    /// futures run by [`RegistryClient::block_on`] only.
    ///
    /// Its pooled connections are tasks of this client's own runtime, which runs only while
    /// one of its calls blocks: awaited on another runtime (your application's), a request
    /// that picks such a connection waits until the next blocking call, or its read timeout.
    /// For async code, build an async client of its own with
    /// [`super::RegistryClient::builder`].
    pub fn as_async(&self) -> &super::RegistryClient {
        &self.inner
    }

    /// Runs a future (of the async client, say) to completion on this client's runtime.
    ///
    /// ```no_run
    /// # fn f(client: harbor_client::registry::blocking::RegistryClient,
    /// #      image: harbor_client::registry::ImageReference) -> harbor_client::Result<()> {
    /// let async_client = client.as_async();
    /// let (a, b) = client.block_on(async {
    ///     futures_util::join!(async_client.head_manifest(&image), async_client.ping("harbor.example"))
    /// })?;
    /// println!("{}", a?.digest);
    /// b?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when called on a thread inside a tokio runtime context (see the
    /// [module docs](crate::registry::blocking)).
    pub fn block_on<F: Future>(&self, future: F) -> Result<F::Output> {
        self.rt.block_on(future)
    }

    /// Checks that the registry speaks the v2 API; see [`super::RegistryClient::ping`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn ping(&self, registry: &str) -> Result<()> {
        self.rt.block_on(self.inner.ping(registry))?
    }

    /// One page of tags; see [`super::RegistryClient::list_tags`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn list_tags(
        &self,
        repo: &Repository,
        n: Option<u32>,
        last: Option<&str>,
    ) -> Result<TagPage> {
        self.rt.block_on(self.inner.list_tags(repo, n, last))?
    }

    /// Every tag, fetched lazily page by page (following `Link`, `page_size` at a time when
    /// given); the twin of [`super::RegistryClient::list_tags_stream`].
    pub fn list_tags_iter(&self, repo: &Repository, page_size: Option<u32>) -> NameIter {
        NameIter::new(
            self.inner.list_tags_stream(repo, page_size).boxed(),
            self.rt.clone(),
        )
    }

    /// Every tag, over all pages, in a `Vec`.
    ///
    /// # Errors
    ///
    /// The first page that fails, plus [`Error::Config`] inside an async runtime.
    pub fn list_tags_all(&self, repo: &Repository, page_size: Option<u32>) -> Result<Vec<String>> {
        self.list_tags_iter(repo, page_size).collect()
    }

    /// One page of the catalog; see [`super::RegistryClient::list_catalog`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn list_catalog(
        &self,
        registry: &str,
        n: Option<u32>,
        last: Option<&str>,
    ) -> Result<CatalogPage> {
        self.rt
            .block_on(self.inner.list_catalog(registry, n, last))?
    }

    /// Every repository of the catalog, fetched lazily page by page; the twin of
    /// [`super::RegistryClient::list_catalog_stream`].
    pub fn list_catalog_iter(&self, registry: &str, page_size: Option<u32>) -> NameIter {
        NameIter::new(
            self.inner.list_catalog_stream(registry, page_size).boxed(),
            self.rt.clone(),
        )
    }

    /// Every repository of the catalog, over all pages, in a `Vec`.
    ///
    /// # Errors
    ///
    /// The first page that fails, plus [`Error::Config`] inside an async runtime.
    pub fn list_catalog_all(&self, registry: &str, page_size: Option<u32>) -> Result<Vec<String>> {
        self.list_catalog_iter(registry, page_size).collect()
    }

    /// Fetches a manifest (raw bytes, media type, verified digest); see
    /// [`super::RegistryClient::get_manifest`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn get_manifest(&self, reference: &ImageReference) -> Result<PulledManifest> {
        self.rt.block_on(self.inner.get_manifest(reference))?
    }

    /// A manifest's descriptor without its body; see [`super::RegistryClient::head_manifest`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn head_manifest(&self, reference: &ImageReference) -> Result<Descriptor> {
        self.rt.block_on(self.inner.head_manifest(reference))?
    }

    /// Pushes a manifest by tag or digest; see [`super::RegistryClient::put_manifest`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn put_manifest(
        &self,
        reference: &ImageReference,
        bytes: Bytes,
        media_type: Option<&str>,
    ) -> Result<PushedManifest> {
        self.rt
            .block_on(self.inner.put_manifest(reference, bytes, media_type))?
    }

    /// Deletes a manifest; see [`super::RegistryClient::delete_manifest`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn delete_manifest(&self, reference: &ImageReference) -> Result<()> {
        self.rt.block_on(self.inner.delete_manifest(reference))?
    }

    /// The size of a blob; see [`super::RegistryClient::head_blob`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn head_blob(&self, repo: &Repository, digest: &Digest) -> Result<u64> {
        self.rt.block_on(self.inner.head_blob(repo, digest))?
    }

    /// Whether a blob exists; see [`super::RegistryClient::blob_exists`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn blob_exists(&self, repo: &Repository, digest: &Digest) -> Result<bool> {
        self.rt.block_on(self.inner.blob_exists(repo, digest))?
    }

    /// Downloads a blob as a verified, resumable [`BlobReader`]: the bytes are hashed as
    /// they are read and a digest mismatch is the error of the last read, so
    /// `read_to_end`/`std::io::copy` fail instead of returning bad bytes as good. A broken
    /// connection is resumed with a `Range` request, as in
    /// [`super::RegistryClient::get_blob`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime. Errors later in
    /// the transfer come from [`Read::read`] (see [`BlobReader`]).
    pub fn get_blob(&self, repo: &Repository, digest: &Digest) -> Result<BlobReader> {
        let stream = self.rt.block_on(self.inner.get_blob(repo, digest))??;
        Ok(BlobReader::new(stream, self.rt.clone()))
    }

    /// Downloads bytes `start..=end` of a blob, unverified; see
    /// [`super::RegistryClient::get_blob_range`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn get_blob_range(
        &self,
        repo: &Repository,
        digest: &Digest,
        start: u64,
        end: Option<u64>,
    ) -> Result<BlobReader> {
        let stream = self
            .rt
            .block_on(self.inner.get_blob_range(repo, digest, start, end))??;
        Ok(BlobReader::new(stream, self.rt.clone()))
    }

    /// Downloads a blob into a file, verified and renamed into place only once the digest
    /// matches; see [`super::RegistryClient::pull_blob_to_file`]. Returns the size.
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn pull_blob_to_file(
        &self,
        repo: &Repository,
        digest: &Digest,
        expected_size: Option<u64>,
        path: &Path,
    ) -> Result<u64> {
        self.rt.block_on(
            self.inner
                .pull_blob_to_file(repo, digest, expected_size, path),
        )?
    }

    /// Downloads a blob into any writer, verified on the fly and resumed after a broken
    /// connection. Returns the size.
    ///
    /// The bytes reach `writer` as they arrive; the digest can only be known at the end, so
    /// on an error (a [`Error::DigestMismatch`] included) whatever was written must be
    /// discarded. For a file that only ever appears complete and valid, use
    /// [`RegistryClient::pull_blob_to_file`]. The writer is called between network reads,
    /// outside the runtime: it may block, even on another clone of this client.
    ///
    /// # Errors
    ///
    /// As [`RegistryClient::get_blob`], plus [`Error::DigestMismatch`], [`Error::Protocol`]
    /// when the size differs from `expected_size`, and [`Error::Io`] when the writer fails.
    pub fn pull_blob_to_writer<W: Write + ?Sized>(
        &self,
        repo: &Repository,
        digest: &Digest,
        expected_size: Option<u64>,
        writer: &mut W,
    ) -> Result<u64> {
        let mut stream = self.rt.block_on(self.inner.get_blob(repo, digest))??;
        let mut length = super::blob::LengthCheck::start(digest, expected_size, stream.size())?;
        while let Some(chunk) = self.rt.block_on(stream.next())? {
            let chunk = chunk?;
            length.add(chunk.len())?;
            writer.write_all(&chunk).map_err(io_error)?;
        }
        let n = length.finish()?;
        writer.flush().map_err(io_error)?;
        Ok(n)
    }

    /// Deletes a blob; see [`super::RegistryClient::delete_blob`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn delete_blob(&self, repo: &Repository, digest: &Digest) -> Result<()> {
        self.rt.block_on(self.inner.delete_blob(repo, digest))?
    }

    /// Opens an upload session for manual control; see
    /// [`super::RegistryClient::start_upload`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn start_upload(&self, repo: &Repository) -> Result<UploadSession> {
        let inner = self.rt.block_on(self.inner.start_upload(repo))??;
        Ok(UploadSession {
            inner,
            rt: self.rt.clone(),
        })
    }

    /// Uploads a blob held in memory; see [`super::RegistryClient::push_blob`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn push_blob(&self, repo: &Repository, data: Bytes) -> Result<Digest> {
        self.rt.block_on(self.inner.push_blob(repo, data))?
    }

    /// Uploads a file as the blob `digest`, streamed from disk, chunked when the client has
    /// a chunk size, resumed after failures; see [`super::RegistryClient::push_blob_file`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn push_blob_file(&self, repo: &Repository, path: &Path, digest: &Digest) -> Result<()> {
        self.rt
            .block_on(self.inner.push_blob_file(repo, path, digest))?
    }

    /// Uploads a blob of unknown digest from a reader, hashing (sha256) while sending;
    /// the `std::io::Read` twin of [`super::RegistryClient::push_blob_stream`]. Returns the
    /// digest and size.
    ///
    /// The reader is read to its end on a thread of its own, 256 KiB at a time, outside the
    /// runtime: it may block (a pipe, a child's stdout, stdin), and may even be a
    /// [`BlobReader`] of this same client (a blob copied without touching the disk). Like
    /// the async method, the upload goes in one request and is not resumed after a failure
    /// (the reader cannot be rewound); for a file use [`RegistryClient::push_blob_file`],
    /// which is. When the upload fails before the reader ends, its thread stops once its
    /// current read returns.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the reader fails (the request is aborted: nothing is stored),
    /// errors of the async method, [`Error::Config`] inside an async runtime.
    pub fn push_blob_stream<R>(&self, repo: &Repository, reader: R) -> Result<(Digest, u64)>
    where
        R: Read + Send + 'static,
    {
        self.rt.block_on(async {
            // Started here, past the runtime guard: nothing runs when the guard refuses.
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(4);
            std::thread::Builder::new()
                .name("harbor-blob-reader".into())
                .spawn(move || read_into(reader, &tx))
                .map_err(|e| Error::Config {
                    message: "the thread that reads the upload could not be started".into(),
                    source: Some(Box::new(e)),
                })?;
            // The transport wraps a body error; keep the reader's own error to return it.
            let reader_error = Arc::new(std::sync::Mutex::new(None::<Error>));
            let slot = reader_error.clone();
            let stream = futures_util::stream::poll_fn(move |cx| {
                rx.poll_recv(cx).map(|item| {
                    item.map(|r| {
                        r.map_err(|e| {
                            let message = format!("the upload's reader failed: {e}");
                            if let Ok(mut g) = slot.lock() {
                                g.get_or_insert(e);
                            }
                            Error::protocol(message)
                        })
                    })
                })
            });
            let result = self.inner.push_blob_stream(repo, stream).await;
            match (result, reader_error.lock().ok().and_then(|mut g| g.take())) {
                (Err(_), Some(reader_error)) => Err(reader_error),
                (result, _) => result,
            }
        })?
    }

    /// Mounts a blob from another repository of the same registry; a 202 answer gives a
    /// blocking [`UploadSession`]. See [`super::RegistryClient::mount_blob`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn mount_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        from: &Repository,
    ) -> Result<MountOutcome> {
        Ok(
            match self
                .rt
                .block_on(self.inner.mount_blob(repo, digest, from))??
            {
                super::MountOutcome::Upload(inner) => MountOutcome::Upload(UploadSession {
                    inner,
                    rt: self.rt.clone(),
                }),
                super::MountOutcome::Mounted => MountOutcome::Mounted,
            },
        )
    }

    /// The manifests referring to `subject` (with the tag-schema fallback); see
    /// [`super::RegistryClient::referrers`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn referrers(
        &self,
        repo: &Repository,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers> {
        self.rt
            .block_on(self.inner.referrers(repo, subject, artifact_type))?
    }

    /// Records a referrer in the subject's referrers tag; see
    /// [`super::RegistryClient::add_referrer_to_tag_schema`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn add_referrer_to_tag_schema(
        &self,
        repo: &Repository,
        subject: &Digest,
        referrer: Descriptor,
    ) -> Result<()> {
        self.rt.block_on(
            self.inner
                .add_referrer_to_tag_schema(repo, subject, referrer),
        )?
    }

    /// Pulls an image into an OCI image layout, `options.concurrency` blobs at a time, with
    /// progress events; see [`super::RegistryClient::pull_image`].
    ///
    /// The progress callback runs on the runtime: it must not call this client.
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn pull_image(
        &self,
        reference: &ImageReference,
        dir: &Path,
        options: &ImageOptions,
    ) -> Result<Descriptor> {
        self.rt
            .block_on(self.inner.pull_image(reference, dir, options))?
    }

    /// Pushes an image from an OCI image layout; see [`super::RegistryClient::push_image`].
    ///
    /// The progress callback runs on the runtime: it must not call this client.
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn push_image(
        &self,
        dir: &Path,
        reference: &ImageReference,
        options: &ImageOptions,
    ) -> Result<Digest> {
        self.rt
            .block_on(self.inner.push_image(dir, reference, options))?
    }

    /// Copies an image between repositories or registries (mounting when possible); see
    /// [`super::RegistryClient::copy_image`].
    ///
    /// The progress callback runs on the runtime: it must not call this client.
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`] inside an async runtime.
    pub fn copy_image(
        &self,
        src: &ImageReference,
        dst: &ImageReference,
        options: &ImageOptions,
    ) -> Result<Digest> {
        self.rt.block_on(self.inner.copy_image(src, dst, options))?
    }
}

fn io_error(source: std::io::Error) -> Error {
    Error::Io { path: None, source }
}

/// Reads `reader` to its end into `tx`, chunk by chunk; stops early when the receiver is gone.
fn read_into<R: Read>(mut reader: R, tx: &tokio::sync::mpsc::Sender<Result<Bytes>>) {
    loop {
        let mut buf = vec![0u8; READ_CHUNK];
        let item = match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                Ok(Bytes::from(buf))
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => Err(io_error(e)),
        };
        let stop = item.is_err();
        if tx.blocking_send(item).is_err() || stop {
            return;
        }
    }
}
