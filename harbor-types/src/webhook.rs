//! Webhook vocabulary: [`EventKind`] (what happened) and [`Format`] (which wire format a
//! payload came in), with the event type names of every Harbor version written once, in one
//! table.

use std::borrow::Cow;
use std::fmt;

/// `Content-Type` of Harbor's Default and 1.x payloads.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// `Content-Type` of Harbor's CloudEvents payloads.
pub const CONTENT_TYPE_CLOUDEVENTS: &str = "application/cloudevents+json";
/// `Content-Type` of the registry's notification envelope.
pub const CONTENT_TYPE_DISTRIBUTION: &str = "application/vnd.docker.distribution.events.v1+json";

/// The wire formats of webhook payloads (Harbor's, and the registry's own notifications).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Harbor 1.9 / 1.10 as actually sent (`type: "pushImage"`, `occur_at`, …).
    V1,
    /// The `event_type` / `events[]` shape printed in the Harbor 1.9 / 1.10 docs. **No Harbor
    /// release ever sent it**; accepted because people and tools copy it.
    V1Documented,
    /// Harbor 2.x "Default" (`type: "PUSH_ARTIFACT"`, …).
    V2,
    /// Harbor 2.8+ "CloudEvents" (structured mode, `application/cloudevents+json`).
    CloudEvents,
    /// The docker registry's (distribution) own notification envelope
    /// (`application/vnd.docker.distribution.events.v1+json`).
    Distribution,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 5] = [
        Format::V1,
        Format::V1Documented,
        Format::V2,
        Format::CloudEvents,
        Format::Distribution,
    ];

    /// The `Content-Type` a sender uses for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::CloudEvents => CONTENT_TYPE_CLOUDEVENTS,
            Format::Distribution => CONTENT_TYPE_DISTRIBUTION,
            Format::V1 | Format::V1Documented | Format::V2 => CONTENT_TYPE_JSON,
        }
    }

    /// A short name (`v1`, `v1-documented`, `v2`, `cloudevents`, `distribution`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::V1 => "v1",
            Format::V1Documented => "v1-documented",
            Format::V2 => "v2",
            Format::CloudEvents => "cloudevents",
            Format::Distribution => "distribution",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened, independent of the wire format.
///
/// Unknown type strings are kept in [`EventKind::Unknown`], so a new Harbor event type never
/// fails a decode.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind<'a> {
    /// Artifact pushed (`pushImage`, `PUSH_ARTIFACT`, `harbor.artifact.pushed`, registry `push` of a manifest).
    PushArtifact,
    /// Artifact pulled.
    PullArtifact,
    /// Artifact deleted.
    DeleteArtifact,
    /// Helm chart uploaded (1.9 to 2.7; ChartMuseum was removed in 2.8).
    UploadChart,
    /// Helm chart downloaded (1.9 to 2.7).
    DownloadChart,
    /// Helm chart deleted (1.9 to 2.7).
    DeleteChart,
    /// Scan finished successfully.
    ScanningCompleted,
    /// Scan failed (before 2.4 also stopped scans).
    ScanningFailed,
    /// Scan stopped (2.4+).
    ScanningStopped,
    /// A push was refused by the project quota (`projectQuota` in 1.10).
    QuotaExceed,
    /// Quota usage passed the warning threshold (2.0+).
    QuotaWarning,
    /// Replication task status changed (2.0+).
    Replication,
    /// Tag retention run finished (2.1+).
    TagRetention,
    /// `testEndpoint` (1.x constant; Harbor's test request has an empty body).
    TestEndpoint,
    /// Registry notification: blob (layer or config) pushed.
    BlobPush,
    /// Registry notification: blob pulled.
    BlobPull,
    /// Registry notification: blob mounted from another repository.
    BlobMount,
    /// Registry notification: blob deleted.
    BlobDelete,
    /// Any other type text, kept verbatim.
    Unknown(Cow<'a, str>),
}

