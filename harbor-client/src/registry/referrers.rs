//! The referrers API, with the referrers tag-schema fallback.

use http::Method;
use http::header::{ACCEPT, HeaderValue};

use super::listing::read_capped;
use super::manifest::{Descriptor, ImageIndex, MAX_MANIFEST, MediaType, decode};
use super::{Digest, ImageReference, RegistryClient, Repository, Tag};
use crate::error::{Error, Result};
use crate::transport::Request;

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

impl RegistryClient {
    /// Lists the manifests whose `subject` is `subject`, optionally only those of one
    /// `artifact_type`.
    ///
    /// Uses `GET /v2/<name>/referrers/<digest>`; when the registry answers 404 (no referrers
    /// API, e.g. distribution 2.8) the image index under the tag `sha256-<hex>` is read instead
    /// (absent means none). The filter is applied here when the registry did not
    /// (no `OCI-Filters-Applied: artifactType`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] (400 for a bad digest), [`Error::Decode`], [`Error::TooLarge`] for an
    /// index over 8 MiB.
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
        let resp = self
            .inner
            .transport
            .execute(
                Request::new(Method::GET, url.clone())
                    .header(ACCEPT, HeaderValue::from_static(MediaType::OCI_INDEX))
                    .scope(&self.scope(repo, "pull")),
            )
            .await?;
        let (mut manifests, filtered, from_tag_schema) =
            if resp.status() == http::StatusCode::NOT_FOUND {
                (self.referrers_by_tag(repo, subject).await?, false, true)
            } else {
                let resp = crate::transport::check(&Method::GET, &url, resp).await?;
                let filtered = resp
                    .headers()
                    .get("oci-filters-applied")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.split(',').any(|f| f.trim() == "artifactType"));
                let body = read_capped(resp, &url, MAX_MANIFEST, "referrers index").await?;
                let index: ImageIndex = decode("referrers index", &body)?;
                (index.manifests, filtered, false)
            };
        if let Some(t) = artifact_type
            && !filtered
        {
            manifests.retain(|d| d.artifact_type.as_deref() == Some(t));
        }
        Ok(Referrers {
            manifests,
            from_tag_schema,
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

    /// Records `referrer` in the subject's referrers tag (`sha256-<hex>`) for registries
    /// without a referrers API: reads the index (absent → new), appends the descriptor if it
    /// is not there yet, and pushes it back. Call after pushing a manifest with a `subject`
    /// when the registry answered no `OCI-Subject` header.
    ///
    /// # Errors
    ///
    /// As [`RegistryClient::get_manifest`] and [`RegistryClient::put_manifest`].
    pub async fn add_referrer_to_tag_schema(
        &self,
        repo: &Repository,
        subject: &Digest,
        referrer: Descriptor,
    ) -> Result<()> {
        let reference = ImageReference::with_tag(repo.clone(), referrers_tag(subject)?);
        let mut index = match self.get_manifest_scoped(&reference, "pull,push").await {
            Ok(m) => decode::<ImageIndex>("referrers tag index", &m.bytes)?,
            Err(e) if e.is_not_found() => ImageIndex::new(),
            Err(e) => return Err(e),
        };
        if index.manifests.iter().any(|d| d.digest == referrer.digest) {
            return Ok(());
        }
        index.manifests.push(referrer);
        let bytes = serde_json::to_vec(&index)
            .map_err(|e| Error::invalid("referrers index", "", e.to_string()))?;
        self.put_manifest(&reference, bytes.into(), Some(MediaType::OCI_INDEX))
            .await?;
        Ok(())
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
