//! Harbor 2.x "Default" format: `type` (`PUSH_ARTIFACT` …), `occur_at`, `operator`,
//! `event_data`.
//!
//! The `event_data` model here is also the `data` of the [CloudEvents](crate::cloudevents)
//! format and the typed parts of the unified [`Event`](crate::Event).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

use crate::report::{SbomOverview, ScanOverview};
use crate::wire::{RawJson, StrMap};
use crate::{Digest, ImageReference, Reference};
use crate::{EventKind, Format};

harbor_types::wire_struct! {
    @no_deserialize
    /// A Harbor 2.x "Default" payload.
    #[derive(Clone, Debug, PartialEq)]
    #[non_exhaustive]
    pub struct Payload<'a> {
        /// Event type text (`PUSH_ARTIFACT` …), kept verbatim; see [`Payload::kind`].
        pub event_type: Cow<'a, str> = always("type"),
        /// When the event happened (Unix seconds on the wire).
        pub occur_at: DateTime<Utc> = unix_secs("occur_at"),
        /// Who caused it; may be `""`.
        pub operator: Cow<'a, str> = always("operator"),
        /// The event's data (omitted when absent).
        pub event_data: Option<Box<EventData<'a>>> = omit_none("event_data"),
    }
}

impl<'a> Payload<'a> {
    /// A payload of `kind` at `occur_at` with no data yet.
    pub fn new(kind: &EventKind<'a>, occur_at: DateTime<Utc>) -> Self {
        Payload {
            event_type: Cow::Owned(kind.name(Format::V2).unwrap_or(kind.as_str()).to_owned()),
            occur_at,
            operator: Cow::Borrowed(""),
            event_data: None,
        }
    }

    /// The event kind of `event_type`.
    pub fn kind(&self) -> EventKind<'a> {
        EventKind::parse(self.event_type.clone())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Payload<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::detect::deserialize_as(d, Format::V2).and_then(|p| match p {
            crate::Payload::V2(p) => Ok(p),
            _ => Err(serde::de::Error::custom("not a Harbor 2.x payload")),
        })
    }
}

harbor_types::wire_struct! {
    @custom_serialize
    /// `event_data` of Harbor 2.x (and CloudEvents `data`).
    ///
    /// For an event type this crate does not know, [`EventData::raw`] holds the exact JSON and
    /// is what serialises back; the typed members are filled as far as they match.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct EventData<'a> {
        /// Artifacts, chart versions or the scanned artifact; empty when absent or `null`.
        pub resources: Vec<Resource<'a>> = omit_empty("resources"),
        /// The repository; absent for REPLICATION and TAG_RETENTION.
        pub repository: Option<Repository<'a>> = omit_none("repository"),
        /// REPLICATION only.
        pub replication: Option<Box<Replication<'a>>> = omit_none("replication"),
        /// TAG_RETENTION only (2.1+).
        pub retention: Option<Box<Retention<'a>>> = omit_none("retention"),
        /// Scan events, 2.11+ (`{}` for scans started by scan-all, Harbor issue #22212).
        pub scan: Option<Scan<'a>> = omit_none("scan"),
        /// Quota events: `{"Details": "<message>"}`.
        pub custom_attributes: Option<StrMap<'a, Cow<'a, str>>> = omit_none("custom_attributes"),
        /// The exact JSON, kept for event types this crate does not know.
        pub raw: Option<RawJson<'a>> = skip(),
    }
}

impl EventData<'_> {
    /// The quota message (`custom_attributes.Details`).
    pub fn quota_message(&self) -> Option<&str> {
        self.custom_attributes
            .as_ref()
            .and_then(|m| m.get("Details"))
            .map(AsRef::as_ref)
    }

    /// The first resource.
    pub fn first_resource(&self) -> Option<&Resource<'_>> {
        self.resources.first()
    }
}

impl Serialize for EventData<'_> {
    /// The members, or for an event type this crate does not know, the exact JSON kept in
    /// [`EventData::raw`].
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.raw {
            Some(raw) => raw.serialize(s),
            None => self.__serialize_wire_fields(s),
        }
    }
}

harbor_types::wire_struct! {
    /// An artifact (or chart version) an event is about.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Resource<'a> {
        /// Artifact digest (absent for chart events). Kept as text: redacted samples such as
        /// `sha256:***` still decode; [`Resource::digest`] validates.
        pub digest: Option<Cow<'a, str>> = omit_none("digest"),
        /// Tag; for artifact events **the digest** when the artifact has no tag or was
        /// addressed by digest; `""` in 2.0/2.1 scan events by digest; absent since 2.2 when empty.
        pub tag: Option<Cow<'a, str>> = omit_none("tag"),
        /// `<host[:port]>/<project>/<repo>:<tag>` or `…@<digest>`; chart URL for chart events.
        pub resource_url: Option<Cow<'a, str>> = omit_none("resource_url"),
        /// Vulnerability scan summaries (scan events).
        pub scan_overview: Option<ScanOverview<'a>> = omit_none("scan_overview"),
        /// SBOM scan summary (2.11+).
        pub sbom_overview: Option<Box<SbomOverview<'a>>> = omit_none("sbom_overview"),
    }
}

