//! Blob uploads: monolithic, chunked or streamed, resumed after failures; cross-repository
//! mounts.

use std::io::SeekFrom;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION};
use http::{Method, StatusCode};
use tokio::io::AsyncSeekExt as _;
use url::Url;

use super::resumable::{ByteStream, OnBytes, Reopen, Source, Upload};
use super::{Digest, RegistryClient, Repository};
use crate::error::{Error, Result};
use crate::transport::{Body, Request, error_from_response};

const OCTET: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// An open upload session (`POST /v2/<name>/blobs/uploads/`).
///
/// The `Location` of every answer is used verbatim for the next request (it may carry state in
/// its query), and the `Range` the registry reports is tracked as [`UploadSession::offset`].
#[derive(Debug)]
pub struct UploadSession {
    client: RegistryClient,
    repo: Repository,
    location: Url,
    offset: u64,
    min_chunk: Option<u64>,
    scope: String,
}

/// What a mount attempt did.
#[derive(Debug)]
#[non_exhaustive]
pub enum MountOutcome {
    /// The blob was mounted (201): nothing to upload.
    Mounted,
    /// The registry opened an upload instead (202): upload the blob through this session.
    Upload(UploadSession),
}

fn location(req_url: &Url, headers: &http::HeaderMap) -> Result<Url> {
    let loc = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::protocol("the registry sent no Location for the upload"))?;
    req_url
        .join(loc)
        .map_err(|e| Error::protocol(format!("the upload Location is not a URL: {e}")))
}

/// The offset after the `Range: 0-<end>` header (also `bytes=0-<end>`); `None` when there is
/// none or it makes no sense (an end of `u64::MAX` has no offset after it).
fn range_end(headers: &http::HeaderMap, known: u64) -> Option<u64> {
    let v = headers.get(http::header::RANGE)?.to_str().ok()?;
    let v = v.trim().trim_start_matches("bytes=");
    let (_, end) = v.split_once('-')?;
    let end: u64 = end.trim().parse().ok()?;
    // distribution reports "0-0" both for an empty upload and for one byte.
    if end == 0 {
        return Some(known.min(1));
    }
    end.checked_add(1)
}

/// [`range_end`] for the `client_headers` fuzz target. Only built by `cargo fuzz`
/// (`--cfg fuzzing`).
#[cfg(fuzzing)]
#[doc(hidden)]
pub fn fuzz_range_end(headers: &http::HeaderMap, known: u64) -> Option<u64> {
    range_end(headers, known)
}

/// The `Content-Range` of `len` bytes (at least one) sent at `start`, and the offset after
/// them. [`Error::Protocol`] when they would end past `u64::MAX`: only a registry that reported
/// an absurd `Range` (`0-18446744073709551614`) puts an upload there.
fn chunk_range(start: u64, len: usize) -> Result<(HeaderValue, u64)> {
    let after = u64::try_from(len)
        .ok()
        .and_then(|len| start.checked_add(len))
        .filter(|&after| after > start)
        .ok_or_else(|| {
            Error::protocol(format!(
                "the registry reports an upload offset of {start}; {len} more bytes do not fit"
            ))
        })?;
    let range = format!("{start}-{}", after - 1);
    let range = HeaderValue::from_str(&range).map_err(|_| Error::protocol("bad range"))?;
    Ok((range, after))
}

