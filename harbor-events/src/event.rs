//! The unified view: [`Event`], the same for every format and Harbor version.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};

use crate::report::{
    MIME_GENERIC_VULNERABILITY_REPORT, NativeReportSummary, SbomOverview, ScanOverview, ScanSummary,
};
use crate::v2::{EventData, Replication, Repository, Resource, Retention};
use crate::wire::StrMap;
use crate::{EventKind, Format, distribution};
use crate::{ImageReference, Reference};

/// One event, whatever format and Harbor version it came in.
///
/// The typed parts are the Harbor 2.x [`EventData`] model (a superset of 1.x); CloudEvents
/// and registry attributes that have no 2.x home are in [`Event::id`], [`Event::source`],
/// [`Event::request_id`] and [`Event::registry`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Event<'a> {
    /// What happened.
    pub kind: EventKind<'a>,
    /// When it happened. (1.x and 2.x payloads carry whole seconds.)
    pub occurred_at: DateTime<Utc>,
    /// Who caused it; `""` when Harbor did not say (anonymous pull, quota events before 2.9).
    pub operator: Cow<'a, str>,
    /// The format it came in (or will be encoded in by default).
    pub format: Format,
    /// CloudEvents `id` (same on every retry of one delivery: deduplicate on it) or the
    /// registry event id.
    pub id: Option<Cow<'a, str>>,
    /// CloudEvents `source`: `/projects/<project_id>/webhook/policies/<policy_id>`.
    pub source: Option<Cow<'a, str>>,
    /// CloudEvents `requestid` extension or the registry request id.
    pub request_id: Option<Cow<'a, str>>,
    /// The typed parts: resources, repository, replication, retention, scan, quota message.
    pub data: EventData<'a>,
    /// The original registry event, for registry notifications.
    pub registry: Option<distribution::Event<'a>>,
}

crate::owned::owned_struct!(Event {
    kind,
    occurred_at,
    operator,
    format,
    id,
    source,
    request_id,
    data,
    registry
});

impl serde::Serialize for Event<'_> {
    /// A flat JSON view (for logs and tools): `kind`, `occurred_at` (RFC 3339), `operator`,
    /// `format`, `id`, `source`, `request_id` (when set), `data` (the 2.x `event_data`
    /// shape) and `registry` (registry notifications). Not a Harbor wire format: use
    /// [`Event::encode`] for that.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("kind", self.kind.as_str())?;
        map.serialize_entry(
            "occurred_at",
            &harbor_types::wire::time::format_rfc3339(&self.occurred_at),
        )?;
        map.serialize_entry("operator", &self.operator)?;
        map.serialize_entry("format", self.format.as_str())?;
        for (key, value) in [
            ("id", &self.id),
            ("source", &self.source),
            ("request_id", &self.request_id),
        ] {
            if let Some(value) = value {
                map.serialize_entry(key, value)?;
            }
        }
        map.serialize_entry("data", &self.data)?;
        if let Some(registry) = &self.registry {
            map.serialize_entry("registry", registry)?;
        }
        map.end()
    }
}

/// The artifact an event is about (see [`Event::artifact`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Artifact<'e> {
    /// Repository with its project, when known.
    pub repository: Option<&'e str>,
    /// Digest text as sent.
    pub digest: Option<&'e str>,
    /// The real tag: not empty and not a digest.
    pub tag: Option<&'e str>,
    /// The resource URL as sent.
    pub resource_url: Option<&'e str>,
}

impl Artifact<'_> {
    /// The real tag if any, else the digest; `Ok(None)` when the event names neither.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidValue`](crate::Error::InvalidValue) when the tag is not of the tag
    /// grammar or the digest is not a digest.
    pub fn reference(&self) -> crate::Result<Option<Reference>> {
        crate::v2::reference_of(self.tag, self.digest)
    }

    /// The image the resource URL names (registry host, repository, tag or digest).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidValue`](crate::Error::InvalidValue) for chart URLs and malformed
    /// text; `Ok(None)` when absent.
    pub fn resource_url(&self) -> crate::Result<Option<ImageReference>> {
        self.resource_url
            .map(crate::values::parse_resource_url)
            .transpose()
    }
}

impl<'a> Event<'a> {
    /// An event of `kind` happening now (whole seconds), format v2, no data yet.
    pub fn new(kind: EventKind<'a>) -> Self {
        Event {
            kind,
            occurred_at: Utc::now().trunc_subsecs(0),
            operator: Cow::Borrowed(""),
            format: Format::V2,
            id: None,
            source: None,
            request_id: None,
            data: EventData::default(),
            registry: None,
        }
    }

