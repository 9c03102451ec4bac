//! Typed values users compute with: [`Severity`], [`Digest`], [`Reference`], [`ResourceUrl`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wire::BorrowCow;
use crate::{Error, Result};

/// A vulnerability severity as Harbor reports it.
///
/// Harbor 1.10+ writes severities as text (`"Critical"`); Harbor 1.9's Clair overview used
/// integers, see [`Severity::from_legacy_code`]. Text Harbor may add later is kept in
/// [`Severity::Other`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// `None`: the scan found no vulnerability.
    None,
    /// `Unknown`.
    Unknown,
    /// `Negligible`.
    Negligible,
    /// `Low`.
    Low,
    /// `Medium`.
    Medium,
    /// `High`.
    High,
    /// `Critical`.
    Critical,
    /// Any other text, kept verbatim.
    Other(String),
}

impl Severity {
    /// Every named severity, from the least to the most severe.
    pub const ALL: [Severity; 7] = [
        Severity::None,
        Severity::Unknown,
        Severity::Negligible,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The text Harbor uses.
    pub fn as_str(&self) -> &str {
        match self {
            Severity::None => "None",
            Severity::Unknown => "Unknown",
            Severity::Negligible => "Negligible",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
            Severity::Other(text) => text,
        }
    }

    /// Parses Harbor's text (exact, case-sensitive as Harbor writes it; other case falls
    /// back to a case-insensitive match, anything else is [`Severity::Other`]).
    pub fn from_text(text: &str) -> Severity {
        match text {
            "None" => Severity::None,
            "Unknown" => Severity::Unknown,
            "Negligible" => Severity::Negligible,
            "Low" => Severity::Low,
            "Medium" => Severity::Medium,
            "High" => Severity::High,
            "Critical" => Severity::Critical,
            other => Severity::ALL
                .into_iter()
                .find(|s| s.as_str().eq_ignore_ascii_case(other))
                .unwrap_or_else(|| Severity::Other(other.to_owned())),
        }
    }

    /// Maps Harbor 1.9's integer severity (Clair overview): 1 negligible, 2 unknown, 3 low,
    /// 4 medium, 5 high. `0` (a failed scan) and other numbers give `None`.
    pub fn from_legacy_code(code: i64) -> Option<Severity> {
        match code {
            1 => Some(Severity::Negligible),
            2 => Some(Severity::Unknown),
            3 => Some(Severity::Low),
            4 => Some(Severity::Medium),
            5 => Some(Severity::High),
            _ => None,
        }
    }

    /// The Harbor 1.9 integer for this severity (`None` for severities 1.9 did not have).
    pub fn legacy_code(&self) -> Option<i64> {
        match self {
            Severity::Negligible => Some(1),
            Severity::Unknown => Some(2),
            Severity::Low => Some(3),
            Severity::Medium => Some(4),
            Severity::High => Some(5),
            _ => None,
        }
    }

    /// Rank for comparisons: `None` 0, `Unknown` 1, `Negligible` 2, `Low` 3, `Medium` 4,
    /// `High` 5, `Critical` 6; unrecognised text ranks as `Unknown`.
    pub fn rank(&self) -> u8 {
        match self {
            Severity::None => 0,
            Severity::Unknown | Severity::Other(_) => 1,
            Severity::Negligible => 2,
            Severity::Low => 3,
            Severity::Medium => 4,
            Severity::High => 5,
            Severity::Critical => 6,
        }
    }

    /// Whether this severity is at least as severe as `threshold` (by [`Severity::rank`]).
    pub fn is_at_least(&self, threshold: &Severity) -> bool {
        self.rank() >= threshold.rank()
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(Severity::from_text(s))
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(Severity::from_text(&BorrowCow::deserialize(d)?.0))
    }
}

/// Serde for an overall severity where `""` (no report: failed or stopped scan) is `None`.
pub(crate) mod severity_or_empty {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Severity;
    use crate::wire::BorrowCow;

