//! Conversions from `harbor-events` (feature `events`): the registry artifact a registry
//! notification is about.

use harbor_events::distribution;

use super::{Digest, Reference, Repository, Tag};
use crate::error::{Error, Result};

impl TryFrom<&distribution::Event<'_>> for Reference {
    type Error = Error;

    /// The manifest or blob a `docker-registry` notification is about:
    /// `request.host` / `target.repository`, with `target.tag` and `target.digest` when sent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the event names no host or repository, or an invalid tag,
    /// digest or name.
    fn try_from(e: &distribution::Event<'_>) -> Result<Self> {
        let host =
            e.request.host.as_deref().ok_or_else(|| {
                Error::invalid("registry event", &e.id, "it names no request host")
            })?;
        let name = e
            .target
            .repository
            .as_deref()
            .ok_or_else(|| Error::invalid("registry event", &e.id, "it names no repository"))?;
        let repository = Repository::new(host, name.parse()?)?;
        let tag = e.target.tag.as_deref().map(str::parse::<Tag>).transpose()?;
        let digest = e
            .target
            .digest
            .as_deref()
            .map(str::parse::<Digest>)
            .transpose()?;
        match (tag, digest) {
            (None, None) => Err(Error::invalid(
                "registry event",
                &e.id,
                "it names neither a tag nor a digest",
            )),
            (tag, digest) => Ok(Reference::new(repository, tag, digest)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_push_names_its_reference() {
        let body = r#"{"events":[{"id":"e1","timestamp":"2023-04-03T06:12:52Z","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":708,"digest":"sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4","repository":"library/alpine","tag":"v1.0"},"request":{"id":"r1","host":"127.0.0.1:5000","method":"PUT"},"actor":{},"source":{}},{"id":"e2","timestamp":"2023-04-03T06:12:52Z","action":"push","target":{"repository":"library/alpine"},"request":{"host":"127.0.0.1:5000"},"actor":{},"source":{}}]}"#;
        let env: distribution::Envelope<'_> = serde_json::from_str(body).unwrap();
        let r = Reference::try_from(&env.events[0]).unwrap();
        assert_eq!(
            r.to_string(),
            "127.0.0.1:5000/library/alpine:v1.0@sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"
        );
        assert!(Reference::try_from(&env.events[1]).is_err());
    }
}
