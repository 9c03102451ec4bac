//! The Harbor version a server runs, and the check that refuses an operation it lacks.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// A Harbor release, `major.minor.patch`, as Harbor reports it in
/// [`GeneralInfo::harbor_version`](crate::api::models::GeneralInfo) (`v2.11.0-abc123`).
///
/// Parsing is lenient about what follows the numbers: a leading `v`, a build suffix after
/// `-` or `+` (`-abc123`, `-rc1-8f1e4c8a`, `+dev`) and a missing patch (`v2.11`) are all
/// accepted; text without `MAJOR.MINOR` at its start (`dev`, `unknown`) is an error.
///
/// ```
/// use harbor_client::api::HarborVersion;
/// let v: HarborVersion = "v2.11.0-abc123".parse()?;
/// assert_eq!(v, HarborVersion::new(2, 11, 0));
/// assert!(v < HarborVersion::new(2, 11, 1));
/// assert_eq!(v.to_string(), "2.11.0");
/// # Ok::<(), harbor_client::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HarborVersion {
    major: u32,
    minor: u32,
    patch: u32,
}

impl HarborVersion {
    /// `major.minor.patch`.
    pub const fn new(major: u32, minor: u32, patch: u32) -> HarborVersion {
        HarborVersion {
            major,
            minor,
            patch,
        }
    }

    /// The oldest release whose operations the client checks: every operation of the
    /// spec that Harbor 2.2.0 already had is sent without asking the server's version.
    pub const BASELINE: HarborVersion = HarborVersion::new(2, 2, 0);

    /// The major version.
    pub const fn major(&self) -> u32 {
        self.major
    }

    /// The minor version.
    pub const fn minor(&self) -> u32 {
        self.minor
    }

    /// The patch version.
    pub const fn patch(&self) -> u32 {
        self.patch
    }
}

impl fmt::Display for HarborVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for HarborVersion {
    type Err = Error;

    /// Parses `v2.11.0-abc123`, `2.11.0`, `v2.11`: see the [type docs](HarborVersion).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the text does not start with `MAJOR.MINOR`.
    fn from_str(text: &str) -> Result<Self> {
        let invalid = || Error::invalid("Harbor version", text, "expected vMAJOR.MINOR[.PATCH]");
        let t = text.trim();
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        // The numbers end where the build or pre-release suffix starts.
        let numbers = t.split(['-', '+', ' ', '_']).next().unwrap_or_default();
        let mut parts = numbers.split('.');
        let mut number = |required: bool| -> Result<u32> {
            match parts.next() {
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().map_err(|_| invalid())
                }
                None if !required => Ok(0),
                _ => Err(invalid()),
            }
        };
        let version = HarborVersion::new(number(true)?, number(true)?, number(false)?);
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(version)
    }
}

/// How a [`HarborClient`](crate::api::HarborClient) checks that the server has an operation
/// before sending it (operations Harbor added after 2.2 carry the release that added them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum VersionCheck {
    /// Read `harbor_version` from `GET /systeminfo` before the first such operation, once per
    /// client (clones share it). When the server does not say (anonymous `systeminfo` may
    /// omit it) or says something that is not a version, or `systeminfo` fails, the
    /// operation is sent and the server decides.
    #[default]
    Detect,
    /// Take this as the server's version; never ask.
    Assume(HarborVersion),
    /// Never check; send every operation (for servers that hide or misreport their version).
    Off,
}

/// The version check's decision for an operation, given what is known of the server: a pure
/// function the client calls before sending.
///
/// # Errors
///
/// [`Error::UnsupportedByServer`] when the server is known to be older than `since`.
pub(crate) fn check(
    operation: &'static str,
    since: HarborVersion,
    server: Option<HarborVersion>,
) -> Result<()> {
    match server {
        Some(server) if server < since => Err(Error::UnsupportedByServer {
            operation,
            since,
            server,
        }),
        _ => Ok(()),
    }
}

/// The version check's decision for an operation Harbor removed in `removed_in`: a pure
/// function the client calls before sending.
///
/// # Errors
///
/// [`Error::RemovedFromServer`] when the server is known to be that release or newer.
pub(crate) fn check_removed(
    operation: &'static str,
    removed_in: HarborVersion,
    server: Option<HarborVersion>,
) -> Result<()> {
    match server {
        Some(server) if server >= removed_in => Err(Error::RemovedFromServer {
            operation,
            removed_in,
            server,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn versions_as_harbor_reports_them() {
        for (text, want) in [
            ("v2.11.0-abc123", (2, 11, 0)),
            ("v2.9.0-rc1-8f1e4c8a", (2, 9, 0)),
            ("2.13.1", (2, 13, 1)),
            ("v2.11", (2, 11, 0)),
            (" V2.5.6+dev ", (2, 5, 6)),
            ("v1.10.17-3bbbe2f0", (1, 10, 17)),
        ] {
            let v: HarborVersion = text.parse().unwrap();
            assert_eq!((v.major(), v.minor(), v.patch()), want, "{text}");
        }
        for bad in [
            "", "dev", "v", "v2", "2.x.1", "v2..1", "2.1.2.3", "string", "-2.1",
        ] {
            assert!(bad.parse::<HarborVersion>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_check_refuses_only_a_known_older_server() {
        let since = HarborVersion::new(2, 11, 1);
        let err = check(
            "listArtifactsOfProject",
            since,
            Some(HarborVersion::new(2, 11, 0)),
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::UnsupportedByServer { operation: "listArtifactsOfProject", since: s, server }
                if *s == since && *server == HarborVersion::new(2, 11, 0)),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "listArtifactsOfProject needs Harbor 2.11.1 or later; the server runs Harbor 2.11.0"
        );
        assert!(check("x", since, Some(since)).is_ok());
        assert!(check("x", since, Some(HarborVersion::new(2, 12, 0))).is_ok());
        assert!(check("x", since, None).is_ok());
    }

    #[test]
    fn an_operation_removed_in_a_release_is_refused_from_that_release_on() {
        let removed = HarborVersion::new(2, 13, 0);
        let check = |server| check_removed("ListRobotV1", removed, server);
        assert!(check(Some(HarborVersion::new(2, 12, 9))).is_ok());
        assert!(
            check(None).is_ok(),
            "a server that does not say gets the call"
        );
        for server in [
            removed,
            HarborVersion::new(2, 13, 1),
            HarborVersion::new(3, 0, 0),
        ] {
            let err = check(Some(server)).unwrap_err();
            assert!(
                matches!(err, Error::RemovedFromServer { operation: "ListRobotV1", removed_in, server: s }
                    if removed_in == removed && s == server),
                "{err:?}"
            );
            assert!(!err.may_have_been_sent());
        }
    }

    proptest! {
        #[test]
        fn any_release_with_any_suffix_parses_to_its_numbers(
            major in 0u32..100, minor in 0u32..100, patch in 0u32..100,
            suffix in "(-[a-z0-9]{1,12}){0,2}",
        ) {
            let v: HarborVersion = format!("v{major}.{minor}.{patch}{suffix}").parse().unwrap();
            prop_assert_eq!(v, HarborVersion::new(major, minor, patch));
            prop_assert_eq!(v.to_string().parse::<HarborVersion>().unwrap(), v);
        }

        #[test]
        fn parsing_never_panics(text in ".{0,40}") {
            let _ = text.parse::<HarborVersion>();
        }
    }
}
