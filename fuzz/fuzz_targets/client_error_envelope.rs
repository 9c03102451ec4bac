//! Fuzz the error answers harbor-client reads from a registry or Harbor: the body (the
//! `{"errors":[...]}` envelope, or anything else) and the `X-Request-Id` and `Warning` headers,
//! through `ApiError::from_parts`, for every status. No input may panic; the error displays;
//! a body that is not an envelope is kept only as a bounded excerpt.
#![no_main]

use harbor_client::{ApiError, Error};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Two bytes of status, then header values up to the first NUL, then the body.
    let [hi, lo, rest @ ..] = data else {
        return;
    };
    let status = StatusCode::from_u16(100 + u16::from_be_bytes([*hi, *lo]) % 500)
        .expect("100..=599 is a status");
    let (head, body) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&[][..], rest),
    };
    let mut headers = HeaderMap::new();
    for (i, value) in head.split(|&b| b == b'\n').enumerate() {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            let name = if i % 2 == 0 {
                "x-request-id"
            } else {
                "warning"
            };
            headers.append(name, v);
        }
    }
    const PASSWORD: &str = "pw-7f3a9c";
    let url = url::Url::parse(&format!(
        "https://user:{PASSWORD}@harbor.example/api/v2.0/projects?q=x"
    ))
    .expect("a valid URL");
    // The password can reach the message only if the answer itself carries it.
    let echoed = data
        .windows(PASSWORD.len())
        .any(|w| w == PASSWORD.as_bytes());
    let err = ApiError::from_parts(&Method::GET, &url, status, &headers, body);
    assert_eq!(err.status, status);
    assert!(
        !err.url.contains(PASSWORD),
        "the URL's password reached the error"
    );
    if let Some(excerpt) = &err.body_excerpt {
        assert!(excerpt.chars().count() <= 200, "an excerpt of {excerpt:?}");
    }
    for entry in &err.errors {
        let _ = err.has_code(&entry.code);
    }
    let text = Error::from(err).to_string();
    assert!(
        echoed || !text.contains(PASSWORD),
        "the URL's password reached the message"
    );
});
