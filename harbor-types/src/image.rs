//! Names across registries: [`Repository`] (`host/name`) and [`ImageReference`]
//! (`[host[:port]/]name[:tag][@digest]`).

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::{Error, Result, ValueKind};
use crate::name::{Reference, RepositoryName, Tag};

/// The registry a bare name such as `alpine` refers to.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// Docker Hub's names: the registry, its legacy index, the host of its API.
const DOCKER_HUB_NAMES: [&str; 3] = [DOCKER_HUB, "index.docker.io", DOCKER_HUB_API];

/// The host that serves the registry API of `registry`: [`DOCKER_HUB_API`] for any of
/// Docker Hub's names (`docker.io`, `index.docker.io`, `registry-1.docker.io`), else
/// `registry` itself.
///
/// ```
/// assert_eq!(harbor_types::api_host("docker.io"), "registry-1.docker.io");
/// assert_eq!(harbor_types::api_host("harbor.example:8443"), "harbor.example:8443");
/// ```
pub fn api_host(registry: &str) -> &str {
    if DOCKER_HUB_NAMES.contains(&registry) {
        DOCKER_HUB_API
    } else {
        registry
    }
}

/// The longest image reference accepted, as written and once normalised.
const MAX_REFERENCE_LEN: usize = 512;

/// Whether `host` is `host[:port]`: DNS labels, an IPv4 address, or `[IPv6]`.
fn registry_ok(host: &str) -> bool {
    if host.is_empty() || host.len() > 255 {
        return false;
    }
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, after)) => {
                if v6.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                match after {
                    "" => (None, None),
                    _ => match after.strip_prefix(':') {
                        Some(port) => (None, Some(port)),
                        None => return false,
                    },
                }
            }
            None => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (Some(name), Some(port)),
            None => (Some(host), None),
        }
    };
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return false;
    }
    name.is_none_or(|name| {
        !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    })
}

/// A repository in a registry: `host[:port]/name`.
///
/// ```
/// use harbor_types::Repository;
/// let repo: Repository = "harbor.example:8443/library/alpine".parse()?;
/// assert_eq!((repo.registry(), repo.name().as_str()), ("harbor.example:8443", "library/alpine"));
/// # Ok::<(), harbor_types::Error>(())
/// ```
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
    /// [`Error::Invalid`] (kind [`ValueKind::Registry`]) when the registry is not `host[:port]`,
    /// (kind [`ValueKind::RepositoryName`]) when registry and name together exceed 255 bytes.
    pub fn new(registry: &str, name: RepositoryName) -> Result<Repository> {
        if !registry_ok(registry) {
            return Err(Error::invalid(
                ValueKind::Registry,
                registry,
                "expected host[:port] (DNS labels, IPv4 or [IPv6], port 0-65535)",
            ));
        }
        if registry.len() + 1 + name.as_str().len() > 255 {
            return Err(Error::invalid(
                ValueKind::RepositoryName,
                name.as_str(),
                "registry and name together must not exceed 255 bytes",
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
        api_host(&self.registry)
    }

    /// The repository name.
    pub fn name(&self) -> &RepositoryName {
        &self.name
    }

    /// The same registry, another repository.
    #[must_use]
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
        let image = ImageReference::parse(s, false)?;
        if image.tag.is_some() || image.digest.is_some() {
            return Err(Error::invalid(
                ValueKind::ImageReference,
                s,
                "a repository has no tag or digest",
            ));
        }
        Ok(image.repository)
    }
}

/// An image reference: `[host[:port]/]name[:tag][@digest]`, the text `docker pull` takes.
///
/// A first component without `.` or `:` that is not `localhost` is part of the name, and
/// the registry is Docker Hub (`docker.io`). On any of Docker Hub's names (`docker.io`,
/// `index.docker.io`, `registry-1.docker.io`) a one-component name gains `library/` and a
/// reference without tag or digest means `latest`.
///
/// ```
/// use harbor_types::ImageReference;
/// let r: ImageReference = "127.0.0.1:5000/proj/app:v1".parse()?;
/// assert_eq!(r.repository().registry(), "127.0.0.1:5000");
/// assert_eq!(r.repository().name().as_str(), "proj/app");
/// assert_eq!(r.tag().map(|t| t.as_str()), Some("v1"));
/// let hub: ImageReference = "alpine".parse()?;
/// assert_eq!(hub.to_string(), "docker.io/library/alpine:latest");
/// # Ok::<(), harbor_types::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    repository: Repository,
    tag: Option<Tag>,
    digest: Option<Digest>,
}

impl ImageReference {
    /// A reference from its parts (a tag and a digest may both be given: `name:tag@digest`;
    /// neither names the repository alone).
    pub fn new(repository: Repository, tag: Option<Tag>, digest: Option<Digest>) -> Self {
        ImageReference {
            repository,
            tag,
            digest,
        }
    }

    /// A reference to a tag.
    pub fn with_tag(repository: Repository, tag: Tag) -> Self {
        ImageReference::new(repository, Some(tag), None)
    }

    /// A reference to a digest.
    pub fn with_digest(repository: Repository, digest: Digest) -> Self {
        ImageReference::new(repository, None, Some(digest))
    }

