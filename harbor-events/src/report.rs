//! Scan results carried by scan events: `scan_overview` (1.9 Clair overview, 1.10+ map of
//! report summaries keyed by MIME type), `sbom_overview` (2.11+) and the unified
//! [`ScanSummary`] view.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Severity;
use crate::owned::owned_struct;
use crate::wire::{BorrowCow, StrMap};

pub use harbor_types::report::{
    MIME_GENERIC_VULNERABILITY_REPORT, MIME_NATIVE_REPORT, MIME_SBOM_REPORT, PREFERRED_REPORT_TYPES,
};

/// A resource's `scan_overview`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ScanOverview<'a> {
    /// Harbor 1.10+: report summaries keyed by report MIME type.
    Reports(StrMap<'a, NativeReportSummary<'a>>),
    /// Harbor 1.9: the legacy Clair overview (integer severity, components).
    Clair(Box<ClairOverview<'a>>),
}

impl Default for ScanOverview<'_> {
    fn default() -> Self {
        ScanOverview::Reports(StrMap::new())
    }
}

impl ScanOverview<'_> {
    /// Copies everything borrowed, giving a `'static` value.
    #[must_use]
    pub fn into_owned(self) -> ScanOverview<'static> {
        match self {
            ScanOverview::Reports(map) => {
                ScanOverview::Reports(harbor_types::wire::IntoOwned::into_owned(map))
            }
            ScanOverview::Clair(c) => ScanOverview::Clair(Box::new(c.into_owned())),
        }
    }

    /// The summary of the preferred report type (see [`PREFERRED_REPORT_TYPES`]).
    pub fn summary(&self) -> Option<ScanSummary<'_>> {
        match self {
            ScanOverview::Reports(map) => {
                let (mime, report) = harbor_types::report::preferred_report(map.iter())?;
                Some(ScanSummary::from_report(mime, report))
            }
            ScanOverview::Clair(c) => Some(ScanSummary::from_clair(c)),
        }
    }
}

impl harbor_types::wire::IntoOwned for ScanOverview<'_> {
    type Owned = ScanOverview<'static>;
    fn into_owned(self) -> Self::Owned {
        ScanOverview::into_owned(self)
    }
}

impl Serialize for ScanOverview<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ScanOverview::Reports(map) => map.serialize(s),
            ScanOverview::Clair(c) => c.serialize(s),
        }
    }
}

pub(crate) const CLAIR_FIELDS: [&str; 8] = [
    "image_digest",
    "scan_status",
    "job_id",
    "severity",
    "components",
    "details_key",
    "creation_time",
    "update_time",
];

impl<'de: 'a, 'a> Deserialize<'de> for ScanOverview<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = ScanOverview<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scan overview object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let Some(first) = map.next_key::<BorrowCow<'a>>()? else {
                    return Ok(ScanOverview::Reports(StrMap::new()));
                };
                if CLAIR_FIELDS.contains(&first.0.as_ref()) {
                    let mut clair = ClairOverview::default();
                    clair.set(&first.0, &mut map)?;
                    while let Some(key) = map.next_key::<BorrowCow<'a>>()? {
                        clair.set(&key.0, &mut map)?;
                    }
                    return Ok(ScanOverview::Clair(Box::new(clair)));
                }
                let mut reports = StrMap::new();
                reports.insert(first.0, map.next_value::<NativeReportSummary<'a>>()?);
                while let Some(key) = map.next_key::<BorrowCow<'a>>()? {
                    reports.insert(key.0, map.next_value::<NativeReportSummary<'a>>()?);
                }
                Ok(ScanOverview::Reports(reports))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// One vulnerability report summary (`NativeReportSummary` in Harbor).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct NativeReportSummary<'a> {
    /// Report UUID (several joined when summaries of an image index were merged).
    #[serde(borrow)]
    pub report_id: Cow<'a, str>,
    /// `Pending`, `Running`, `Stopped`, `Error` or `Success`.
    #[serde(borrow)]
    pub scan_status: Cow<'a, str>,
    /// Overall severity; `None` when Harbor sent `""` (no report: failed or stopped scan).
    #[serde(with = "crate::values::severity_or_empty")]
    pub severity: Option<Severity>,
    /// Duration in seconds.
    pub duration: i64,
    /// Counts; `None` when Harbor sent `null` (no report).
    #[serde(borrow)]
    pub summary: Option<VulnerabilitySummary<'a>>,
    /// Start of the scan.
    #[serde(with = "crate::wire::rfc3339")]
    pub start_time: DateTime<Utc>,
    /// End of the scan.
    #[serde(with = "crate::wire::rfc3339")]
    pub end_time: DateTime<Utc>,
    /// The scanner; absent when there is no report.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub scanner: Option<Scanner<'a>>,
    /// Progress 0-100 (Harbor 2.0+; absent in 1.10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete_percent: Option<i64>,
}

