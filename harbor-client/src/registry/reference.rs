//! Names, tags, digests and image references, validated when parsed.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{Error, Result};

/// The registry a bare name such as `alpine` refers to.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A content digest, `algorithm:encoded` (`sha256:` + 64 lowercase hex, `sha512:` + 128).
///
/// ```
/// use harbor_client::registry::Digest;
/// let d: Digest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".parse()?;
/// assert_eq!(d, Digest::sha256_of(b"foo"));
/// assert!("sha256:abc".parse::<Digest>().is_err());
/// # Ok::<(), harbor_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    value: String,
    colon: usize,
}

impl Digest {
    /// The sha256 digest of `data`.
    pub fn sha256_of(data: &[u8]) -> Self {
        Self::from_sha256(Sha256::digest(data).into())
    }

    /// The digest for a finished sha256 hash.
    pub fn from_sha256(hash: [u8; 32]) -> Self {
        Digest {
            value: format!("sha256:{}", hex::encode(hash)),
            colon: 6,
        }
    }

    /// The algorithm (`sha256`).
    pub fn algorithm(&self) -> &str {
        self.value.get(..self.colon).unwrap_or_default()
    }

    /// The encoded part (the hex).
    pub fn encoded(&self) -> &str {
        self.value.get(self.colon + 1..).unwrap_or_default()
    }

    /// The whole digest as text.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// A hasher for this digest's algorithm.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an algorithm other than sha256 and sha512.
    pub fn hasher(&self) -> Result<Hasher> {
        match self.algorithm() {
            "sha256" => Ok(Hasher::Sha256(Sha256::new())),
            "sha512" => Ok(Hasher::Sha512(Sha512::new())),
            other => Err(Error::invalid(
                "digest",
                self.as_str(),
                format!("cannot verify algorithm {other:?} (sha256 and sha512 are supported)"),
            )),
        }
    }
}

/// An incremental hash for verifying content as it streams.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Hasher {
    /// sha256
    Sha256(Sha256),
    /// sha512
    Sha512(Sha512),
}

impl Hasher {
    /// A sha256 hasher.
    pub fn sha256() -> Self {
        Hasher::Sha256(Sha256::new())
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest::from_sha256(h.finalize().into()),
            Hasher::Sha512(h) => Digest {
                value: format!("sha512:{}", hex::encode(h.finalize())),
                colon: 6,
            },
        }
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::invalid("digest", s, reason);
        let (alg, enc) = s
            .split_once(':')
            .ok_or_else(|| bad("expected `algorithm:hex`"))?;
        let alg_ok = !alg.is_empty()
            && alg.split(['+', '.', '_', '-']).all(|c| {
                !c.is_empty()
                    && c.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !alg_ok {
            return Err(bad("the algorithm must match [a-z0-9]+([+._-][a-z0-9]+)*"));
        }
        let hex_len = match alg {
            "sha256" => Some(64),
            "sha512" => Some(128),
            _ => None,
        };
        if let Some(n) = hex_len {
            if enc.len() != n || !enc.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(bad(&format!("{alg} needs {n} lowercase hex digits")));
            }
        } else if enc.is_empty()
            || !enc
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
        {
            return Err(bad("the encoded part must match [a-zA-Z0-9=_-]+"));
        }
        Ok(Digest {
            value: s.to_owned(),
            colon: alg.len(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Tag {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let b = s.as_bytes();
        let first_ok = b
            .first()
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
        let rest_ok = b
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        if !first_ok || !rest_ok || b.len() > 128 {
            return Err(Error::invalid(
                "tag",
                s,
                "a tag matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}",
            ));
        }
        Ok(Tag(s.to_owned()))
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A repository name inside a registry (`project/app`), per the distribution grammar:
/// components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName(String);

impl RepositoryName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn component_ok(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !b.first().is_some_and(|x| alnum(*x)) || !b.last().is_some_and(|x| alnum(*x))
    {
        return false;
    }
    // Separators: '.', '_', '__', or one or more '-', always between alphanumerics.
    let mut i = 0;
    while i < b.len() {
        let x = b.get(i).copied().unwrap_or(0);
        if alnum(x) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b.get(i).copied().unwrap_or(0)) {
            i += 1;
        }
        let sep = c.get(start..i).unwrap_or("");
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

impl FromStr for RepositoryName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.is_empty() || s.len() > 255 {
            return Err(Error::invalid(
                "repository name",
                s,
                "must be 1 to 255 characters",
            ));
        }
        if !s.split('/').all(component_ok) {
            return Err(Error::invalid(
                "repository name",
                s,
                "components must be lowercase [a-z0-9] separated by '.', '_', '__' or '-', joined by '/'",
            ));
        }
        Ok(RepositoryName(s.to_owned()))
    }
}

impl fmt::Display for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn registry_ok(host: &str) -> bool {
    if host.is_empty() || host.len() > 255 {
        return false;
    }
    let (h, port) = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, after)) => {
                if v6.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                (None, after.strip_prefix(':'))
            }
            None => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(host), None),
        }
    };
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return false;
    }
    match h {
        None => true,
        Some(h) => {
            !h.is_empty()
                && h.split('.').all(|l| {
                    !l.is_empty()
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        }
    }
}

/// A repository in a registry: `host[:port]/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository {
    registry: String,
    name: RepositoryName,
}