impl<'a> Resource<'a> {
    /// A resource with a digest and an optional tag.
    pub fn new(digest: impl Into<Cow<'a, str>>, tag: Option<Cow<'a, str>>) -> Self {
        Resource {
            digest: Some(digest.into()),
            tag,
            ..Resource::default()
        }
    }

    /// The validated digest.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidValue`](crate::Error::InvalidValue) when it is not a digest;
    /// `Ok(None)` when absent.
    pub fn digest(&self) -> crate::Result<Option<Digest>> {
        Ok(self.digest.as_deref().map(Digest::parse).transpose()?)
    }

    /// Whether `tag` is really a digest (untagged artifact or pull by digest, Harbor 2.x).
    pub fn tag_is_digest(&self) -> bool {
        self.tag
            .as_deref()
            .is_some_and(|t| Digest::parse(t).is_ok())
    }

    /// The real tag: `None` when absent, empty, or a digest.
    pub fn real_tag(&self) -> Option<&str> {
        self.tag
            .as_deref()
            .filter(|t| !t.is_empty() && !self.tag_is_digest())
    }

    /// How the artifact is addressed: the real tag if any, else the digest (from `tag` for
    /// an untagged artifact, else from `digest`); `Ok(None)` when the resource names neither.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidValue`](crate::Error::InvalidValue) when the tag is not of the tag
    /// grammar or the digest is not a digest.
    pub fn reference(&self) -> crate::Result<Option<Reference>> {
        let digest_in_tag = self.tag.as_deref().filter(|_| self.tag_is_digest());
        reference_of(self.real_tag(), digest_in_tag.or(self.digest.as_deref()))
    }

    /// The image `resource_url` names (registry host, repository, tag or digest); neither
    /// tag nor digest for the empty tag of Harbor 2.0/2.1 scan events.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidValue`](crate::Error::InvalidValue) for chart URLs or malformed text;
    /// `Ok(None)` when absent.
    pub fn resource_url(&self) -> crate::Result<Option<ImageReference>> {
        self.resource_url
            .as_deref()
            .map(crate::values::parse_resource_url)
            .transpose()
    }
}

/// The reference of an artifact: its real tag if any, else its digest.
pub(crate) fn reference_of(
    tag: Option<&str>,
    digest: Option<&str>,
) -> crate::Result<Option<Reference>> {
    Ok(match (tag, digest) {
        (Some(tag), _) => Some(Reference::tag(tag)?),
        (None, Some(digest)) => Some(Reference::digest(digest)?),
        (None, None) => None,
    })
}

harbor_types::wire_struct! {
    /// A repository (same shape in 1.x and 2.x).
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Repository<'a> {
        /// When the repository row was created (image push/pull/delete events only).
        pub date_created: Option<DateTime<Utc>> = unix_secs_omit_none("date_created"),
        /// Name without the project (`a/b` for `proj/a/b`); chart name for chart events.
        pub name: Cow<'a, str> = always("name"),
        /// Project name.
        pub namespace: Cow<'a, str> = always("namespace"),
        /// `project/name`.
        pub repo_full_name: Cow<'a, str> = always("repo_full_name"),
        /// `public` or `private` (project visibility).
        pub repo_type: Cow<'a, str> = always("repo_type"),
    }
}

impl Repository<'static> {
    /// A repository from its full name `project/name…` (the first segment is the project).
    pub fn from_full_name(full_name: &str) -> Self {
        let (namespace, name) = full_name.split_once('/').unwrap_or(("", full_name));
        Repository {
            date_created: None,
            name: Cow::Owned(name.to_owned()),
            namespace: Cow::Owned(namespace.to_owned()),
            repo_full_name: Cow::Owned(full_name.to_owned()),
            repo_type: Cow::Borrowed("private"),
        }
    }
}

harbor_types::wire_struct! {
    /// `event_data.scan` (2.11+).
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Scan<'a> {
        /// `vulnerability` or `sbom`; absent for scan-all executions.
        pub scan_type: Option<Cow<'a, str>> = omit_none("scan_type"),
    }
}

