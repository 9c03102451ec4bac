//! Vulnerability and SBOM reports: the MIME types Harbor names them by, and which one a
//! summary prefers.
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

#[cfg(test)]
mod tests {
    use super::*;

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
