//! Harbor 2.x "Default" format: `type` (`PUSH_ARTIFACT` …), `occur_at`, `operator`,
//! `event_data`.
//!
//! The `event_data` model here is also the `data` of the [CloudEvents](crate::cloudevents)
//! format and the typed parts of the unified [`Event`](crate::Event).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

use crate::owned::owned_struct;
use crate::report::{SbomOverview, ScanOverview};
use crate::wire::{RawJson, StrMap};
use crate::{Digest, ImageReference, Reference};
use crate::{EventKind, Format};

/// A Harbor 2.x "Default" payload.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Payload<'a> {
    /// Event type text (`PUSH_ARTIFACT` …), kept verbatim; see [`Payload::kind`].
    #[serde(rename = "type")]
    pub event_type: Cow<'a, str>,
    /// When the event happened (Unix seconds on the wire).
    #[serde(with = "crate::wire::unix")]
    pub occur_at: DateTime<Utc>,
    /// Who caused it; may be `""`.
    pub operator: Cow<'a, str>,
    /// The event's data (omitted when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_data: Option<Box<EventData<'a>>>,
}

owned_struct!(Payload {
    event_type,
    occur_at,
    operator,
    event_data
});

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

/// `event_data` of Harbor 2.x (and CloudEvents `data`).
///
/// For an event type this crate does not know, [`EventData::raw`] holds the exact JSON and
/// is what serialises back; the typed members are filled as far as they match.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EventData<'a> {
    /// Artifacts, chart versions or the scanned artifact; `None` when absent (or `null`).
    #[serde(borrow)]
    pub resources: Option<Vec<Resource<'a>>>,
    /// The repository; absent for REPLICATION and TAG_RETENTION.
    #[serde(borrow)]
    pub repository: Option<Repository<'a>>,
    /// REPLICATION only.
    #[serde(borrow)]
    pub replication: Option<Box<Replication<'a>>>,
    /// TAG_RETENTION only (2.1+).
    #[serde(borrow)]
    pub retention: Option<Box<Retention<'a>>>,
    /// Scan events, 2.11+ (`{}` for scans started by scan-all, Harbor issue #22212).
    #[serde(borrow)]
    pub scan: Option<Scan<'a>>,
    /// Quota events: `{"Details": "<message>"}`.
    #[serde(borrow)]
    pub custom_attributes: Option<StrMap<'a, Cow<'a, str>>>,
    /// The exact JSON, kept for event types this crate does not know.
    #[serde(skip)]
    pub raw: Option<RawJson<'a>>,
}

owned_struct!(EventData {
    resources,
    repository,
    replication,
    retention,
    scan,
    custom_attributes,
    raw
});

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
        self.resources.as_ref().and_then(|r| r.first())
    }
}

impl Serialize for EventData<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Fields<'r, 'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            resources: &'r Option<Vec<Resource<'a>>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            repository: &'r Option<Repository<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            replication: &'r Option<Box<Replication<'a>>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            retention: &'r Option<Box<Retention<'a>>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            scan: &'r Option<Scan<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            custom_attributes: &'r Option<StrMap<'a, Cow<'a, str>>>,
        }
        if let Some(raw) = &self.raw {
            return raw.serialize(s);
        }
        Fields {
            resources: &self.resources,
            repository: &self.repository,
            replication: &self.replication,
            retention: &self.retention,
            scan: &self.scan,
            custom_attributes: &self.custom_attributes,
        }
        .serialize(s)
    }
}

/// An artifact (or chart version) an event is about.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Resource<'a> {
    /// Artifact digest (absent for chart events). Kept as text: redacted samples such as
    /// `sha256:***` still decode; [`Resource::digest`] validates.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub digest: Option<Cow<'a, str>>,
    /// Tag; for artifact events **the digest** when the artifact has no tag or was
    /// addressed by digest; `""` in 2.0/2.1 scan events by digest; absent since 2.2 when empty.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub tag: Option<Cow<'a, str>>,
    /// `<host[:port]>/<project>/<repo>:<tag>` or `…@<digest>`; chart URL for chart events.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_url: Option<Cow<'a, str>>,
    /// Vulnerability scan summaries (scan events).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub scan_overview: Option<ScanOverview<'a>>,
    /// SBOM scan summary (2.11+).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub sbom_overview: Option<Box<SbomOverview<'a>>>,
}

owned_struct!(Resource {
    digest,
    tag,
    resource_url,
    scan_overview,
    sbom_overview
});

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

/// A repository (same shape in 1.x and 2.x).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Repository<'a> {
    /// When the repository row was created (image push/pull/delete events only).
    #[serde(
        with = "crate::wire::unix::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub date_created: Option<DateTime<Utc>>,
    /// Name without the project (`a/b` for `proj/a/b`); chart name for chart events.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// Project name.
    #[serde(borrow)]
    pub namespace: Cow<'a, str>,
    /// `project/name`.
    #[serde(borrow)]
    pub repo_full_name: Cow<'a, str>,
    /// `public` or `private` (project visibility).
    #[serde(borrow)]
    pub repo_type: Cow<'a, str>,
}

owned_struct!(Repository {
    date_created,
    name,
    namespace,
    repo_full_name,
    repo_type
});

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

/// `event_data.scan` (2.11+).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Scan<'a> {
    /// `vulnerability` or `sbom`; absent for scan-all executions.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub scan_type: Option<Cow<'a, str>>,
}

owned_struct!(Scan { scan_type });

