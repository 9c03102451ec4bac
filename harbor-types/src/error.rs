//! The crate's error: a text that is not a valid name, digest or reference.

use std::borrow::Cow;
use std::fmt;

/// What kind of value failed to parse (see [`Error::kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueKind {
    /// A [`Digest`](crate::Digest).
    Digest,
    /// A [`Tag`](crate::Tag).
    Tag,
    /// A [`RepositoryName`](crate::RepositoryName).
    RepositoryName,
    /// A registry host (`host[:port]`) of a [`Repository`](crate::Repository).
    Registry,
    /// A [`Reference`](crate::Reference) (a tag or a digest).
    Reference,
    /// An [`ImageReference`](crate::ImageReference).
    ImageReference,
}

impl ValueKind {
    /// The kind in words (`"digest"`, `"repository name"`, ...), as error messages say it.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueKind::Digest => "digest",
            ValueKind::Tag => "tag",
            ValueKind::RepositoryName => "repository name",
            ValueKind::Registry => "registry",
            ValueKind::Reference => "reference",
            ValueKind::ImageReference => "image reference",
        }
    }
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong in this crate: a text that is not a valid value of its kind.
///
/// The message names the kind, shows the text (cut to 300 characters) and says what the
/// grammar wants.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a valid value of its kind.
    #[error("invalid {kind} {value:?}: {reason}")]
    Invalid {
        /// What it should have been.
        kind: ValueKind,
        /// The text (cut to 300 characters).
        value: String,
        /// What is wrong, in terms of the grammar.
        reason: Cow<'static, str>,
    },
}

impl Error {
    /// An error for `value` of `kind`.
    pub fn invalid(kind: ValueKind, value: &str, reason: impl Into<Cow<'static, str>>) -> Self {
        Error::Invalid {
            kind,
            value: value.chars().take(300).collect(),
            reason: reason.into(),
        }
    }

    /// The kind of value that failed.
    pub fn kind(&self) -> ValueKind {
        match self {
            Error::Invalid { kind, .. } => *kind,
        }
    }

    /// The rejected text (cut to 300 characters).
    pub fn value(&self) -> &str {
        match self {
            Error::Invalid { value, .. } => value,
        }
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &str {
        match self {
            Error::Invalid { reason, .. } => reason,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
