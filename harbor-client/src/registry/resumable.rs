//! The one upload loop behind every blob upload that is not monolithic: a file, a stream of
//! unknown digest, a blob streamed from another registry. It goes in chunks kept in memory
//! until the registry acknowledges them (or, for a source that can be read again, in one
//! streamed request), and after a failed request asks the registry where the upload stands
//! (`GET <location>` → `Range`) and sends only what it lacks.
//!
//! distribution 2.8 (and Harbor, which runs it) drops an upload session after a broken
//! request (`404 BLOB_UPLOAD_UNKNOWN` afterwards). What happens then depends on the source:
//!
//! | source | session kept | session dropped |
//! | --- | --- | --- |
//! | read again at any offset (a file, a source registry's blob) | resumed at the reported offset | restarted from byte 0 with a new session |
//! | read once (a stream), nothing acknowledged before the chunk in flight | the chunk's unacknowledged part re-sent | a new session, the chunk re-sent |
//! | read once, bytes acknowledged before the chunk in flight | the chunk's unacknowledged part re-sent | [`Error::UploadSessionLost`] |
//!
//! A `401` on a chunk (a token that expired mid-upload) is answered by the transport: it
//! fetches a new token and sends the chunk again (its body is in memory). A `401` on a
//! streamed request, whose body cannot be replayed, fails that request; the status request
//! that follows gets the new token and the upload goes on from the reported offset.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt as _, TryStreamExt as _};
use http::StatusCode;

use super::upload::UploadSession;
use super::{Descriptor, Digest, Hasher, RegistryClient, Repository};
use crate::error::{Error, Result};
use crate::transport::Body;

/// A stream of blob bytes.
pub(crate) type ByteStream = BoxStream<'static, Result<Bytes>>;

/// Opens a source again at a byte offset.
pub(crate) type Reopen<'a> =
    Box<dyn Fn(u64) -> BoxFuture<'a, Result<ByteStream>> + Send + Sync + 'a>;

/// A progress callback counting bytes the registry acknowledged.
pub(crate) type OnBytes = Arc<dyn Fn(u64) + Send + Sync>;

/// Where an upload's bytes come from.
pub(crate) enum Source<'a> {
    /// A stream read once: only the chunk in flight can be sent again.
    Once(ByteStream),
    /// A source that can be opened again at any offset.
    Reopen(Reopen<'a>),
}

/// The chunk size of a one-shot stream when the client sets none: the bytes a cut request
/// may need again must be kept, so a stream always goes in bounded chunks.
pub(crate) const DEFAULT_STREAM_CHUNK: u64 = 8 * 1024 * 1024;

/// One upload: where to, what is known of the blob, and whom to tell about progress.
pub(crate) struct Upload<'a> {
    pub(crate) repo: &'a Repository,
    /// A session opened already (a refused mount opens one); else one is started.
    pub(crate) session: Option<UploadSession>,
    /// The blob's digest when known; else it is computed (sha256) while reading.
    pub(crate) digest: Option<Digest>,
    /// The blob's size when known (checked against what the source gives).
    pub(crate) size: Option<u64>,
    pub(crate) on_bytes: OnBytes,
}

impl<'a> Upload<'a> {
    /// The upload of a blob a descriptor names (digest and size known) to `repo`.
    pub(crate) fn of(
        repo: &'a Repository,
        session: Option<UploadSession>,
        blob: &Descriptor,
        on_bytes: OnBytes,
    ) -> Upload<'a> {
        Upload {
            repo,
            session,
            digest: Some(blob.digest.clone()),
            size: Some(blob.size),
            on_bytes,
        }
    }
}

/// The bytes of one upload reported to a progress callback so far. A restarted upload
/// (distribution drops a session after a broken request) sends bytes again from 0; only the
/// offsets beyond the furthest one reported count, so the reports add up to the blob's size.
#[derive(Debug, Default)]
pub(crate) struct Progressed {
    furthest: u64,
}

impl Progressed {
    /// Reports the bytes between the furthest offset reported and `offset`, if any.
    pub(crate) fn report(&mut self, offset: u64, on_bytes: &(dyn Fn(u64) + Send + Sync)) {
        if offset > self.furthest {
            on_bytes(offset - self.furthest);
            self.furthest = offset;
        }
    }
}

/// Whether an error says the upload session no longer exists.
pub(crate) fn session_gone(e: &Error) -> bool {
    e.api().is_some_and(|a| {
        a.status == StatusCode::NOT_FOUND
            || a.has_code(&crate::ErrorCode::BlobUploadInvalid)
            || a.has_code(&crate::ErrorCode::BlobUploadUnknown)
    })
}

