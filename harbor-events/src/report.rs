//! Scan results carried by scan events: `scan_overview` (1.9 Clair overview, 1.10+ map of
//! report summaries keyed by MIME type), `sbom_overview` (2.11+) and the unified
//! [`ScanSummary`] view.
//!
//! The report summaries, their counts and scanner, and the SBOM overview are the shared
//! models of `harbor-types` (the Harbor API's `scan_overview` holds the same ones):
//! [`NativeReportSummary`], [`VulnerabilitySummary`], [`Scanner`], [`SbomOverview`].

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use harbor_types::wire::{IntoOwned, Reader, Text, WireMembers, WireValue};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Severity;
use crate::wire::StrMap;

pub use harbor_types::report::{
    MIME_GENERIC_VULNERABILITY_REPORT, MIME_NATIVE_REPORT, MIME_SBOM_REPORT, NativeReportSummary,
    PREFERRED_REPORT_TYPES, SbomOverview, Scanner, VulnerabilitySummary,
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
            ScanOverview::Reports(map) => ScanOverview::Reports(map.into_owned()),
            ScanOverview::Clair(c) => ScanOverview::Clair(c.into_owned()),
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

impl IntoOwned for ScanOverview<'_> {
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

/// Whether the first member of a `scan_overview` makes it Harbor 1.9's Clair overview.
fn is_clair_member(key: &str) -> bool {
    <ClairOverview<'_> as WireMembers<'_>>::MEMBERS.contains(&key)
}

/// Both readers decide alike: a first member named like a Clair overview field makes it the
/// 1.9 Clair overview (later members set fields, the last one wins, unknown ones are
/// skipped); otherwise a map of report summaries (a repeated MIME type replaces).
impl<'a> WireValue<'a> for ScanOverview<'a> {
    fn read<R: Reader<'a>>(r: &mut R) -> Option<Self> {
        r.open(b'{')?;
        let mut first = true;
        let Some(key) = r.member(&mut first)? else {
            return Some(ScanOverview::Reports(StrMap::new()));
        };
        if is_clair_member(key) {
            let mut clair = ClairOverview::default();
            let mut next = Some(key);
            while let Some(key) = next {
                clair.read_member(key, r)?;
                next = r.member(&mut first)?;
            }
            return Some(ScanOverview::Clair(Box::new(clair)));
        }
        let mut reports = StrMap::new();
        reports.insert(key, NativeReportSummary::read(r)?);
        while let Some(key) = r.member(&mut first)? {
            reports.insert(key, NativeReportSummary::read(r)?);
        }
        Some(ScanOverview::Reports(reports))
    }

    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de, 'a> Visitor<'de> for V<'a> {
            type Value = ScanOverview<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scan overview object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let Some(first) = map.next_key::<Text<'de>>()? else {
                    return Ok(ScanOverview::Reports(StrMap::new()));
                };
                if is_clair_member(&first) {
                    let mut clair = ClairOverview::default();
                    clair.de_member(&first, &mut map)?;
                    while let Some(key) = map.next_key::<Text<'de>>()? {
                        clair.de_member(&key, &mut map)?;
                    }
                    return Ok(ScanOverview::Clair(Box::new(clair)));
                }
                let summary = harbor_types::wire::DeValue::<NativeReportSummary<'a>>::new;
                let mut reports = StrMap::new();
                reports.insert(first.into_string(), map.next_value_seed(summary())?);
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    reports.insert(key.into_string(), map.next_value_seed(summary())?);
                }
                Ok(ScanOverview::Reports(reports))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }

    fn ser<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ScanOverview<'_> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ScanOverview::de(d)
    }
}

harbor_types::wire_struct! {
    /// Harbor 1.9's Clair scan overview (`ImgScanOverview`).
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct ClairOverview<'a> {
        /// Digest of the scanned image.
        pub image_digest: Cow<'a, str> = always("image_digest"),
        /// `finished`, `error`, or the raw job status.
        pub scan_status: Cow<'a, str> = always("scan_status"),
        /// Scan job id.
        pub job_id: i64 = always("job_id"),
        /// Integer severity, see [`Severity::from_legacy_code`].
        pub severity: i64 = always("severity"),
        /// Counts per severity; removed on failure.
        pub components: Option<ClairComponents> = omit_none("components"),
        /// Clair layer key.
        pub details_key: Cow<'a, str> = always("details_key"),
        /// When the overview was created.
        pub creation_time: DateTime<Utc> = rfc3339("creation_time"),
        /// When it was updated (may be Go's zero time `0001-01-01T00:00:00Z`).
        pub update_time: DateTime<Utc> = rfc3339("update_time"),
    }
}

impl ClairOverview<'_> {
    /// The severity as the enum (`None` for 0, a failed scan).
    pub fn severity(&self) -> Option<Severity> {
        Severity::from_legacy_code(self.severity)
    }
}

harbor_types::wire_struct! {
    /// `components` of a Clair overview.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct ClairComponents {
        /// Number of components (packages).
        pub total: i64 = always("total"),
        /// Count per integer severity (empty when Harbor sent `null`).
        pub summary: Vec<ClairSeverityCount> = always("summary"),
    }
}

harbor_types::wire_struct! {
    /// One entry of [`ClairComponents::summary`].
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct ClairSeverityCount {
        /// Integer severity, see [`Severity::from_legacy_code`].
        pub severity: i64 = always("severity"),
        /// Number of components with it.
        pub count: i64 = always("count"),
    }
}

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
    /// Count per severity, in wire order (a negative count, which Harbor never sends, is
    /// left out).
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
            total: r.summary.as_ref().and_then(|s| u64::try_from(s.total).ok()),
            fixable: r
                .summary
                .as_ref()
                .and_then(|s| u64::try_from(s.fixable).ok()),
            counts: r
                .summary
                .as_ref()
                .and_then(|s| s.summary.as_ref())
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| {
                            Some((Severity::from_text(k), u64::try_from(*v).ok()?))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            scanner: r.scanner.as_ref().map(|s| s.name.as_ref()),
        }
    }

    fn from_clair(c: &'e ClairOverview<'_>) -> Self {
        let counts: Vec<(Severity, u64)> = c
            .components
            .iter()
            .flat_map(|comp| &comp.summary)
            .filter_map(|e| {
                Some((
                    Severity::from_legacy_code(e.severity)?,
                    u64::try_from(e.count).ok()?,
                ))
            })
            .collect();
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
