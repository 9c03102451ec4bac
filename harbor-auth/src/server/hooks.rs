//! The hooks a [`TokenEndpoint`](super::TokenEndpoint) asks: who the caller is
//! ([`CredentialChecker`]) and what they may do ([`Authorizer`]).

use secrecy::SecretString;

use crate::scope::ScopeSet;

/// Checks a user name and password.
pub trait CredentialChecker: Send + Sync {
    /// Whether the password is right for the user. Must take about the same time for unknown
    /// users as for a wrong password.
    fn check(&self, username: &str, password: &SecretString) -> bool;

    /// Whether `username` may still get tokens, asked before a refresh token of theirs is
    /// exchanged (see [`TokenEndpoint::with_refresh_tokens`](super::TokenEndpoint::with_refresh_tokens)). Refresh tokens are stateless,
    /// so this is how a removed or disabled user loses them before they expire; the default
    /// answers `true`. [`Htpasswd`](super::Htpasswd) answers whether the user is in the file.
    fn is_active(&self, username: &str) -> bool {
        let _ = username;
        true
    }
}

/// Decides what a subject may do.
///
/// The endpoint grants the **intersection** of what was asked and what this returns, so an
/// authoriser may return more than asked (for example "everything in the user's projects").
pub trait Authorizer: Send + Sync {
    /// The access `subject` (`None` for anonymous) may have among `asked`.
    fn allowed(&self, subject: Option<&str>, asked: &ScopeSet) -> ScopeSet;
}

impl<F> Authorizer for F
where
    F: Fn(Option<&str>, &ScopeSet) -> ScopeSet + Send + Sync,
{
    fn allowed(&self, subject: Option<&str>, asked: &ScopeSet) -> ScopeSet {
        self(subject, asked)
    }
}