harbor_types::wire_struct! {
    /// `event_data.replication`: one event per replication task.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Replication<'a> {
        /// Host of Harbor's external URL.
        pub harbor_hostname: Option<Cow<'a, str>> = omit_none("harbor_hostname"),
        /// Task status: `Pending`, `Running`, `Success`, `Error`, `Stopped`.
        pub job_status: Option<Cow<'a, str>> = omit_none("job_status"),
        /// Replication policy description.
        pub description: Option<Cow<'a, str>> = omit_none("description"),
        /// e.g. `image`.
        pub artifact_type: Option<Cow<'a, str>> = omit_none("artifact_type"),
        /// Remote credential type, e.g. `basic`.
        pub authentication_type: Option<Cow<'a, str>> = omit_none("authentication_type"),
        /// The policy's override flag (`false` is omitted by Harbor).
        pub override_mode: Option<bool> = omit_none("override_mode"),
        /// `MANUAL`, `SCHEDULE`, `EVENT` (2.0/2.1: `manual`, `scheduled`, `event_based`).
        pub trigger_type: Option<Cow<'a, str>> = omit_none("trigger_type"),
        /// Creator of the policy.
        pub policy_creator: Option<Cow<'a, str>> = omit_none("policy_creator"),
        /// When the execution started (Unix seconds on the wire).
        pub execution_timestamp: Option<DateTime<Utc>> = unix_secs_omit_none("execution_timestamp"),
        /// Source side.
        pub src_resource: Option<ReplicationResource<'a>> = omit_none("src_resource"),
        /// Destination side.
        pub dest_resource: Option<ReplicationResource<'a>> = omit_none("dest_resource"),
        /// Only when `job_status` is `Success`.
        pub successful_artifact: Vec<ArtifactInfo<'a>> = omit_empty("successful_artifact"),
        /// Only when `job_status` is `Error`.
        pub failed_artifact: Vec<ArtifactInfo<'a>> = omit_empty("failed_artifact"),
        /// Execution id (2.13+).
        pub execution_id: Option<i64> = omit_none("execution_id"),
        /// Task id (2.13+).
        pub task_id: Option<i64> = omit_none("task_id"),
    }
}

harbor_types::wire_struct! {
    /// One side of a replication.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct ReplicationResource<'a> {
        /// Registry name (remote side only).
        pub registry_name: Option<Cow<'a, str>> = omit_none("registry_name"),
        /// e.g. `harbor`, `docker-hub`.
        pub registry_type: Cow<'a, str> = always("registry_type"),
        /// Registry URL.
        pub endpoint: Cow<'a, str> = always("endpoint"),
        /// Provider (never filled by current Harbor).
        pub provider: Option<Cow<'a, str>> = omit_none("provider"),
        /// Project / namespace.
        pub namespace: Option<Cow<'a, str>> = omit_none("namespace"),
    }
}

harbor_types::wire_struct! {
    /// An artifact entry of a replication or retention.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct ArtifactInfo<'a> {
        /// e.g. `image`.
        pub artifact_type: Cow<'a, str> = always("type"),
        /// Replication: task status; retention: `SUCCESS`.
        pub status: Cow<'a, str> = always("status"),
        /// Replication: `<repo> [<n> item(s) in total]`; retention: `<repo>:<tag>` / `<repo>@<digest>`.
        pub name_tag: Cow<'a, str> = always("name_tag"),
        /// 2.10+: the replicated tags (or digests); retention entries send `null`, read as an
        /// empty list (and written back as `null`); `None` when absent (before 2.10).
        pub references: Option<Vec<Cow<'a, str>>> = if_present("references"),
        /// Failure reason (never filled by current Harbor).
        pub fail_reason: Option<Cow<'a, str>> = omit_none("fail_reason"),
    }
}

harbor_types::wire_struct! {
    /// `event_data.retention` (2.1+).
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Retention<'a> {
        /// Candidates evaluated.
        pub total: i64 = always("total"),
        /// Candidates kept.
        pub retained: i64 = always("retained"),
        /// Host of Harbor's external URL.
        pub harbor_hostname: Option<Cow<'a, str>> = omit_none("harbor_hostname"),
        /// Project of the deleted artifacts.
        pub project_name: Option<Cow<'a, str>> = omit_none("project_name"),
        /// Policy id.
        pub retention_policy_id: Option<i64> = omit_none("retention_policy_id"),
        /// The policy's rules.
        pub retention_rule: Vec<RetentionRule<'a>> = omit_empty("retention_rule"),
        /// `SUCCESS`.
        pub result: Option<Cow<'a, str>> = omit_none("result"),
        /// One per deleted artifact.
        pub deleted_artifact: Vec<ArtifactInfo<'a>> = omit_empty("deleted_artifact"),
    }
}

harbor_types::wire_struct! {
    /// A retention rule.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct RetentionRule<'a> {
        /// `always`, `latestPushedK`, `nDaysSinceLastPull` …
        pub template: Option<Cow<'a, str>> = omit_none("template"),
        /// Template parameters, any JSON (e.g. `{"latestPushedK": 10}`).
        pub params: Option<StrMap<'a, RawJson<'a>>> = omit_none("params"),
        /// Tag selectors.
        pub tag_selectors: Vec<Selector<'a>> = omit_empty("tag_selectors"),
        /// Scope selectors by scope (key `repository`).
        pub scope_selectors: Option<StrMap<'a, Vec<Selector<'a>>>> = omit_none("scope_selectors"),
    }
}

harbor_types::wire_struct! {
    /// A retention selector.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Selector<'a> {
        /// `doublestar` or `label`.
        pub kind: Cow<'a, str> = always("kind"),
        /// `matches`, `excludes`, `repoMatches`, `repoExcludes`, `withLabels`, `withoutLabels`.
        pub decoration: Cow<'a, str> = always("decoration"),
        /// The pattern.
        pub pattern: Cow<'a, str> = always("pattern"),
        /// A string that itself holds JSON, e.g. `{"untagged":true}`.
        pub extras: Cow<'a, str> = always("extras"),
    }
}