/// `event_data.replication`: one event per replication task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Replication<'a> {
    /// Host of Harbor's external URL.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub harbor_hostname: Option<Cow<'a, str>>,
    /// Task status: `Pending`, `Running`, `Success`, `Error`, `Stopped`.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub job_status: Option<Cow<'a, str>>,
    /// Replication policy description.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Cow<'a, str>>,
    /// e.g. `image`.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<Cow<'a, str>>,
    /// Remote credential type, e.g. `basic`.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub authentication_type: Option<Cow<'a, str>>,
    /// The policy's override flag (`false` is omitted by Harbor).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_mode: Option<bool>,
    /// `MANUAL`, `SCHEDULE`, `EVENT` (2.0/2.1: `manual`, `scheduled`, `event_based`).
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub trigger_type: Option<Cow<'a, str>>,
    /// Creator of the policy.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub policy_creator: Option<Cow<'a, str>>,
    /// When the execution started (Unix seconds on the wire).
    #[serde(
        with = "crate::wire::unix::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub execution_timestamp: Option<DateTime<Utc>>,
    /// Source side.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub src_resource: Option<ReplicationResource<'a>>,
    /// Destination side.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub dest_resource: Option<ReplicationResource<'a>>,
    /// Only when `job_status` is `Success`.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub successful_artifact: Option<Vec<ArtifactInfo<'a>>>,
    /// Only when `job_status` is `Error`.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub failed_artifact: Option<Vec<ArtifactInfo<'a>>>,
    /// Execution id (2.13+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<i64>,
    /// Task id (2.13+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<i64>,
}

owned_struct!(Replication {
    harbor_hostname,
    job_status,
    description,
    artifact_type,
    authentication_type,
    override_mode,
    trigger_type,
    policy_creator,
    execution_timestamp,
    src_resource,
    dest_resource,
    successful_artifact,
    failed_artifact,
    execution_id,
    task_id
});

/// One side of a replication.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ReplicationResource<'a> {
    /// Registry name (remote side only).
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub registry_name: Option<Cow<'a, str>>,
    /// e.g. `harbor`, `docker-hub`.
    #[serde(borrow)]
    pub registry_type: Cow<'a, str>,
    /// Registry URL.
    #[serde(borrow)]
    pub endpoint: Cow<'a, str>,
    /// Provider (never filled by current Harbor).
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider: Option<Cow<'a, str>>,
    /// Project / namespace.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub namespace: Option<Cow<'a, str>>,
}

owned_struct!(ReplicationResource {
    registry_name,
    registry_type,
    endpoint,
    provider,
    namespace
});

/// An artifact entry of a replication or retention.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ArtifactInfo<'a> {
    /// e.g. `image`.
    #[serde(borrow, rename = "type")]
    pub artifact_type: Cow<'a, str>,
    /// Replication: task status; retention: `SUCCESS`.
    #[serde(borrow)]
    pub status: Cow<'a, str>,
    /// Replication: `<repo> [<n> item(s) in total]`; retention: `<repo>:<tag>` / `<repo>@<digest>`.
    #[serde(borrow)]
    pub name_tag: Cow<'a, str>,
    /// 2.10+: `Some(Some(list))` for replication, `Some(None)` for `null` (retention),
    /// `None` when absent (before 2.10).
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_nullable_strings",
        skip_serializing_if = "Option::is_none"
    )]
    pub references: Option<Option<Vec<Cow<'a, str>>>>,
    /// Failure reason (never filled by current Harbor).
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub fail_reason: Option<Cow<'a, str>>,
}

owned_struct!(ArtifactInfo {
    artifact_type,
    status,
    name_tag,
    references,
    fail_reason
});

/// `event_data.retention` (2.1+).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Retention<'a> {
    /// Candidates evaluated.
    pub total: i64,
    /// Candidates kept.
    pub retained: i64,
    /// Host of Harbor's external URL.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub harbor_hostname: Option<Cow<'a, str>>,
    /// Project of the deleted artifacts.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub project_name: Option<Cow<'a, str>>,
    /// Policy id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_policy_id: Option<i64>,
    /// The policy's rules.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub retention_rule: Option<Vec<RetentionRule<'a>>>,
    /// `SUCCESS`.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub result: Option<Cow<'a, str>>,
    /// One per deleted artifact.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub deleted_artifact: Option<Vec<ArtifactInfo<'a>>>,
}

owned_struct!(Retention {
    total,
    retained,
    harbor_hostname,
    project_name,
    retention_policy_id,
    retention_rule,
    result,
    deleted_artifact
});

/// A retention rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RetentionRule<'a> {
    /// `always`, `latestPushedK`, `nDaysSinceLastPull` …
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub template: Option<Cow<'a, str>>,
    /// Template parameters, any JSON (e.g. `{"latestPushedK": 10}`).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub params: Option<StrMap<'a, RawJson<'a>>>,
    /// Tag selectors.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub tag_selectors: Option<Vec<Selector<'a>>>,
    /// Scope selectors by scope (key `repository`).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub scope_selectors: Option<StrMap<'a, Vec<Selector<'a>>>>,
}

owned_struct!(RetentionRule {
    template,
    params,
    tag_selectors,
    scope_selectors
});

/// A retention selector.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Selector<'a> {
    /// `doublestar` or `label`.
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
    /// `matches`, `excludes`, `repoMatches`, `repoExcludes`, `withLabels`, `withoutLabels`.
    #[serde(borrow)]
    pub decoration: Cow<'a, str>,
    /// The pattern.
    #[serde(borrow)]
    pub pattern: Cow<'a, str>,
    /// A string that itself holds JSON, e.g. `{"untagged":true}`.
    #[serde(borrow)]
    pub extras: Cow<'a, str>,
}

owned_struct!(Selector {
    kind,
    decoration,
    pattern,
    extras
});
