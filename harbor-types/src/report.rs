//! Vulnerability and SBOM reports: the MIME types Harbor names them by, which one a summary
//! prefers, and the summaries Harbor attaches to artifacts (in the API's `scan_overview`
//! and `sbom_overview`, and in scan webhooks): [`NativeReportSummary`],
//! [`VulnerabilitySummary`], [`Scanner`], [`SbomOverview`].
//!
//! The summaries borrow their text from the JSON they were read from where they can
//! (`Cow<'a, str>`); `into_owned()` gives a `'static` value, which is also what serde gives.
//!
//! The constants are Harbor's own (`src/pkg/scan/rest/v1/models.go`): the *native* report is
//! Harbor's scanner-adapter report v1.0; the *generic* vulnerability report v1.1 is what
//! Trivy and current adapters produce (Harbor 2.2+).

/// `MimeTypeNativeReport`: Harbor's native vulnerability report, v1.0 (Harbor 1.10 to 2.1,
/// and adapters that still produce it). Harbor assumes it when a client sends no
/// `X-Accept-Vulnerabilities`.
pub const MIME_NATIVE_REPORT: &str =
    "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0";
/// `MimeTypeGenericVulnerabilityReport`: the generic vulnerability report, v1.1 (Harbor 2.2+,
/// Trivy).
pub const MIME_GENERIC_VULNERABILITY_REPORT: &str =
    "application/vnd.security.vulnerability.report; version=1.1";
/// `MimeTypeSBOMReport`: the SBOM report, v1.0 (Harbor 2.11+).
pub const MIME_SBOM_REPORT: &str = "application/vnd.security.sbom.report+json; version=1.0";

/// The vulnerability report types a summary prefers, most preferred first: the generic v1.1
/// report, then the native v1.0 one. Any other type comes after them.
pub const PREFERRED_REPORT_TYPES: [&str; 2] =
    [MIME_GENERIC_VULNERABILITY_REPORT, MIME_NATIVE_REPORT];

/// The preferred entry of a map of reports keyed by MIME type: the first of
/// [`PREFERRED_REPORT_TYPES`] present, else the first entry in the map's order.
pub fn preferred_report<'m, V>(
    reports: impl IntoIterator<Item = (&'m str, &'m V)>,
) -> Option<(&'m str, &'m V)> {
    // `min_by_key` keeps the first of equal keys: map order decides among the others.
    reports.into_iter().min_by_key(|(mime, _)| {
        PREFERRED_REPORT_TYPES
            .iter()
            .position(|preferred| preferred == mime)
            .unwrap_or(PREFERRED_REPORT_TYPES.len())
    })
}

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::Severity;
use crate::wire::StrMap;

crate::wire_struct! {
    /// One vulnerability report summary (`NativeReportSummary` in Harbor), a value of a
    /// `scan_overview` keyed by report MIME type.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct NativeReportSummary<'a> {
        /// Report UUID (several joined when summaries of an image index were merged).
        pub report_id: Cow<'a, str> = always("report_id"),
        /// `Pending`, `Running`, `Stopped`, `Error` or `Success`.
        pub scan_status: Cow<'a, str> = always("scan_status"),
        /// Overall severity; `None` when Harbor sent `""` (no report: a failed or stopped
        /// scan).
        pub severity: Option<Severity> = severity_or_empty("severity"),
        /// Duration in seconds.
        pub duration: i64 = always("duration"),
        /// Counts; `None` when Harbor sent `null` (no report).
        pub summary: Option<VulnerabilitySummary<'a>> = null_none("summary"),
        /// Start of the scan.
        pub start_time: DateTime<Utc> = rfc3339("start_time"),
        /// End of the scan.
        pub end_time: DateTime<Utc> = rfc3339("end_time"),
        /// The scanner; absent when there is no report.
        pub scanner: Option<Scanner<'a>> = omit_none("scanner"),
        /// Progress 0-100 (Harbor 2.0+; absent in 1.10).
        pub complete_percent: Option<i64> = omit_none("complete_percent"),
    }
}

crate::wire_struct! {
    /// Vulnerability counts of a report. (Signed, as Harbor's Go `int` and its spec's
    /// `integer` are.)
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct VulnerabilitySummary<'a> {
        /// All vulnerabilities found.
        pub total: i64 = always("total"),
        /// Those with a fix available.
        pub fixable: i64 = always("fixable"),
        /// Count per severity text (only the severities found; may be empty or `null`).
        pub summary: Option<StrMap<'a, i64>> = null_none("summary"),
    }
}

impl VulnerabilitySummary<'_> {
    /// The count for one severity (0 when absent).
    pub fn count(&self, severity: &Severity) -> i64 {
        self.summary
            .as_ref()
            .and_then(|m| m.get(severity.as_str()))
            .copied()
            .unwrap_or(0)
    }
}

