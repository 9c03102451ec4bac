//! `Link` headers (RFC 8288) and the guards against paging that goes round in circles: the one
//! home of both for the registry's tag, catalog and referrers pages and Harbor's paged lists.

use std::collections::HashSet;
use std::hash::{BuildHasher as _, RandomState};

use http::HeaderMap;
use http::header::LINK;
use url::Url;

use super::origin;
use crate::error::{Error, Result};

/// The `rel="next"` target of a response's `Link` headers, as written (often relative).
///
/// Every `Link` header counts, and each is split on the commas between its entries, not on
/// those inside `<…>` or a quoted parameter: Harbor joins entries with `" , "` and leaves the
/// commas of a `q` unescaped inside the URL. `rel` may list several relation types
/// (`rel="next last"`), in any case.
pub(crate) fn next_target(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(entries)
        .find_map(|entry| {
            let (target, params) = entry.trim().strip_prefix('<')?.split_once('>')?;
            params
                .split(';')
                .any(|p| {
                    p.split_once('=').is_some_and(|(k, v)| {
                        k.trim().eq_ignore_ascii_case("rel")
                            && v.trim()
                                .trim_matches('"')
                                .split(' ')
                                .any(|r| r.eq_ignore_ascii_case("next"))
                    })
                })
                .then_some(target)
        })
}

/// [`next_target`] resolved against the URL that was requested. A target on another origin
/// is refused with [`Error::Protocol`]: a listing never follows a registry's `Link` to a
/// host the request did not go to.
pub(crate) fn next_url(request_url: &Url, headers: &HeaderMap) -> Result<Option<Url>> {
    let Some(target) = next_target(headers) else {
        return Ok(None);
    };
    let url = request_url
        .join(target)
        .map_err(|e| Error::protocol(format!("bad Link target {target:?}: {e}")))?;
    if origin(&url) != origin(request_url) {
        return Err(Error::protocol(format!(
            "the Link header points to another host ({}); refusing to follow it",
            origin(&url)
        )));
    }
    Ok(Some(url))
}

/// [`next_url`] and [`next_target`] for the `client_headers` fuzz target. Only built by
/// `cargo fuzz` (`--cfg fuzzing`).
#[cfg(fuzzing)]
#[doc(hidden)]
pub fn fuzz_next_link(
    request_url: &Url,
    headers: &HeaderMap,
) -> (Result<Option<Url>>, Option<String>) {
    (
        next_url(request_url, headers),
        next_target(headers).map(str::to_owned),
    )
}

/// Splits a `Link` value on the commas between entries (not those inside `<…>` or quotes).
fn entries(v: &str) -> impl Iterator<Item = &str> {
    let (mut in_url, mut in_quote) = (false, false);
    v.split(move |c| {
        match c {
            '<' if !in_quote => in_url = true,
            '>' if !in_quote => in_url = false,
            '"' if !in_url => in_quote = !in_quote,
            ',' => return !in_url && !in_quote,
            _ => {}
        }
        false
    })
}

/// What a paging stream has followed, to refuse a server that does not advance: a `Link`
/// target, a `last` or a page it gave before. Keeps keyed hashes, not the texts, so that a
/// hostile server's long targets cost it nothing to remember (8 bytes each).
#[derive(Debug, Default)]
pub(crate) struct LinkTrail {
    keys: RandomState,
    seen: HashSet<u64>,
}

impl LinkTrail {
    /// Records `text`: `false` when it was recorded before.
    pub(crate) fn first_time(&mut self, text: &str) -> bool {
        self.seen.insert(self.keys.hash_one(text))
    }

    /// How many texts were recorded.
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }
}

/// The pages a paging loop that follows `Link` has read: refuses a `Link` that does not
/// advance (a URL read already, or a `last` asked for already) and more than `limit` pages.
#[derive(Debug)]
pub(crate) struct PageTrail {
    limit: usize,
    /// Every URL requested so far.
    urls: LinkTrail,
    /// Every `last` value requested so far.
    lasts: LinkTrail,
}

impl PageTrail {
    /// A trail that allows `limit` pages.
    pub(crate) fn new(limit: usize) -> PageTrail {
        PageTrail {
            limit,
            urls: LinkTrail::default(),
            lasts: LinkTrail::default(),
        }
    }

