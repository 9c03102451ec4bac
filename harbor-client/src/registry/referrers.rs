//! The referrers API, with the referrers tag-schema fallback.

use http::Method;
use http::header::{ACCEPT, HeaderValue};

use super::listing::read_capped;
use super::manifest::{Descriptor, ImageIndex, MAX_MANIFEST, MediaType, Precondition, decode};
use super::{Digest, ImageReference, RegistryClient, Repository, Tag};
use crate::error::{Error, Result};
use crate::transport::Request;
use crate::transport::link::{PageTrail, next_url};

/// The manifests that refer to a subject.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Referrers {
    /// The referring manifests' descriptors (filtered by artifact type when one was asked).
    pub manifests: Vec<Descriptor>,
    /// Whether the answer came from the referrers tag schema (`sha256-<hex>`) because the
    /// registry has no referrers API (404).
    pub from_tag_schema: bool,
}

/// The tag the referrers tag schema keeps a subject's referrers under: `<alg>-<hex>`.
///
/// # Errors
///
/// [`Error::InvalidInput`] when the digest does not make a valid tag (over 128 characters).
pub fn referrers_tag(subject: &Digest) -> Result<Tag> {
    let raw = format!("{}-{}", subject.algorithm(), subject.encoded());
    let cut: String = raw.chars().take(128).collect();
    Ok(Tag::new(cut)?)
}

/// How often a referrers tag update is tried again after losing a race with another writer.
const TAG_SCHEMA_ATTEMPTS: u32 = 6;
/// How many referrers pages are followed at most (each up to 8 MiB).
const MAX_REFERRERS_PAGES: usize = 64;