/// The state of one chunked upload.
struct Chunked<'a, 'u> {
    client: &'a RegistryClient,
    up: &'a Upload<'u>,
    session: UploadSession,
    chunk: u64,
    failures: u32,
    progress: Progressed,
}

impl RegistryClient {
    /// Uploads `source` as `up` says and completes the upload. Returns the digest and size.
    pub(crate) async fn upload_resumable(
        &self,
        source: Source<'_>,
        mut up: Upload<'_>,
    ) -> Result<(Digest, u64)> {
        let session = match up.session.take() {
            Some(s) => s,
            None => self.start_upload(up.repo).await?,
        };
        match (source, self.inner.chunk_size, up.size, &up.digest) {
            // A source read again and no chunk size: one streamed request, resumed.
            (Source::Reopen(open), None, Some(size), Some(_)) => {
                self.upload_streamed(session, open, size, &up).await
            }
            (source, chunk, _, _) => {
                let chunk = chunk
                    .unwrap_or(DEFAULT_STREAM_CHUNK)
                    .max(session.min_chunk_length().unwrap_or(0))
                    .max(1);
                let c = Chunked {
                    client: self,
                    up: &up,
                    session,
                    chunk,
                    failures: 0,
                    progress: Progressed::default(),
                };
                c.run(source).await
            }
        }
    }