    /// An artifact event (push, pull, delete) on `repository` (`project/name`) for the
    /// artifact `digest`, with its tag if it has one.
    pub fn artifact_event(
        kind: EventKind<'a>,
        repository: &str,
        digest: &str,
        tag: Option<&str>,
    ) -> Self {
        let mut event = Event::new(kind);
        event.data.repository = Some(Repository::from_full_name(repository));
        event.data.resources = vec![Resource::new(
            digest.to_owned(),
            tag.map(|t| Cow::Owned(t.to_owned())),
        )];
        event
    }

    /// A scan event with one vulnerability report (keyed by the generic v1.1 report type,
    /// as Harbor 2.2+ with Trivy sends it).
    pub fn scan_event(
        kind: EventKind<'a>,
        repository: &str,
        digest: &str,
        tag: Option<&str>,
        report: NativeReportSummary<'a>,
    ) -> Self {
        let mut event = Event::artifact_event(kind, repository, digest, tag);
        let mut reports = StrMap::new();
        reports.insert(MIME_GENERIC_VULNERABILITY_REPORT, report);
        if let Some(resource) = event.data.resources.first_mut() {
            resource.scan_overview = Some(ScanOverview::Reports(reports));
        }
        event
    }

    /// A quota event (`QuotaExceed` or `QuotaWarning`) with its message.
    pub fn quota_event(kind: EventKind<'a>, repository: &str, digest: &str, message: &str) -> Self {
        let mut event = Event::artifact_event(kind, repository, digest, None);
        let mut attributes = StrMap::new();
        attributes.insert("Details", Cow::Owned(message.to_owned()));
        event.data.custom_attributes = Some(attributes);
        event
    }

    /// A replication event.
    pub fn replication_event(replication: Replication<'a>) -> Self {
        let mut event = Event::new(EventKind::Replication);
        event.data.replication = Some(Box::new(replication));
        event
    }

    /// A tag retention event.
    pub fn retention_event(retention: Retention<'a>) -> Self {
        let mut event = Event::new(EventKind::TagRetention);
        event.data.retention = Some(Box::new(retention));
        event
    }

    /// Sets when it happened.
    #[must_use]
    pub fn with_occurred_at(mut self, at: DateTime<Utc>) -> Self {
        self.occurred_at = at;
        self
    }

    /// Sets the operator.
    #[must_use]
    pub fn with_operator(mut self, operator: impl Into<Cow<'a, str>>) -> Self {
        self.operator = operator.into();
        self
    }

    /// Sets the id (CloudEvents `id`).
    #[must_use]
    pub fn with_id(mut self, id: impl Into<Cow<'a, str>>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the CloudEvents `source`.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Cow<'a, str>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sets the request id.
    #[must_use]
    pub fn with_request_id(mut self, id: impl Into<Cow<'a, str>>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// Sets the resource URL of the first resource.
    #[must_use]
    pub fn with_resource_url(mut self, url: impl Into<Cow<'a, str>>) -> Self {
        if let Some(resource) = self.data.resources.first_mut() {
            resource.resource_url = Some(url.into());
        }
        self
    }

    /// Sets the format [`Event::encode_default`] uses.
    #[must_use]
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// The repository, `project/name`: from the repository member, else the retention
    /// project, else `None` (replication events name no single repository).
    pub fn repository(&self) -> Option<&str> {
        self.data
            .repository
            .as_ref()
            .map(|r| r.repo_full_name.as_ref())
            .filter(|r| !r.is_empty())
            .or_else(|| {
                self.data
                    .retention
                    .as_ref()
                    .and_then(|r| r.project_name.as_deref())
            })
    }

    /// The first artifact the event is about.
    pub fn artifact(&self) -> Option<Artifact<'_>> {
        self.artifacts().next()
    }

    /// Every artifact the event is about (chart events may list several versions).
    pub fn artifacts(&self) -> impl Iterator<Item = Artifact<'_>> {
        let repository = self.repository();
        self.data.resources.iter().map(move |r| Artifact {
            repository,
            digest: r.digest.as_deref(),
            tag: r.real_tag(),
            resource_url: r.resource_url.as_deref(),
        })
    }

