//! Decoding at the HTTP edge: [`decode`], [`Decoder`] (size limit, `Authorization` check,
//! `Content-Type`), and the decoded [`Payload`].

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use crate::{Error, Event, Format, Result, cloudevents, distribution, v1, v1_documented, v2};

pub use harbor_types::webhook::{
    CONTENT_TYPE_CLOUDEVENTS, CONTENT_TYPE_DISTRIBUTION, CONTENT_TYPE_JSON,
};

/// The default body limit of a [`Decoder`]: 1 MiB. Harbor payloads are a few KiB (a
/// retention run that deleted many artifacts is the largest); the registry batches events.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// A decoded webhook body, in the format it came in.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Payload<'a> {
    /// Harbor 1.9 / 1.10.
    V1(v1::Payload<'a>),
    /// The documented-only 1.x shape (never sent by Harbor).
    V1Documented(v1_documented::Payload<'a>),
    /// Harbor 2.x "Default".
    V2(v2::Payload<'a>),
    /// Harbor 2.8+ CloudEvents.
    CloudEvent(cloudevents::CloudEvent<'a>),
    /// Registry notification envelope.
    Distribution(distribution::Envelope<'a>),
}

impl<'a> Payload<'a> {
    /// The format.
    pub fn format(&self) -> Format {
        match self {
            Payload::V1(_) => Format::V1,
            Payload::V1Documented(_) => Format::V1Documented,
            Payload::V2(_) => Format::V2,
            Payload::CloudEvent(_) => Format::CloudEvents,
            Payload::Distribution(_) => Format::Distribution,
        }
    }

    /// Copies everything borrowed from the body, giving a `'static` payload.
    #[must_use]
    pub fn into_owned(self) -> Payload<'static> {
        match self {
            Payload::V1(p) => Payload::V1(p.into_owned()),
            Payload::V1Documented(p) => Payload::V1Documented(p.into_owned()),
            Payload::V2(p) => Payload::V2(p.into_owned()),
            Payload::CloudEvent(p) => Payload::CloudEvent(p.into_owned()),
            Payload::Distribution(p) => Payload::Distribution(p.into_owned()),
        }
    }

    /// The unified events (one for Harbor formats, one per entry for `events[]` formats).
    /// Borrowed strings stay borrowed, so this copies little.
    pub fn events(&self) -> Vec<Event<'a>> {
        self.clone().into_events()
    }

    /// The unified events, consuming the payload.
    pub fn into_events(self) -> Vec<Event<'a>> {
        crate::convert::into_events(self)
    }

    /// The `Content-Type` a sender uses for this payload.
    pub fn content_type(&self) -> &'static str {
        self.format().content_type()
    }

    /// Encodes the payload as compact JSON (as Harbor sends it).
    ///
    /// # Errors
    ///
    /// [`Error::Encode`] if serialisation fails (not expected for these types).
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(Error::Encode)
    }
}

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Payload::V1(p) => p.serialize(s),
            Payload::V1Documented(p) => p.serialize(s),
            Payload::V2(p) => p.serialize(s),
            Payload::CloudEvent(p) => p.serialize(s),
            Payload::Distribution(p) => p.serialize(s),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Payload<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        crate::detect::deserialize_any(d, None)
    }
}

/// Decodes a body, detecting the format from it (no size limit, no auth check: see
/// [`Decoder`] for the HTTP edge).
///
/// Detection: `specversion` → CloudEvents; `event_type` with `events` → documented 1.x shape;
/// `type` in 1.x camelCase → v1, any other `type` → v2; `events` alone → registry
/// notification.
///
/// # Errors
///
/// [`Error::EmptyBody`] for an empty body, [`Error::InvalidPayload`] (with the JSON path and
/// an excerpt) for anything that is not a payload.
///
/// # Example
///
/// ```
/// let body = br#"{"type":"PUSH_ARTIFACT","occur_at":1680501893,"operator":"admin",
///   "event_data":{"resources":[{"digest":"sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4",
///   "tag":"latest","resource_url":"harbor.example.com/library/alpine:latest"}],
///   "repository":{"name":"alpine","namespace":"library","repo_full_name":"library/alpine","repo_type":"public"}}}"#;
/// let payload = harbor_events::decode(body)?;
/// assert_eq!(payload.format(), harbor_events::Format::V2);
/// let event = &payload.events()[0];
/// assert_eq!(event.repository(), Some("library/alpine"));
/// # Ok::<(), harbor_events::Error>(())
/// ```
pub fn decode(body: &[u8]) -> Result<Payload<'_>> {
    decode_as(body, None)
}

