//! One page of a list, and streams over all pages.

use std::future::Future;

use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};

use crate::transport::link::LinkTrail;
use crate::{Error, Result};

/// The page size the `*_stream` methods request: Harbor's maximum (its default is 10).
pub const MAX_PAGE_SIZE: i64 = 100;

/// Pages a stream reads at most when Harbor sends no `X-Total-Count` (a guard against a
/// server that ignores `page`, with or without `Link`): 100 000 pages of 100 items.
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

/// Whether the stream goes on after `p`, the page numbered `page`: the next page number, or
/// `None` at the end. [`Error::Protocol`] for a server that does not advance: a `Link` next
/// target given before or not past `page`, or more than [`MAX_PAGES_WITHOUT_TOTAL`] pages
/// without `X-Total-Count`.
fn next_page<T>(p: &Page<T>, page: i64, trail: &mut LinkTrail) -> Result<Option<i64>> {
    if !p.has_next() {
        return Ok(None);
    }
    if p.total.is_none() && page >= MAX_PAGES_WITHOUT_TOTAL {
        return Err(Error::protocol(format!(
            "stopped paging after {MAX_PAGES_WITHOUT_TOTAL} full pages without X-Total-Count"
        )));
    }
    if let Some(next) = &p.next {
        if !trail.first_time(next) {
            return Err(Error::protocol(format!(
                "the Link header names a page given before ({}); stopped paging",
                next.split('?').next().unwrap_or_default()
            )));
        }
        if link_page(next).is_some_and(|n| n <= page) {
            return Err(Error::protocol(format!(
                "the Link header after page {page} names a page that does not follow it; stopped paging"
            )));
        }
    }
    Ok(Some(page.saturating_add(1)))
}

/// The `page` query parameter of a `Link` target, when it has a numeric one.
fn link_page(target: &str) -> Option<i64> {
    let query = target.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse().ok())
}

/// Streams every item of a paged list: calls `fetch(page, page_size)` for pages 1, 2, …
/// with `page_size` = [`MAX_PAGE_SIZE`] until [`Page::has_next`] is false. Stops with
/// [`Error::Protocol`] when the server does not advance (see `next_page`).
pub(crate) fn paginate<T, F, Fut>(fetch: F) -> BoxStream<'static, Result<T>>
where
    T: Send + 'static,
    F: FnMut(i64, i64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<T>>> + Send + 'static,
{
    let state = (fetch, Some(1_i64), LinkTrail::default());
    stream::try_unfold(state, |(mut fetch, page, mut trail)| async move {
        let Some(page) = page else {
            return Ok(None);
        };
        let p = fetch(page, MAX_PAGE_SIZE).await?;
        let next = next_page(&p, page, &mut trail)?;
        Ok::<_, Error>(Some((p.items, (fetch, next, trail))))
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

    fn linked(page_no: i64, next: &str) -> Page<u32> {
        Page {
            items: vec![0; 10],
            total: None,
            page: page_no,
            page_size: 10,
            next: Some(next.to_owned()),
            link_present: true,
        }
    }

    #[test]
    fn a_link_that_does_not_advance_stops_the_stream() {
        let mut trail = LinkTrail::default();
        let next = |p: i64| format!("/api/v2.0/projects?page={p}&page_size=10");
        assert_eq!(
            next_page(&linked(1, &next(2)), 1, &mut trail).unwrap(),
            Some(2)
        );
        assert_eq!(
            next_page(&linked(2, &next(3)), 2, &mut trail).unwrap(),
            Some(3)
        );
        // The same target again.
        let e = next_page(&linked(3, &next(3)), 3, &mut trail).unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e}");
        // A target new in its text but not past the page read.
        let mut trail = LinkTrail::default();
        let e = next_page(&linked(4, "/x?page_size=10&page=4"), 4, &mut trail).unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e}");
        // Without a page number only repetition counts.
        let mut trail = LinkTrail::default();
        assert_eq!(
            next_page(&linked(1, "/x?cursor=a"), 1, &mut trail).unwrap(),
            Some(2)
        );
        assert!(next_page(&linked(2, "/x?cursor=a"), 2, &mut trail).is_err());
    }

    #[test]
    fn pages_without_total_are_capped_with_or_without_link() {
        let mut trail = LinkTrail::default();
        let last = MAX_PAGES_WITHOUT_TOTAL;
        let e = next_page(&page(10, last, None), last, &mut trail).unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e}");
        let p = linked(last, &format!("/x?page={}", last + 1));
        let e = next_page(&p, last, &mut trail).unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e}");
    }
}