owned_struct!(NativeReportSummary {
    report_id,
    scan_status,
    severity,
    duration,
    summary,
    start_time,
    end_time,
    scanner,
    complete_percent
});

/// Vulnerability counts of a report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct VulnerabilitySummary<'a> {
    /// All vulnerabilities found.
    pub total: u64,
    /// Those with a fix available.
    pub fixable: u64,
    /// Count per severity text (only the severities found; may be empty or `null`).
    #[serde(borrow)]
    pub summary: Option<StrMap<'a, u64>>,
}

owned_struct!(VulnerabilitySummary {
    total,
    fixable,
    summary
});

impl VulnerabilitySummary<'_> {
    /// The count for one severity (0 when absent).
    pub fn count(&self, severity: &Severity) -> u64 {
        self.summary
            .as_ref()
            .and_then(|m| m.get(severity.as_str()))
            .copied()
            .unwrap_or(0)
    }
}

/// The scanner that produced a report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Scanner<'a> {
    /// e.g. `Trivy`.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// e.g. `Aqua Security`.
    #[serde(borrow)]
    pub vendor: Cow<'a, str>,
    /// e.g. `v0.37.2`.
    #[serde(borrow)]
    pub version: Cow<'a, str>,
}

owned_struct!(Scanner {
    name,
    vendor,
    version
});

/// Harbor 1.9's Clair scan overview (`ImgScanOverview`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ClairOverview<'a> {
    /// Digest of the scanned image.
    pub image_digest: Cow<'a, str>,
    /// `finished`, `error`, or the raw job status.
    pub scan_status: Cow<'a, str>,
    /// Scan job id.
    pub job_id: i64,
    /// Integer severity, see [`Severity::from_legacy_code`].
    pub severity: i64,
    /// Counts per severity; removed on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<ClairComponents>,
    /// Clair layer key.
    pub details_key: Cow<'a, str>,
    /// When the overview was created.
    #[serde(with = "crate::wire::rfc3339")]
    pub creation_time: DateTime<Utc>,
    /// When it was updated (may be Go's zero time `0001-01-01T00:00:00Z`).
    #[serde(with = "crate::wire::rfc3339")]
    pub update_time: DateTime<Utc>,
}

owned_struct!(ClairOverview {
    image_digest,
    scan_status,
    job_id,
    severity,
    components,
    details_key,
    creation_time,
    update_time
});

impl<'a> ClairOverview<'a> {
    fn set<'de: 'a, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "image_digest" => self.image_digest = map.next_value::<BorrowCow<'a>>()?.0,
            "scan_status" => self.scan_status = map.next_value::<BorrowCow<'a>>()?.0,
            "job_id" => self.job_id = map.next_value()?,
            "severity" => self.severity = map.next_value()?,
            "components" => self.components = map.next_value()?,
            "details_key" => self.details_key = map.next_value::<BorrowCow<'a>>()?.0,
            "creation_time" => {
                self.creation_time =
                    crate::wire::rfc3339::parse(&map.next_value::<BorrowCow<'a>>()?.0)?;
            }
            "update_time" => {
                self.update_time =
                    crate::wire::rfc3339::parse(&map.next_value::<BorrowCow<'a>>()?.0)?;
            }
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    /// The severity as the enum (`None` for 0, a failed scan).
    pub fn severity(&self) -> Option<Severity> {
        Severity::from_legacy_code(self.severity)
    }
}

/// `components` of a Clair overview.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ClairComponents {
    /// Number of components (packages).
    pub total: i64,
    /// Count per integer severity.
    pub summary: Option<Vec<ClairSeverityCount>>,
}

impl harbor_types::wire::IntoOwned for ClairComponents {
    type Owned = ClairComponents;
    fn into_owned(self) -> Self {
        self
    }
}

/// One entry of [`ClairComponents::summary`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ClairSeverityCount {
    /// Integer severity, see [`Severity::from_legacy_code`].
    pub severity: i64,
    /// Number of components with it.
    pub count: i64,
}