    /// Records `url` as the next page to read: [`Error::Protocol`] when it was read already,
    /// when its `last` was asked for already (a registry that does not advance), or when
    /// `limit` pages have been read. `what` names the list in the error.
    pub(crate) fn visit(&mut self, url: &Url, what: &str) -> Result<()> {
        if self.urls.len() >= self.limit {
            return Err(Error::protocol(format!(
                "the registry's {what} goes on for more than {} pages",
                self.limit
            )));
        }
        if !self.urls.first_time(url.as_str()) {
            return Err(Error::protocol(format!(
                "the registry's {what} Link leads back to a page read already ({})",
                url.path()
            )));
        }
        let last = url.query_pairs().find(|(k, _)| k == "last");
        if let Some((_, last)) = last
            && !self.lasts.first_time(&last)
        {
            return Err(Error::protocol(format!(
                "the registry's {what} Link does not advance (the same `last` again)"
            )));
        }
        Ok(())
    }

    /// How many pages were visited.
    pub(crate) fn pages(&self) -> usize {
        self.urls.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::MAX_LIST_PAGES;

    fn links(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(LINK, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn next_is_found_among_commas_quotes_and_headers() {
        // Harbor's shape: entries joined with " , ", an unescaped q with commas.
        let harbor = r#"</api/v2.0/projects?page=1&page_size=10&q=name={a,b}>; rel="prev" , </api/v2.0/projects?page=3&page_size=10&q=name={a,b}>; rel="next""#;
        assert_eq!(
            next_target(&links(&[harbor])),
            Some("/api/v2.0/projects?page=3&page_size=10&q=name={a,b}")
        );
        // distribution's shape, unquoted, several relation types, another case.
        assert_eq!(
            next_target(&links(&["</v2/_catalog?last=b&n=2>; rel=next"])),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(
            next_target(&links(&[
                r#"<https://r/x?last=b>; title="a, b"; REL = "last Next""#
            ])),
            Some("https://r/x?last=b")
        );
        // The next link in a second header.
        assert_eq!(
            next_target(&links(&[r#"</p>; rel="prev""#, r#"</n>; rel="next""#])),
            Some("/n")
        );
        for none in [
            r#"</x>; rel="prev""#,
            "garbage <",
            "x </y>; rel=next",
            r#"</y>; rel="nextpage""#,
            "",
        ] {
            assert_eq!(next_target(&links(&[none])), None, "{none}");
        }
    }

    #[test]
    fn next_url_resolves_and_stays_on_the_origin() {
        let asked = Url::parse("https://r.example:5000/v2/a/tags/list?n=2").unwrap();
        let next = next_url(&asked, &links(&["</v2/a/tags/list?n=2&last=b>; rel=next"]));
        assert_eq!(
            next.unwrap().unwrap().as_str(),
            "https://r.example:5000/v2/a/tags/list?n=2&last=b"
        );
        for elsewhere in [
            "<https://evil.example/v2/a/tags/list>; rel=next",
            "<//evil.example/x>; rel=next",
            "<http://r.example:5000/x>; rel=next",
        ] {
            let e = next_url(&asked, &links(&[elsewhere])).unwrap_err();
            assert!(matches!(e, Error::Protocol { .. }), "{elsewhere}: {e}");
        }
        assert!(next_url(&asked, &HeaderMap::new()).unwrap().is_none());
    }

    #[test]
    fn the_trail_remembers_what_it_was_given() {
        let mut trail = LinkTrail::default();
        assert!(trail.first_time("/x?page=2"));
        assert!(trail.first_time("/x?page=3"));
        assert!(!trail.first_time("/x?page=2"));
        assert_eq!(trail.len(), 2);
    }

    #[test]
    fn a_link_that_does_not_advance_is_refused() {
        let u = |q: &str| Url::parse(&format!("http://h/v2/a/tags/list?{q}")).unwrap();
        let mut t = PageTrail::new(MAX_LIST_PAGES);
        t.visit(&u("n=2"), "tag list").unwrap();
        t.visit(&u("n=2&last=b"), "tag list").unwrap();
        t.visit(&u("n=2&last=d"), "tag list").unwrap();
        // The same page again, or the same `last` in another URL.
        let again = t.visit(&u("n=2&last=b"), "tag list").unwrap_err();
        assert!(matches!(again, Error::Protocol { .. }), "{again}");
        let same_last = t.visit(&u("last=d&n=3"), "tag list").unwrap_err();
        assert!(matches!(same_last, Error::Protocol { .. }), "{same_last}");
    }

    #[test]
    fn pages_are_capped() {
        let mut t = PageTrail::new(MAX_LIST_PAGES);
        for i in 0..MAX_LIST_PAGES {
            let url = Url::parse(&format!("http://h/v2/_catalog?page={i}")).unwrap();
            t.visit(&url, "catalog").unwrap();
        }
        let url = Url::parse("http://h/v2/_catalog?page=last").unwrap();
        let e = t.visit(&url, "catalog").unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e}");
    }
}