fn min_chunk(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get("oci-chunk-min-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

impl UploadSession {
    /// The URL of the session, as the registry last gave it.
    pub fn location(&self) -> &Url {
        &self.location
    }

    /// How many bytes the registry has received.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The smallest chunk the registry accepts (`OCI-Chunk-Min-Length`), if it said.
    pub fn min_chunk_length(&self) -> Option<u64> {
        self.min_chunk
    }

    fn update(&mut self, req_url: &Url, headers: &http::HeaderMap, sent_to: u64) -> Result<()> {
        if headers.contains_key(LOCATION) {
            self.location = location(req_url, headers)?;
        }
        self.offset = range_end(headers, sent_to).unwrap_or(sent_to);
        Ok(())
    }

    /// Sends one chunk at the current offset (`PATCH` with `Content-Range`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] (416 when the registry expected another offset: call
    /// [`UploadSession::refresh`]), [`Error::Transport`], [`Error::Protocol`] (nothing sent)
    /// when the registry reported an offset so large that the chunk would end past `u64::MAX`.
    pub async fn patch_chunk(&mut self, data: Bytes) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let (range, after) = chunk_range(self.offset, data.len())?;
        let req = Request::new(Method::PATCH, self.location.clone())
            .header(CONTENT_TYPE, OCTET)
            .header(http::header::CONTENT_RANGE, range)
            .body(data)
            .scope(&self.scope);
        let url = self.location.clone();
        let resp = self.client.inner.transport.execute_checked(req).await?;
        self.update(&url, resp.headers(), after)
    }

    /// Sends `len` bytes from a stream at the current offset (`PATCH`, no `Content-Range`).
    pub(super) async fn patch_stream(&mut self, body: Body, len: Option<u64>) -> Result<()> {
        let mut req = Request::new(Method::PATCH, self.location.clone())
            .header(CONTENT_TYPE, OCTET)
            .body(body)
            .scope(&self.scope);
        if let Some(len) = len {
            req = req.header(CONTENT_LENGTH, HeaderValue::from(len));
        }
        let sent_to = self
            .offset
            .checked_add(len.unwrap_or(0))
            .ok_or_else(|| Error::protocol("the upload would end past u64::MAX bytes"))?;
        let url = self.location.clone();
        let resp = self.client.inner.transport.execute(req).await?;
        if !resp.status().is_success() {
            return Err(error_from_response(&Method::PATCH, &url, resp).await);
        }
        self.update(&url, resp.headers(), sent_to)
    }

    /// Asks the registry where the upload stands (`GET <location>`, 204 with `Range`) and
    /// moves the offset there. Used to resume after a failed chunk.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] (404 when the session is gone), [`Error::Transport`].
    pub async fn refresh(&mut self) -> Result<u64> {
        let url = self.location.clone();
        let resp = self
            .client
            .send(Request::new(Method::GET, url.clone()).scope(&self.scope))
            .await?;
        if resp.headers().contains_key(LOCATION) {
            self.location = location(&url, resp.headers())?;
        }
        self.offset = range_end(resp.headers(), self.offset).unwrap_or(0);
        Ok(self.offset)
    }

    /// Completes the upload (`PUT <location>?digest=`), with an optional last chunk.
    ///
    /// # Errors
    ///
    /// [`Error::Api`]: `DIGEST_INVALID` when the bytes do not match, `BLOB_UPLOAD_UNKNOWN`;
    /// [`Error::Protocol`] (nothing sent) when the registry reported an offset so large that
    /// `last` would end past `u64::MAX`.
    pub async fn finish(mut self, digest: &Digest, last: Option<Bytes>) -> Result<()> {
        let mut url = self.location.clone();
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        let mut req = Request::new(Method::PUT, url)
            .scope(&self.scope)
            .idempotent(false);
        if let Some(last) = last.filter(|b| !b.is_empty()) {
            let (range, _) = chunk_range(self.offset, last.len())?;
            req = req
                .header(CONTENT_TYPE, OCTET)
                .header(http::header::CONTENT_RANGE, range)
                .body(last);
        }
        match self.client.send(req).await {
            Ok(_) => {}
            // The PUT may have reached the registry and its answer been lost: the upload is
            // then complete, and the registry verified the digest before it stored the blob.
            Err(e @ (Error::Transport { .. } | Error::Stalled { .. }))
                if e.may_have_been_sent() =>
            {
                if !self
                    .client
                    .blob_exists_scoped(&self.repo, digest, "pull,push")
                    .await
                    .unwrap_or(false)
                {
                    return Err(e);
                }
                tracing::debug!(error = %e, "the upload's last answer was lost; the blob is there");
            }
            Err(e) => return Err(e),
        }
        self.offset = 0;
        Ok(())
    }

    /// Cancels the upload (`DELETE <location>`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] when the registry refuses, [`Error::Transport`].
    pub async fn cancel(self) -> Result<()> {
        self.client
            .send(Request::new(Method::DELETE, self.location.clone()).scope(&self.scope))
            .await?;
        Ok(())
    }
}

impl RegistryClient {
    /// Opens an upload session.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] when the registry refuses (401/403 without push access),
    /// [`Error::Protocol`] without a `Location`.
    pub async fn start_upload(&self, repo: &Repository) -> Result<UploadSession> {
        let url = self.url(repo, "blobs/uploads/")?;
        let sc = self.scope(repo, "pull,push");
        let resp = self
            .send(
                Request::new(Method::POST, url.clone())
                    .header(CONTENT_LENGTH, HeaderValue::from(0u32))
                    .scope(&sc)
                    // Opening a session twice is harmless (the registry purges the unused
                    // one), so a POST whose answer was lost is retried like a GET.
                    .idempotent(true),
            )
            .await?;
        Ok(UploadSession {
            client: self.clone(),
            repo: repo.clone(),
            location: location(&url, resp.headers())?,
            offset: 0,
            min_chunk: min_chunk(resp.headers()),
            scope: sc,
        })
    }

    /// Uploads a blob held in memory in one request (`POST` then `PUT ?digest=`). Returns its
    /// digest.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] when the registry refuses, [`Error::Transport`].
    pub async fn push_blob(&self, repo: &Repository, data: Bytes) -> Result<Digest> {
        let digest = Digest::sha256_of(&data);
        let session = self.start_upload(repo).await?;
        let mut url = session.location.clone();
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        self.send(
            Request::new(Method::PUT, url)
                .header(CONTENT_TYPE, OCTET)
                .body(data)
                .scope(&session.scope),
        )
        .await?;
        Ok(digest)
    }

    /// Uploads a file as the blob `digest`, streamed from disk (never held in memory).
    ///
    /// Without a chunk size (see [`RegistryClientBuilder::chunk_size`](super::RegistryClientBuilder::chunk_size))
    /// the file goes in one streamed `PATCH`; with one, in `PATCH` chunks of that size (at least
    /// `OCI-Chunk-Min-Length`). After a failed request the registry is asked where the upload
    /// stands and the transfer goes on from there, up to the client's resume attempts; when
    /// the registry dropped the session (distribution does after a broken request), the file
    /// is sent again from its start with a new one.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read, [`Error::Api`] (`DIGEST_INVALID` when the
    /// file does not match), [`Error::Transport`] once resuming is exhausted.
    pub async fn push_blob_file(
        &self,
        repo: &Repository,
        path: &Path,
        digest: &Digest,
    ) -> Result<()> {
        self.push_blob_file_with(repo, path, digest, Arc::new(|_| {}))
            .await
    }

    pub(crate) async fn push_blob_file_with(
        &self,
        repo: &Repository,
        path: &Path,
        digest: &Digest,
        on_bytes: OnBytes,
    ) -> Result<()> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| Error::io(path, e))?
            .len();
        let open: Reopen<'_> = Box::new(move |at| Box::pin(open_file_at(path.to_owned(), at)));
        self.upload_resumable(
            Source::Reopen(open),
            Upload {
                repo,
                session: None,
                digest: Some(digest.clone()),
                size: Some(size),
                on_bytes,
            },
        )
        .await?;
        Ok(())
    }

    /// Uploads a blob of unknown digest from a stream, hashing (sha256) while sending. Returns
    /// the digest and size.
    ///
    /// The stream is read once and sent in `PATCH` chunks of the client's
    /// [`chunk_size`](super::RegistryClientBuilder::chunk_size) (8 MiB when it sets none; at
    /// least `OCI-Chunk-Min-Length`), each kept in memory until the registry acknowledges it,
    /// so memory stays bounded by one chunk. After a cut connection or an expired token the
    /// registry is asked where the upload stands and the unacknowledged part of the chunk is
    /// sent again, up to the client's resume attempts. A registry that drops the session after
    /// a broken request (distribution 2.8 does) is given a new one when nothing before the
    /// chunk in flight was acknowledged; otherwise the bytes it had are gone with the stream
    /// and the upload fails with [`Error::UploadSessionLost`].
    ///
    /// # Errors
    ///
    /// Errors of the stream itself, [`Error::UploadSessionLost`] as above, [`Error::Api`],
    /// [`Error::Transport`] once resuming is exhausted.
    pub async fn push_blob_stream<S>(&self, repo: &Repository, stream: S) -> Result<(Digest, u64)>
    where
        S: Stream<Item = Result<Bytes>> + Send + 'static,
    {
        self.upload_resumable(
            Source::Once(stream.boxed()),
            Upload {
                repo,
                session: None,
                digest: None,
                size: None,
                on_bytes: Arc::new(|_| {}),
            },
        )
        .await
    }

    /// Mounts a blob from another repository of the same registry (`POST ?mount=&from=`),
    /// with a token holding push on `repo` and pull on `from`.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] when the registry refuses the request altogether.
    pub async fn mount_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        from: &Repository,
    ) -> Result<MountOutcome> {
        let mut url = self.url(repo, "blobs/uploads/")?;
        let from_name = self.endpoint(from)?.name().clone();
        url.query_pairs_mut()
            .append_pair("mount", digest.as_str())
            .append_pair("from", from_name.as_str());
        let sc = self.scope(repo, "pull,push");
        let resp = self
            .send(
                Request::new(Method::POST, url.clone())
                    .header(CONTENT_LENGTH, HeaderValue::from(0u32))
                    .scope(&sc)
                    .scope(&self.scope(from, "pull")),
            )
            .await?;
        if resp.status() == StatusCode::CREATED {
            return Ok(MountOutcome::Mounted);
        }
        Ok(MountOutcome::Upload(UploadSession {
            client: self.clone(),
            repo: repo.clone(),
            location: location(&url, resp.headers())?,
            offset: 0,
            min_chunk: min_chunk(resp.headers()),
            scope: sc,
        }))
    }
}