/// One row of [`NAMES`]: (kind, v1, v2, CloudEvents).
type NameRow = (
    EventKind<'static>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

static NAMES: [NameRow; 14] = [
    (
        EventKind::PushArtifact,
        Some("pushImage"),
        Some("PUSH_ARTIFACT"),
        Some("harbor.artifact.pushed"),
    ),
    (
        EventKind::PullArtifact,
        Some("pullImage"),
        Some("PULL_ARTIFACT"),
        Some("harbor.artifact.pulled"),
    ),
    (
        EventKind::DeleteArtifact,
        Some("deleteImage"),
        Some("DELETE_ARTIFACT"),
        Some("harbor.artifact.deleted"),
    ),
    (
        EventKind::UploadChart,
        Some("uploadChart"),
        Some("UPLOAD_CHART"),
        None,
    ),
    (
        EventKind::DownloadChart,
        Some("downloadChart"),
        Some("DOWNLOAD_CHART"),
        None,
    ),
    (
        EventKind::DeleteChart,
        Some("deleteChart"),
        Some("DELETE_CHART"),
        None,
    ),
    (
        EventKind::ScanningCompleted,
        Some("scanningCompleted"),
        Some("SCANNING_COMPLETED"),
        Some("harbor.scan.completed"),
    ),
    (
        EventKind::ScanningFailed,
        Some("scanningFailed"),
        Some("SCANNING_FAILED"),
        Some("harbor.scan.failed"),
    ),
    (
        EventKind::ScanningStopped,
        None,
        Some("SCANNING_STOPPED"),
        Some("harbor.scan.stopped"),
    ),
    (
        EventKind::QuotaExceed,
        Some("projectQuota"),
        Some("QUOTA_EXCEED"),
        Some("harbor.quota.exceeded"),
    ),
    (
        EventKind::QuotaWarning,
        None,
        Some("QUOTA_WARNING"),
        Some("harbor.quota.warned"),
    ),
    (
        EventKind::Replication,
        None,
        Some("REPLICATION"),
        Some("harbor.replication.status.changed"),
    ),
    (
        EventKind::TagRetention,
        None,
        Some("TAG_RETENTION"),
        Some("harbor.tag_retention.finished"),
    ),
    (EventKind::TestEndpoint, Some("testEndpoint"), None, None),
];

impl<'a> EventKind<'a> {
    /// Maps a type text of any Harbor format (`pushImage`, `PUSH_ARTIFACT`,
    /// `harbor.artifact.pushed`); anything else is [`EventKind::Unknown`].
    pub fn parse(text: impl Into<Cow<'a, str>>) -> EventKind<'a> {
        let text = text.into();
        NAMES
            .iter()
            .find(|(_, v1, v2, ce)| {
                [v1, v2, ce]
                    .into_iter()
                    .any(|n| n.is_some_and(|n| n == text))
            })
            .map_or(EventKind::Unknown(text), |(k, ..)| k.clone())
    }

    /// The type text of this kind in `format`, `None` when that format cannot express it.
    /// [`EventKind::Unknown`] keeps its text in every Harbor format.
    pub fn name(&self, format: Format) -> Option<&str> {
        if let EventKind::Unknown(text) = self {
            return (format != Format::Distribution).then_some(text.as_ref());
        }
        self.known_name(format)
    }

    /// The type text of a known kind in `format`, as a `'static` string: `None` for
    /// [`EventKind::Unknown`] and when `format` cannot express the kind.
    pub fn known_name(&self, format: Format) -> Option<&'static str> {
        if format == Format::Distribution {
            return match self {
                EventKind::PushArtifact | EventKind::BlobPush => Some("push"),
                EventKind::PullArtifact | EventKind::BlobPull => Some("pull"),
                EventKind::DeleteArtifact | EventKind::BlobDelete => Some("delete"),
                EventKind::BlobMount => Some("mount"),
                _ => None,
            };
        }
        let (_, v1, v2, ce) = NAMES.iter().find(|(k, ..)| k == self)?;
        match format {
            Format::V1 | Format::V1Documented => *v1,
            Format::V2 => *v2,
            Format::CloudEvents => *ce,
            Format::Distribution => None,
        }
    }

    /// A stable name: the Harbor 2.x type (`PUSH_ARTIFACT`), the 1.x type for
    /// `testEndpoint`, `BLOB_PUSH` … for registry blob events, or the unknown text.
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::Unknown(text) => text,
            EventKind::TestEndpoint => "testEndpoint",
            EventKind::BlobPush => "BLOB_PUSH",
            EventKind::BlobPull => "BLOB_PULL",
            EventKind::BlobMount => "BLOB_MOUNT",
            EventKind::BlobDelete => "BLOB_DELETE",
            known => known.name(Format::V2).unwrap_or("UNKNOWN"),
        }
    }

    /// Whether this is one of the scan kinds.
    pub fn is_scan(&self) -> bool {
        matches!(
            self,
            EventKind::ScanningCompleted | EventKind::ScanningFailed | EventKind::ScanningStopped
        )
    }

    /// Whether this is one of the quota kinds.
    pub fn is_quota(&self) -> bool {
        matches!(self, EventKind::QuotaExceed | EventKind::QuotaWarning)
    }

    /// Whether this kind is not known to this crate.
    pub fn is_unknown(&self) -> bool {
        matches!(self, EventKind::Unknown(_))
    }

    /// Copies the unknown text, if any, giving a `'static` value.
    #[must_use]
    pub fn into_owned(self) -> EventKind<'static> {
        match self {
            EventKind::Unknown(t) => EventKind::Unknown(Cow::Owned(t.into_owned())),
            EventKind::PushArtifact => EventKind::PushArtifact,
            EventKind::PullArtifact => EventKind::PullArtifact,
            EventKind::DeleteArtifact => EventKind::DeleteArtifact,
            EventKind::UploadChart => EventKind::UploadChart,
            EventKind::DownloadChart => EventKind::DownloadChart,
            EventKind::DeleteChart => EventKind::DeleteChart,
            EventKind::ScanningCompleted => EventKind::ScanningCompleted,
            EventKind::ScanningFailed => EventKind::ScanningFailed,
            EventKind::ScanningStopped => EventKind::ScanningStopped,
            EventKind::QuotaExceed => EventKind::QuotaExceed,
            EventKind::QuotaWarning => EventKind::QuotaWarning,
            EventKind::Replication => EventKind::Replication,
            EventKind::TagRetention => EventKind::TagRetention,
            EventKind::TestEndpoint => EventKind::TestEndpoint,
            EventKind::BlobPush => EventKind::BlobPush,
            EventKind::BlobPull => EventKind::BlobPull,
            EventKind::BlobMount => EventKind::BlobMount,
            EventKind::BlobDelete => EventKind::BlobDelete,
        }
    }
}

