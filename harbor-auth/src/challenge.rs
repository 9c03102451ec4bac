//! RFC 7235 `WWW-Authenticate` challenges: parse and format.
//!
//! A header value may hold several challenges (`Bearer realm="a", Basic realm="b"`) and a
//! response may carry several headers; parameter values may be tokens or quoted strings with
//! `\` escapes, and a quoted `scope` may hold commas and spaces. The parser never panics and
//! never allocates more than the input size; it is property-tested and fuzzed.

use std::fmt;

use http::HeaderMap;

use crate::error::{Error, Result};
use crate::scope::ScopeSet;

/// The authentication scheme of a challenge (compared case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `Bearer`: the registry token flow.
    Bearer,
    /// `Basic`: send user name and password on every request (Harbor also answers this when a
    /// request carried any `Authorization` header, see the crate docs).
    Basic,
    /// Any other scheme, as sent.
    Other(String),
}

impl Scheme {
    fn from_token(token: &str) -> Self {
        if token.eq_ignore_ascii_case("bearer") {
            Self::Bearer
        } else if token.eq_ignore_ascii_case("basic") {
            Self::Basic
        } else {
            Self::Other(token.to_owned())
        }
    }

    /// The scheme name as it is written in a header.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Bearer => "Bearer",
            Self::Basic => "Basic",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `error` parameter of a Bearer challenge (RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChallengeError {
    /// `invalid_request`.
    InvalidRequest,
    /// `invalid_token`: the token is malformed, expired or not trusted; fetch a new one.
    InvalidToken,
    /// `insufficient_scope`: the token lacks access; ask for the scopes in the challenge.
    InsufficientScope,
    /// Another value, as sent.
    Other(String),
}

impl ChallengeError {
    fn parse(s: &str) -> Self {
        match s {
            "invalid_request" => Self::InvalidRequest,
            "invalid_token" => Self::InvalidToken,
            "insufficient_scope" => Self::InsufficientScope,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// One challenge: a scheme with either auth parameters or a `token68`.
///
/// ```
/// use harbor_auth::{Challenge, Scheme};
///
/// let header = r#"Bearer realm="https://harbor.example/service/token",service="harbor-registry",scope="repository:library/a:pull,push repository:library/b:pull""#;
/// let challenges = Challenge::parse_all(header)?;
/// let c = &challenges[0];
/// assert_eq!(c.scheme(), &Scheme::Bearer);
/// assert_eq!(c.realm(), Some("https://harbor.example/service/token"));
/// assert_eq!(c.scopes()?.to_string(), "repository:library/a:pull,push repository:library/b:pull");
/// // Formatting gives back an equivalent header value.
/// assert_eq!(Challenge::parse_all(&c.to_string())?, challenges);
/// # Ok::<(), harbor_auth::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Challenge {
    scheme: Scheme,
    params: Vec<(String, String)>,
    token68: Option<String>,
}

impl Challenge {
    /// A challenge with a scheme and no parameters.
    pub fn new(scheme: Scheme) -> Self {
        Self {
            scheme,
            params: Vec::new(),
            token68: None,
        }
    }

    /// A Bearer challenge as a registry sends it: `realm`, `service` and, when not empty, `scope`.
    pub fn bearer(realm: &str, service: &str, scopes: &ScopeSet) -> Self {
        let mut c = Self::new(Scheme::Bearer)
            .with_param("realm", realm)
            .with_param("service", service);
        if !scopes.is_empty() {
            c = c.with_param("scope", &scopes.to_string());
        }
        c
    }

    /// Adds (or replaces) a parameter; the name is stored in lower case.
    #[must_use]
    pub fn with_param(mut self, name: &str, value: &str) -> Self {
        let name = name.to_ascii_lowercase();
        if let Some(slot) = self.params.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value.to_owned();
        } else {
            self.params.push((name, value.to_owned()));
        }
        self
    }

    /// Parses every challenge in one header value.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidChallenge`] when the value is not an RFC 7235 challenge list.
    pub fn parse_all(value: &str) -> Result<Vec<Self>> {
        Parser::new(value).challenges()
    }

    /// Parses every challenge in every `WWW-Authenticate` header of a response, in order.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidChallenge`] when a header is not visible ASCII or not a challenge list.
    pub fn from_headers(headers: &HeaderMap) -> Result<Vec<Self>> {
        let mut out = Vec::new();
        for value in headers.get_all(http::header::WWW_AUTHENTICATE) {
            let text = value.to_str().map_err(|_| Error::InvalidChallenge {
                position: 0,
                reason: "header value is not visible ASCII",
            })?;
            out.extend(Self::parse_all(text)?);
        }
        Ok(out)
    }

    /// The first Bearer challenge among the `WWW-Authenticate` headers, if any.
    ///
    /// # Errors
    ///
    /// As [`Challenge::from_headers`].
    pub fn bearer_from_headers(headers: &HeaderMap) -> Result<Option<Self>> {
        Ok(Self::from_headers(headers)?
            .into_iter()
            .find(|c| c.scheme == Scheme::Bearer))
    }

    /// The scheme.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The parameters in the order sent; names are lower case.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The `token68` form (`Negotiate abc==`), when the challenge used it.
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }

    /// A parameter by (case-insensitive) name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `realm` parameter: the token service URL for Bearer.
    pub fn realm(&self) -> Option<&str> {
        self.param("realm")
    }

    /// The `service` parameter.
    pub fn service(&self) -> Option<&str> {
        self.param("service")
    }

    /// The `scope` parameter as sent (space-separated scopes).
    pub fn scope_param(&self) -> Option<&str> {
        self.param("scope")
    }

    /// The `scope` parameter parsed; empty when absent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidScope`] when the value does not follow the scope grammar.
    pub fn scopes(&self) -> Result<ScopeSet> {
        match self.scope_param() {
            Some(s) => s.parse(),
            None => Ok(ScopeSet::new()),
        }
    }

    /// The `error` parameter.
    pub fn error(&self) -> Option<ChallengeError> {
        self.param("error").map(ChallengeError::parse)
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme.as_str())?;
        if let Some(t) = &self.token68 {
            return write!(f, " {t}");
        }
        for (i, (name, value)) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { "," })?;
            write!(f, "{name}=\"")?;
            for ch in value.chars() {
                if ch == '"' || ch == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{ch}")?;
            }
            f.write_str("\"")?;
        }
        Ok(())
    }
}