/// `sbom_overview` (Harbor 2.11+, SBOM scans): a flat object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SbomOverview<'a> {
    /// Report id (only when the report has no content yet).
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub report_id: Option<Cow<'a, str>>,
    /// Status, e.g. `Success`.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub scan_status: Option<Cow<'a, str>>,
    /// Start of the generation.
    #[serde(
        with = "crate::wire::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<DateTime<Utc>>,
    /// End of the generation.
    #[serde(
        with = "crate::wire::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_time: Option<DateTime<Utc>>,
    /// Duration in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    /// Repository holding the SBOM accessory.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub sbom_repository: Option<Cow<'a, str>>,
    /// Digest of the SBOM accessory.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub sbom_digest: Option<Cow<'a, str>>,
    /// The scanner.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub scanner: Option<Scanner<'a>>,
}

owned_struct!(SbomOverview {
    report_id,
    scan_status,
    start_time,
    end_time,
    duration,
    sbom_repository,
    sbom_digest,
    scanner
});

/// A format-independent summary of one scan result (see [`crate::Event::scan_summary`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ScanSummary<'e> {
    /// Report MIME type, `None` for the 1.9 Clair overview.
    pub report_type: Option<&'e str>,
    /// Scan status text as Harbor sent it (`Success`, `Error`, `Stopped`; 1.9: `finished`, `error`).
    pub status: &'e str,
    /// Overall severity; `None` when there is no report.
    pub severity: Option<Severity>,
    /// Total vulnerabilities (1.9: components), when known.
    pub total: Option<u64>,
    /// Fixable vulnerabilities, when known.
    pub fixable: Option<u64>,
    /// Count per severity, in wire order.
    pub counts: Vec<(Severity, u64)>,
    /// Scanner name, when known.
    pub scanner: Option<&'e str>,
}

impl<'e> ScanSummary<'e> {
    fn from_report(mime: &'e str, r: &'e NativeReportSummary<'_>) -> Self {
        ScanSummary {
            report_type: Some(mime),
            status: &r.scan_status,
            severity: r.severity.clone(),
            total: r.summary.as_ref().map(|s| s.total),
            fixable: r.summary.as_ref().map(|s| s.fixable),
            counts: r
                .summary
                .as_ref()
                .and_then(|s| s.summary.as_ref())
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (Severity::from_text(k), *v))
                        .collect()
                })
                .unwrap_or_default(),
            scanner: r.scanner.as_ref().map(|s| s.name.as_ref()),
        }
    }

    fn from_clair(c: &'e ClairOverview<'_>) -> Self {
        let counts: Vec<(Severity, u64)> = c
            .components
            .as_ref()
            .and_then(|comp| comp.summary.as_ref())
            .map(|list| {
                list.iter()
                    .filter_map(|e| {
                        Some((
                            Severity::from_legacy_code(e.severity)?,
                            u64::try_from(e.count).ok()?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        ScanSummary {
            report_type: None,
            status: &c.scan_status,
            severity: c.severity(),
            total: c
                .components
                .as_ref()
                .and_then(|comp| u64::try_from(comp.total).ok()),
            fixable: None,
            counts,
            scanner: Some("Clair"),
        }
    }

    /// Whether the scan succeeded (`Success`, or 1.9's `finished`).
    pub fn is_success(&self) -> bool {
        self.status.eq_ignore_ascii_case("success") || self.status == "finished"
    }

    /// The count for one severity (0 when absent).
    pub fn count(&self, severity: &Severity) -> u64 {
        self.counts
            .iter()
            .filter(|(s, _)| s == severity)
            .map(|(_, n)| *n)
            .sum()
    }
}
