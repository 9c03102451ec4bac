//! The decoder at the HTTP edge: size limit, Authorization check, Content-Type, typed
//! errors with predicates, JSON paths and excerpts, and no stack overflow on deep nesting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use harbor_events::{Decoder, Error, Format, decode};
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};

const PUSH: &[u8] = include_bytes!("fixtures/v2/PUSH_ARTIFACT__tagged.json");
const CLOUD: &[u8] =
    include_bytes!("fixtures/cloudevents/PUSH_ARTIFACT__harbor.artifact.pushed.json");
const REGISTRY: &[u8] =
    include_bytes!("fixtures/distribution/PUSH_ARTIFACT__manifest-and-blob.json");

fn headers(pairs: &[(http::HeaderName, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.append(name.clone(), HeaderValue::from_str(value).unwrap());
    }
    h
}

#[test]
fn empty_and_whitespace_bodies_are_empty_body_errors_answered_200() {
    for body in [&b""[..], b"  \n\t "] {
        let err = decode(body).unwrap_err();
        assert!(err.is_empty_body(), "{err}");
        assert_eq!(err.status(), Some(StatusCode::OK));
    }
}

/// Harbor 1.9-2.2's "test endpoint": an empty POST with `Content-Type: application/json` and
/// no `Authorization`. One answer, 200, however it is decoded.
#[test]
fn the_endpoint_test_without_authorization_is_an_empty_body_not_a_401() {
    let decoder = Decoder::new().auth_header("Bearer s3cret");
    let json = headers(&[(CONTENT_TYPE, "application/json")]);
    for body in [&b""[..], b" \r\n"] {
        let err = decoder.decode_with_headers(&json, body).unwrap_err();
        assert!(err.is_empty_body(), "{err}");
        assert_eq!(err.status(), Some(StatusCode::OK));
        assert!(decoder.decode(body).unwrap_err().is_empty_body());
    }
    // A body that is not empty still needs the header.
    let err = decoder.decode_with_headers(&json, b"{}").unwrap_err();
    assert!(err.is_unauthorized(), "{err}");
}

#[test]
fn a_body_that_did_not_arrive_is_a_400_of_its_own() {
    let err = Error::IncompleteBody("connection reset".into());
    assert!(err.is_incomplete_body() && !err.is_empty_body(), "{err}");
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn bad_json_names_the_path_and_shows_an_excerpt() {
    let body = br#"{"type":"PUSH_ARTIFACT","occur_at":1680501893,"operator":"admin","event_data":{"resources":[{"digest":"sha256:x","tag":42}]}}"#;
    let err = decode(body).unwrap_err();
    assert!(err.is_invalid_payload());
    assert_eq!(err.json_path(), Some("event_data.resources[0].tag"));
    let Error::InvalidPayload {
        excerpt, message, ..
    } = &err
    else {
        panic!()
    };
    assert!(excerpt.contains("\"tag\":42"), "{excerpt}");
    assert!(message.contains("invalid type"), "{message}");
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn out_of_order_data_still_reports_the_inner_path() {
    // event_data before type: parsed after the object, the message still names the member.
    let body = br#"{"event_data":{"repository":{"name":7}},"type":"PUSH_ARTIFACT","occur_at":1}"#;
    let err = decode(body).unwrap_err();
    assert!(
        err.to_string().contains("event_data.repository.name"),
        "{err}"
    );
}

#[test]
fn invalid_times_and_missing_members_are_typed_errors() {
    let cases: [(&[u8], &str); 6] = [
        (br#"{"type":"PUSH_ARTIFACT","occur_at":99999999999999999}"#, "out of the supported range"),
        (br#"{"type":"PUSH_ARTIFACT"}"#, "occur_at"),
        (br#"{"specversion":"1.0","id":"x","source":"/s","type":"harbor.artifact.pushed","time":"yesterday"}"#, "RFC 3339"),
        (br#"{"specversion":"1.0","source":"/s","type":"harbor.artifact.pushed","time":"2024-01-01T00:00:00Z"}"#, "`id`"),
        (br#"{"hello":"world"}"#, "unrecognised payload"),
        (br#"[1,2,3]"#, "webhook payload object"),
    ];
    for (body, needle) in cases {
        let err = decode(body).unwrap_err();
        assert!(err.is_invalid_payload(), "{err}");
        assert!(
            err.to_string().contains(needle),
            "{err} should mention {needle}"
        );
    }
}

#[test]
fn trailing_garbage_is_rejected() {
    let mut body = PUSH.to_vec();
    body.extend_from_slice(b" {}");
    assert!(decode(&body).unwrap_err().is_invalid_payload());
}

#[test]
fn deeply_nested_input_fails_without_overflowing_the_stack() {
    let deep = vec![b'['; 100_000];
    assert!(decode(&deep).unwrap_err().is_invalid_payload());
    // Nested inside a member whose value is kept raw (unknown type) or parsed.
    for prefix in [
        &br#"{"type":"NEW","occur_at":1,"event_data":"#[..],
        br#"{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{"resources":"#,
        br#"{"events":"#,
        br#"{"specversion":"1.0","data":"#,
    ] {
        let mut body = prefix.to_vec();
        body.extend(std::iter::repeat_n(b'[', 100_000));
        assert!(decode(&body).unwrap_err().is_invalid_payload());
        let mut objects = prefix.to_vec();
        objects.extend(std::iter::repeat_n(&b"{\"a\":"[..], 50_000).flatten());
        assert!(decode(&objects).unwrap_err().is_invalid_payload());
    }
}

#[test]
fn body_over_the_limit_is_rejected_before_parsing() {
    let decoder = Decoder::new().max_body_bytes(100);
    let err = decoder.decode(PUSH).unwrap_err();
    assert!(err.is_body_too_large());
    assert_eq!(err.status(), Some(StatusCode::PAYLOAD_TOO_LARGE));
    let Error::BodyTooLarge { size, limit } = err else {
        panic!()
    };
    assert_eq!((size, limit), (PUSH.len(), 100));
    assert!(
        Decoder::new()
            .max_body_bytes(PUSH.len())
            .decode(PUSH)
            .is_ok()
    );
    assert_eq!(
        Decoder::new().body_limit(),
        harbor_events::DEFAULT_MAX_BODY_BYTES
    );
}

#[test]
fn authorization_must_match_exactly_and_is_never_printed() {
    let decoder = Decoder::new().auth_header("Bearer s3cret-value");
    let ok = headers(&[(AUTHORIZATION, "Bearer s3cret-value")]);
    assert!(decoder.decode_with_headers(&ok, PUSH).is_ok());
    for bad in [
        headers(&[]),
        headers(&[(AUTHORIZATION, "Bearer s3cret-valuE")]),
        headers(&[(AUTHORIZATION, "Bearer s3cret-value ")]),
        headers(&[(AUTHORIZATION, "Bearer s3cret")]),
        headers(&[
            (AUTHORIZATION, "Bearer s3cret-value"),
            (AUTHORIZATION, "Bearer s3cret-value"),
        ]),
    ] {
        let err = decoder.decode_with_headers(&bad, PUSH).unwrap_err();
        assert!(err.is_unauthorized());
        assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
        assert!(!err.to_string().contains("s3cret"));
    }
    // Auth is checked before the body: a bad body with a bad header is a 401.
    let err = decoder
        .decode_with_headers(&headers(&[]), b"not json")
        .unwrap_err();
    assert!(err.is_unauthorized());
    // Without headers there is nothing to check: fail closed.
    assert!(decoder.decode(PUSH).unwrap_err().is_unauthorized());
    // Debug never shows the secret.
    let debug = format!("{decoder:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
    assert!(debug.contains("redacted"));
}

#[test]
fn several_authorization_values_allow_rotation() {
    let decoder = Decoder::new().auth_header("old").auth_header("new");
    for value in ["old", "new"] {
        assert!(
            decoder
                .decode_with_headers(&headers(&[(AUTHORIZATION, value)]), PUSH)
                .is_ok()
        );
    }
    assert!(
        decoder
            .decode_with_headers(&headers(&[(AUTHORIZATION, "other")]), PUSH)
            .is_err()
    );
}

#[test]
fn content_type_selects_or_rejects() {
    let d = Decoder::new();
    for ct in [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/vnd.foo+json",
    ] {
        assert_eq!(
            d.decode_with_headers(&headers(&[(CONTENT_TYPE, ct)]), PUSH)
                .unwrap()
                .format(),
            Format::V2,
            "{ct}"
        );
    }
    let ce = headers(&[(CONTENT_TYPE, "application/cloudevents+json; charset=utf-8")]);
    assert_eq!(
        d.decode_with_headers(&ce, CLOUD).unwrap().format(),
        Format::CloudEvents
    );
    // The header forces the format: a v2 body sent as CloudEvents is missing `specversion`.
    let err = d.decode_with_headers(&ce, PUSH).unwrap_err();
    assert!(err.to_string().contains("specversion"), "{err}");
    let reg = headers(&[(CONTENT_TYPE, harbor_events::CONTENT_TYPE_DISTRIBUTION)]);
    assert_eq!(
        d.decode_with_headers(&reg, REGISTRY).unwrap().format(),
        Format::Distribution
    );
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/cloudevents-batch+json",
    ] {
        let err = d
            .decode_with_headers(&headers(&[(CONTENT_TYPE, ct)]), PUSH)
            .unwrap_err();
        assert!(err.is_unsupported_content_type(), "{ct}");
        assert_eq!(err.status(), Some(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
}

#[test]
fn only_format_rejects_other_shapes() {
    let d = Decoder::new().only_format(Format::V2);
    assert!(d.decode(PUSH).is_ok());
    assert!(d.decode(CLOUD).is_err());
}

#[test]
fn decode_request_reads_headers_and_body() {
    let req = http::Request::builder()
        .header(AUTHORIZATION, "k")
        .header(CONTENT_TYPE, "application/cloudevents+json")
        .body(CLOUD.to_vec())
        .unwrap();
    let payload = Decoder::new()
        .auth_header("k")
        .decode_request(&req)
        .unwrap();
    assert_eq!(payload.format(), Format::CloudEvents);
}

#[test]
fn the_three_stated_detection_rules_hold() {
    assert_eq!(decode(br#"{"specversion":"1.0","id":"1","source":"/s","type":"harbor.scan.completed","time":"2024-01-01T00:00:00Z"}"#).unwrap().format(), Format::CloudEvents);
    assert_eq!(decode(br#"{"type":"pushImage","occur_at":1,"operator":"","event_data":{"resources":null,"repository":{}}}"#).unwrap().format(), Format::V1);
    assert_eq!(
        decode(br#"{"event_type":"pushImage","events":[]}"#)
            .unwrap()
            .format(),
        Format::V1Documented
    );
    assert_eq!(
        decode(br#"{"type":"SOMETHING_NEW","occur_at":1}"#)
            .unwrap()
            .format(),
        Format::V2
    );
    assert_eq!(
        decode(br#"{"events":[]}"#).unwrap().format(),
        Format::Distribution
    );
}
