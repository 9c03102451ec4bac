//! [`Severity`]: a vulnerability severity, ranked as Harbor ranks it.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A vulnerability severity as Harbor reports it, in webhook payloads and in the API.
///
/// Harbor 1.10+ writes severities as text (`"Critical"`); Harbor 1.9's Clair overview used
/// integers, see [`Severity::from_legacy_code`]. Text Harbor (or a scanner) may add later is
/// kept verbatim in [`Severity::Other`].
///
/// # Ranking: unknown text fails closed
///
/// Severities compare by [`Severity::rank`], which is Harbor's own `Severity.Code()`
/// (`src/pkg/scan/vuln/severity.go`): `None` and `Unknown` 0, `Negligible` 1, `Low` 2,
/// `Medium` 3, `High` 4, `Critical` 5, and **any other text 99**, "to provide more secure
/// protection". So a severity this crate does not recognise is stricter than `Critical`: a
/// gate such as `severity.is_at_least(&Severity::High)` blocks it, as Harbor's "prevent
/// vulnerable images" does. Text is recognised case-insensitively (`"high"` is `High`).
///
/// `Ord` follows the rank; where two severities share one (`None` and `Unknown`, or two
/// `Other` texts) it orders `None` before `Unknown` and `Other` by text, so that it agrees
/// with `Eq`. [`Severity::is_at_least`] compares ranks only, as Harbor does.
///
/// ```
/// use harbor_types::Severity;
/// assert!(Severity::Critical > Severity::High);
/// assert_eq!("medium".parse::<Severity>().unwrap(), Severity::Medium);
/// let future = Severity::from_text("Catastrophic");
/// assert_eq!(future.as_str(), "Catastrophic");
/// assert!(future.is_at_least(&Severity::Critical));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// `None`: the scan found no vulnerability.
    #[default]
    None,
    /// `Unknown`: the scanner did not assign a priority (Harbor ranks it with `None`).
    Unknown,
    /// `Negligible`.
    Negligible,
    /// `Low`.
    Low,
    /// `Medium`.
    Medium,
    /// `High`.
    High,
    /// `Critical`.
    Critical,
    /// Any other text, kept verbatim; ranks above `Critical`.
    Other(String),
}

impl Severity {
    /// Every named severity, from the least to the most severe.
    pub const ALL: [Severity; 7] = [
        Severity::None,
        Severity::Unknown,
        Severity::Negligible,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The rank of text this crate does not recognise (Harbor's code for it).
    pub const UNRECOGNISED_RANK: u8 = 99;

    /// The text Harbor uses (`"High"`), or the text kept in [`Severity::Other`].
    pub fn as_str(&self) -> &str {
        match self {
            Severity::None => "None",
            Severity::Unknown => "Unknown",
            Severity::Negligible => "Negligible",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
            Severity::Other(text) => text,
        }
    }

    /// Parses Harbor's text: exact as Harbor writes it, else case-insensitive; anything
    /// else (the empty text too) is [`Severity::Other`].
    #[inline]
    pub fn from_text(text: &str) -> Severity {
        match text {
            "None" => Severity::None,
            "Unknown" => Severity::Unknown,
            "Negligible" => Severity::Negligible,
            "Low" => Severity::Low,
            "Medium" => Severity::Medium,
            "High" => Severity::High,
            "Critical" => Severity::Critical,
            other => Severity::ALL
                .into_iter()
                .find(|s| s.as_str().eq_ignore_ascii_case(other))
                .unwrap_or_else(|| Severity::Other(other.to_owned())),
        }
    }

    /// Maps Harbor 1.9's integer severity (Clair overview): 1 negligible, 2 unknown, 3 low,
    /// 4 medium, 5 high. `0` (a failed scan) and other numbers give `None`.
    pub fn from_legacy_code(code: i64) -> Option<Severity> {
        match code {
            1 => Some(Severity::Negligible),
            2 => Some(Severity::Unknown),
            3 => Some(Severity::Low),
            4 => Some(Severity::Medium),
            5 => Some(Severity::High),
            _ => None,
        }
    }

    /// The Harbor 1.9 integer for this severity (`None` for severities 1.9 did not have).
    pub fn legacy_code(&self) -> Option<i64> {
        match self {
            Severity::Negligible => Some(1),
            Severity::Unknown => Some(2),
            Severity::Low => Some(3),
            Severity::Medium => Some(4),
            Severity::High => Some(5),
            _ => None,
        }
    }

    /// Harbor's rank (`Severity.Code()`): `None` and `Unknown` 0, `Negligible` 1, `Low` 2,
    /// `Medium` 3, `High` 4, `Critical` 5, unrecognised text
    /// [`UNRECOGNISED_RANK`](Severity::UNRECOGNISED_RANK) (99).
    pub fn rank(&self) -> u8 {
        match self {
            Severity::None | Severity::Unknown => 0,
            Severity::Negligible => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
            Severity::Other(_) => Severity::UNRECOGNISED_RANK,
        }
    }

    /// Whether this severity ranks at least as high as `threshold` (unrecognised text
    /// always does).
    pub fn is_at_least(&self, threshold: &Severity) -> bool {
        self.rank() >= threshold.rank()
    }

    /// Whether this is text this crate does not recognise.
    pub fn is_other(&self) -> bool {
        matches!(self, Severity::Other(_))
    }

    /// Harbor's project metadata value for "prevent vulnerable images from running" at this
    /// level (`"low"`, `"medium"`, `"high"`, `"critical"`; `"none"` for the others).
    pub fn as_project_metadata(&self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
            _ => "none",
        }
    }

    /// Tie-break among severities of one rank, so that `Ord` agrees with `Eq`.
    fn tie_break(&self) -> u8 {
        match self {
            Severity::Unknown => 1,
            _ => 0,
        }
    }
}

impl PartialOrd for Severity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Severity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank()
            .cmp(&other.rank())
            .then_with(|| self.tie_break().cmp(&other.tie_break()))
            .then_with(|| match (self, other) {
                (Severity::Other(a), Severity::Other(b)) => a.cmp(b),
                _ => Ordering::Equal,
            })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Severity::from_text(s))
    }
}