/// Formats several challenges as one header value, comma-separated.
pub fn format_challenges(challenges: &[Challenge]) -> String {
    challenges
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Control characters other than HTAB, which RFC 9110 keeps out of quoted strings.
fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            s: text.as_bytes(),
            text,
            pos: 0,
        }
    }

    fn err(&self, reason: &'static str) -> Error {
        Error::InvalidChallenge {
            position: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        self.text.get(start..self.pos).unwrap_or_default()
    }

    fn quoted(&mut self) -> Result<String> {
        // The caller saw the opening quote.
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated quoted string")),
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(out)
                        .map_err(|_| self.err("quoted string is not UTF-8"));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                        Some(b) if !is_ctl(b) => {
                            out.push(b);
                            self.pos += 1;
                        }
                        Some(_) => return Err(self.err("control character in quoted string")),
                        None => return Err(self.err("backslash at end of quoted string")),
                    }
                }
                Some(b) if is_ctl(b) => {
                    return Err(self.err("control character in quoted string"));
                }
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    fn challenges(mut self) -> Result<Vec<Challenge>> {
        let mut out = Vec::new();
        loop {
            self.skip_ws_and_commas();
            if self.peek().is_none() {
                break;
            }
            let scheme = self.token();
            if scheme.is_empty() {
                return Err(self.err("expected an auth scheme"));
            }
            let mut challenge = Challenge::new(Scheme::from_token(scheme));
            self.challenge_body(&mut challenge)?;
            out.push(challenge);
        }
        if out.is_empty() {
            return Err(self.err("no challenge in header value"));
        }
        Ok(out)
    }

    /// Parses what follows a scheme: nothing, a token68, or auth-params. Stops before the next
    /// challenge's scheme.
    fn challenge_body(&mut self, challenge: &mut Challenge) -> Result<()> {
        let had_space = matches!(self.peek(), Some(b' ' | b'\t'));
        self.skip_ws();
        match self.peek() {
            None | Some(b',') => return Ok(()),
            Some(_) if !had_space => return Err(self.err("expected a space after the scheme")),
            Some(_) => {}
        }
        // token68: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=", then end or ','.
        let start = self.pos;
        let mut p = self.pos;
        while self.s.get(p).copied().is_some_and(is_token68_char) {
            p += 1;
        }
        let run_end = p;
        while self.s.get(p) == Some(&b'=') {
            p += 1;
        }
        let mut q = p;
        while matches!(self.s.get(q), Some(b' ' | b'\t')) {
            q += 1;
        }
        if run_end > start && matches!(self.s.get(q), None | Some(b',')) {
            challenge.token68 = self.text.get(start..p).map(str::to_owned);
            self.pos = p;
            return Ok(());
        }
        // auth-params, comma separated, until the next challenge or the end.
        loop {
            self.skip_ws();
            let param_start = self.pos;
            let name = self.token();
            if name.is_empty() {
                return Err(self.err("expected a parameter name"));
            }
            self.skip_ws();
            if self.peek() != Some(b'=') {
                // A token not followed by '=' starts the next challenge.
                if challenge.params.is_empty() {
                    return Err(self.err("expected '=' after the parameter name"));
                }
                self.pos = param_start;
                return Ok(());
            }
            self.pos += 1;
            self.skip_ws();
            let value = match self.peek() {
                Some(b'"') => self.quoted()?,
                _ => {
                    let v = self.token();
                    if v.is_empty() {
                        return Err(self.err("expected a token or a quoted string"));
                    }
                    v.to_owned()
                }
            };
            challenge.params.push((name.to_ascii_lowercase(), value));
            // After a value: spaces, then ',' (more params or next challenge) or the end.
            self.skip_ws();
            match self.peek() {
                None => return Ok(()),
                Some(b',') => {
                    self.skip_ws_and_commas();
                    if self.peek().is_none() {
                        return Ok(());
                    }
                }
                Some(_) => return Err(self.err("expected ',' between parameters")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Challenge {
        let mut v = Challenge::parse_all(s).unwrap();
        assert_eq!(v.len(), 1, "{v:?}");
        v.remove(0)
    }

    #[test]
    fn distribution_challenge_with_error() {
        let c = one(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:samalba/my-app:pull,push",error="insufficient_scope""#,
        );
        assert_eq!(c.realm(), Some("https://auth.example/token"));
        assert_eq!(c.service(), Some("registry.example"));
        assert_eq!(c.error(), Some(ChallengeError::InsufficientScope));
        assert_eq!(
            c.scopes().unwrap().to_string(),
            "repository:samalba/my-app:pull,push"
        );
    }

    #[test]
    fn several_challenges_and_token_values() {
        let v = Challenge::parse_all(
            r#"Basic realm="harbor", Bearer realm=x,service=y , Negotiate abc+/==="#,
        )
        .unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].scheme(), &Scheme::Basic);
        assert_eq!(v[0].realm(), Some("harbor"));
        assert_eq!(v[1].realm(), Some("x"));
        assert_eq!(v[1].service(), Some("y"));
        assert_eq!(v[2].scheme(), &Scheme::Other("Negotiate".into()));
        assert_eq!(v[2].token68(), Some("abc+/==="));
    }

    #[test]
    fn escapes_commas_and_case() {
        let c = one(r#"bEaReR REALM="a\"b\\c, d e",scope="x""#);
        assert_eq!(c.scheme(), &Scheme::Bearer);
        assert_eq!(c.realm(), Some(r#"a"b\c, d e"#));
        assert_eq!(one(&c.to_string()), c);
    }

    #[test]
    fn scheme_alone_and_rejections() {
        assert_eq!(one("Basic").params().len(), 0);
        assert!(Challenge::parse_all("").is_err());
        assert!(Challenge::parse_all("Bearer realm=\"x").is_err());
        assert_eq!(one("Bearer realm=").token68(), Some("realm="));
        assert!(Challenge::parse_all("Bearer realm=,").is_ok());
        assert!(Challenge::parse_all("Bearer a=\"b\" c").is_err());
        // Found by fuzzing: an escaped NUL parsed but could not be formatted back.
        assert!(Challenge::parse_all("$ g=\"#,\\\0\\\\\",g").is_err());
        assert!(Challenge::parse_all("Basic realm=\"a\x7fb\"").is_err());
        assert!(Challenge::parse_all("=x").is_err());
        assert!(Challenge::parse_all("Bearer realm=\"a\" service=\"b\"").is_err());
    }

    #[test]
    fn headers_are_concatenated() {
        let mut h = HeaderMap::new();
        h.append(
            http::header::WWW_AUTHENTICATE,
            "Basic realm=\"harbor\"".parse().unwrap(),
        );
        h.append(
            http::header::WWW_AUTHENTICATE,
            "Bearer realm=\"r\",service=\"s\"".parse().unwrap(),
        );
        assert_eq!(Challenge::from_headers(&h).unwrap().len(), 2);
        assert_eq!(
            Challenge::bearer_from_headers(&h).unwrap().unwrap().realm(),
            Some("r")
        );
    }
}
