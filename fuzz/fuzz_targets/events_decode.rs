//! Fuzz `harbor_events::decode` and the `Decoder` with headers: no input may panic, and
//! whatever decodes must convert, summarise and re-encode without panicking.
#![no_main]

use harbor_events::{Decoder, Format};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [&str; 5] = [
    "application/json",
    "application/cloudevents+json",
    "application/vnd.docker.distribution.events.v1+json",
    "text/plain",
    "application/x+json; charset=utf-8",
];

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = harbor_events::decode(data) {
        let json = payload.to_vec().expect("a decoded payload encodes");
        let again = harbor_events::decode(&json).expect("an encoded payload decodes");
        assert_eq!(again.format(), payload.format());
        for event in payload.events() {
            let _ = event.to_string();
            let _ = event.scan_summary();
            let _ = event.artifact().map(|a| a.resource_url());
            for format in Format::ALL {
                let _ = event.encode(format);
            }
        }
    }
    // The first byte picks headers, the rest is the body.
    if let Some((&selector, body)) = data.split_first() {
        let mut headers = http::HeaderMap::new();
        let ct = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(ct),
        );
        if selector & 0x80 != 0 {
            headers.insert(
                http::header::AUTHORIZATION,
                http::HeaderValue::from_static("Bearer k"),
            );
        }
        let decoder = Decoder::new().max_body_bytes(4096).auth_header("Bearer k");
        let _ = decoder.decode_with_headers(&headers, body);
    }
});