    /// A reference to a [`Reference`] (a tag or a digest) in `repository`.
    pub fn with_reference(repository: Repository, reference: Reference) -> Self {
        match reference {
            Reference::Tag(tag) => ImageReference::with_tag(repository, tag),
            Reference::Digest(digest) => ImageReference::with_digest(repository, digest),
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

    /// The tag or digest that addresses the manifest: the digest if any (it pins the
    /// content), else the tag; `None` when the reference names the repository alone.
    pub fn reference(&self) -> Option<Reference> {
        match (&self.digest, &self.tag) {
            (Some(d), _) => Some(Reference::Digest(d.clone())),
            (None, Some(t)) => Some(Reference::Tag(t.clone())),
            (None, None) => None,
        }
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

impl FromStr for ImageReference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ImageReference::parse(s, true)
    }
}

impl ImageReference {
    /// Parses `s`; with `default_tag`, a Docker Hub reference without tag or digest means
    /// `latest` (a [`Repository`] has neither).
    fn parse(s: &str, default_tag: bool) -> Result<ImageReference> {
        let bad = |reason: &'static str| Error::invalid(ValueKind::ImageReference, s, reason);
        if s.len() > MAX_REFERENCE_LEN {
            return Err(bad("it is longer than 512 bytes"));
        }
        let (rest, digest) = match s.rsplit_once('@') {
            Some((rest, digest)) => (rest, Some(Digest::parse(digest)?)),
            None => (s, None),
        };
        let (rest, tag) = {
            let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
            match rest.get(last_slash..).and_then(|t| t.rfind(':')) {
                Some(i) => {
                    let split = last_slash + i;
                    let tag = rest.get(split + 1..).unwrap_or_default();
                    (rest.get(..split).unwrap_or_default(), Some(Tag::new(tag)?))
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
        let hub = DOCKER_HUB_NAMES.contains(&registry);
        let name = if hub && !name.contains('/') {
            format!("library/{name}")
        } else {
            name
        };
        if name.is_empty() {
            return Err(bad("the repository name is missing"));
        }
        let repository = Repository::new(registry, RepositoryName::new(name)?)?;
        let tag = if default_tag && hub && tag.is_none() && digest.is_none() {
            Some(Tag::latest())
        } else {
            tag
        };
        let reference = ImageReference {
            repository,
            tag,
            digest,
        };
        // Checked on the printed (normalised) form too, which may be longer than the input
        // (`docker.io/library/`, `:latest`): whatever parses prints to text that parses back.
        if reference.to_string().len() > MAX_REFERENCE_LEN {
            return Err(bad("it is longer than 512 bytes once normalised"));
        }
        Ok(reference)
    }
}

impl TryFrom<&str> for ImageReference {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        s.parse()
    }
}

impl fmt::Display for ImageReference {
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

serde_as_text!(ImageReference, str::parse::<ImageReference>);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
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
        let err = text.parse::<ImageReference>().unwrap_err();
        assert!(err.to_string().contains("longer than 512"), "{err}");
        let digest = format!(
            "x:{}",
            "a".repeat(MAX_REFERENCE_LEN - "docker.io/library/s@x:".len())
        );
        let r: ImageReference = format!("s@{digest}").parse().unwrap();
        assert_eq!(r.to_string().len(), MAX_REFERENCE_LEN);
        assert_eq!(r.to_string().parse::<ImageReference>().unwrap(), r);
    }

    #[test]
    fn references_parse() {
        let r: ImageReference = "localhost:5000/a/b_c:1.0@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".parse().unwrap();
        assert_eq!(r.repository().registry(), "localhost:5000");
        assert_eq!(r.repository().name().as_str(), "a/b_c");
        assert_eq!(r.tag().unwrap().as_str(), "1.0");
        assert!(r.manifest_reference().starts_with("sha256:"));
        assert!(r.reference().unwrap().is_digest());
        let r: ImageReference = "localhost/app".parse().unwrap();
        assert_eq!(r.repository().registry(), "localhost");
        assert_eq!((r.manifest_reference(), r.reference()), ("latest", None));
        let r: ImageReference = "user/app:v".parse().unwrap();
        assert_eq!(r.to_string(), "docker.io/user/app:v");
        assert_eq!(r.repository().api_host(), DOCKER_HUB_API);
        let r: ImageReference = "[::1]:5000/x".parse().unwrap();
        assert_eq!(r.repository().registry(), "[::1]:5000");
        for hub in [
            "alpine",
            "docker.io/library/alpine",
            "index.docker.io/alpine",
        ] {
            let repo: Repository = hub.parse().unwrap();
            assert_eq!(repo.name().as_str(), "library/alpine", "{hub}");
            assert_eq!(repo.to_string().parse::<Repository>().unwrap(), repo);
            assert_eq!(repo.api_host(), DOCKER_HUB_API);
        }
        for hub in ["registry-1.docker.io/alpine", "index.docker.io/alpine"] {
            let r: ImageReference = hub.parse().unwrap();
            assert_eq!(r.repository().name().as_str(), "library/alpine", "{hub}");
            assert_eq!(r.tag().map(Tag::as_str), Some("latest"), "{hub}");
        }
        assert!("alpine:3".parse::<Repository>().is_err());
        let repo: Repository = "h.example/a/b".parse().unwrap();
        assert_eq!(repo.to_string(), "h.example/a/b");
        assert!("h.example/a/b:v1".parse::<Repository>().is_err());
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
            "[::1]x/a",
        ] {
            assert!(s.parse::<ImageReference>().is_err(), "{s}");
        }
        assert!(
            format!("h/{}", "a".repeat(260))
                .parse::<ImageReference>()
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn the_parser_never_panics(s in "\\PC{0,80}") {
            let _ = s.parse::<ImageReference>();
        }

        #[test]
        fn valid_references_round_trip(
            host in "[a-z]{1,8}\\.[a-z]{2,4}(:[0-9]{2,4})?",
            name in "[a-z0-9]{1,6}(/[a-z0-9]{1,6}){0,2}",
            tag in "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,10}",
        ) {
            let s = format!("{host}/{name}:{tag}");
            let r: ImageReference = s.parse().unwrap();
            prop_assert_eq!(r.to_string(), s);
        }
    }
}
