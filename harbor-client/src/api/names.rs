//! Names as Harbor's API paths want them: projects by name or id, and the path encoding of
//! the shared [`RepositoryName`] and [`Reference`] (see [`PathSegment`]).

use std::fmt;

pub use harbor_types::{Reference, RepositoryName};

use crate::{Error, Result};

/// Percent-encodes everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
pub(crate) fn percent_encode(s: &str, keep: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || keep.contains(&b)
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Encodes one path segment once (for names that never contain `/`, and ids).
pub fn encode_segment(s: &str) -> String {
    percent_encode(s, b":@")
}

/// A project, addressed by name or by numeric id.
///
/// Harbor's `{project_name_or_id}` paths take either. A value that parses as an integer
/// is taken as an id unless the request carries `X-Is-Resource-Name: true`; this type
/// sends that header whenever it addresses a project by name, so a project named `"123"`
/// is found by name.
///
/// ```
/// use harbor_client::api::{PathSegment, ProjectRef};
/// assert_eq!(ProjectRef::from("library"), ProjectRef::name("library"));
/// assert_eq!(ProjectRef::from(7), ProjectRef::id(7));
/// assert_eq!(ProjectRef::name("123").path_segment(), "123");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProjectRef {
    /// By name (sends `X-Is-Resource-Name: true`).
    Name(String),
    /// By numeric id.
    Id(i64),
}

impl ProjectRef {
    /// A project by name.
    pub fn name(name: impl Into<String>) -> Self {
        ProjectRef::Name(name.into())
    }

    /// A project by id.
    pub fn id(id: i64) -> Self {
        ProjectRef::Id(id)
    }

    /// Whether this addresses the project by name.
    pub fn is_name(&self) -> bool {
        matches!(self, ProjectRef::Name(_))
    }
}

impl fmt::Display for ProjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProjectRef::Name(n) => f.write_str(n),
            ProjectRef::Id(id) => write!(f, "{id}"),
        }
    }
}

impl From<&str> for ProjectRef {
    fn from(s: &str) -> Self {
        ProjectRef::Name(s.to_owned())
    }
}

impl From<String> for ProjectRef {
    fn from(s: String) -> Self {
        ProjectRef::Name(s)
    }
}

impl From<&String> for ProjectRef {
    fn from(s: &String) -> Self {
        ProjectRef::Name(s.clone())
    }
}

impl From<i64> for ProjectRef {
    fn from(id: i64) -> Self {
        ProjectRef::Id(id)
    }
}

impl From<&ProjectRef> for ProjectRef {
    fn from(p: &ProjectRef) -> Self {
        p.clone()
    }
}

/// How a name appears as a path segment of Harbor's API: [`ProjectRef`] and [`Reference`]
/// percent-encoded once, [`RepositoryName`] **twice**.
///
/// Harbor wants the repository segment URL-encoded twice (`a/b` → `a%2Fb` → `a%252Fb`): its
/// router decodes path parameters once and its handlers decode the repository name once
/// more, and a reverse proxy in front may decode a single `%2F` into a real `/`. Double
/// encoding is harmless for names without `/`. The typed methods of
/// [`HarborClient`](crate::api::HarborClient) do this; use it to build paths for
/// [`HarborClient::raw`](crate::api::HarborClient::raw).
///
/// ```
/// use harbor_client::api::{PathSegment, ProjectRef, Reference, RepositoryName};
/// let repo: RepositoryName = "team/app".parse()?;
/// assert_eq!(repo.path_segment(), "team%252Fapp");
/// assert_eq!(ProjectRef::name("my project").path_segment(), "my%20project");
/// let digest: Reference = format!("sha256:{}", "a".repeat(64)).parse()?;
/// assert!(digest.path_segment().starts_with("sha256:"));
/// # Ok::<(), harbor_client::Error>(())
/// ```
pub trait PathSegment {
    /// The path segment, percent-encoded as Harbor requires.
    fn path_segment(&self) -> String;
}

impl PathSegment for ProjectRef {
    fn path_segment(&self) -> String {
        match self {
            ProjectRef::Name(n) => encode_segment(n),
            ProjectRef::Id(id) => id.to_string(),
        }
    }
}

impl PathSegment for RepositoryName {
    fn path_segment(&self) -> String {
        let once = percent_encode(self.as_str(), b"");
        percent_encode(&once, b"")
    }
}

impl PathSegment for Reference {
    /// Percent-encoded once; the `:` of a digest stays as is.
    fn path_segment(&self) -> String {
        encode_segment(self.as_str())
    }
}

/// Splits a full repository name `project/repo[/more]` (as webhook payloads and
/// `Repository::name` give it) into the project name and the repository name inside it.
///
/// ```
/// use harbor_client::api::split_full_name;
/// let (project, repo) = split_full_name("library/team/app")?;
/// assert_eq!((project.as_str(), repo.as_str()), ("library", "team/app"));
/// # Ok::<(), harbor_client::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidInput`] when the name is not a repository name or has no project part.
pub fn split_full_name(full: &str) -> Result<(String, RepositoryName)> {
    let name = RepositoryName::new(full)?;
    let (project, repo) = name.split_first().ok_or_else(|| {
        Error::invalid(
            "repository full name",
            full,
            "expected `project/repository`",
        )
    })?;
    Ok((project.to_owned(), repo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_are_encoded_twice() {
        let r = RepositoryName::new("a/b/c").unwrap();
        assert_eq!(r.path_segment(), "a%252Fb%252Fc");
        assert_eq!(
            RepositoryName::new("nginx").unwrap().path_segment(),
            "nginx"
        );
    }

    #[test]
    fn full_names_split_into_project_and_repository() {
        let (project, repo) = split_full_name("library/team/app").unwrap();
        assert_eq!((project.as_str(), repo.as_str()), ("library", "team/app"));
        for bad in ["app", "/app", "library/", "Library/app", ""] {
            assert!(split_full_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn project_segments_are_encoded_once() {
        assert_eq!(ProjectRef::name("a b").path_segment(), "a%20b");
        assert_eq!(ProjectRef::id(5).path_segment(), "5");
    }
}