/// Whether `body` is empty or only whitespace: Harbor's endpoint test (1.9 to 2.2 send it
/// without `Authorization`; answer it `200`), which the decoders refuse with
/// [`Error::EmptyBody`] before any other check. A server that must answer it before reading
/// the headers asks here.
///
/// ```
/// assert!(harbor_events::is_empty_body(b" \n"));
/// assert!(!harbor_events::is_empty_body(b"{}"));
/// ```
pub fn is_empty_body(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

fn decode_as(body: &[u8], hint: Option<Format>) -> Result<Payload<'_>> {
    if is_empty_body(body) {
        return Err(Error::EmptyBody);
    }
    // Validate UTF-8 once for the whole body: reading from a `&str`, neither reader checks
    // every string again. A body that is not UTF-8 takes the serde path from bytes, so its
    // error (or success, when the bad bytes are in a member that is skipped) is as ever.
    let text = std::str::from_utf8(body).ok();
    // The hand-written reader first; whatever it does not take goes to the serde path,
    // which is the reference (see `fast`).
    if let Some(payload) = text.and_then(|text| crate::fast::payload(text, hint)) {
        return Ok(payload);
    }
    decode_reference(body, text, hint)
}

/// The serde path: the reference decode, which decides every error and every odd input.
/// `text` is `body` when it is UTF-8.
pub(crate) fn decode_reference<'a>(
    body: &'a [u8],
    text: Option<&'a str>,
    hint: Option<Format>,
) -> Result<Payload<'a>> {
    let fast = match text {
        Some(text) => decode_fast(&mut serde_json::Deserializer::from_str(text), hint),
        None => decode_fast(&mut serde_json::Deserializer::from_slice(body), hint),
    };
    if let Some(payload) = fast {
        return Ok(payload);
    }
    // Cold path: decode again keeping early data raw, then (still failing) with path tracking.
    let full = match text {
        Some(text) => decode_full(&mut serde_json::Deserializer::from_str(text), hint),
        None => decode_full(&mut serde_json::Deserializer::from_slice(body), hint),
    };
    full.map_err(|error| invalid_payload(body, hint, error))
}

/// Decodes `body` twice, with the hand-written reader and with the serde path, for the
/// differential fuzz target: the reader's result (`None` when it declines) and the serde
/// path's. Only built by `cargo fuzz` (`--cfg fuzzing`).
#[cfg(fuzzing)]
#[doc(hidden)]
#[allow(clippy::type_complexity)]
pub fn decode_both(
    body: &[u8],
    hint: Option<Format>,
) -> Option<(Option<Payload<'_>>, Result<Payload<'_>>)> {
    let text = std::str::from_utf8(body).ok()?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some((
        crate::fast::payload(text, hint),
        decode_reference(body, Some(text), hint),
    ))
}

/// The one-pass decode of the success path (no path tracking): `None` when it fails, and
/// the caller decodes again with [`decode_full`].
fn decode_fast<'a, R: serde_json::de::Read<'a>>(
    de: &mut serde_json::Deserializer<R>,
    hint: Option<Format>,
) -> Option<Payload<'a>> {
    let payload = crate::detect::deserialize_speculative(&mut *de, hint).ok()?;
    de.end().ok()?;
    Some(payload)
}

/// The decode that keeps data seen before the type raw (no path tracking).
fn decode_full<'a, R: serde_json::de::Read<'a>>(
    de: &mut serde_json::Deserializer<R>,
    hint: Option<Format>,
) -> serde_json::Result<Payload<'a>> {
    let payload = crate::detect::deserialize_any(&mut *de, hint)?;
    de.end()?;
    Ok(payload)
}

