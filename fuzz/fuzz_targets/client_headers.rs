//! Fuzz the response headers harbor-client parses: `Link` (the registry's tag and catalog
//! pages, and the Harbor API's pages) and an upload's `Range`. No input may panic; a
//! `rel="next"` target is the text of one `<...>` of the headers and is never followed to
//! another origin; a `Range` never moves an upload that had bytes back to offset 0.
#![no_main]

use harbor_client::registry::fuzz_range_end;
use harbor_client::transport::fuzz_next_link;
use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The request the `Link` answers: a tag list on a fixed origin.
    let request = url::Url::parse("https://registry.example:5000/v2/team/app/tags/list?n=10")
        .expect("a valid URL");
    // Up to three `Link` values, split on NUL (the header may be repeated).
    let mut links = HeaderMap::new();
    for part in data.split(|&b| b == 0).take(3) {
        if let Ok(v) = HeaderValue::from_bytes(part) {
            links.append(header::LINK, v);
        }
    }
    let (url, target) = fuzz_next_link(&request, &links);
    if let Ok(Some(next)) = url {
        assert_eq!(
            next.origin(),
            request.origin(),
            "followed a Link to another origin"
        );
    }
    if let Some(target) = target {
        let bracketed = format!("<{target}>");
        assert!(
            links
                .get_all(header::LINK)
                .iter()
                .any(|v| v.to_str().is_ok_and(|v| v.contains(&bracketed))),
            "{target:?} is not a <...> of {links:?}"
        );
    }
    if let Ok(v) = HeaderValue::from_bytes(data) {
        let mut range = HeaderMap::new();
        range.insert(header::RANGE, v);
        for known in [0, 1, 4096, u64::MAX] {
            if let Some(offset) = fuzz_range_end(&range, known) {
                assert!(
                    offset > 0 || known == 0,
                    "Range {data:?} reset offset {known} to 0"
                );
            }
        }
    }
});
