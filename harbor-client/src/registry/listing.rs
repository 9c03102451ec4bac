//! Tag and catalog listing, page by page or as streams that follow `Link`. A page is read up
//! to [`MAX_LIST_BODY`]: a registry that answers more fails the call with
//! [`Error::TooLarge`] after reading no more than that. A stream follows at most
//! [`MAX_LIST_PAGES`] pages and stops with [`Error::Protocol`] when `Link` names a page it
//! has read already (or a `last` it was given already): a registry whose `Link` goes round in
//! a circle would otherwise be listed forever.

use futures_util::Stream;
use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
use http::Method;
use serde::Deserialize;
use url::Url;

use super::manifest::decode;
use super::{RegistryClient, Repository};
use crate::error::{Error, Result};
use crate::transport::Request;
use crate::transport::link::{PageTrail, next_url};

/// The largest tag-list or catalog page read (16 MiB: some 500 000 tags of 30 characters).
pub const MAX_LIST_BODY: usize = 16 * 1024 * 1024;

/// The most tag-list or catalog pages a stream follows (100 000: ten million names at
/// distribution's default page size of 100).
pub const MAX_LIST_PAGES: usize = 100_000;

/// Reads a body of at most `limit` bytes (refused up front when `Content-Length` says more).
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    url: &Url,
    limit: usize,
    what: &'static str,
) -> Result<Vec<u8>> {
    let too_large = || Error::TooLarge { what, limit };
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::transport(&Method::GET, url, e))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// One page of a tag list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TagPage {
    /// The repository name as the registry reports it.
    pub name: String,
    /// The tags on this page (`"tags": null` reads as empty).
    pub tags: Vec<String>,
    /// The next page, from the `Link` header.
    pub next: Option<Url>,
}

/// One page of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CatalogPage {
    /// The repository names on this page.
    pub repositories: Vec<String>,
    /// The next page, from the `Link` header.
    pub next: Option<Url>,
}

#[derive(Deserialize)]
struct TagsBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct CatalogBody {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

fn with_paging(mut url: Url, n: Option<u32>, last: Option<&str>) -> Url {
    if n.is_some() || last.is_some() {
        let mut q = url.query_pairs_mut();
        if let Some(n) = n {
            q.append_pair("n", &n.to_string());
        }
        if let Some(l) = last {
            q.append_pair("last", l);
        }
    }
    url
}

impl RegistryClient {
    async fn get_page(
        &self,
        url: Url,
        scope: &str,
        what: &'static str,
    ) -> Result<(Vec<u8>, Option<Url>)> {
        let resp = self
            .send(Request::new(Method::GET, url.clone()).scope(scope))
            .await?;
        let next = next_url(&url, resp.headers())?;
        let body = read_capped(resp, &url, MAX_LIST_BODY, what).await?;
        Ok((body, next))
    }

    /// Lists one page of tags: at most `n`, after `last` (exclusive).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] (404 for an unknown repository), [`Error::Decode`],
    /// [`Error::TooLarge`] for a page over [`MAX_LIST_BODY`], or [`Error::Protocol`] when
    /// `Link` points to another host.
    pub async fn list_tags(
        &self,
        repo: &Repository,
        n: Option<u32>,
        last: Option<&str>,
    ) -> Result<TagPage> {
        let url = with_paging(self.url(repo, "tags/list")?, n, last);
        self.tag_page(repo, url).await
    }

    async fn tag_page(&self, repo: &Repository, url: Url) -> Result<TagPage> {
        let (body, next) = self
            .get_page(url, &self.scope(repo, "pull"), "tag list")
            .await?;
        let parsed: TagsBody = decode("tag list", &body)?;
        Ok(TagPage {
            name: parsed.name,
            tags: parsed.tags.unwrap_or_default(),
            next,
        })
    }

    /// Every tag, following `Link` pages (requested `page_size` at a time when given).
    ///
    /// The stream ends with [`Error::Protocol`] when a `Link` leads back to a page read
    /// already or repeats a `last`, or after [`MAX_LIST_PAGES`] pages; with the errors of
    /// [`RegistryClient::list_tags`] otherwise.
    pub fn list_tags_stream(
        &self,
        repo: &Repository,
        page_size: Option<u32>,
    ) -> impl Stream<Item = Result<String>> + Send + 'static {
        let client = self.clone();
        let repo = repo.clone();
        let first = self
            .url(&repo, "tags/list")
            .map(|u| with_paging(u, page_size, None));
        let state = (Some(first), PageTrail::new(MAX_LIST_PAGES));
        stream::try_unfold(state, move |(next, mut trail)| {
            let client = client.clone();
            let repo = repo.clone();
            async move {
                let Some(url) = next else { return Ok(None) };
                let url = url?;
                trail.visit(&url, "tag list")?;
                let page = client.tag_page(&repo, url).await?;
                let next = page.next.clone().map(Ok);
                let tags = stream::iter(page.tags.into_iter().map(Ok));
                Ok::<_, Error>(Some((tags, (next, trail))))
            }
        })
        .try_flatten()
        .boxed()
    }

    /// Lists one page of the registry's catalog (`/v2/_catalog`). On Harbor this needs Basic
    /// credentials of a system administrator.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] (401/403 without catalog access), [`Error::Decode`],
    /// [`Error::TooLarge`], [`Error::Protocol`].
    pub async fn list_catalog(
        &self,
        registry: &str,
        n: Option<u32>,
        last: Option<&str>,
    ) -> Result<CatalogPage> {
        let url = self.catalog_url(registry)?;
        self.catalog_page(with_paging(url, n, last)).await
    }

    fn catalog_url(&self, registry: &str) -> Result<Url> {
        self.base(registry)?
            .join("_catalog")
            .map_err(|e| super::bad_registry(registry, &e))
    }

    async fn catalog_page(&self, url: Url) -> Result<CatalogPage> {
        let (body, next) = self.get_page(url, "registry:catalog:*", "catalog").await?;
        let parsed: CatalogBody = decode("catalog", &body)?;
        Ok(CatalogPage {
            repositories: parsed.repositories.unwrap_or_default(),
            next,
        })
    }

    /// Every repository in the catalog, following `Link` pages.
    ///
    /// The stream ends with [`Error::Protocol`] when a `Link` leads back to a page read
    /// already or repeats a `last`, or after [`MAX_LIST_PAGES`] pages; with the errors of
    /// [`RegistryClient::list_catalog`] otherwise.
    pub fn list_catalog_stream(
        &self,
        registry: &str,
        page_size: Option<u32>,
    ) -> impl Stream<Item = Result<String>> + Send + 'static {
        let client = self.clone();
        let first = self
            .catalog_url(registry)
            .map(|u| with_paging(u, page_size, None));
        let state = (Some(first), PageTrail::new(MAX_LIST_PAGES));
        stream::try_unfold(state, move |(next, mut trail)| {
            let client = client.clone();
            async move {
                let Some(url) = next else { return Ok(None) };
                let url = url?;
                trail.visit(&url, "catalog")?;
                let page = client.catalog_page(url).await?;
                let next = page.next.clone().map(Ok);
                let names = stream::iter(page.repositories.into_iter().map(Ok));
                Ok::<_, Error>(Some((names, (next, trail))))
            }
        })
        .try_flatten()
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_tags_read_as_empty() {
        let b: TagsBody = decode("tag list", br#"{"name":"a","tags":null}"#).unwrap();
        assert_eq!(b.tags.unwrap_or_default(), Vec::<String>::new());
    }
}