impl crate::wire::IntoOwned for EventKind<'_> {
    type Owned = EventKind<'static>;
    fn into_owned(self) -> Self::Owned {
        EventKind::into_owned(self)
    }
}

impl fmt::Display for EventKind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `text` is one of the type names of Harbor 1.9 / 1.10 (`pushImage`, ...,
/// `projectQuota`, `testEndpoint`): the test that tells a 1.x payload from a 2.x one.
#[inline]
pub fn is_v1_type(text: &str) -> bool {
    NAMES.iter().any(|(_, v1, ..)| *v1 == Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_both_ways() {
        for (kind, v1, v2, ce) in NAMES.iter().cloned() {
            for (fmt, name) in [
                (Format::V1, v1),
                (Format::V2, v2),
                (Format::CloudEvents, ce),
            ] {
                assert_eq!(kind.name(fmt), name);
                if let Some(n) = name {
                    assert_eq!(EventKind::parse(n), kind);
                }
            }
        }
        assert_eq!(
            EventKind::parse("NEW_THING"),
            EventKind::Unknown("NEW_THING".into())
        );
        assert_eq!(EventKind::Unknown("X".into()).name(Format::V2), Some("X"));
    }

    #[test]
    fn v1_types_are_the_v1_column_of_the_table() {
        for name in [
            "pushImage",
            "pullImage",
            "deleteImage",
            "uploadChart",
            "downloadChart",
            "deleteChart",
            "scanningCompleted",
            "scanningFailed",
            "projectQuota",
            "testEndpoint",
        ] {
            assert!(is_v1_type(name), "{name}");
        }
        for name in [
            "PUSH_ARTIFACT",
            "harbor.artifact.pushed",
            "push",
            "",
            "pushimage",
        ] {
            assert!(!is_v1_type(name), "{name}");
        }
    }
}