    #[allow(clippy::ref_option)]
    pub(crate) fn serialize<S: Serializer>(v: &Option<Severity>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_ref().map_or("", Severity::as_str))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Severity>, D::Error> {
        let text = Option::<BorrowCow<'_>>::deserialize(d)?;
        Ok(text
            .filter(|t| !t.0.is_empty())
            .map(|t| Severity::from_text(&t.0)))
    }
}

/// A content digest, `algorithm:encoded` (OCI image spec), validated.
///
/// `sha256` needs 64 and `sha512` 128 lowercase hex digits; other algorithms follow the OCI
/// grammar (`[a-z0-9]+([+._-][a-z0-9]+)*` `:` `[a-zA-Z0-9=_-]+`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    value: String,
    colon: usize,
}

impl Digest {
    /// Validates `text` as a digest.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDigest`] with the reason when `text` is not `algorithm:encoded`.
    pub fn parse(text: &str) -> Result<Digest> {
        let invalid = |reason: &'static str| Error::InvalidDigest {
            value: text.chars().take(160).collect(),
            reason,
        };
        let colon = text.find(':').ok_or_else(|| invalid("missing ':'"))?;
        let (algorithm, encoded) = (&text[..colon], &text[colon + 1..]);
        let algorithm_ok = !algorithm.is_empty()
            && algorithm.split(['+', '.', '_', '-']).all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !algorithm_ok {
            return Err(invalid(
                "the algorithm must match [a-z0-9]+([+._-][a-z0-9]+)*",
            ));
        }
        let hex_len = match algorithm {
            "sha256" => Some(64),
            "sha384" => Some(96),
            "sha512" => Some(128),
            _ => None,
        };
        if let Some(len) = hex_len {
            if encoded.len() != len
                || !encoded
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(invalid(
                    "the encoded part must be lowercase hex of the algorithm's length",
                ));
            }
        } else if encoded.is_empty()
            || !encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
        {
            return Err(invalid("the encoded part must match [a-zA-Z0-9=_-]+"));
        }
        Ok(Digest {
            value: text.to_owned(),
            colon,
        })
    }

    /// The whole digest, `algorithm:encoded`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The algorithm, e.g. `sha256`.
    pub fn algorithm(&self) -> &str {
        self.value.get(..self.colon).unwrap_or_default()
    }

    /// The encoded part (hex for sha256).
    pub fn encoded(&self) -> &str {
        self.value.get(self.colon + 1..).unwrap_or_default()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = BorrowCow::deserialize(d)?;
        Digest::parse(&text.0).map_err(serde::de::Error::custom)
    }
}

/// How an artifact is addressed: by tag or by digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reference {
    /// A tag such as `latest`.
    Tag(String),
    /// A digest.
    Digest(Digest),
}

impl Reference {
    /// Classifies `text`: a valid digest is a [`Reference::Digest`], anything else a tag.
    /// (Harbor 2.x puts the digest in `tag` for untagged artifacts and pulls by digest.)
    pub fn classify(text: &str) -> Reference {
        Digest::parse(text).map_or_else(|_| Reference::Tag(text.to_owned()), Reference::Digest)
    }

    /// The tag, if this is one.
    pub fn as_tag(&self) -> Option<&str> {
        match self {
            Reference::Tag(tag) => Some(tag),
            Reference::Digest(_) => None,
        }
    }

