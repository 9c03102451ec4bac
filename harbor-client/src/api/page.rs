//! One page of a list, and streams over all pages.

use std::future::Future;

use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};

use crate::{Error, Result};

/// The page size the `*_stream` methods request: Harbor's maximum (its default is 10).
pub const MAX_PAGE_SIZE: i64 = 100;

/// Pages a stream reads at most when Harbor sends neither `X-Total-Count` nor `Link`
/// (a guard against a server that ignores `page`): 100 000 pages of 100 items.
const MAX_PAGES_WITHOUT_TOTAL: i64 = 100_000;

/// One page of a Harbor list.
///
/// Harbor answers lists with `page_size` items at most (default 10, maximum 100) and tells
/// the size of the whole list in `X-Total-Count`; `Link` carries relative `prev`/`next`
/// URLs. A client that ignores them silently sees only the first 10 items; use
/// [`Page::has_next`] or the `*_stream` methods.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The size of the whole list (`X-Total-Count`), when Harbor sent it.
    pub total: Option<u64>,
    /// The page number requested (1-based).
    pub page: i64,
    /// The page size requested.
    pub page_size: i64,
    /// The `rel="next"` URL of the `Link` header, as sent (relative to the host).
    pub next: Option<String>,
    /// Whether a `Link` header was present at all.
    pub link_present: bool,
}

impl<T> Page<T> {
    /// Whether another page follows: by `X-Total-Count` when present, else by `Link`,
    /// else when this page was full.
    pub fn has_next(&self) -> bool {
        if self.items.is_empty() {
            return false;
        }
        if let Some(total) = self.total {
            let read = self.page.saturating_mul(self.page_size);
            return u64::try_from(read).is_ok_and(|read| read < total);
        }
        if self.link_present {
            return self.next.is_some();
        }
        i64::try_from(self.items.len()).is_ok_and(|n| n >= self.page_size)
    }

    /// The items, dropping the paging information.
    pub fn into_items(self) -> Vec<T> {
        self.items
    }

    /// Iterates over the items of this page.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }
}

impl<T> IntoIterator for Page<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Page<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// Parses the `rel="next"` URL out of a `Link` header value. Harbor joins entries with
/// `" , "`; the URL itself may contain commas (an unescaped `q`), so entries are found by
/// their `<…>` brackets, not by splitting on commas.
pub(crate) fn parse_next_link(link: &str) -> Option<String> {
    let mut rest = link;
    while let Some(start) = rest.find('<') {
        let after = rest.get(start + 1..)?;
        let end = after.find('>')?;
        let url = after.get(..end)?;
        let params_and_more = after.get(end + 1..)?;
        let params = params_and_more
            .find('<')
            .and_then(|i| params_and_more.get(..i))
            .unwrap_or(params_and_more);
        if params.split(';').any(|p| {
            matches!(
                p.trim().replace(' ', "").as_str(),
                "rel=\"next\"" | "rel=next"
            )
        }) {
            return Some(url.to_owned());
        }
        rest = params_and_more;
    }
    None
}

/// [`parse_next_link`] for the `client_headers` fuzz target. Only built by `cargo fuzz`
/// (`--cfg fuzzing`).
#[cfg(fuzzing)]
#[doc(hidden)]
pub fn fuzz_parse_next_link(link: &str) -> Option<String> {
    parse_next_link(link)
}

/// Streams every item of a paged list: calls `fetch(page, page_size)` for pages 1, 2, …
/// with `page_size` = [`MAX_PAGE_SIZE`] until [`Page::has_next`] is false.
pub(crate) fn paginate<T, F, Fut>(fetch: F) -> BoxStream<'static, Result<T>>
where
    T: Send + 'static,
    F: FnMut(i64, i64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<T>>> + Send + 'static,
{
    let state = (fetch, Some(1_i64));
    stream::try_unfold(state, |(mut fetch, page)| async move {
        let Some(page) = page else {
            return Ok(None);
        };
        let p = fetch(page, MAX_PAGE_SIZE).await?;
        let next = if p.has_next() {
            if p.total.is_none() && !p.link_present && page >= MAX_PAGES_WITHOUT_TOTAL {
                return Err(Error::protocol(format!(
                    "stopped paging after {MAX_PAGES_WITHOUT_TOTAL} full pages without X-Total-Count"
                )));
            }
            Some(page + 1)
        } else {
            None
        };
        Ok(Some((p.items, (fetch, next))))
    })
    .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(n: usize, page: i64, total: Option<u64>) -> Page<u32> {
        Page {
            items: vec![0; n],
            total,
            page,
            page_size: 10,
            next: None,
            link_present: false,
        }
    }

    #[test]
    fn has_next_by_total_then_by_fullness() {
        assert!(page(10, 1, Some(11)).has_next());
        assert!(!page(10, 1, Some(10)).has_next());
        assert!(!page(10, 2, Some(20)).has_next());
        assert!(page(10, 1, None).has_next());
        assert!(!page(9, 1, None).has_next());
        assert!(!page(0, 1, Some(100)).has_next());
    }

    #[test]
    fn link_next_is_found_among_commas() {
        let link = r#"</api/v2.0/projects?page=1&page_size=10&q=name={a,b}>; rel="prev" , </api/v2.0/projects?page=3&page_size=10>; rel="next""#;
        assert_eq!(
            parse_next_link(link).as_deref(),
            Some("/api/v2.0/projects?page=3&page_size=10")
        );
        assert_eq!(parse_next_link(r#"</x>; rel="prev""#), None);
        assert_eq!(parse_next_link("garbage <"), None);
    }
}
