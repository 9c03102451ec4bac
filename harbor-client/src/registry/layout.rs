//! OCI image layout directories (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`).

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::Digest;
use super::manifest::{Descriptor, ImageIndex, decode};
use crate::error::{Error, Result};

/// The annotation that names an image in a layout's `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

const LAYOUT_FILE: &str = "oci-layout";
/// The sidecar file whose lock guards every read-modify-write of `index.json`.
const INDEX_LOCK_FILE: &str = "index.json.lock";
const LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// An OCI image layout on disk.
///
/// Changes of `index.json` ([`OciLayout::add_manifest`], [`OciLayout::add_referrer`]) take an
/// exclusive advisory lock on `index.json.lock` beside it, so that concurrent writers (tasks
/// or processes, such as two pulls into one layout) keep each other's entries. The lock is
/// advisory: a tool that rewrites `index.json` without taking it can still lose entries.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// Opens a layout, creating the directory, `oci-layout`, `blobs/sha256` and an empty
    /// `index.json` as needed.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory cannot be created or written.
    pub async fn create(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let blobs = root.join("blobs").join("sha256");
        tokio::fs::create_dir_all(&blobs)
            .await
            .map_err(|e| Error::io(&blobs, e))?;
        let marker = root.join(LAYOUT_FILE);
        if !exists(&marker).await {
            write_atomic(&marker, LAYOUT_CONTENT).await?;
        }
        let layout = OciLayout { root };
        if !exists(&layout.index_path()).await {
            // Under the lock: another writer may create it and add to it meanwhile.
            let _lock = layout.lock_index().await?;
            if !exists(&layout.index_path()).await {
                layout.write_index(&ImageIndex::new()).await?;
            }
        }
        Ok(layout)
    }

    /// Opens an existing layout.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the directory holds no `oci-layout` file.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        if !exists(&root.join(LAYOUT_FILE)).await {
            return Err(Error::invalid(
                "OCI layout",
                &root.display().to_string(),
                "no oci-layout file: not an OCI image layout directory",
            ));
        }
        Ok(OciLayout { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a blob lives.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm())
            .join(digest.encoded())
    }

    /// Whether a blob is present with the expected size **and** content: the file is hashed
    /// and compared with the digest (a file of the right size with other bytes, from a crash
    /// or a tampered layout, counts as absent).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a digest algorithm that cannot be verified, [`Error::Io`]
    /// when a present file cannot be read.
    pub async fn has_blob(&self, digest: &Digest, size: u64) -> Result<bool> {
        use tokio::io::AsyncReadExt as _;
        let p = self.blob_path(digest);
        let mut hasher = digest.hasher()?;
        let Ok(mut file) = tokio::fs::File::open(&p).await else {
            return Ok(false);
        };
        if !file.metadata().await.is_ok_and(|m| m.len() == size) {
            return Ok(false);
        }
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf).await.map_err(|e| Error::io(&p, e))?;
            if n == 0 {
                break;
            }
            hasher.update(buf.get(..n).unwrap_or_default());
        }
        Ok(&hasher.finish() == digest)
    }

    /// Reads a small blob (a manifest or config; at most 16 MiB) and verifies its digest.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::DigestMismatch`], [`Error::InvalidInput`] over 16 MiB.
    pub async fn read_blob(&self, digest: &Digest) -> Result<Bytes> {
        let p = self.blob_path(digest);
        let meta = tokio::fs::metadata(&p)
            .await
            .map_err(|e| Error::io(&p, e))?;
        if meta.len() > 16 * 1024 * 1024 {
            return Err(Error::invalid(
                "blob",
                digest.as_str(),
                "too large to read into memory",
            ));
        }
        let data = tokio::fs::read(&p).await.map_err(|e| Error::io(&p, e))?;
        let mut h = digest.hasher()?;
        h.update(&data);
        let actual = h.finish();
        if &actual != digest {
            return Err(Error::DigestMismatch {
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(Bytes::from(data))
    }

    /// Writes a small blob, verified, atomically.
    ///
    /// # Errors
    ///
    /// [`Error::DigestMismatch`] when the bytes do not match, [`Error::Io`].
    pub async fn write_blob(&self, digest: &Digest, data: &[u8]) -> Result<()> {
        let mut h = digest.hasher()?;
        h.update(data);
        let actual = h.finish();
        if &actual != digest {
            return Err(Error::DigestMismatch {
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        let p = self.blob_path(digest);
        if let Some(dir) = p.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| Error::io(dir, e))?;
        }
        write_atomic(&p, data).await
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("index.json")
    }

    /// Reads `index.json`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Decode`].
    pub async fn index(&self) -> Result<ImageIndex> {
        let p = self.index_path();
        let data = tokio::fs::read(&p).await.map_err(|e| Error::io(&p, e))?;
        decode("index.json", &data)
    }

    async fn write_index(&self, index: &ImageIndex) -> Result<()> {
        let data = serde_json::to_vec(index)
            .map_err(|e| Error::invalid("index.json", "", e.to_string()))?;
        write_atomic(&self.index_path(), &data).await
    }

    /// Takes the exclusive lock on `index.json` (see [`OciLayout`]), waiting on a blocking
    /// thread while another writer, in this process or another, holds it.
    async fn lock_index(&self) -> Result<IndexLock> {
        let p = self.root.join(INDEX_LOCK_FILE);
        tokio::task::spawn_blocking(move || {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&p)
                .map_err(|e| Error::io(&p, e))?;
            file.lock().map_err(|e| Error::io(&p, e))?;
            Ok(IndexLock { _file: file })
        })
        .await
        .map_err(|e| Error::Io {
            path: None,
            source: std::io::Error::other(e),
        })?
    }

    /// Adds a manifest to `index.json` under a name (replacing an entry of that name), under
    /// the layout's `index.json` lock (see [`OciLayout`]).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] (also when the lock cannot be taken), [`Error::Decode`].
    pub async fn add_manifest(&self, desc: Descriptor, ref_name: Option<&str>) -> Result<()> {
        let _lock = self.lock_index().await?;
        self.add_manifest_locked(desc, ref_name).await
    }

    /// [`OciLayout::add_manifest`] for a caller holding the lock.
    async fn add_manifest_locked(
        &self,
        mut desc: Descriptor,
        ref_name: Option<&str>,
    ) -> Result<()> {
        let mut index = self.index().await?;
        match ref_name {
            Some(name) => {
                index
                    .manifests
                    .retain(|d| d.annotations.get(REF_NAME).map(String::as_str) != Some(name));
                desc.annotations
                    .insert(REF_NAME.to_owned(), name.to_owned());
            }
            None => index.manifests.retain(|d| d.digest != desc.digest),
        }
        index.manifests.push(desc);
        self.write_index(&index).await
    }

    /// The manifest named exactly `ref_name` in `index.json`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Decode`].
    pub async fn resolve(&self, ref_name: &str) -> Result<Option<Descriptor>> {
        Ok(self
            .index()
            .await?
            .manifests
            .into_iter()
            .find(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(ref_name)))
    }

    /// The names (`org.opencontainers.image.ref.name`) in `index.json`: the layout's tags.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Decode`].
    pub async fn ref_names(&self) -> Result<Vec<String>> {
        Ok(self
            .index()
            .await?
            .manifests
            .into_iter()
            .filter_map(|mut d| d.annotations.remove(REF_NAME))
            .collect())
    }

    /// The referrers of `subject` kept in this layout. A layout keeps them as a registry
    /// without a referrers API does: an image index named `sha256-<hex>` in `index.json`
    /// (the referrers tag schema), so that tools reading the layout by name find it too.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Decode`], [`Error::DigestMismatch`].
    pub async fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        let tag = super::referrers_tag(subject)?;
        match self.resolve(tag.as_str()).await? {
            Some(d) => {
                let bytes = self.read_blob(&d.digest).await?;
                Ok(decode::<ImageIndex>("referrers index", &bytes)?.manifests)
            }
            None => Ok(Vec::new()),
        }
    }

    /// Adds `referrer` to the referrers index of `subject` (see [`OciLayout::referrers`]),
    /// under the layout's `index.json` lock (see [`OciLayout`]).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] (also when the lock cannot be taken), [`Error::Decode`].
    pub async fn add_referrer(&self, subject: &Digest, referrer: Descriptor) -> Result<()> {
        let _lock = self.lock_index().await?;
        let mut list = self.referrers(subject).await?;
        if list.iter().any(|d| d.digest == referrer.digest) {
            return Ok(());
        }
        list.push(referrer);
        let mut index = ImageIndex::new();
        index.manifests = list;
        let bytes = serde_json::to_vec(&index)
            .map_err(|e| Error::invalid("referrers index", "", e.to_string()))?;
        let digest = Digest::sha256_of(&bytes);
        self.write_blob(&digest, &bytes).await?;
        let tag = super::referrers_tag(subject)?;
        self.add_manifest_locked(
            Descriptor::new(super::MediaType::OCI_INDEX, digest, bytes.len() as u64),
            Some(tag.as_str()),
        )
        .await
    }

    /// The manifest named `ref_name` in `index.json`, or the only one when no name is given
    /// (or none matches and there is exactly one).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when no entry (or several) fit.
    pub async fn find_manifest(&self, ref_name: Option<&str>) -> Result<Descriptor> {
        let index = self.index().await?;
        if let Some(name) = ref_name
            && let Some(d) = index
                .manifests
                .iter()
                .find(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(name))
        {
            return Ok(d.clone());
        }
        match index.manifests.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Error::invalid(
                "OCI layout",
                &self.root.display().to_string(),
                "index.json lists no manifest",
            )),
            _ => Err(Error::invalid(
                "OCI layout",
                &self.root.display().to_string(),
                format!(
                    "index.json lists several manifests and none is named {:?}",
                    ref_name.unwrap_or_default()
                ),
            )),
        }
    }
}