crate::wire_struct! {
    /// The scanner that produced a report.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Scanner<'a> {
        /// e.g. `Trivy`.
        pub name: Cow<'a, str> = always("name"),
        /// e.g. `Aqua Security`.
        pub vendor: Cow<'a, str> = always("vendor"),
        /// e.g. `v0.37.2`.
        pub version: Cow<'a, str> = always("version"),
    }
}

crate::wire_struct! {
    /// `sbom_overview` (Harbor 2.11+, SBOM scans): a flat object.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct SbomOverview<'a> {
        /// Report id (only when the report has no content yet).
        pub report_id: Option<Cow<'a, str>> = omit_none("report_id"),
        /// Status, e.g. `Success`.
        pub scan_status: Option<Cow<'a, str>> = omit_none("scan_status"),
        /// Start of the generation.
        pub start_time: Option<DateTime<Utc>> = rfc3339_omit_none("start_time"),
        /// End of the generation.
        pub end_time: Option<DateTime<Utc>> = rfc3339_omit_none("end_time"),
        /// Duration in seconds.
        pub duration: Option<i64> = omit_none("duration"),
        /// Repository holding the SBOM accessory.
        pub sbom_repository: Option<Cow<'a, str>> = omit_none("sbom_repository"),
        /// Digest of the SBOM accessory.
        pub sbom_digest: Option<Cow<'a, str>> = omit_none("sbom_digest"),
        /// The scanner.
        pub scanner: Option<Scanner<'a>> = omit_none("scanner"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SUMMARY: &str = r#"{"report_id":"r1","scan_status":"Success","severity":"High","duration":8,"summary":{"total":3,"fixable":2,"summary":{"High":1,"Low":2}},"start_time":"2023-04-03T06:12:47Z","end_time":"2023-04-03T06:12:55.5Z","scanner":{"name":"Trivy","vendor":"Aqua Security","version":"v0.37.2"},"complete_percent":100}"#;

    #[test]
    fn summaries_read_and_write_as_harbor_writes_them() {
        let s: NativeReportSummary<'static> = serde_json::from_str(SUMMARY).unwrap();
        assert_eq!(s.severity, Some(Severity::High));
        assert_eq!(s.summary.as_ref().unwrap().count(&Severity::Low), 2);
        assert_eq!(s.scanner.as_ref().unwrap().name, "Trivy");
        assert_eq!(serde_json::to_string(&s).unwrap(), SUMMARY);
        // No report: `""` severity and `null` summary, no scanner; written back the same.
        let none = r#"{"report_id":"","scan_status":"Error","severity":"","duration":0,"summary":null,"start_time":"0001-01-01T00:00:00Z","end_time":"0001-01-01T00:00:00Z"}"#;
        let s: NativeReportSummary<'_> = serde_json::from_str(none).unwrap();
        assert_eq!((s.severity.clone(), s.summary.clone()), (None, None));
        assert_eq!(serde_json::to_string(&s).unwrap(), none);
        // Owned from a transient buffer, as an API client reads it.
        let buffer = SUMMARY.to_owned();
        let owned: NativeReportSummary<'static> =
            serde_json::from_slice(buffer.as_bytes()).unwrap();
        drop(buffer);
        assert_eq!(owned.report_id, "r1");
    }

    #[test]
    fn decoding_errors_name_the_rule() {
        let dup = r#"{"report_id":"a","report_id":"b"}"#;
        let err = serde_json::from_str::<NativeReportSummary<'_>>(dup).unwrap_err();
        assert!(
            err.to_string().contains("duplicate field `report_id`"),
            "{err}"
        );
        let err = serde_json::from_str::<NativeReportSummary<'_>>(r#"{"start_time":"nope"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("invalid RFC 3339 time"), "{err}");
        let sbom: SbomOverview<'_> =
            serde_json::from_str(r#"{"scan_status":null,"unknown":[1,{"a":2}]}"#).unwrap();
        assert_eq!(sbom, SbomOverview::default());
        assert_eq!(serde_json::to_string(&sbom).unwrap(), "{}");
    }

    #[test]
    fn the_generic_report_is_preferred_then_the_native_one_then_any() {
        let map = [
            ("x/other", 1),
            (MIME_NATIVE_REPORT, 2),
            (MIME_GENERIC_VULNERABILITY_REPORT, 3),
        ];
        let entries = || map.iter().map(|(k, v)| (*k, v));
        assert_eq!(
            preferred_report(entries()),
            Some((MIME_GENERIC_VULNERABILITY_REPORT, &3))
        );
        assert_eq!(
            preferred_report(entries().take(2)),
            Some((MIME_NATIVE_REPORT, &2))
        );
        assert_eq!(preferred_report(entries().take(1)), Some(("x/other", &1)));
        assert_eq!(preferred_report(entries().take(0)), None);
    }
}