impl Repository {
    /// A repository from its parts.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the registry is not `host[:port]`.
    pub fn new(registry: &str, name: RepositoryName) -> Result<Self> {
        if !registry_ok(registry) {
            return Err(Error::invalid("registry", registry, "expected host[:port]"));
        }
        if registry.len() + 1 + name.0.len() > 255 {
            return Err(Error::invalid(
                "repository name",
                name.as_str(),
                "registry and name together must not exceed 255 characters",
            ));
        }
        Ok(Repository {
            registry: registry.to_owned(),
            name,
        })
    }

    /// The registry as written (`docker.io`, `harbor.example:8443`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host that serves the registry API (`registry-1.docker.io` for `docker.io`).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB || self.registry == "index.docker.io" {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The repository name.
    pub fn name(&self) -> &RepositoryName {
        &self.name
    }

    /// The same registry, another repository.
    pub fn with_name(&self, name: RepositoryName) -> Repository {
        Repository {
            registry: self.registry.clone(),
            name,
        }
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.name)
    }
}

impl FromStr for Repository {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let r: Reference = s.parse()?;
        if r.tag.is_some() || r.digest.is_some() {
            return Err(Error::invalid(
                "repository",
                s,
                "a repository has no tag or digest",
            ));
        }
        Ok(r.repository)
    }
}

/// An image reference: `[host[:port]/]name[:tag][@digest]`.
///
/// A first component without `.` or `:` that is not `localhost` is part of the name, and the
/// registry is Docker Hub (`docker.io`, where a one-component name gains `library/`).
///
/// ```
/// use harbor_client::registry::Reference;
/// let r: Reference = "127.0.0.1:5000/proj/app:v1".parse()?;
/// assert_eq!(r.repository().registry(), "127.0.0.1:5000");
/// assert_eq!(r.repository().name().as_str(), "proj/app");
/// assert_eq!(r.tag().map(|t| t.as_str()), Some("v1"));
/// let hub: Reference = "alpine".parse()?;
/// assert_eq!(hub.to_string(), "docker.io/library/alpine:latest");
/// # Ok::<(), harbor_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    repository: Repository,
    tag: Option<Tag>,
    digest: Option<Digest>,
}

impl Reference {
    /// A reference from its parts (a tag and a digest may both be given: `name:tag@digest`).
    pub fn new(repository: Repository, tag: Option<Tag>, digest: Option<Digest>) -> Self {
        Reference {
            repository,
            tag,
            digest,
        }
    }

    /// A reference to a tag.
    pub fn with_tag(repository: Repository, tag: Tag) -> Self {
        Reference {
            repository,
            tag: Some(tag),
            digest: None,
        }
    }

    /// A reference to a digest.
    pub fn with_digest(repository: Repository, digest: Digest) -> Self {
        Reference {
            repository,
            tag: None,
            digest: Some(digest),
        }
    }

    /// The repository.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&Tag> {
        self.tag.as_ref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What goes in `/v2/<name>/manifests/<here>`: the digest if any, else the tag, else
    /// `latest`.
    pub fn manifest_reference(&self) -> &str {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.as_str(),
            (None, Some(t)) => t.as_str(),
            (None, None) => "latest",
        }
    }
}

/// The longest reference accepted, as written and once normalised.
const MAX_REFERENCE_LEN: usize = 512;

impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::invalid("reference", s, reason);
        if s.len() > MAX_REFERENCE_LEN {
            return Err(bad("too long"));
        }
        let (rest, digest) = match s.rsplit_once('@') {
            Some((r, d)) => (r, Some(d.parse::<Digest>()?)),
            None => (s, None),
        };
        let (rest, tag) = {
            let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
            match rest.get(last_slash..).and_then(|t| t.rfind(':')) {
                Some(i) => {
                    let split = last_slash + i;
                    let tag = rest.get(split + 1..).unwrap_or_default();
                    (
                        rest.get(..split).unwrap_or_default(),
                        Some(tag.parse::<Tag>()?),
                    )
                }
                None => (rest, None),
            }
        };
        let (registry, name) = match rest.split_once('/') {
            Some((first, name))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first, name.to_owned())
            }
            _ => (DOCKER_HUB, rest.to_owned()),
        };
        let name =
            if (registry == DOCKER_HUB || registry == "index.docker.io") && !name.contains('/') {
                format!("library/{name}")
            } else {
                name
            };
        if name.is_empty() {
            return Err(bad("the repository name is missing"));
        }
        let name: RepositoryName = name.parse()?;
        let repository = Repository::new(registry, name)?;
        let tag = if tag.is_none() && digest.is_none() && registry == DOCKER_HUB {
            Some(Tag("latest".to_owned()))
        } else {
            tag
        };
        let reference = Reference {
            repository,
            tag,
            digest,
        };
        // Checked on the printed (normalised) form too, which may be longer than the input
        // (`docker.io/library/`, `:latest`): whatever parses prints to text that parses back.
        if reference.to_string().len() > MAX_REFERENCE_LEN {
            return Err(bad("too long once normalised"));
        }
        Ok(reference)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Found by the `registry_reference` fuzz target: a short name with a long digest fitted
    /// the length limit as written but not once `docker.io/library/` was added, so its
    /// printed form did not parse.
    #[test]
    fn what_parses_prints_to_text_that_parses_back_even_near_the_length_limit() {
        let digest = format!("x:{}", "a".repeat(495));
        let text = format!("s@{digest}");
        assert!(text.len() <= MAX_REFERENCE_LEN);
        let err = text.parse::<Reference>().unwrap_err();
        assert!(err.to_string().contains("too long"), "{err}");
        // Just inside the limit once normalised: parses, prints, parses back equal.
        let digest = format!(
            "x:{}",
            "a".repeat(MAX_REFERENCE_LEN - "docker.io/library/s@x:".len())
        );
        let r: Reference = format!("s@{digest}").parse().unwrap();
        assert_eq!(r.to_string().len(), MAX_REFERENCE_LEN);
        assert_eq!(r.to_string().parse::<Reference>().unwrap(), r);
    }

    #[test]
    fn references_parse() {
        let r: Reference = "localhost:5000/a/b_c:1.0@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".parse().unwrap();
        assert_eq!(r.repository().registry(), "localhost:5000");
        assert_eq!(r.repository().name().as_str(), "a/b_c");
        assert_eq!(r.tag().unwrap().as_str(), "1.0");
        assert!(r.manifest_reference().starts_with("sha256:"));
        let r: Reference = "localhost/app".parse().unwrap();
        assert_eq!(r.repository().registry(), "localhost");
        assert_eq!(r.manifest_reference(), "latest");
        let r: Reference = "user/app:v".parse().unwrap();
        assert_eq!(r.to_string(), "docker.io/user/app:v");
        assert_eq!(r.repository().api_host(), DOCKER_HUB_API);
        let r: Reference = "[::1]:5000/x".parse().unwrap();
        assert_eq!(r.repository().registry(), "[::1]:5000");
    }

    #[test]
    fn bad_references_are_rejected() {
        for s in [
            "",
            "Upper/case",
            "a//b",
            "h:5000/a:",
            "h:5000/a:-x",
            "h:99999/a",
            "a@sha256:zz",
            "a/b__-c",
            "-a",
            "a-",
            "h.example/",
        ] {
            assert!(s.parse::<Reference>().is_err(), "{s}");
        }
        assert!(
            format!("h/{}", "a".repeat(260))
                .parse::<Reference>()
                .is_err()
        );
    }

    #[test]
    fn name_separators() {
        for ok in ["a.b", "a_b", "a__b", "a---b", "a/b/c", "a0"] {
            assert!(ok.parse::<RepositoryName>().is_ok(), "{ok}");
        }
        for bad in ["a...b", "a___b", "a._b", "_a", "a/", "A"] {
            assert!(bad.parse::<RepositoryName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn digests() {
        let d = Digest::sha256_of(b"");
        assert_eq!(
            d.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(d.algorithm(), "sha256");
        assert_eq!(d.encoded().len(), 64);
        assert!(
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
                .parse::<Digest>()
                .is_err()
        );
        assert!(
            "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"
                .parse::<Digest>()
                .is_ok()
        );
        let mut h = d.hasher().unwrap();
        h.update(b"");
        assert_eq!(h.finish(), d);
    }

    proptest! {
        #[test]
        fn reference_parser_never_panics(s in "\\PC{0,80}") {
            let _ = s.parse::<Reference>();
        }

        #[test]
        fn valid_references_round_trip(
            host in "[a-z]{1,8}\\.[a-z]{2,4}(:[0-9]{2,4})?",
            name in "[a-z0-9]{1,6}(/[a-z0-9]{1,6}){0,2}",
            tag in "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,10}",
        ) {
            let s = format!("{host}/{name}:{tag}");
            let r: Reference = s.parse().unwrap();
            prop_assert_eq!(r.to_string(), s);
        }

        #[test]
        fn digest_parser_never_panics(s in "\\PC{0,140}") {
            let _ = s.parse::<Digest>();
        }
    }
}