/// Builds [`Error::InvalidPayload`]: decodes again with path tracking (the cold path only).
fn invalid_payload(body: &[u8], hint: Option<Format>, fallback: serde_json::Error) -> Error {
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut track = serde_path_to_error::Track::new();
    let tracked = crate::detect::deserialize_any(
        serde_path_to_error::Deserializer::new(&mut de, &mut track),
        hint,
    );
    let (path, source) = match tracked.and_then(|_| de.end()) {
        Err(e) => (track.path().to_string(), e),
        Ok(()) => (".".to_owned(), fallback),
    };
    Error::InvalidPayload {
        path,
        message: source.to_string(),
        excerpt: excerpt(body, source.line(), source.column()),
        source,
    }
}

/// Up to 60 characters of `body` around `line`:`column` (1-based), control characters shown
/// as spaces.
fn excerpt(body: &[u8], line: usize, column: usize) -> String {
    let mut offset = 0usize;
    for _ in 1..line {
        match body
            .get(offset..)
            .and_then(|rest| rest.iter().position(|b| *b == b'\n'))
        {
            Some(nl) => offset += nl + 1,
            None => break,
        }
    }
    let at = offset
        .saturating_add(column.saturating_sub(1))
        .min(body.len());
    let start = at.saturating_sub(30);
    let end = at.saturating_add(30).min(body.len());
    String::from_utf8_lossy(body.get(start..end).unwrap_or_default())
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Decodes webhook requests at the HTTP edge: body size limit, the `Authorization` check,
/// `Content-Type`, then the format.
///
/// Harbor signs nothing: its only authentication is the policy's *auth header*, sent verbatim
/// as `Authorization`. Configure it with [`Decoder::auth_header`]; the comparison runs in
/// constant time (SHA-256 of both sides compared with `subtle`, so neither the content nor
/// the length leaks through timing).
///
/// An empty body (or one of only whitespace) is [`Error::EmptyBody`] **before** the
/// `Authorization` check, whose [`status`](Error::status) is `200`: Harbor 1.9 to 2.2 test an
/// endpoint with an empty `POST` that carries no `Authorization`, and there is nothing in it
/// to store or act on.
///
/// ```
/// use harbor_events::Decoder;
///
/// let decoder = Decoder::new()
///     .max_body_bytes(256 * 1024)
///     .auth_header("Bearer s3cret");
/// assert_eq!(decoder.body_limit(), 256 * 1024);
/// let mut headers = http::HeaderMap::new();
/// headers.insert(http::header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
/// headers.insert(http::header::CONTENT_TYPE, "application/json".parse().unwrap());
/// let body = br#"{"type":"QUOTA_WARNING","occur_at":1680505653,"operator":"",
///   "event_data":{"custom_attributes":{"Details":"quota usage reach 85%"}}}"#;
/// let payload = decoder.decode_with_headers(&headers, body)?;
/// assert_eq!(payload.events()[0].quota_message(), Some("quota usage reach 85%"));
///
/// headers.insert(http::header::AUTHORIZATION, "Bearer wrong".parse().unwrap());
/// assert!(decoder.decode_with_headers(&headers, body).unwrap_err().is_unauthorized());
/// // Harbor's endpoint test: no body, no Authorization.
/// let test = decoder.decode_with_headers(&http::HeaderMap::new(), b"").unwrap_err();
/// assert_eq!(test.status(), Some(http::StatusCode::OK));
/// # Ok::<(), harbor_events::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Decoder {
    max_body_bytes: Option<usize>,
    auth_headers: Vec<SecretString>,
    format: Option<Format>,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("max_body_bytes", &self.body_limit())
            .field(
                "auth_header",
                &format_args!("[{} value(s), redacted]", self.auth_headers.len()),
            )
            .field("format", &self.format)
            .finish()
    }
}

