//! Names that encode themselves: projects by name or id, repository names, references.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// Percent-encodes everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
pub(crate) fn percent_encode(s: &str, keep: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || keep.contains(&b)
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Encodes one path segment once (for names that never contain `/`, and ids).
pub fn encode_segment(s: &str) -> String {
    percent_encode(s, b":@")
}

/// A project, addressed by name or by numeric id.
///
/// Harbor's `{project_name_or_id}` paths take either. A value that parses as an integer
/// is taken as an id unless the request carries `X-Is-Resource-Name: true`; this type
/// sends that header whenever it addresses a project by name, so a project named `"123"`
/// is found by name.
///
/// ```
/// use harbor_client::api::ProjectRef;
/// assert_eq!(ProjectRef::from("library"), ProjectRef::name("library"));
/// assert_eq!(ProjectRef::from(7), ProjectRef::id(7));
/// assert_eq!(ProjectRef::name("123").path_segment(), "123");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProjectRef {
    /// By name (sends `X-Is-Resource-Name: true`).
    Name(String),
    /// By numeric id.
    Id(i64),
}

impl ProjectRef {
    /// A project by name.
    pub fn name(name: impl Into<String>) -> Self {
        ProjectRef::Name(name.into())
    }

    /// A project by id.
    pub fn id(id: i64) -> Self {
        ProjectRef::Id(id)
    }

    /// Whether this addresses the project by name.
    pub fn is_name(&self) -> bool {
        matches!(self, ProjectRef::Name(_))
    }

    /// The path segment, percent-encoded once.
    pub fn path_segment(&self) -> String {
        match self {
            ProjectRef::Name(n) => encode_segment(n),
            ProjectRef::Id(id) => id.to_string(),
        }
    }
}

impl fmt::Display for ProjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProjectRef::Name(n) => f.write_str(n),
            ProjectRef::Id(id) => write!(f, "{id}"),
        }
    }
}

impl From<&str> for ProjectRef {
    fn from(s: &str) -> Self {
        ProjectRef::Name(s.to_owned())
    }
}

impl From<String> for ProjectRef {
    fn from(s: String) -> Self {
        ProjectRef::Name(s)
    }
}

impl From<&String> for ProjectRef {
    fn from(s: &String) -> Self {
        ProjectRef::Name(s.clone())
    }
}

impl From<i64> for ProjectRef {
    fn from(id: i64) -> Self {
        ProjectRef::Id(id)
    }
}

impl From<&ProjectRef> for ProjectRef {
    fn from(p: &ProjectRef) -> Self {
        p.clone()
    }
}

/// A repository name inside a project, such as `nginx` or `team/app` (without the
/// project name).
///
/// Harbor wants this path segment URL-encoded **twice** (`a/b` → `a%2Fb` → `a%252Fb`):
/// its router decodes path parameters once and its handlers decode the repository name
/// once more, and a reverse proxy in front may decode a single `%2F` into a real `/`.
/// [`RepositoryName::path_segment`] does that; double encoding is harmless for names
/// without `/`.
///
/// Validated on construction against the distribution grammar: lower-case components
/// of `[a-z0-9]` joined by `.`, `_`, `__` or dashes, separated by `/`.
///
/// ```
/// use harbor_client::api::RepositoryName;
/// let repo: RepositoryName = "team/app".parse()?;
/// assert_eq!(repo.path_segment(), "team%252Fapp");
/// let (project, repo) = RepositoryName::split_full_name("library/team/app")?;
/// assert_eq!((project.as_str(), repo.as_str()), ("library", "team/app"));
/// assert!("Team/App".parse::<RepositoryName>().is_err());
/// # Ok::<(), harbor_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName(String);

impl RepositoryName {
    /// Validates a repository name (without the project).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the name is empty, longer than 255 bytes, or not of the
    /// distribution grammar.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        validate_repository(&name)?;
        Ok(RepositoryName(name))
    }

    /// Splits a full name `project/repo[/more]` (as found in webhook payloads and in
    /// `Repository::name`) into the project name and the repository name.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when there is no `/` or a part is invalid.
    pub fn split_full_name(full: &str) -> Result<(String, RepositoryName)> {
        let Some((project, repo)) = full.split_once('/') else {
            return Err(Error::invalid(
                "repository full name",
                full,
                "expected `project/repository`",
            ));
        };
        if project.is_empty() {
            return Err(Error::invalid(
                "repository full name",
                full,
                "empty project name",
            ));
        }
        Ok((project.to_owned(), RepositoryName::new(repo)?))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path segment, percent-encoded twice as Harbor requires.
    pub fn path_segment(&self) -> String {
        let once = percent_encode(&self.0, b"");
        percent_encode(&once, b"")
    }
}

