//! Fuzz the response headers harbor-client parses: `Link` (the registry's tag and catalog
//! pages, and the Harbor API's pages) and an upload's `Range`. No input may panic; a
//! `rel="next"` target from the registry is never followed to another origin; the API's next
//! URL is the text of one `<...>` of the header; a `Range` never moves an upload that had
//! bytes back to offset 0.
#![no_main]

use harbor_client::api::fuzz_parse_next_link;
use harbor_client::registry::{fuzz_next_link, fuzz_range_end};
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
    if let Ok(Some(next)) = fuzz_next_link(&request, &links) {
        assert_eq!(
            next.origin(),
            request.origin(),
            "followed a Link to another origin"
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(next) = fuzz_parse_next_link(text) {
            assert!(
                text.contains(&format!("<{next}>")),
                "{next:?} is not a <...> of {text:?}"
            );
        }
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