    /// The digest, if this is one.
    pub fn as_digest(&self) -> Option<&Digest> {
        match self {
            Reference::Digest(d) => Some(d),
            Reference::Tag(_) => None,
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => f.write_str(t),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}

/// An image `resource_url` split into its parts:
/// `<registry host[:port]>/<repository>(:<tag>|@<digest>)`.
///
/// Harbor builds it from its external URL without the scheme. Harbor 2.0/2.1 scan events
/// sent `…/<repo>:` with an empty tag: then [`ResourceUrl::reference`] is `None`.
/// Chart URLs (`http(s)://…/chartrepo/…`) are not image references and do not parse.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ResourceUrl {
    /// Registry host, with the port if any (`harbor.example.com:8443`).
    pub registry: String,
    /// Repository with its project (`library/alpine`).
    pub repository: String,
    /// Tag or digest, `None` when the URL ends in an empty tag.
    pub reference: Option<Reference>,
}

impl ResourceUrl {
    /// Splits a resource URL.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidResourceUrl`] when the text has a scheme (chart URL), no `/`
    /// after the host, an empty repository, or an invalid digest after `@`.
    pub fn parse(text: &str) -> Result<ResourceUrl> {
        let invalid = |reason: &'static str| Error::InvalidResourceUrl {
            value: text.chars().take(300).collect(),
            reason,
        };
        if text.contains("://") {
            return Err(invalid(
                "it has a scheme: chart URLs are not image references",
            ));
        }
        let (registry, rest) = text
            .split_once('/')
            .ok_or_else(|| invalid("no '/' after the registry host"))?;
        if registry.is_empty() {
            return Err(invalid("the registry host is empty"));
        }
        let (repository, reference) = if let Some((repo, digest)) = rest.split_once('@') {
            (repo, Some(Reference::Digest(Digest::parse(digest)?)))
        } else {
            let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
            match rest[last_slash..].rfind(':') {
                Some(i) => {
                    let at = last_slash + i;
                    let tag = &rest[at + 1..];
                    let reference = (!tag.is_empty()).then(|| Reference::Tag(tag.to_owned()));
                    (&rest[..at], reference)
                }
                None => (rest, None),
            }
        };
        if repository.is_empty() {
            return Err(invalid("the repository is empty"));
        }
        Ok(ResourceUrl {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            reference,
        })
    }
}

impl fmt::Display for ResourceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        match &self.reference {
            Some(Reference::Tag(t)) => write!(f, ":{t}"),
            Some(Reference::Digest(d)) => write!(f, "@{d}"),
            None => Ok(()),
        }
    }
}

impl FromStr for ResourceUrl {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ResourceUrl::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4";

    #[test]
    fn digest_validation() {
        let d = Digest::parse(D).unwrap();
        assert_eq!(d.algorithm(), "sha256");
        assert_eq!(d.encoded().len(), 64);
        assert!(Digest::parse("sha256:***").unwrap_err().is_invalid_digest());
        assert!(Digest::parse("latest").is_err());
        assert!(Digest::parse("sha256:ABC").is_err());
        assert!(Digest::parse(":abc").is_err());
        assert!(
            Digest::parse("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8")
                .is_ok()
        );
    }

    #[test]
    fn resource_url_split() {
        let u = ResourceUrl::parse("registry.example:32080/a/b/node:").unwrap();
        assert_eq!(u.registry, "registry.example:32080");
        assert_eq!(u.repository, "a/b/node");
        assert_eq!(u.reference, None);
        let u = ResourceUrl::parse(&format!("localhost/harbor/alpine@{D}")).unwrap();
        assert_eq!(u.reference.unwrap().as_digest().unwrap().as_str(), D);
        let u = ResourceUrl::parse("h:5000/p/r:1.0").unwrap();
        assert_eq!(
            (u.registry.as_str(), u.repository.as_str()),
            ("h:5000", "p/r")
        );
        assert_eq!(u.reference, Some(Reference::Tag("1.0".into())));
        assert_eq!(u.to_string(), "h:5000/p/r:1.0");
        assert!(ResourceUrl::parse("http://h/chartrepo/p/charts/c-1.tgz").is_err());
        assert!(ResourceUrl::parse("nohost").is_err());
    }

    #[test]
    fn severities() {
        assert_eq!(Severity::from_text("High"), Severity::High);
        assert_eq!(Severity::from_text("critical"), Severity::Critical);
        assert_eq!(
            Severity::from_text("Weird"),
            Severity::Other("Weird".into())
        );
        assert_eq!(Severity::from_legacy_code(5), Some(Severity::High));
        assert_eq!(Severity::from_legacy_code(0), None);
        assert!(Severity::Critical.is_at_least(&Severity::High));
        assert!(!Severity::Low.is_at_least(&Severity::High));
    }
}
