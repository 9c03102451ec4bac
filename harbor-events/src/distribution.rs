//! The docker registry's (CNCF distribution) own notification envelope,
//! `application/vnd.docker.distribution.events.v1+json`: `{"events": [...]}`.
//!
//! Harbor's core receives these from its embedded registry; a plain `docker-registry`
//! sends them to any endpoint configured under `notifications.endpoints`. Manifest
//! `push`/`pull`/`delete` map to the artifact kinds of the unified view, blob events to the
//! `Blob*` kinds.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::wire::RawJson;
use crate::{Digest, EventKind, Format, ImageReference, Repository, RepositoryName, Tag};

harbor_types::wire_struct! {
    @no_deserialize
    /// The envelope.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Envelope<'a> {
        /// The events, in order.
        pub events: Vec<Event<'a>> = array("events"),
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Envelope<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::detect::deserialize_as(d, Format::Distribution).and_then(|p| match p {
            crate::Payload::Distribution(p) => Ok(p),
            _ => Err(serde::de::Error::custom(
                "not a registry notification envelope",
            )),
        })
    }
}

harbor_types::wire_struct! {
    /// One registry event.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Event<'a> {
        /// Unique id of the event.
        pub id: Cow<'a, str> = always("id"),
        /// When it happened.
        pub timestamp: DateTime<Utc> = rfc3339("timestamp", required),
        /// `push`, `pull`, `mount` or `delete`.
        pub action: Cow<'a, str> = always("action", required),
        /// What the action was on.
        pub target: Target<'a> = always("target", required),
        /// The request that caused it.
        pub request: Request<'a> = always("request"),
        /// Who did it.
        pub actor: Actor<'a> = always("actor"),
        /// The registry instance that emitted it.
        pub source: Source<'a> = always("source"),
    }
}

/// Manifest media types (Docker and OCI), used to tell manifest events from blob events.
pub const MANIFEST_MEDIA_TYPES: [&str; 5] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

impl<'a> Event<'a> {
    /// Whether the target is a manifest: a manifest media type, a tag, or a `/manifests/`
    /// URL. Deletes carry only repository and digest, and are taken as manifest deletes.
    pub fn is_manifest(&self) -> bool {
        let t = &self.target;
        t.tag.is_some()
            || t.url.as_deref().is_some_and(|u| u.contains("/manifests/"))
            || t.media_type
                .as_deref()
                .is_some_and(|m| MANIFEST_MEDIA_TYPES.contains(&m))
            || (self.action == "delete"
                && t.media_type.is_none()
                && t.url.as_deref().is_none_or(|u| !u.contains("/blobs/")))
    }

    /// The unified kind: manifest push/pull/delete are artifact kinds, blobs `Blob*`,
    /// anything else [`EventKind::Unknown`] with the action text.
    pub fn kind(&self) -> EventKind<'a> {
        let manifest = self.is_manifest();
        match (self.action.as_ref(), manifest) {
            ("push", true) => EventKind::PushArtifact,
            ("pull", true) => EventKind::PullArtifact,
            ("delete", true) => EventKind::DeleteArtifact,
            ("push", false) => EventKind::BlobPush,
            ("pull", false) => EventKind::BlobPull,
            ("delete", false) => EventKind::BlobDelete,
            ("mount", _) => EventKind::BlobMount,
            _ => EventKind::Unknown(self.action.clone()),
        }
    }

    /// The manifest or blob the event is about, as an image reference: the registry the
    /// client asked for (`request.host`), `target.repository`, and `target.tag` and
    /// `target.digest` when sent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidValue`](crate::Error::InvalidValue) when the event names no host,
    /// no repository, or neither a tag nor a digest, or an invalid one.
    pub fn image_reference(&self) -> crate::Result<ImageReference> {
        let invalid = |reason: &'static str| {
            harbor_types::Error::invalid(harbor_types::ValueKind::ImageReference, &self.id, reason)
        };
        let host = self
            .request
            .host
            .as_deref()
            .ok_or_else(|| invalid("the registry event names no request host"))?;
        let name = self
            .target
            .repository
            .as_deref()
            .ok_or_else(|| invalid("the registry event names no repository"))?;
        let repository = Repository::new(host, RepositoryName::new(name)?)?;
        let tag = self.target.tag.as_deref().map(Tag::new).transpose()?;
        let digest = self
            .target
            .digest
            .as_deref()
            .map(Digest::parse)
            .transpose()?;
        if tag.is_none() && digest.is_none() {
            return Err(invalid("the registry event names neither a tag nor a digest").into());
        }
        Ok(ImageReference::new(repository, tag, digest))
    }
}

impl TryFrom<&Event<'_>> for ImageReference {
    type Error = crate::Error;

    /// See [`Event::image_reference`].
    fn try_from(event: &Event<'_>) -> crate::Result<Self> {
        event.image_reference()
    }
}

harbor_types::wire_struct! {
    /// `target` of a registry event.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Target<'a> {
        /// Media type of the manifest or blob.
        pub media_type: Option<Cow<'a, str>> = omit_none("mediaType"),
        /// Size in bytes.
        pub size: Option<i64> = omit_none("size"),
        /// Digest.
        pub digest: Option<Cow<'a, str>> = omit_none("digest"),
        /// Same as `size` (older field).
        pub length: Option<i64> = omit_none("length"),
        /// Repository name.
        pub repository: Option<Cow<'a, str>> = omit_none("repository"),
        /// Source repository of a mount.
        pub from_repository: Option<Cow<'a, str>> = omit_none("fromRepository"),
        /// URL of the content.
        pub url: Option<Cow<'a, str>> = omit_none("url"),
        /// Tag (manifest push/pull by tag, tag delete).
        pub tag: Option<Cow<'a, str>> = omit_none("tag"),
        /// Descriptors the manifest references, verbatim.
        pub references: Option<RawJson<'a>> = omit_none("references"),
    }
}

harbor_types::wire_struct! {
    /// `request` of a registry event.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Request<'a> {
        /// Request id.
        pub id: Option<Cow<'a, str>> = omit_none("id"),
        /// Client address.
        pub addr: Option<Cow<'a, str>> = omit_none("addr"),
        /// Host the client asked for.
        pub host: Option<Cow<'a, str>> = omit_none("host"),
        /// HTTP method.
        pub method: Option<Cow<'a, str>> = omit_none("method"),
        /// Client user agent.
        pub useragent: Option<Cow<'a, str>> = omit_none("useragent"),
    }
}

harbor_types::wire_struct! {
    /// `actor` of a registry event.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Actor<'a> {
        /// User name (absent for anonymous access).
        pub name: Option<Cow<'a, str>> = omit_none("name"),
    }
}

harbor_types::wire_struct! {
    /// `source` of a registry event.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Source<'a> {
        /// Address of the registry instance.
        pub addr: Option<Cow<'a, str>> = omit_none("addr"),
        /// Instance id.
        pub instance_id: Option<Cow<'a, str>> = omit_none("instanceID"),
    }
}
