//! Property tests of the API's parsers and encoders: names, references, `q`, `Link`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use harbor_client::api::{ArtifactLocation, PathSegment, Query, Reference, RepositoryName};
use proptest::prelude::*;

/// Percent-decodes once (what a router does to a path segment).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,5}([._]|__|-{1,2})?[a-z0-9]{1,5}"
}

proptest! {
    #[test]
    fn any_text_parses_or_fails_without_panicking(s in "\\PC{0,80}") {
        let _ = RepositoryName::new(s.as_str());
        let _ = s.parse::<Reference>();
        let _ = ArtifactLocation::parse(&s);
        let _ = Query::from(s.as_str()).to_query_value();
    }

    #[test]
    fn valid_names_survive_harbors_two_decodings(parts in proptest::collection::vec(component(), 1..4)) {
        let name = parts.join("/");
        let repo = RepositoryName::new(name.as_str()).unwrap();
        let seg = repo.path_segment();
        prop_assert!(!seg.contains('/'), "one path segment: {}", seg);
        prop_assert_eq!(decode(&decode(&seg)), name);
    }

    #[test]
    fn tags_are_valid_path_segments(tag in "[A-Za-z0-9_][A-Za-z0-9._-]{0,127}") {
        let r = Reference::tag(tag.as_str()).unwrap();
        prop_assert_eq!(r.path_segment(), tag);
    }

    #[test]
    fn exact_values_render_as_harbor_splits_them(
        key in "[a-z_]{1,10}",
        value in "[a-zA-Z0-9 $+%._-]{1,20}",
    ) {
        // Harbor: QueryUnescape(q) then split on ',' and on the first '='.
        let q = Query::new().exact(&key, &value);
        let wire = q.to_query_value().unwrap();
        let unescaped = decode(&wire.replace('+', " "));
        let (k, v) = unescaped.split_once('=').unwrap();
        prop_assert_eq!(k, key.as_str());
        prop_assert_eq!(v, value.as_str());
    }
}
