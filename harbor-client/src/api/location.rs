//! Where an artifact lives: project, repository and reference together; with the `events`
//! feature, built from the `harbor-events` payload an event is about.

use std::fmt;

use crate::api::names::{Reference, RepositoryName, split_full_name};
use crate::{Error, Result};

/// An artifact's address in the API: `project/repository` plus a tag or digest.
///
/// ```
/// use harbor_client::api::ArtifactLocation;
/// let at = ArtifactLocation::parse("library/team/app:v1")?;
/// assert_eq!(at.project, "library");
/// assert_eq!(at.repository.as_str(), "team/app");
/// assert_eq!(at.reference.as_str(), "v1");
/// assert_eq!(at.to_string(), "library/team/app:v1");
/// # Ok::<(), harbor_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ArtifactLocation {
    /// The project name.
    pub project: String,
    /// The repository inside the project.
    pub repository: RepositoryName,
    /// The tag or digest.
    pub reference: Reference,
}

impl ArtifactLocation {
    /// From the parts.
    pub fn new(
        project: impl Into<String>,
        repository: RepositoryName,
        reference: Reference,
    ) -> Self {
        ArtifactLocation {
            project: project.into(),
            repository,
            reference,
        }
    }

    /// From a full repository name (`project/repo`) and a reference.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the name has no project part or is invalid.
    pub fn from_full_name(full_name: &str, reference: Reference) -> Result<Self> {
        let (project, repository) = split_full_name(full_name)?;
        Ok(ArtifactLocation::new(project, repository, reference))
    }

    /// Parses `project/repo:tag` or `project/repo@sha256:…` (no registry host).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the text has no reference or a part is invalid.
    pub fn parse(text: &str) -> Result<Self> {
        if let Some((name, digest)) = text.split_once('@') {
            return ArtifactLocation::from_full_name(name, Reference::digest(digest)?);
        }
        let slash = text.rfind('/').unwrap_or(0);
        match text.rfind(':') {
            Some(colon) if colon > slash => {
                let (name, tag) = (text.get(..colon), text.get(colon + 1..));
                match (name, tag) {
                    (Some(name), Some(tag)) => {
                        ArtifactLocation::from_full_name(name, Reference::tag(tag)?)
                    }
                    _ => Err(Error::invalid(
                        "artifact",
                        text,
                        "expected project/repo:tag",
                    )),
                }
            }
            _ => Err(Error::invalid(
                "artifact",
                text,
                "expected project/repo:tag or project/repo@digest",
            )),
        }
    }

    /// The `from` value of `copy_artifact` (`project/repo:tag` or `project/repo@digest`).
    pub fn as_copy_source(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ArtifactLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = if self.reference.is_digest() { '@' } else { ':' };
        write!(
            f,
            "{}/{}{sep}{}",
            self.project, self.repository, self.reference
        )
    }
}

#[cfg(feature = "events")]
mod events {
    use super::*;

    impl TryFrom<&harbor_events::Artifact<'_>> for ArtifactLocation {
        type Error = Error;
        /// The artifact an event is about: its repository (`project/repo`) and its tag,
        /// or its digest when the event carries no real tag.
        fn try_from(a: &harbor_events::Artifact<'_>) -> Result<Self> {
            let repository = a.repository.ok_or_else(|| {
                Error::invalid("event artifact", "", "the event names no repository")
            })?;
            let reference = a
                .reference()
                .map_err(|e| Error::invalid("event artifact", repository, e.to_string()))?
                .ok_or_else(|| {
                    Error::invalid(
                        "event artifact",
                        repository,
                        "the event names no tag or digest",
                    )
                })?;
            ArtifactLocation::from_full_name(repository, reference)
        }
    }

    impl ArtifactLocation {
        /// Every artifact an event is about, as API locations (invalid ones as errors).
        pub fn all_from_event(event: &harbor_events::Event<'_>) -> Vec<Result<ArtifactLocation>> {
            event
                .artifacts()
                .map(|a| ArtifactLocation::try_from(&a))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_and_digests() {
        let d = format!("sha256:{}", "a".repeat(64));
        let at = ArtifactLocation::parse(&format!("p/r@{d}")).unwrap();
        assert!(at.reference.is_digest());
        assert_eq!(at.to_string(), format!("p/r@{d}"));
        assert!(ArtifactLocation::parse("p/r").is_err());
        assert!(ArtifactLocation::parse("noproject:v1").is_err());
        assert!(ArtifactLocation::parse("host:5000/p/r").is_err());
    }
}