impl Decoder {
    /// A decoder with the default limit ([`DEFAULT_MAX_BODY_BYTES`]) and no auth check.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the body size limit in bytes ([`Decoder::body_limit`] reads it).
    #[must_use]
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = Some(limit);
        self
    }

    /// The body size limit in bytes: what [`Decoder::max_body_bytes`] set, else
    /// [`DEFAULT_MAX_BODY_BYTES`].
    pub fn body_limit(&self) -> usize {
        self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES)
    }

    /// Requires the `Authorization` header to equal `value` exactly: the Harbor webhook
    /// policy's *auth header* (its `auth_header` field, e.g. `Bearer abc`), which Harbor sends
    /// verbatim. Call it again to accept several values (secret rotation). Once set,
    /// [`Decoder::decode`] (which sees no headers) fails with [`Error::Unauthorized`] for
    /// every body that is not empty.
    #[must_use]
    pub fn auth_header(mut self, value: impl Into<String>) -> Self {
        self.auth_headers.push(SecretString::from(value.into()));
        self
    }

    /// Decodes only `format` instead of detecting it (a body of another shape fails).
    #[must_use]
    pub fn only_format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// Decodes a body without headers: size limit, then format detection.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyBody`] for an empty body (first), [`Error::Unauthorized`] when an auth
    /// header is configured (there is no header to check), [`Error::BodyTooLarge`],
    /// [`Error::InvalidPayload`].
    pub fn decode<'a>(&self, body: &'a [u8]) -> Result<Payload<'a>> {
        if is_empty_body(body) {
            return Err(Error::EmptyBody);
        }
        if !self.auth_headers.is_empty() {
            return Err(Error::Unauthorized);
        }
        self.check_size(body)?;
        decode_as(body, self.format)
    }

    /// Decodes a body with its request headers: emptiness, `Authorization`, size,
    /// `Content-Type`, format.
    ///
    /// `application/cloudevents+json` selects CloudEvents and the registry media type the
    /// registry envelope; `application/json`, other `+json` types and a missing
    /// `Content-Type` detect the format from the body.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyBody`] for an empty body whatever the headers (Harbor's endpoint test
    /// has no `Authorization`; its status is `200`), then [`Error::Unauthorized`],
    /// [`Error::BodyTooLarge`], [`Error::UnsupportedContentType`], [`Error::InvalidPayload`].
    pub fn decode_with_headers<'a>(
        &self,
        headers: &http::HeaderMap,
        body: &'a [u8],
    ) -> Result<Payload<'a>> {
        if is_empty_body(body) {
            return Err(Error::EmptyBody);
        }
        self.check_authorization(headers)?;
        self.check_size(body)?;
        let hint = self.format_from_headers(headers)?;
        decode_as(body, hint)
    }

    /// Decodes an [`http::Request`] (headers and body).
    ///
    /// # Errors
    ///
    /// As [`Decoder::decode_with_headers`].
    pub fn decode_request<'a, B: AsRef<[u8]>>(
        &self,
        request: &'a http::Request<B>,
    ) -> Result<Payload<'a>> {
        self.decode_with_headers(request.headers(), request.body().as_ref())
    }

    /// Checks the `Authorization` header alone (useful before reading a body).
    ///
    /// # Errors
    ///
    /// [`Error::Unauthorized`] when a value is configured and the header is missing,
    /// repeated or different.
    pub fn check_authorization(&self, headers: &http::HeaderMap) -> Result<()> {
        if self.auth_headers.is_empty() {
            return Ok(());
        }
        let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
        let (Some(got), None) = (values.next(), values.next()) else {
            return Err(Error::Unauthorized);
        };
        let got = Sha256::digest(got.as_bytes());
        let mut ok = subtle::Choice::from(0);
        for expected in &self.auth_headers {
            let expected = Sha256::digest(expected.expose_secret().as_bytes());
            ok |= expected.as_slice().ct_eq(got.as_slice());
        }
        if bool::from(ok) {
            Ok(())
        } else {
            Err(Error::Unauthorized)
        }
    }

    /// Checks a body length against the limit.
    ///
    /// # Errors
    ///
    /// [`Error::BodyTooLarge`] when `len` is over the limit.
    pub fn check_len(&self, len: usize) -> Result<()> {
        let limit = self.body_limit();
        if len > limit {
            Err(Error::BodyTooLarge { size: len, limit })
        } else {
            Ok(())
        }
    }

    fn check_size(&self, body: &[u8]) -> Result<()> {
        self.check_len(body.len())
    }

    /// The format the headers ask for (`None`: detect from the body).
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedContentType`] for a `Content-Type` that is not JSON.
    pub fn format_from_headers(&self, headers: &http::HeaderMap) -> Result<Option<Format>> {
        let Some(value) = headers.get(http::header::CONTENT_TYPE) else {
            return Ok(self.format);
        };
        let unsupported = || Error::UnsupportedContentType {
            content_type: String::from_utf8_lossy(value.as_bytes())
                .chars()
                .take(100)
                .collect(),
        };
        let text = value.to_str().map_err(|_| unsupported())?;
        let essence = text.split(';').next().unwrap_or_default().trim();
        let from_header = if essence.eq_ignore_ascii_case(CONTENT_TYPE_CLOUDEVENTS) {
            Some(Format::CloudEvents)
        } else if essence.eq_ignore_ascii_case(CONTENT_TYPE_DISTRIBUTION) {
            Some(Format::Distribution)
        } else if essence.eq_ignore_ascii_case(CONTENT_TYPE_JSON)
            || essence.eq_ignore_ascii_case("text/json")
            || (essence.len() > 5
                && essence
                    .get(essence.len() - 5..)
                    .is_some_and(|s| s.eq_ignore_ascii_case("+json"))
                && !essence.eq_ignore_ascii_case("application/cloudevents-batch+json"))
        {
            None
        } else {
            return Err(unsupported());
        };
        Ok(self.format.or(from_header))
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    const V2: &str = r#"{"type":"PUSH_ARTIFACT","occur_at":1680501893,"operator":"OP",
        "event_data":{"x":"X","resources":[{"digest":"sha256:954b","tag":"latest"}],
        "repository":{"name":"alpine","namespace":"library","repo_full_name":"library/alpine","repo_type":"public"}}}"#;

    fn with(operator: &[u8], unknown: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        let (head, rest) = V2.split_once("OP").unwrap();
        let (middle, tail) = rest.split_once('X').unwrap();
        for part in [
            head.as_bytes(),
            operator,
            middle.as_bytes(),
            unknown,
            tail.as_bytes(),
        ] {
            body.extend_from_slice(part);
        }
        body
    }

    #[test]
    fn invalid_utf8_in_a_known_member_is_an_invalid_payload_with_its_path() {
        let err = decode(&with(b"ad\xffmin", b"x")).unwrap_err();
        assert!(err.is_invalid_payload(), "{err}");
        assert_eq!(err.json_path(), Some("operator"));
        let err = decode(&with(b"admin", b"x")[..60]).unwrap_err();
        assert!(err.is_invalid_payload(), "{err}");
    }

    #[test]
    fn invalid_utf8_in_a_skipped_member_decodes_as_it_always_did() {
        // Unknown members of typed objects are skipped unread, as serde_json skips them.
        let body = with(b"admin", b"\xc3\x28");
        assert!(std::str::from_utf8(&body).is_err());
        let Payload::V2(payload) = decode(&body).unwrap() else {
            panic!("not v2");
        };
        assert_eq!(payload.operator, "admin");
        assert_eq!(payload.event_data.unwrap().resources.len(), 1);
    }

    #[test]
    fn strings_borrow_from_the_body_unless_they_have_escapes() {
        let body = with(br"ad\u006din", b"x");
        let Payload::V2(payload) = decode(&body).unwrap() else {
            panic!("not v2");
        };
        assert_eq!(payload.operator, "admin");
        assert!(matches!(payload.operator, Cow::Owned(_)));
        assert!(matches!(payload.event_type, Cow::Borrowed(_)));
        let Payload::V2(payload) = decode(
            "{\"type\":\"PUSH_ARTIFACT\",\"occur_at\":1,\"operator\":\"\u{e9}t\u{e9}\"}".as_bytes(),
        )
        .unwrap() else {
            panic!("not v2");
        };
        assert!(matches!(payload.operator, Cow::Borrowed("\u{e9}t\u{e9}")));
    }
}