/// The held `index.json` lock; released when dropped (the file is closed).
struct IndexLock {
    _file: std::fs::File,
}

async fn exists(p: &Path) -> bool {
    tokio::fs::metadata(p).await.is_ok()
}

/// A temporary file beside `p`, unique to this write (`<p>.<random>.<suffix>`), so two
/// writers of one file never share their temporary file.
fn temp_beside(p: &Path, suffix: &str) -> PathBuf {
    let mut tmp = p.as_os_str().to_owned();
    tmp.push(format!(".{:016x}.{suffix}", fastrand::u64(..)));
    PathBuf::from(tmp)
}

/// The name of a temporary file beside a target (see [`temp_beside`]), removed when this
/// guard is dropped unless [`TempFile::persist`] renamed it into place: an error, a panic, or
/// a future dropped mid-write (a sibling transfer failing, a caller's timeout) leaves
/// nothing behind. Drop whatever holds the file open before the guard.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    /// A fresh name beside `target`, `<target>.<random>.<suffix>`; nothing is created yet.
    pub(crate) fn beside(target: &Path, suffix: &str) -> Self {
        TempFile {
            path: temp_beside(target, suffix),
            armed: true,
        }
    }

    /// The temporary file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the temporary file to `target`; on failure it is removed.
    pub(crate) async fn persist(mut self, target: &Path) -> Result<()> {
        tokio::fs::rename(&self.path, target)
            .await
            .map_err(|e| Error::io(target, e))?;
        self.armed = false;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            // Synchronous: a drop cannot await, and an unlink does not wait on the disk.
            // Absent (never created, or already renamed by a rename that was cancelled
            // after it ran) is the goal, not an error.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes `data` to `p` through a temporary file renamed into place (removed on failure).
pub(crate) async fn write_atomic(p: &Path, data: &[u8]) -> Result<()> {
    let tmp = TempFile::beside(p, "tmp");
    tokio::fs::write(tmp.path(), data)
        .await
        .map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(p).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rename that fails (the target is a directory) leaves no temporary file; neither
    /// does a guard dropped before its rename.
    #[tokio::test]
    async fn a_failed_or_abandoned_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("taken");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("inside"), b"x").unwrap();
        assert!(write_atomic(&target, b"data").await.is_err());
        let abandoned = TempFile::beside(&dir.path().join("f"), "partial");
        std::fs::write(abandoned.path(), b"half").unwrap();
        drop(abandoned);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["taken"]);
    }

    #[tokio::test]
    async fn layout_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let l = OciLayout::create(dir.path()).await.unwrap();
        let d = Digest::sha256_of(b"{}");
        l.write_blob(&d, b"{}").await.unwrap();
        assert!(l.has_blob(&d, 2).await.unwrap());
        // The right size with other bytes is not the blob.
        std::fs::write(l.blob_path(&d), b"{ ").unwrap();
        assert!(!l.has_blob(&d, 2).await.unwrap());
        l.write_blob(&d, b"{}").await.unwrap();
        assert!(l.write_blob(&d, b"{ }").await.is_err());
        l.add_manifest(Descriptor::new("x", d.clone(), 2), Some("v1"))
            .await
            .unwrap();
        l.add_manifest(Descriptor::new("x", d.clone(), 2), Some("v1"))
            .await
            .unwrap();
        let again = OciLayout::open(dir.path()).await.unwrap();
        assert_eq!(again.index().await.unwrap().manifests.len(), 1);
        assert_eq!(again.find_manifest(Some("v1")).await.unwrap().digest, d);
        assert_eq!(again.read_blob(&d).await.unwrap().as_ref(), b"{}");
        assert!(OciLayout::open(dir.path().join("nope")).await.is_err());
    }

    /// Two pulls into one layout add to `index.json` at once: every entry stays. Each task
    /// opens the layout itself, as a pull does.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_adds_all_end_up_in_index_json() {
        const N: usize = 48;
        let dir = tempfile::tempdir().unwrap();
        let subject = Digest::sha256_of(b"subject");
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let root = dir.path().to_owned();
                let subject = subject.clone();
                tokio::spawn(async move {
                    let l = OciLayout::create(root).await.unwrap();
                    let d = Digest::sha256_of(format!("m{i}").as_bytes());
                    l.add_manifest(Descriptor::new("x", d.clone(), 2), Some(&format!("t{i}")))
                        .await
                        .unwrap();
                    l.add_referrer(&subject, Descriptor::new("x", d, 2))
                        .await
                        .unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let l = OciLayout::open(dir.path()).await.unwrap();
        let mut names = l.ref_names().await.unwrap();
        names.sort();
        let mut want: Vec<String> = (0..N).map(|i| format!("t{i}")).collect();
        want.push(super::super::referrers_tag(&subject).unwrap().to_string());
        want.sort();
        assert_eq!(names, want);
        assert_eq!(l.referrers(&subject).await.unwrap().len(), N);
    }
}