    /// Counts a failed request; the error once the client's resume attempts are spent.
    async fn may_resume(&self, failures: &mut u32, e: Error, offset: u64) -> Result<()> {
        *failures += 1;
        if *failures > self.inner.resume_attempts {
            return Err(e);
        }
        tracing::debug!(offset, error = %e, "upload request failed; resuming");
        tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(*failures))).await;
        Ok(())
    }

    /// One streamed `PATCH` of the whole source; after a failure, the source is opened again
    /// where the registry stands (or at 0 with a new session) and the rest streamed.
    async fn upload_streamed(
        &self,
        mut session: UploadSession,
        open: Reopen<'_>,
        size: u64,
        up: &Upload<'_>,
    ) -> Result<(Digest, u64)> {
        let digest = up
            .digest
            .clone()
            .ok_or_else(|| Error::protocol("no digest"))?;
        let progress = Arc::new(Mutex::new(Progressed::default()));
        let mut failures = 0;
        while session.offset() < size {
            let before = session.offset();
            let stream = open(before).await?;
            let (p, cb) = (progress.clone(), up.on_bytes.clone());
            let mut at = before;
            let counted = stream.inspect_ok(move |c: &Bytes| {
                at += c.len() as u64;
                if let Ok(mut p) = p.lock() {
                    p.report(at, &*cb);
                }
            });
            match session
                .patch_stream(Body::wrap_stream(counted), Some(size - before))
                .await
            {
                Ok(()) if session.offset() > before => {}
                Ok(()) => {
                    return Err(Error::protocol(
                        "the registry did not advance the upload offset",
                    ));
                }
                Err(e @ Error::Io { .. }) => return Err(e),
                Err(e) => {
                    self.may_resume(&mut failures, e, before).await?;
                    match session.refresh().await {
                        Ok(_) => {}
                        Err(e) if session_gone(&e) => {
                            tracing::debug!("upload session lost; restarting the upload");
                            session = self.start_upload(up.repo).await?;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        session.finish(&digest, None).await?;
        Ok((digest, size))
    }
}

impl Chunked<'_, '_> {
    /// Reads the source chunk by chunk and sends each until the registry holds it; what the
    /// registry did not take of a chunk leads the next one (so every `PATCH` but the last is a
    /// whole chunk, as `OCI-Chunk-Min-Length` asks).
    async fn run(mut self, source: Source<'_>) -> Result<(Digest, u64)> {
        let (mut stream, reopen) = match source {
            Source::Once(s) => (s, None),
            Source::Reopen(open) => (open(0).await?, Some(open)),
        };
        let mut hasher = self.up.digest.is_none().then(Hasher::sha256);
        // Bytes of the last stream item that did not fit in the chunk.
        let mut pending: Option<Bytes> = None;
        // Bytes sent but not acknowledged, at blob offset `start`.
        let mut carry: Option<Bytes> = None;
        let mut start = 0u64;
        // Bytes taken from the source so far (the blob offset after them).
        let mut read = 0u64;
        let mut eof = false;
        loop {
            let mut buf = Vec::new();
            if let Some(c) = carry.take() {
                buf.extend_from_slice(&c);
            }
            while (buf.len() as u64) < self.chunk && !eof {
                let item = match pending.take() {
                    Some(b) => Some(Ok(b)),
                    None => stream.next().await,
                };
                let Some(item) = item else {
                    eof = true;
                    break;
                };
                let mut b = item?;
                let room = usize::try_from(self.chunk - buf.len() as u64).unwrap_or(usize::MAX);
                if b.len() > room {
                    pending = Some(b.split_off(room));
                }
                if let Some(h) = hasher.as_mut() {
                    h.update(&b);
                }
                read += b.len() as u64;
                buf.extend_from_slice(&b);
            }
            if let Some(size) = self.up.size
                && read > size
            {
                return Err(Error::protocol(format!(
                    "the blob runs on past the {size} bytes expected"
                )));
            }
            if buf.is_empty() {
                break;
            }
            let data = Bytes::from(buf);
            let end = start + data.len() as u64;
            match self.send(data.clone(), start, reopen.is_some()).await? {
                at if at > end => {
                    return Err(Error::protocol(format!(
                        "the registry reports {at} bytes received, more than the {end} sent"
                    )));
                }
                at if at == end => start = at,
                at if at >= start => {
                    let skip = usize::try_from(at - start).unwrap_or(usize::MAX);
                    carry = Some(data.slice(skip.min(data.len())..));
                    start = at;
                }
                at => {
                    let open = reopen.as_ref().ok_or_else(|| Error::UploadSessionLost {
                        acknowledged: start,
                        source: Box::new(Error::protocol(format!(
                            "the registry now reports {at} bytes received"
                        ))),
                    })?;
                    stream = open(at).await?;
                    (pending, carry, start, read, eof) = (None, None, at, at, false);
                }
            }
        }
        if let Some(size) = self.up.size
            && start != size
        {
            return Err(Error::protocol(format!(
                "the blob ended after {start} of {size} bytes"
            )));
        }
        let digest = match (hasher, &self.up.digest) {
            (Some(h), _) => h.finish(),
            (None, Some(d)) => d.clone(),
            (None, None) => return Err(Error::protocol("no digest")),
        };
        self.session.finish(&digest, None).await?;
        Ok((digest, start))
    }

    /// Sends a chunk starting at blob offset `start` once; returns where the upload stands
    /// after it (asked of the registry after a failure, with a new session at 0 when the
    /// registry dropped the old one and the bytes before the chunk can be had again:
    /// `rereadable` source, or none before it).
    async fn send(&mut self, data: Bytes, start: u64, rereadable: bool) -> Result<u64> {
        let at = self.session.offset();
        if at != start {
            return Err(Error::protocol(format!(
                "the upload stands at {at}, the chunk starts at {start}"
            )));
        }
        match self.session.patch_chunk(data).await {
            Ok(()) if self.session.offset() > at => {
                self.progress
                    .report(self.session.offset(), &*self.up.on_bytes);
                Ok(self.session.offset())
            }
            Ok(()) => Err(Error::protocol(
                "the registry did not advance the upload offset",
            )),
            Err(e) => {
                self.client.may_resume(&mut self.failures, e, at).await?;
                match self.session.refresh().await {
                    Ok(now) => {
                        self.progress.report(now, &*self.up.on_bytes);
                        Ok(now)
                    }
                    Err(e) if session_gone(&e) && (start == 0 || rereadable) => {
                        tracing::debug!("upload session lost; restarting the upload");
                        self.session = self.client.start_upload(self.up.repo).await?;
                        Ok(0)
                    }
                    Err(e) if session_gone(&e) => Err(Error::UploadSessionLost {
                        acknowledged: start,
                        source: Box::new(e),
                    }),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_adds_up_to_the_size_across_a_resume_and_a_restart() {
        use std::sync::Mutex;
        let seen = Mutex::new(Vec::new());
        let on_bytes = |n: u64| seen.lock().unwrap().push(n);
        let mut p = Progressed::default();
        p.report(1000, &on_bytes); // first chunk
        p.report(1500, &on_bytes); // a failed chunk kept half: resumed at 1500
        p.report(0, &on_bytes); // the session was lost: a new one starts at 0
        p.report(1000, &on_bytes); // bytes sent again: already reported
        p.report(2000, &on_bytes);
        p.report(2000, &on_bytes); // no progress, nothing reported
        p.report(4321, &on_bytes);
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen, [1000, 500, 500, 2321]);
        assert_eq!(seen.iter().sum::<u64>(), 4321);
    }
}