fn validate_repository(name: &str) -> Result<()> {
    let bad = |reason: &str| Err(Error::invalid("repository name", name, reason));
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 255 {
        return bad("longer than 255 bytes");
    }
    for component in name.split('/') {
        if component.is_empty() {
            return bad("empty path component");
        }
        let b = component.as_bytes();
        let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        if !b.first().copied().is_some_and(alnum) || !b.last().copied().is_some_and(alnum) {
            return bad("each component must start and end with [a-z0-9]");
        }
        let mut i = 0;
        while i < b.len() {
            let c = b.get(i).copied().unwrap_or(b'a');
            if alnum(c) {
                i += 1;
                continue;
            }
            // a separator run: ".", "_", "__" or one or more "-"
            let start = i;
            while i < b.len() && !b.get(i).copied().is_some_and(alnum) {
                i += 1;
            }
            let sep = b.get(start..i).unwrap_or_default();
            let ok = sep == b"." || sep == b"_" || sep == b"__" || sep.iter().all(|&c| c == b'-');
            if !ok {
                return bad("invalid separator; use '.', '_', '__' or '-' between [a-z0-9]");
            }
        }
    }
    Ok(())
}

impl FromStr for RepositoryName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        RepositoryName::new(s)
    }
}

impl TryFrom<&str> for RepositoryName {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        RepositoryName::new(s)
    }
}

impl fmt::Display for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RepositoryName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// An artifact reference: a tag or a digest.
///
/// Parsed from text: a value with `:` is a digest (`algorithm:hex`), anything else a tag
/// (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`).
///
/// ```
/// use harbor_client::api::Reference;
/// let tag: Reference = "v1.2".parse()?;
/// assert!(tag.is_tag());
/// let digest: Reference = format!("sha256:{}", "a".repeat(64)).parse()?;
/// assert!(digest.is_digest());
/// assert!("not a tag".parse::<Reference>().is_err());
/// # Ok::<(), harbor_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Reference {
    /// A tag.
    Tag(String),
    /// A digest such as `sha256:…`.
    Digest(String),
}

impl Reference {
    /// A validated tag.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `tag` is not of the tag grammar.
    pub fn tag(tag: impl Into<String>) -> Result<Self> {
        let tag = tag.into();
        let b = tag.as_bytes();
        let first_ok = b
            .first()
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
        let rest_ok = b
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        if !first_ok || !rest_ok || b.len() > 128 {
            return Err(Error::invalid(
                "tag",
                &tag,
                "expected [A-Za-z0-9_][A-Za-z0-9._-]{0,127}",
            ));
        }
        Ok(Reference::Tag(tag))
    }

    /// A validated digest (`algorithm:encoded`; `sha256` and `sha512` are checked for length
    /// and lower-case hex).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `digest` is not a digest.
    pub fn digest(digest: impl Into<String>) -> Result<Self> {
        let digest = digest.into();
        let bad = |reason: &str| Err(Error::invalid("digest", &digest, reason));
        let Some((alg, enc)) = digest.split_once(':') else {
            return bad("expected algorithm:encoded");
        };
        let alg_ok = !alg.is_empty()
            && alg.bytes().all(|c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || matches!(c, b'+' | b'.' | b'_' | b'-')
            });
        let enc_ok = !enc.is_empty()
            && enc
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'=' | b'_' | b'-'));
        if !alg_ok || !enc_ok {
            return bad("invalid characters");
        }
        let hex_len = match alg {
            "sha256" => Some(64),
            "sha512" => Some(128),
            _ => None,
        };
        if let Some(n) = hex_len
            && (enc.len() != n
                || !enc
                    .bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
        {
            return bad("wrong length or not lower-case hex");
        }
        Ok(Reference::Digest(digest))
    }

    /// Whether this is a tag.
    pub fn is_tag(&self) -> bool {
        matches!(self, Reference::Tag(_))
    }

    /// Whether this is a digest.
    pub fn is_digest(&self) -> bool {
        matches!(self, Reference::Digest(_))
    }

    /// The reference as text.
    pub fn as_str(&self) -> &str {
        match self {
            Reference::Tag(s) | Reference::Digest(s) => s,
        }
    }

    /// The path segment (percent-encoded once; `:` stays as is).
    pub fn path_segment(&self) -> String {
        encode_segment(self.as_str())
    }
}

impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.contains(':') {
            Reference::digest(s)
        } else {
            Reference::tag(s)
        }
    }
}

impl TryFrom<&str> for Reference {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        s.parse()
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_are_encoded_twice() {
        let r = RepositoryName::new("a/b/c").unwrap();
        assert_eq!(r.path_segment(), "a%252Fb%252Fc");
        assert_eq!(
            RepositoryName::new("nginx").unwrap().path_segment(),
            "nginx"
        );
    }

    #[test]
    fn repository_grammar() {
        for ok in ["a", "a-b", "a--b", "a__b", "a.b", "a_b/c.d", "0/1"] {
            assert!(RepositoryName::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "A", "a/", "/a", "a//b", "a..b", "a___b", "-a", "a-", "a b", "a%2Fb",
        ] {
            assert!(RepositoryName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references() {
        assert!(Reference::tag("latest").is_ok());
        assert!(Reference::tag(".x").is_err());
        assert!(Reference::tag("a".repeat(129)).is_err());
        assert!(Reference::digest("sha256:abc").is_err());
        assert!(Reference::digest(format!("sha256:{}", "A".repeat(64))).is_err());
        assert!(
            Reference::digest("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8")
                .is_ok()
        );
    }

    #[test]
    fn project_segments_are_encoded_once() {
        assert_eq!(ProjectRef::name("a b").path_segment(), "a%20b");
        assert_eq!(ProjectRef::id(5).path_segment(), "5");
    }
}