    /// The scan summary of the first scanned resource, from the preferred report type
    /// ([`PREFERRED_REPORT_TYPES`](crate::report::PREFERRED_REPORT_TYPES): Harbor's native
    /// v1.1 report, then the adapter v1.0 report, then any other), or the 1.9 Clair overview.
    pub fn scan_summary(&self) -> Option<ScanSummary<'_>> {
        self.data
            .resources
            .iter()
            .find_map(|r| r.scan_overview.as_ref()?.summary())
    }

    /// The SBOM overview of the first resource that has one (2.11+).
    pub fn sbom_overview(&self) -> Option<&SbomOverview<'a>> {
        self.data
            .resources
            .iter()
            .find_map(|r| r.sbom_overview.as_deref())
    }

    /// The quota message (`custom_attributes.Details`).
    pub fn quota_message(&self) -> Option<&str> {
        self.data.quota_message()
    }

    /// The replication part.
    pub fn replication(&self) -> Option<&Replication<'a>> {
        self.data.replication.as_deref()
    }

    /// The retention part.
    pub fn retention(&self) -> Option<&Retention<'a>> {
        self.data.retention.as_deref()
    }

    /// The exact JSON of the data, kept for unknown event types.
    pub fn raw_data(&self) -> Option<&str> {
        self.data.raw.as_ref().map(crate::RawJson::get)
    }

    /// Project id and webhook policy id from the CloudEvents `source`.
    pub fn project_and_policy(&self) -> Option<(i64, i64)> {
        let rest = self.source.as_deref()?.strip_prefix("/projects/")?;
        let (project, rest) = rest.split_once('/')?;
        let policy = rest.strip_prefix("webhook/policies/")?;
        Some((project.parse().ok()?, policy.parse().ok()?))
    }
}

fn short(text: &str) -> Cow<'_, str> {
    match crate::Digest::parse(text) {
        Ok(d) if d.encoded().len() > 12 => Cow::Owned(format!(
            "{}:{}",
            d.algorithm(),
            d.encoded().get(..12).unwrap_or_default()
        )),
        _ => Cow::Borrowed(text),
    }
}

impl fmt::Display for Event<'_> {
    /// One line for people: `2023-04-03T06:04:46Z PUSH_ARTIFACT harbor/alpine:3.8 by admin (v2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            harbor_types::wire::time::format_rfc3339(&self.occurred_at),
            self.kind
        )?;
        if let Some(repo) = self.repository() {
            write!(f, " {repo}")?;
        }
        if let Some(a) = self.artifact() {
            match (a.tag, a.digest) {
                (Some(tag), _) => write!(f, ":{tag}")?,
                (None, Some(d)) => write!(f, "@{}", short(d))?,
                (None, None) => {}
            }
            let more = self.data.resources.len();
            if more > 1 {
                write!(f, " (+{} more)", more - 1)?;
            }
        }
        if let Some(scan) = self.scan_summary() {
            write!(f, ": scan {}", scan.status)?;
            if let Some(sev) = &scan.severity {
                write!(f, ", severity {sev}")?;
            }
            if let Some(total) = scan.total {
                write!(f, ", {total} vulnerabilities")?;
            }
            if let Some(fixable) = scan.fixable {
                write!(f, " ({fixable} fixable)")?;
            }
        } else if let Some(sbom) = self.sbom_overview() {
            write!(f, ": sbom {}", sbom.scan_status.as_deref().unwrap_or("?"))?;
            if let Some(d) = &sbom.sbom_digest {
                write!(f, " {}", short(d))?;
            }
        } else if let Some(message) = self.quota_message() {
            write!(f, ": {message}")?;
        } else if let Some(r) = self.replication() {
            write!(
                f,
                ": replication {}",
                r.job_status.as_deref().unwrap_or("?")
            )?;
            let side = |s: &Option<crate::v2::ReplicationResource<'_>>| {
                s.as_ref().map_or_else(String::new, |s| {
                    format!(
                        "{}:{}",
                        s.registry_type,
                        s.namespace.as_deref().unwrap_or("")
                    )
                })
            };
            write!(
                f,
                " {} -> {}",
                side(&r.src_resource),
                side(&r.dest_resource)
            )?;
        } else if let Some(r) = self.retention() {
            let deleted = r.deleted_artifact.len();
            write!(
                f,
                ": retention deleted {deleted}, kept {} of {} ({})",
                r.retained,
                r.total,
                r.result.as_deref().unwrap_or("?")
            )?;
        }
        if !self.operator.is_empty() {
            write!(f, " by {}", self.operator)?;
        }
        write!(f, " ({})", self.format)
    }
}
