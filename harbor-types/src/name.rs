//! Names inside a registry: [`Tag`], [`RepositoryName`], and [`Reference`] (a tag or a
//! digest), each validated against the grammar of the distribution spec when parsed.

use std::fmt;

use crate::digest::Digest;
use crate::error::{Error, Result, ValueKind};

/// Implements the text traits of a validated string newtype: `FromStr`, `TryFrom<&str>`,
/// `TryFrom<String>`, `Display`, `AsRef<str>`, and serde as a JSON string.
macro_rules! text_newtype {
    ($ty:ident) => {
        parsed_from_text!($ty, $ty::new);

        impl TryFrom<String> for $ty {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                $ty::new(s)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}` (the distribution spec's grammar).
///
/// ```
/// use harbor_types::Tag;
/// let tag: Tag = "v1.2".parse()?;
/// assert_eq!(tag.as_str(), "v1.2");
/// assert!(".hidden".parse::<Tag>().is_err());
/// # Ok::<(), harbor_types::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// The longest tag, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Validates a tag.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] (kind [`ValueKind::Tag`]) when `tag` is empty, longer than 128 bytes or
    /// not of the tag grammar.
    pub fn new(tag: impl Into<String>) -> Result<Tag> {
        let tag = tag.into();
        let b = tag.as_bytes();
        let first_ok = b
            .first()
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
        let rest_ok = b
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        if !first_ok || !rest_ok || b.len() > Tag::MAX_LEN {
            return Err(Error::invalid(
                ValueKind::Tag,
                &tag,
                "a tag matches [A-Za-z0-9_][A-Za-z0-9._-]{0,127}",
            ));
        }
        Ok(Tag(tag))
    }

    /// `latest`, the tag a reference without tag or digest means on Docker Hub.
    pub fn latest() -> Tag {
        Tag("latest".to_owned())
    }

    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_newtype!(Tag);

/// A repository name inside a registry, such as `library/alpine` or `team/app` (without the
/// registry host): components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`, at most
/// 255 bytes (the distribution spec's grammar).
///
/// Harbor's API addresses a repository inside a project by the name without the project
/// (`team/app` in project `library`); the registry API by the whole name (`library/team/app`).
/// Both are this type.
///
/// ```
/// use harbor_types::RepositoryName;
/// let name: RepositoryName = "library/team/app".parse()?;
/// assert_eq!(name.as_str(), "library/team/app");
/// assert!("Team/App".parse::<RepositoryName>().is_err());
/// # Ok::<(), harbor_types::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName(String);

impl RepositoryName {
    /// The longest name, in bytes.
    pub const MAX_LEN: usize = 255;

    /// Validates a repository name.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] (kind [`ValueKind::RepositoryName`]) when the name is empty, longer than
    /// 255 bytes, or not of the distribution grammar.
    pub fn new(name: impl Into<String>) -> Result<RepositoryName> {
        let name = name.into();
        let bad =
            |reason: &'static str| Err(Error::invalid(ValueKind::RepositoryName, &name, reason));
        if name.is_empty() {
            return bad("it is empty");
        }
        if name.len() > RepositoryName::MAX_LEN {
            return bad("it is longer than 255 bytes");
        }
        if !name.split('/').all(component_ok) {
            return bad(
                "components must be lowercase [a-z0-9] separated by '.', '_', '__' or '-', \
                 joined by '/'",
            );
        }
        Ok(RepositoryName(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first component and the rest, when there are at least two components:
    /// `library/team/app` gives `("library", "team/app")`. (In Harbor the first component is
    /// the project.)
    pub fn split_first(&self) -> Option<(&str, RepositoryName)> {
        let (first, rest) = self.0.split_once('/')?;
        Some((first, RepositoryName(rest.to_owned())))
    }
}

text_newtype!(RepositoryName);

/// One component of a repository name: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn component_ok(component: &str) -> bool {
    let b = component.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !b.first().copied().is_some_and(alnum) || !b.last().copied().is_some_and(alnum) {
        return false;
    }
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if alnum(c) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-", always between alphanumerics.
        let start = i;
        while b.get(i).is_some_and(|&c| !alnum(c)) {
            i += 1;
        }
        let sep = b.get(start..i).unwrap_or_default();
        if !(sep == b"." || sep == b"_" || sep == b"__" || sep.iter().all(|&c| c == b'-')) {
            return false;
        }
    }
    true
}

/// How an artifact is addressed inside a repository: a tag or a digest.
///
/// This is the `<reference>` of the distribution API (`/v2/<name>/manifests/<reference>`)
/// and the `{reference}` of Harbor's API paths; a whole image reference with its registry
/// and repository (`host/repo:tag@digest`) is an [`ImageReference`](crate::ImageReference).
///
/// Parsed from text, a value with `:` is a digest, anything else a tag:
///
/// ```
/// use harbor_types::Reference;
/// let tag: Reference = "v1.2".parse()?;
/// assert!(tag.is_tag());
/// let digest: Reference = format!("sha256:{}", "a".repeat(64)).parse()?;
/// assert!(digest.is_digest());
/// assert!("not a tag".parse::<Reference>().is_err());
/// # Ok::<(), harbor_types::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Reference {
    /// A tag such as `latest`.
    Tag(Tag),
    /// A digest such as `sha256:…`.
    Digest(Digest),
}

impl Reference {
    /// A validated tag.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] (kind [`ValueKind::Tag`]) when `tag` is not of the tag grammar.
    pub fn tag(tag: impl Into<String>) -> Result<Reference> {
        Tag::new(tag).map(Reference::Tag)
    }

    /// A validated digest.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] (kind [`ValueKind::Digest`]) when `digest` is not a digest.
    pub fn digest(digest: impl AsRef<str>) -> Result<Reference> {
        Digest::parse(digest.as_ref()).map(Reference::Digest)
    }

    /// Parses `text`: with a `:`, a digest, else a tag.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] (kind [`ValueKind::Digest`] or [`ValueKind::Tag`]) when it is neither.
    pub fn parse(text: &str) -> Result<Reference> {
        if text.contains(':') {
            Reference::digest(text)
        } else {
            Reference::tag(text)
        }
    }

    /// Whether this is a tag.
    pub fn is_tag(&self) -> bool {
        matches!(self, Reference::Tag(_))
    }

    /// Whether this is a digest.
    pub fn is_digest(&self) -> bool {
        matches!(self, Reference::Digest(_))
    }

    /// The tag, if this is one.
    pub fn as_tag(&self) -> Option<&Tag> {
        match self {
            Reference::Tag(tag) => Some(tag),
            Reference::Digest(_) => None,
        }
    }

    /// The digest, if this is one.
    pub fn as_digest(&self) -> Option<&Digest> {
        match self {
            Reference::Digest(digest) => Some(digest),
            Reference::Tag(_) => None,
        }
    }

    /// The reference as text.
    pub fn as_str(&self) -> &str {
        match self {
            Reference::Tag(tag) => tag.as_str(),
            Reference::Digest(digest) => digest.as_str(),
        }
    }
}

impl From<Tag> for Reference {
    fn from(tag: Tag) -> Self {
        Reference::Tag(tag)
    }
}

impl From<Digest> for Reference {
    fn from(digest: Digest) -> Self {
        Reference::Digest(digest)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Reference {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

parsed_from_text!(Reference, Reference::parse);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tags() {
        for ok in ["latest", "v1.2.3", "_x", "A-b_c.d", &"a".repeat(128)] {
            assert!(Tag::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".x", "-x", "a b", "a/b", "a:b", &"a".repeat(129)] {
            assert_eq!(Tag::new(bad).unwrap_err().kind(), ValueKind::Tag, "{bad}");
        }
    }

    #[test]
    fn repository_names() {
        for ok in [
            "a", "a-b", "a--b", "a---b", "a__b", "a.b", "a_b/c.d", "0/1", "a/b/c",
        ] {
            assert!(RepositoryName::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "A", "a/", "/a", "a//b", "a..b", "a___b", "a._b", "_a", "-a", "a-", "a b", "a%2Fb",
        ] {
            let err = RepositoryName::new(bad).unwrap_err();
            assert_eq!(err.kind(), ValueKind::RepositoryName, "{bad}");
        }
        assert!(RepositoryName::new("a".repeat(256)).is_err());
        let name = RepositoryName::new("library/team/app").unwrap();
        let (project, rest) = name.split_first().unwrap();
        assert_eq!((project, rest.as_str()), ("library", "team/app"));
        assert!(RepositoryName::new("app").unwrap().split_first().is_none());
    }

    #[test]
    fn references() {
        assert!(Reference::tag("latest").unwrap().is_tag());
        assert!(Reference::tag(".x").is_err());
        assert_eq!(
            Reference::parse("sha256:abc").unwrap_err().kind(),
            ValueKind::Digest
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&d).unwrap();
        assert_eq!(r.as_digest().map(Digest::as_str), Some(d.as_str()));
        assert_eq!(r.to_string(), d);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Reference>(&json).unwrap(), r);
    }

    proptest! {
        #[test]
        fn valid_names_round_trip(
            name in "[a-z0-9]{1,6}((\\.|_|__|-+)[a-z0-9]{1,4}){0,2}(/[a-z0-9]{1,6}){0,2}",
            tag in "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,20}",
        ) {
            prop_assert_eq!(RepositoryName::new(name.clone()).unwrap().to_string(), name);
            prop_assert_eq!(Reference::parse(&tag).unwrap().to_string(), tag);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,80}") {
            let _ = RepositoryName::new(s.clone());
            let _ = Tag::new(s.clone());
            let _ = Reference::parse(&s);
        }
    }
}