impl From<&str> for Severity {
    fn from(s: &str) -> Self {
        Severity::from_text(s)
    }
}

impl serde::Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Severity::from_text(&crate::wire::Text::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn text_is_parsed_as_harbor_writes_it_and_kept_when_unknown() {
        assert_eq!(Severity::from_text("High"), Severity::High);
        assert_eq!(Severity::from_text("critical"), Severity::Critical);
        assert_eq!(
            Severity::from_text("Weird"),
            Severity::Other("Weird".into())
        );
        assert_eq!(Severity::from_text(""), Severity::Other(String::new()));
        for s in Severity::ALL {
            assert_eq!(Severity::from_text(s.as_str()), s);
        }
        assert_eq!(Severity::from_legacy_code(5), Some(Severity::High));
        assert_eq!(Severity::from_legacy_code(0), None);
        assert_eq!(Severity::High.legacy_code(), Some(5));
    }

    /// Harbor's `Severity.Code()` (src/pkg/scan/vuln/severity.go), value for value.
    #[test]
    fn ranks_are_harbors_codes_and_unknown_text_fails_closed() {
        let codes = [
            ("None", 0),
            ("Unknown", 0),
            ("Negligible", 1),
            ("Low", 2),
            ("Medium", 3),
            ("High", 4),
            ("Critical", 5),
            ("Catastrophic", 99),
            ("", 99),
        ];
        for (text, code) in codes {
            assert_eq!(Severity::from_text(text).rank(), code, "{text:?}");
        }
        let other = Severity::Other("Catastrophic".into());
        assert!(other > Severity::Critical);
        assert!(other.is_at_least(&Severity::Critical));
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Negligible);
        assert!(Severity::Unknown.is_at_least(&Severity::None));
        assert!(Severity::None.is_at_least(&Severity::Unknown));
        assert!(!Severity::Low.is_at_least(&Severity::High));
        // Ord is total and agrees with Eq.
        let mut all: Vec<Severity> = Severity::ALL.to_vec();
        all.push(Severity::Other("b".into()));
        all.push(Severity::Other("a".into()));
        for a in &all {
            for b in &all {
                assert_eq!(a.cmp(b) == Ordering::Equal, a == b, "{a:?} {b:?}");
                assert_eq!(a.cmp(b), b.cmp(a).reverse());
            }
        }
        assert_eq!(all.iter().max(), Some(&Severity::Other("b".into())));
    }

    #[test]
    fn severities_read_and_write_harbors_text() {
        let s: Severity = serde_json::from_str("\"Medium\"").unwrap();
        assert_eq!(s, Severity::Medium);
        assert_eq!(
            serde_json::to_string(&Severity::Other("X".into())).unwrap(),
            "\"X\""
        );
        assert_eq!(Severity::High.as_project_metadata(), "high");
        assert_eq!(Severity::Unknown.as_project_metadata(), "none");
    }
}