impl RegistryClient {
    /// Lists the manifests whose `subject` is `subject`, optionally only those of one
    /// `artifact_type`.
    ///
    /// Uses `GET /v2/<name>/referrers/<digest>`, following `Link: <…>; rel="next"` pages (on
    /// the same host); when the registry answers 404 (no referrers API, e.g. distribution
    /// 2.8) the image index under the tag `sha256-<hex>` is read instead (absent means none).
    /// The filter is applied here when the registry did not (no
    /// `OCI-Filters-Applied: artifactType`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] (400 for a bad digest), [`Error::Decode`], [`Error::TooLarge`] for an
    /// index over 8 MiB, [`Error::Protocol`] for a `Link` to another host or more than 64
    /// pages.
    pub async fn referrers(
        &self,
        repo: &Repository,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers> {
        let mut url = self.url(repo, &format!("referrers/{subject}"))?;
        if let Some(t) = artifact_type {
            url.query_pairs_mut().append_pair("artifactType", t);
        }
        let mut manifests = Vec::new();
        let mut filtered = true;
        let mut next = Some(url);
        let mut trail = PageTrail::new(MAX_REFERRERS_PAGES);
        while let Some(url) = next.take() {
            trail.visit(&url, "referrers list")?;
            let resp = self
                .inner
                .transport
                .execute(
                    Request::new(Method::GET, url.clone())
                        .header(ACCEPT, HeaderValue::from_static(MediaType::OCI_INDEX))
                        .scope(&self.scope(repo, "pull")),
                )
                .await?;
            if trail.pages() == 1 && resp.status() == http::StatusCode::NOT_FOUND {
                let mut manifests = self.referrers_by_tag(repo, subject).await?;
                if let Some(t) = artifact_type {
                    manifests.retain(|d| d.artifact_type.as_deref() == Some(t));
                }
                return Ok(Referrers {
                    manifests,
                    from_tag_schema: true,
                });
            }
            let resp = crate::transport::check(&Method::GET, &url, resp).await?;
            filtered &= resp
                .headers()
                .get("oci-filters-applied")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|f| f.trim() == "artifactType"));
            next = next_url(&url, resp.headers())?;
            let body = read_capped(resp, &url, MAX_MANIFEST, "referrers index").await?;
            let index: ImageIndex = decode("referrers index", &body)?;
            manifests.extend(index.manifests);
        }
        if let Some(t) = artifact_type
            && !filtered
        {
            manifests.retain(|d| d.artifact_type.as_deref() == Some(t));
        }
        Ok(Referrers {
            manifests,
            from_tag_schema: false,
        })
    }

    async fn referrers_by_tag(
        &self,
        repo: &Repository,
        subject: &Digest,
    ) -> Result<Vec<Descriptor>> {
        let reference = ImageReference::with_tag(repo.clone(), referrers_tag(subject)?);
        match self.get_manifest(&reference).await {
            Ok(m) => {
                let index: ImageIndex = decode("referrers tag index", &m.bytes)?;
                Ok(index.manifests)
            }
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Records `referrer` in the subject's referrers tag index (`sha256-<hex>`) for
    /// registries without a referrers API. [`put_manifest`](RegistryClient::put_manifest)
    /// calls this itself for a manifest with a `subject` when the registry answers no
    /// `OCI-Subject`; call it directly only to repair an index.
    ///
    /// The update is a read-modify-write made as safe as the protocol allows: the index is
    /// replaced with `If-Match: <ETag>` (or `If-None-Match: *` when new) where the registry
    /// honours them, a `412` starts over, and the index is read back afterwards; when a
    /// concurrent writer replaced it without this entry, the update is made again (up to 6
    /// times, with a short random pause).
    ///
    /// # Errors
    ///
    /// As [`RegistryClient::get_manifest`] and [`RegistryClient::put_manifest`];
    /// [`Error::Protocol`] when other writers keep winning.
    pub async fn add_referrer_to_tag_schema(
        &self,
        repo: &Repository,
        subject: &Digest,
        referrer: Descriptor,
    ) -> Result<()> {
        self.update_tag_schema(repo, subject, |list| {
            if list.iter().any(|d| d.digest == referrer.digest) {
                return false;
            }
            list.push(referrer.clone());
            true
        })
        .await
    }

    /// Removes a referrer from the subject's referrers tag index (`sha256-<hex>`), as
    /// [`delete_manifest`](RegistryClient::delete_manifest) does for a deleted referrer. An
    /// index left empty is deleted (pushed empty when the registry refuses deletion).
    ///
    /// # Errors
    ///
    /// As [`RegistryClient::add_referrer_to_tag_schema`].
    pub async fn remove_referrer_from_tag_schema(
        &self,
        repo: &Repository,
        subject: &Digest,
        referrer: &Digest,
    ) -> Result<()> {
        self.update_tag_schema(repo, subject, |list| {
            let before = list.len();
            list.retain(|d| &d.digest != referrer);
            list.len() != before
        })
        .await
    }

    /// Applies `change` (which says whether it changed anything) to the referrers tag index
    /// until the registry holds the changed index.
    async fn update_tag_schema(
        &self,
        repo: &Repository,
        subject: &Digest,
        change: impl Fn(&mut Vec<Descriptor>) -> bool,
    ) -> Result<()> {
        let reference = ImageReference::with_tag(repo.clone(), referrers_tag(subject)?);
        for attempt in 0..TAG_SCHEMA_ATTEMPTS {
            if attempt > 0 {
                let pause = 20 * u64::from(attempt) + fastrand::u64(..50);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            let current = match self.fetch_manifest(&reference, "pull,push").await {
                Ok(m) => Some(m),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            };
            let mut index = match &current {
                Some(m) => decode::<ImageIndex>("referrers tag index", &m.bytes)?,
                None => ImageIndex::new(),
            };
            if !change(&mut index.manifests) {
                return Ok(());
            }
            if index.manifests.is_empty()
                && let Some(m) = &current
            {
                let old = ImageReference::with_digest(repo.clone(), m.digest.clone());
                if self.delete_manifest_only(&old).await.is_ok() {
                    continue;
                }
            }
            let bytes = serde_json::to_vec(&index)
                .map_err(|e| Error::invalid("referrers index", "", e.to_string()))?;
            let precondition = match &current {
                Some(m) => m
                    .etag
                    .as_deref()
                    .map_or(Precondition::None, Precondition::IfMatch),
                None => Precondition::IfAbsent,
            };
            match self
                .put_manifest_if(&reference, bytes.into(), MediaType::OCI_INDEX, precondition)
                .await
            {
                Ok(_) => {}
                Err(e) if e.status() == Some(http::StatusCode::PRECONDITION_FAILED) => continue,
                Err(e) => return Err(e),
            }
            // Read back: the loop ends when `change` has nothing left to do.
        }
        Err(Error::protocol(
            "the referrers tag index kept changing under concurrent writers; try again",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_schema_name() {
        let d = Digest::sha256_of(b"x");
        let t = referrers_tag(&d).unwrap();
        assert_eq!(t.as_str(), format!("sha256-{}", d.encoded()));
    }
}
