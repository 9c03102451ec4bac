//! Typed values computed from wire text: the [`ImageReference`] a `resource_url` names.

use harbor_types::{Digest, ImageReference, Repository, RepositoryName, Tag};

use crate::Result;

/// Splits an image `resource_url`: `<registry host[:port]>/<repository>(:<tag>|@<digest>)`.
///
/// Harbor builds it from its external URL without the scheme, so the first component is
/// always the registry host (even one without a dot, such as `harbor`), unlike the text
/// `docker pull` takes. Harbor 2.0/2.1 scan events sent `…/<repo>:` with an empty tag: the
/// reference then has neither tag nor digest. Chart URLs (`http(s)://…/chartrepo/…`) are
/// not image references and fail.
pub(crate) fn parse_resource_url(text: &str) -> Result<ImageReference> {
    let invalid = |reason: &'static str| {
        harbor_types::Error::invalid(harbor_types::ValueKind::ImageReference, text, reason)
    };
    if text.contains("://") {
        return Err(invalid("it has a scheme: chart URLs are not image references").into());
    }
    let (registry, rest) = text
        .split_once('/')
        .ok_or_else(|| invalid("no '/' after the registry host"))?;
    let (repository, tag, digest) = if let Some((repo, digest)) = rest.split_once('@') {
        (repo, None, Some(Digest::parse(digest)?))
    } else {
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                let tag = &rest[at + 1..];
                let tag = (!tag.is_empty()).then(|| Tag::new(tag)).transpose()?;
                (&rest[..at], tag, None)
            }
            None => (rest, None, None),
        }
    };
    let repository = Repository::new(registry, RepositoryName::new(repository)?)?;
    Ok(ImageReference::new(repository, tag, digest))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const D: &str = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4";

    #[test]
    fn resource_urls_split_with_the_host_first() {
        let u = parse_resource_url("registry.example:32080/a/b/node:").unwrap();
        assert_eq!(u.repository().registry(), "registry.example:32080");
        assert_eq!(u.repository().name().as_str(), "a/b/node");
        assert_eq!(u.reference(), None);
        let u = parse_resource_url(&format!("harbor/library/alpine@{D}")).unwrap();
        assert_eq!(u.repository().registry(), "harbor");
        assert_eq!(u.digest().unwrap().as_str(), D);
        let u = parse_resource_url("h:5000/p/r:1.0").unwrap();
        assert_eq!(
            (u.repository().registry(), u.repository().name().as_str()),
            ("h:5000", "p/r")
        );
        assert_eq!(u.tag().unwrap().as_str(), "1.0");
        assert_eq!(u.to_string(), "h:5000/p/r:1.0");
        for bad in [
            "http://h/chartrepo/p/charts/c-1.tgz",
            "nohost",
            "/p/r:1",
            "h/:1",
            "h/p/r@sha256:x",
        ] {
            assert!(parse_resource_url(bad).is_err(), "{bad}");
        }
    }
}