impl UploadSession {
    /// The repository the upload goes to.
    pub fn repository(&self) -> &Repository {
        &self.repo
    }
}

/// A file's bytes from `at` on, as a stream.
pub(super) async fn open_file_at(path: std::path::PathBuf, at: u64) -> Result<ByteStream> {
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| Error::io(&path, e))?;
    file.seek(SeekFrom::Start(at))
        .await
        .map_err(|e| Error::io(&path, e))?;
    let p = path.clone();
    Ok(
        tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)
            .map_err(move |e| Error::io(&p, e))
            .boxed(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::RANGE, "0-99".parse().unwrap());
        assert_eq!(range_end(&h, 0), Some(100));
        h.insert(http::header::RANGE, "bytes=0-4".parse().unwrap());
        assert_eq!(range_end(&h, 0), Some(5));
        h.insert(http::header::RANGE, "0-0".parse().unwrap());
        assert_eq!(range_end(&h, 0), Some(0));
        assert_eq!(range_end(&h, 1), Some(1));
        assert_eq!(range_end(&http::HeaderMap::new(), 3), None);
    }

    /// Found by review of the `client_headers` fuzz target's property, kept as its reproducer:
    /// `Range: 0-18446744073709551615` overflowed (a panic with overflow checks, an offset
    /// wrapped to 0 without). The header is now ignored, as a missing one is.
    #[test]
    fn range_end_at_u64_max_is_ignored_not_overflowed() {
        let bytes = include_bytes!(
            "../../tests/fixtures/fuzz-regressions/client_headers/range-end-u64-max"
        );
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::RANGE,
            http::HeaderValue::from_bytes(bytes).unwrap(),
        );
        for known in [0, 1, 4096] {
            assert_eq!(range_end(&h, known), None);
        }
    }

    #[test]
    fn a_chunk_past_u64_max_is_a_protocol_error() {
        let (range, after) = chunk_range(0, 100).unwrap();
        assert_eq!((range.to_str().unwrap(), after), ("0-99", 100));
        let (range, after) = chunk_range(u64::MAX - 1, 1).unwrap();
        assert_eq!(
            range.to_str().unwrap(),
            "18446744073709551614-18446744073709551614"
        );
        assert_eq!(after, u64::MAX);
        for (start, len) in [(u64::MAX, 1), (u64::MAX - 1, 2)] {
            let e = chunk_range(start, len).unwrap_err();
            assert!(matches!(e, Error::Protocol { .. }), "{e}");
        }
    }

    #[test]
    fn relative_locations_resolve() {
        let base = Url::parse("http://127.0.0.1:5000/v2/a/blobs/uploads/").unwrap();
        let mut h = http::HeaderMap::new();
        h.insert(
            LOCATION,
            "/v2/a/blobs/uploads/u1?_state=xyz".parse().unwrap(),
        );
        let l = location(&base, &h).unwrap();
        assert_eq!(
            l.as_str(),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/u1?_state=xyz"
        );
    }
}
