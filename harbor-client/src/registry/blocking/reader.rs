//! The reading side of the blocking client: blob downloads as `std::io::Read`, and the
//! tag and catalog pages as an iterator.

use std::io::{BufRead, Read};
use std::iter::FusedIterator;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;

use crate::blocking_runtime::BlockingRuntime;
use crate::error::{Error, Result};
use crate::registry::BlobStream;

/// A blob download as a `std::io::Read` (and `BufRead`), from [`RegistryClient::get_blob`](super::RegistryClient::get_blob)
/// or [`RegistryClient::get_blob_range`](super::RegistryClient::get_blob_range).
///
/// From `get_blob` the bytes are verified as they pass: when the blob ends and its digest
/// does not match, the last read fails with [`std::io::ErrorKind::InvalidData`]. A failed
/// reader keeps failing; it never reports a clean end after an error. The [`Error`] behind
/// an `io::Error` is inside it:
///
/// ```no_run
/// # fn f(client: harbor_client::registry::blocking::RegistryClient,
/// #      repo: harbor_client::registry::Repository,
/// #      digest: harbor_client::registry::Digest) -> harbor_client::Result<()> {
/// use std::io::Read;
/// let mut bytes = Vec::new();
/// if let Err(e) = client.get_blob(&repo, &digest)?.read_to_end(&mut bytes) {
///     match e.get_ref().and_then(|e| e.downcast_ref::<harbor_client::Error>()) {
///         Some(harbor_client::Error::DigestMismatch { .. }) => eprintln!("corrupt blob"),
///         _ => eprintln!("{e}"),
///     }
/// }
/// # Ok(()) }
/// ```
pub struct BlobReader {
    state: ReaderState,
    buf: Bytes,
    size: Option<u64>,
    rt: Arc<BlockingRuntime>,
}

enum ReaderState {
    Open(BlobStream),
    Done,
    /// The kind and text of the error that ended the transfer, repeated by later reads.
    Failed(std::io::ErrorKind, String),
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            ReaderState::Open(_) => "open",
            ReaderState::Done => "done",
            ReaderState::Failed(..) => "failed",
        };
        f.debug_struct("BlobReader")
            .field("size", &self.size)
            .field("state", &state)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl BlobReader {
    pub(super) fn new(stream: BlobStream, rt: Arc<BlockingRuntime>) -> Self {
        BlobReader {
            size: stream.size(),
            state: ReaderState::Open(stream),
            buf: Bytes::new(),
            rt,
        }
    }

    /// The number of bytes the reader will yield, when the registry said.
    pub fn size(&self) -> Option<u64> {
        self.size
    }
}

impl BufRead for BlobReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.buf.is_empty() {
            let stream = match &mut self.state {
                ReaderState::Open(s) => s,
                ReaderState::Done => return Ok(&[]),
                ReaderState::Failed(kind, msg) => {
                    return Err(std::io::Error::new(*kind, msg.clone()));
                }
            };
            let next = match self.rt.block_on(stream.next()) {
                Ok(next) => next,
                // Inside a runtime: nothing was read, the transfer can go on elsewhere.
                Err(e) => return Err(std::io::Error::other(e)),
            };
            match next {
                Some(Ok(chunk)) => self.buf = chunk,
                Some(Err(e)) => {
                    let kind = match e {
                        Error::DigestMismatch { .. } => std::io::ErrorKind::InvalidData,
                        _ => std::io::ErrorKind::Other,
                    };
                    self.state = ReaderState::Failed(kind, e.to_string());
                    return Err(std::io::Error::new(kind, e));
                }
                None => self.state = ReaderState::Done,
            }
        }
        Ok(&self.buf)
    }

    fn consume(&mut self, amt: usize) {
        let _ = self.buf.split_to(amt.min(self.buf.len()));
    }
}

impl Read for BlobReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(out.len());
            if let (Some(dst), Some(src)) = (out.get_mut(..n), available.get(..n)) {
                dst.copy_from_slice(src);
            }
            n
        };
        self.consume(n);
        Ok(n)
    }
}

/// Tag or repository names from [`RegistryClient::list_tags_iter`](super::RegistryClient::list_tags_iter) or
/// [`RegistryClient::list_catalog_iter`](super::RegistryClient::list_catalog_iter), fetched page by page (following `Link`) as the iterator
/// advances. After an error it ends.
///
/// ```no_run
/// # fn f(client: harbor_client::registry::blocking::RegistryClient) -> harbor_client::Result<()> {
/// let releases: Vec<String> = client
///     .list_catalog_iter("harbor.example", Some(100))
///     .filter(|name| name.as_ref().map_or(true, |n| n.starts_with("release/")))
///     .collect::<harbor_client::Result<_>>()?;
/// # Ok(()) }
/// ```
pub struct NameIter {
    stream: Option<BoxStream<'static, Result<String>>>,
    rt: Arc<BlockingRuntime>,
}

impl std::fmt::Debug for NameIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameIter")
            .field("done", &self.stream.is_none())
            .finish_non_exhaustive()
    }
}

impl NameIter {
    pub(super) fn new(
        stream: BoxStream<'static, Result<String>>,
        rt: Arc<BlockingRuntime>,
    ) -> Self {
        NameIter {
            stream: Some(stream),
            rt,
        }
    }
}

impl Iterator for NameIter {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Result<String>> {
        let stream = self.stream.as_mut()?;
        let item = match self.rt.block_on(stream.next()) {
            Ok(item) => item,
            Err(e) => Some(Err(e)),
        };
        if !matches!(item, Some(Ok(_))) {
            self.stream = None;
        }
        item
    }
}

impl FusedIterator for NameIter {}
