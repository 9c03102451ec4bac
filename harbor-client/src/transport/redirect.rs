//! Redirects followed by the transport itself: `Authorization` (the transport's or the
//! caller's), `Proxy-Authorization` and `Cookie` only ever go to the origin the request was
//! made to, each hop uses the client of its own host (its TLS settings), and the caller
//! learns whether the final answer came from that origin (a `401` from elsewhere is never
//! answered with credentials).

use http::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderValue, LOCATION};
use http::{HeaderMap, Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};

use super::stall::{self, Outgoing};
use super::{Body, CREDENTIAL_HEADERS, Request, Transport, has_user_info, origin};
use crate::error::{Error, Result, display_url};

/// The final answer of a request and whether it came from the origin the request was made to.
pub(super) struct Sent {
    pub(super) response: reqwest::Response,
    pub(super) from_origin: bool,
}

impl Transport {
    pub(super) async fn send_following_redirects(
        &self,
        req: &mut Request,
        authz: Option<&SecretString>,
    ) -> Result<Sent> {
        let inner = &self.inner;
        let mut url = req.url.clone();
        let mut method = req.method.clone();
        let first_origin = origin(&req.url);
        let streamed = matches!(req.body, Body::Stream(_));
        let mut body = req.body.take_for_send();
        let mut redirects = 0;
        loop {
            let client = inner.clients.for_url(&url);
            // A request with a body goes through the client without `reqwest`'s read
            // timeout, held to an idle timeout that counts from its last progress instead.
            let http = if body.is_some() {
                &client.upload
            } else {
                &client.http
            };
            let same_origin = origin(&url) == first_origin;
            let mut b = http
                .request(method.clone(), url.clone())
                .headers(hop_headers(&req.headers, same_origin));
            if let Some(a) = authz
                && same_origin
            {
                let mut v = HeaderValue::from_str(a.expose_secret()).map_err(|_| Error::Auth {
                    message: "the credentials cannot be sent in a header (invalid characters)"
                        .into(),
                    source: None,
                })?;
                v.set_sensitive(true);
                b = b.header(AUTHORIZATION, v);
            }
            // The answer to a request with a body is held to the idle timeout by `pace`.
            let idle = body.is_some().then_some(inner.read_timeout);
            let resp = match body.take() {
                Some(body) => {
                    let length = req
                        .headers
                        .get(CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok()?.parse().ok());
                    // Boxed: kept out of the future of every request that awaits this one.
                    Box::pin(stall::send(
                        b,
                        (body, length),
                        inner.read_timeout,
                        (&method, &url),
                    ))
                    .await?
                }
                None => b
                    .send()
                    .await
                    .map_err(|e| Error::transport(&method, &url, e))?,
            };
            let status = resp.status();
            let sent = |response| Sent {
                response: if inner.low_speed.bytes == 0 && idle.is_none() {
                    response
                } else {
                    super::pace::limit(response, inner.low_speed, idle)
                },
                from_origin: origin(&url) == first_origin,
            };
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                return Ok(sent(resp));
            }
            let Some(loc) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) else {
                return Ok(sent(resp));
            };
            if redirects >= inner.max_redirects {
                return Err(Error::protocol(format!(
                    "{method} {}: more than {} redirects",
                    display_url(&req.url),
                    inner.max_redirects
                )));
            }
            let next = url
                .join(loc)
                .map_err(|e| Error::protocol(format!("redirect to an invalid location: {e}")))?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(Error::protocol(format!(
                    "redirect to unsupported scheme {:?}",
                    next.scheme()
                )));
            }
            // `reqwest` would send it as Basic credentials, to whatever host it names.
            if has_user_info(&next) {
                return Err(Error::protocol(format!(
                    "{method} {}: redirect to a location with user info (`user:pass@`), not followed",
                    display_url(&req.url)
                )));
            }
            // 303, and 301/302 after POST, become GET; 307/308 keep method and body.
            let keeps_body = matches!(status.as_u16(), 307 | 308);
            if !keeps_body && method != Method::HEAD {
                method = Method::GET;
                body = None;
            } else if keeps_body {
                if streamed {
                    return Err(Error::protocol(format!(
                        "{method} {}: a streamed body cannot be sent again after a {status} redirect",
                        display_url(&req.url)
                    )));
                }
                body = match &req.body {
                    Body::Bytes(b) => Some(Outgoing::Bytes(b.clone())),
                    _ => None,
                };
            }
            tracing::debug!(to = %display_url(&next), %status, "following redirect");
            url = next;
            redirects += 1;
        }
    }
}

/// The caller's headers for one hop: all of them to the request's origin; to another origin,
/// none of those that carry credentials ([`CREDENTIAL_HEADERS`]).
fn hop_headers(headers: &HeaderMap, same_origin: bool) -> HeaderMap {
    let mut out = headers.clone();
    if !same_origin {
        for name in &CREDENTIAL_HEADERS {
            out.remove(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{COOKIE, PROXY_AUTHORIZATION, USER_AGENT};

    #[test]
    fn credential_headers_stay_with_the_origin() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        h.append(AUTHORIZATION, HeaderValue::from_static("Basic dTpw"));
        h.insert(PROXY_AUTHORIZATION, HeaderValue::from_static("Basic cDpw"));
        h.insert(COOKIE, HeaderValue::from_static("sid=1"));
        h.insert(USER_AGENT, HeaderValue::from_static("ua"));
        assert_eq!(hop_headers(&h, true), h);
        let other = hop_headers(&h, false);
        assert_eq!(other.len(), 1, "{other:?}");
        assert_eq!(other.get(USER_AGENT), h.get(USER_AGENT));
    }
}
