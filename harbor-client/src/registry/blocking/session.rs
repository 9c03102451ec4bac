//! Upload sessions of the blocking client.

use std::sync::Arc;

use bytes::Bytes;
use url::Url;

use crate::blocking_runtime::BlockingRuntime;
use crate::error::Result;
use crate::registry::{Digest, Repository};

/// A blocking upload session, from [`RegistryClient::start_upload`](super::RegistryClient::start_upload) or a
/// [`MountOutcome::Upload`]; the twin of [`crate::registry::UploadSession`].
///
/// ```no_run
/// # fn f(client: harbor_client::registry::blocking::RegistryClient,
/// #      repo: harbor_client::registry::Repository) -> harbor_client::Result<()> {
/// use harbor_client::registry::Digest;
/// let data = bytes::Bytes::from_static(b"hello, registry");
/// let mut session = client.start_upload(&repo)?;
/// session.patch_chunk(data.slice(..5))?;
/// session.finish(&Digest::sha256_of(&data), Some(data.slice(5..)))?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct UploadSession {
    pub(super) inner: crate::registry::UploadSession,
    pub(super) rt: Arc<BlockingRuntime>,
}

impl UploadSession {
    /// The URL of the next request (the registry's last `Location`, verbatim).
    pub fn location(&self) -> &Url {
        self.inner.location()
    }

    /// The bytes the registry has received.
    pub fn offset(&self) -> u64 {
        self.inner.offset()
    }

    /// The registry's `OCI-Chunk-Min-Length`, if it sent one.
    pub fn min_chunk_length(&self) -> Option<u64> {
        self.inner.min_chunk_length()
    }

    /// The repository the upload goes to.
    pub fn repository(&self) -> &Repository {
        self.inner.repository()
    }

    /// The async session inside.
    pub fn into_async(self) -> crate::registry::UploadSession {
        self.inner
    }

    /// Sends a chunk at the current offset; see [`crate::registry::UploadSession::patch_chunk`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn patch_chunk(&mut self, data: Bytes) -> Result<()> {
        self.rt.block_on(self.inner.patch_chunk(data))?
    }

    /// Asks the registry where the upload stands and moves the offset there; see
    /// [`crate::registry::UploadSession::refresh`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn refresh(&mut self) -> Result<u64> {
        self.rt.block_on(self.inner.refresh())?
    }

    /// Completes the upload, with an optional last chunk; see
    /// [`crate::registry::UploadSession::finish`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn finish(self, digest: &Digest, last: Option<Bytes>) -> Result<()> {
        self.rt.block_on(self.inner.finish(digest, last))?
    }

    /// Cancels the upload; see [`crate::registry::UploadSession::cancel`].
    ///
    /// # Errors
    ///
    /// As the async method, plus [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn cancel(self) -> Result<()> {
        self.rt.block_on(self.inner.cancel())?
    }
}

/// What [`RegistryClient::mount_blob`](super::RegistryClient::mount_blob) did.
///
/// ```no_run
/// # fn f(client: harbor_client::registry::blocking::RegistryClient,
/// #      from: harbor_client::registry::Repository, to: harbor_client::registry::Repository,
/// #      digest: harbor_client::registry::Digest, data: bytes::Bytes) -> harbor_client::Result<()> {
/// use harbor_client::registry::blocking::MountOutcome;
/// match client.mount_blob(&to, &digest, &from)? {
///     MountOutcome::Mounted => {}
///     MountOutcome::Upload(session) => session.finish(&digest, Some(data))?,
///     // An outcome of a later version: upload the blob plainly.
///     _ => drop(client.push_blob(&to, data)?),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum MountOutcome {
    /// The blob was mounted (201): nothing to upload.
    Mounted,
    /// The registry opened an upload instead (202): upload the blob through this session.
    Upload(UploadSession),
}
