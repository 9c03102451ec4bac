//! Blob downloads: streamed, verified while they stream, resumed when the connection breaks.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use futures_util::stream::{BoxStream, StreamExt as _};
use http::header::{CONTENT_LENGTH, HeaderValue, RANGE};
use http::{Method, StatusCode};
use tokio::io::AsyncWriteExt as _;
use url::Url;

use super::{Digest, Hasher, RegistryClient, Repository};
use crate::error::{Error, Result};
use crate::transport::Request;

/// A blob being downloaded: a stream of byte chunks.
///
/// From [`RegistryClient::get_blob`] the bytes are hashed as they pass; when the stream ends
/// the digest is compared and a mismatch is yielded as the last item
/// ([`Error::DigestMismatch`]), so a consumer that stops at the first error never takes bad
/// bytes as good. A connection that breaks mid-way is resumed with a `Range` request from the
/// last byte received.
pub struct BlobStream {
    inner: BoxStream<'static, Result<Bytes>>,
    size: Option<u64>,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl BlobStream {
    /// The number of bytes the stream will yield, when the registry said.
    pub fn size(&self) -> Option<u64> {
        self.size
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

struct State {
    client: RegistryClient,
    url: Url,
    /// The token scope; `None` for a foreign URL, which gets no credentials at all.
    scope: Option<String>,
    body: Option<BoxStream<'static, reqwest::Result<Bytes>>>,
    offset: u64,
    size: Option<u64>,
    hasher: Option<Hasher>,
    digest: Digest,
    resumes_left: u32,
    done: bool,
}

fn content_length(h: &http::HeaderMap) -> Option<u64> {
    h.get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

impl RegistryClient {
    /// The size of a blob, if it exists.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] (404 when unknown; check with [`Error::is_not_found`]).
    pub async fn head_blob(&self, repo: &Repository, digest: &Digest) -> Result<u64> {
        self.head_blob_scoped(repo, digest, "pull").await
    }

    pub(crate) async fn head_blob_scoped(
        &self,
        repo: &Repository,
        digest: &Digest,
        actions: &str,
    ) -> Result<u64> {
        let url = self.url(repo, &format!("blobs/{digest}"))?;
        let resp = self
            .send(Request::new(Method::HEAD, url).scope(&self.scope(repo, actions)))
            .await?;
        content_length(resp.headers())
            .ok_or_else(|| Error::protocol("the registry sent no Content-Length for the blob"))
    }

    /// Whether a blob exists (`HEAD`, 404 → `false`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for errors other than 404, [`Error::Transport`].
    pub async fn blob_exists(&self, repo: &Repository, digest: &Digest) -> Result<bool> {
        self.blob_exists_scoped(repo, digest, "pull").await
    }

    pub(crate) async fn blob_exists_scoped(
        &self,
        repo: &Repository,
        digest: &Digest,
        actions: &str,
    ) -> Result<bool> {
        match self.head_blob_scoped(repo, digest, actions).await {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Downloads a blob as a verified, resumable stream, from the configured mirrors first
    /// (see [`Registries`](crate::transport::Registries)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a digest algorithm that cannot be verified, [`Error::Api`]
    /// (404 when unknown), [`Error::Transport`]. Errors later in the transfer come from the
    /// stream.
    pub async fn get_blob(&self, repo: &Repository, digest: &Digest) -> Result<BlobStream> {
        self.pull_from_mirrors(repo, true, |r| async move {
            self.get_blob_from(&r, digest).await
        })
        .await
    }

    async fn get_blob_from(&self, repo: &Repository, digest: &Digest) -> Result<BlobStream> {
        let url = self.url(repo, &format!("blobs/{digest}"))?;
        self.verified_stream(url, Some(self.scope(repo, "pull")), digest)
            .await
    }

    /// Downloads a foreign layer from one of its URLs, verified and resumable as
    /// [`RegistryClient::get_blob`], without any credentials (the host is not a registry this
    /// client authenticates to).
    pub(crate) async fn get_foreign_blob(&self, url: &Url, digest: &Digest) -> Result<BlobStream> {
        self.verified_stream(url.clone(), None, digest).await
    }

    /// A verified, resumable download of `url`.
    async fn verified_stream(
        &self,
        url: Url,
        sc: Option<String>,
        digest: &Digest,
    ) -> Result<BlobStream> {
        let hasher = digest.hasher()?;
        let resp = self.send(blob_get(url.clone(), sc.as_deref())).await?;
        let size = content_length(resp.headers());
        let state = State {
            client: self.clone(),
            url,
            scope: sc,
            body: Some(resp.bytes_stream().boxed()),
            offset: 0,
            size,
            hasher: Some(hasher),
            digest: digest.clone(),
            resumes_left: self.inner.resume_attempts,
            done: false,
        };
        Ok(BlobStream {
            inner: futures_util::stream::unfold(state, next_chunk).boxed(),
            size,
        })
    }

    /// Downloads bytes `start..=end` (to the end when `end` is `None`) of a blob, unverified.
    ///
    /// The registry must answer `206 Partial Content`; a `200` with the whole blob is taken
    /// only for `start` 0 without `end` (the whole blob is what was asked for).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `end` is before `start` (nothing sent); [`Error::Api`]
    /// (416 for a range outside the blob); [`Error::Protocol`] when the registry ignores the
    /// range (answers `200` to any other range).
    pub async fn get_blob_range(
        &self,
        repo: &Repository,
        digest: &Digest,
        start: u64,
        end: Option<u64>,
    ) -> Result<BlobStream> {
        let url = self.url(repo, &format!("blobs/{digest}"))?;
        let range = match end {
            Some(e) if e < start => {
                return Err(Error::invalid(
                    "range",
                    &format!("{start}-{e}"),
                    "the end is before the start",
                ));
            }
            Some(e) => format!("bytes={start}-{e}"),
            None => format!("bytes={start}-"),
        };
        let whole_blob_asked = start == 0 && end.is_none();
        let resp = self
            .send(
                Request::new(Method::GET, url.clone())
                    .header(
                        RANGE,
                        HeaderValue::from_str(&range)
                            .map_err(|_| Error::invalid("range", &range, "not a header value"))?,
                    )
                    .scope(&self.scope(repo, "pull")),
            )
            .await?;
        if resp.status() != StatusCode::PARTIAL_CONTENT && !whole_blob_asked {
            return Err(Error::protocol(format!(
                "the registry ignored the Range header ({range}): no 206 answer"
            )));
        }
        let size = content_length(resp.headers());
        let url2 = url.clone();
        Ok(BlobStream {
            inner: resp
                .bytes_stream()
                .map(move |r| r.map_err(|e| Error::transport(&Method::GET, &url2, e)))
                .boxed(),
            size,
        })
    }

    /// Downloads a blob into a file, verified: the bytes go to a temporary file of this
    /// download's own beside `path` (`<path>.<random>.partial`) while they stream, and it is
    /// renamed to `path` only once the digest matches. On any error, and when the future is
    /// dropped before it ends (a timeout, a sibling transfer failing), the temporary file is
    /// removed; nothing is left behind, and concurrent downloads of one blob never share a
    /// file.
    ///
    /// # Errors
    ///
    /// As [`RegistryClient::get_blob`], plus [`Error::DigestMismatch`], [`Error::Io`], and
    /// [`Error::Protocol`] when the size differs from `expected_size`.
    pub async fn pull_blob_to_file(
        &self,
        repo: &Repository,
        digest: &Digest,
        expected_size: Option<u64>,
        path: &Path,
    ) -> Result<u64> {
        self.pull_blob_to_file_with(repo, digest, expected_size, path, &|_| {})
            .await
    }

    pub(crate) async fn pull_blob_to_file_with(
        &self,
        repo: &Repository,
        digest: &Digest,
        expected_size: Option<u64>,
        path: &Path,
        on_bytes: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64> {
        let stream = self.get_blob(repo, digest).await?;
        stream_to_file(stream, digest, expected_size, path, on_bytes).await
    }

    /// Deletes a blob.
    ///
    /// # Errors
    ///
    /// [`Error::Api`]: 404 when unknown, 405 when deletion is disabled.
    pub async fn delete_blob(&self, repo: &Repository, digest: &Digest) -> Result<()> {
        let url = self.url(repo, &format!("blobs/{digest}"))?;
        self.send(Request::new(Method::DELETE, url).scope(&self.scope(repo, "delete")))
            .await?;
        Ok(())
    }
}

/// Writes a verified blob stream into `path` through a temporary file of its own, renamed
/// only once the length and digest match. The temporary file is removed on any error and
/// when this future is dropped before it ends.
pub(crate) async fn stream_to_file(
    mut stream: BlobStream,
    digest: &Digest,
    expected_size: Option<u64>,
    path: &Path,
    on_bytes: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64> {
    let partial = super::layout::TempFile::beside(path, "partial");
    let mut length = LengthCheck::start(digest, expected_size, stream.size())?;
    let file = tokio::fs::File::create(partial.path())
        .await
        .map_err(|e| Error::io(partial.path(), e))?;
    let mut w = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        length.add(chunk.len())?;
        w.write_all(&chunk)
            .await
            .map_err(|e| Error::io(partial.path(), e))?;
        on_bytes(chunk.len() as u64);
    }
    let n = length.finish()?;
    w.flush().await.map_err(|e| Error::io(partial.path(), e))?;
    drop(w);
    partial.persist(path).await?;
    Ok(n)
}

/// Yields the next verified chunk, resuming after a broken connection.
async fn next_chunk(mut st: State) -> Option<(Result<Bytes>, State)> {
    if st.done {
        return None;
    }
    loop {
        let Some(body) = st.body.as_mut() else {
            // Reconnect from the offset.
            match resume(
                st.client.clone(),
                st.url.clone(),
                st.scope.as_deref(),
                st.offset,
            )
            .await
            {
                Ok(b) => {
                    st.body = Some(b);
                    continue;
                }
                Err(e) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
            }
        };
        match body.next().await {
            Some(Ok(chunk)) => {
                if chunk.is_empty() {
                    continue;
                }
                st.offset += chunk.len() as u64;
                if let Some(h) = st.hasher.as_mut() {
                    h.update(&chunk);
                }
                return Some((Ok(chunk), st));
            }
            Some(Err(e)) => {
                st.body = None;
                if st.resumes_left == 0 {
                    st.done = true;
                    let err = Error::transport(&Method::GET, &st.url, e);
                    return Some((Err(err), st));
                }
                st.resumes_left -= 1;
                tracing::debug!(offset = st.offset, error = %e, "blob download broke; resuming");
            }
            None => {
                if let Some(size) = st.size
                    && st.offset < size
                {
                    st.body = None;
                    if st.resumes_left == 0 {
                        st.done = true;
                        return Some((
                            Err(Error::protocol(format!(
                                "the blob ended after {} of {size} bytes",
                                st.offset
                            ))),
                            st,
                        ));
                    }
                    st.resumes_left -= 1;
                    continue;
                }
                st.done = true;
                let actual = st.hasher.take()?.finish();
                if actual != st.digest {
                    let err = Error::DigestMismatch {
                        expected: st.digest.to_string(),
                        actual: actual.to_string(),
                    };
                    return Some((Err(err), st));
                }
                return None;
            }
        }
    }
}

/// A `GET` of a blob: with the token scope `scope`, or without any credentials when `None`.
fn blob_get(url: Url, scope: Option<&str>) -> Request {
    let req = Request::new(Method::GET, url);
    match scope {
        Some(sc) => req.scope(sc),
        None => req.anonymous(),
    }
}

async fn resume(
    client: RegistryClient,
    url: Url,
    scope: Option<&str>,
    offset: u64,
) -> Result<BoxStream<'static, reqwest::Result<Bytes>>> {
    let range = format!("bytes={offset}-");
    let req = blob_get(url, scope).header(
        RANGE,
        HeaderValue::from_str(&range)
            .map_err(|_| Error::invalid("range", &range, "not a header value"))?,
    );
    let resp = client.send(req).await?;
    let status = resp.status();
    if status == StatusCode::OK && offset == 0 {
        return Ok(resp.bytes_stream().boxed());
    }
    if status != StatusCode::PARTIAL_CONTENT {
        return Err(Error::protocol(format!(
            "cannot resume the download at byte {offset}: the registry answered {status} instead of 206"
        )));
    }
    // `Content-Range: bytes <start>-<end>/<total>` must start where we stopped.
    let start = resp
        .headers()
        .get(http::header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes "))
        .and_then(|v| v.split_once('-'))
        .and_then(|(s, _)| s.parse::<u64>().ok());
    if start.is_some_and(|s| s != offset) {
        return Err(Error::protocol(format!(
            "the registry resumed the download at another offset than {offset}"
        )));
    }
    Ok(resp.bytes_stream().boxed())
}

/// A download's length against the size the caller expects (a manifest's): the size the
/// registry announces, every chunk as it comes (so a blob that runs on is cut short), and the
/// total at the end.
pub(crate) struct LengthCheck<'d> {
    digest: &'d Digest,
    expected: Option<u64>,
    received: u64,
}

impl<'d> LengthCheck<'d> {
    /// Starts the check; fails when the announced size already differs.
    pub(crate) fn start(
        digest: &'d Digest,
        expected: Option<u64>,
        announced: Option<u64>,
    ) -> Result<Self> {
        if let (Some(want), Some(got)) = (expected, announced)
            && want != got
        {
            return Err(Error::protocol(format!(
                "blob {digest} is {got} bytes, {want} were expected"
            )));
        }
        Ok(LengthCheck {
            digest,
            expected,
            received: 0,
        })
    }

    /// Counts a chunk; fails once more bytes came than expected.
    pub(crate) fn add(&mut self, len: usize) -> Result<()> {
        self.received += len as u64;
        match self.expected {
            Some(want) if self.received > want => Err(Error::protocol(format!(
                "blob {} is longer than the {want} bytes expected",
                self.digest
            ))),
            _ => Ok(()),
        }
    }

    /// The bytes received; fails when fewer came than expected.
    pub(crate) fn finish(self) -> Result<u64> {
        match self.expected {
            Some(want) if self.received != want => Err(Error::protocol(format!(
                "blob {} is {} bytes, {want} were expected",
                self.digest, self.received
            ))),
            _ => Ok(self.received),
        }
    }
}

#[cfg(test)]
mod length_tests {
    use super::*;

    #[test]
    fn a_download_must_have_the_expected_length() {
        let d = Digest::sha256_of(b"x");
        // The registry announces another size: refused before any byte is written.
        assert!(LengthCheck::start(&d, Some(10), Some(11)).is_err());
        // Runs on past the expected size: refused at the chunk that passes it.
        let mut c = LengthCheck::start(&d, Some(10), None).unwrap();
        c.add(6).unwrap();
        let err = c.add(6).unwrap_err();
        assert!(
            err.to_string().contains("longer than the 10 bytes"),
            "{err}"
        );
        // Ends short: refused at the end.
        let mut c = LengthCheck::start(&d, Some(10), Some(10)).unwrap();
        c.add(9).unwrap();
        assert!(c.finish().is_err());
        // Exact, or nothing expected: the count.
        let mut c = LengthCheck::start(&d, Some(10), Some(10)).unwrap();
        c.add(4).unwrap();
        c.add(6).unwrap();
        assert_eq!(c.finish().unwrap(), 10);
        let mut c = LengthCheck::start(&d, None, Some(3)).unwrap();
        c.add(7).unwrap();
        assert_eq!(c.finish().unwrap(), 7);
    }
}
