//! Credentials for a registry or its token realm.
//!
//! Secrets live in [`secrecy::SecretString`]: `Debug` prints `[REDACTED]`, and no error message
//! or log line of this crate ever includes them. Header values built from them are marked
//! sensitive. Every constructor takes its secret as `impl Into<SecretString>` (a `String`, a
//! `&str` or a `SecretString`), the one shape the whole SDK uses.
//!
//! A `Credentials` value on its own is not sent anywhere: it is bound to a registry first
//! ([`BoundCredentials`](crate::BoundCredentials), usually from a [`Keychain`](crate::Keychain)).

use std::fmt;
use std::sync::OnceLock;

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::error::{Error, Result};

/// Who the client is.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Credentials {
    /// No credentials: anonymous tokens only (public repositories).
    #[default]
    Anonymous,
    /// User name and password, sent as Basic to the realm (and, on Harbor, usable directly on
    /// `/v2/`). Robot accounts are Basic credentials too: see [`Credentials::robot`].
    Basic {
        /// The user name (`robot$...` for robot accounts).
        username: String,
        /// The password or robot secret.
        password: SecretString,
    },
    /// An identity token (`docker login` with an OAuth2 IdP; `identitytoken` in
    /// `config.json`), used as a refresh token in the OAuth2 POST flow.
    IdentityToken {
        /// The user name, when known (sent as `account`).
        username: Option<String>,
        /// The token.
        token: SecretString,
    },
    /// A refresh token from an earlier OAuth2 `access_type=offline` response.
    RefreshToken {
        /// The user name, when known.
        username: Option<String>,
        /// The token.
        token: SecretString,
    },
    /// A ready registry token, sent as is (no token flow).
    Bearer(SecretString),
}

impl Credentials {
    /// Basic credentials: a user name and a password (or a Harbor OIDC CLI secret).
    pub fn basic(username: impl Into<String>, password: impl Into<SecretString>) -> Self {
        Self::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// A Harbor robot account: `name` is the full name (`robot$ci` or `robot$project+ci`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`] when the name is not a robot name (see [`RobotName`]).
    pub fn robot(name: &str, secret: impl Into<SecretString>) -> Result<Self> {
        let name: RobotName = name.parse()?;
        Ok(Self::basic(name.to_string(), secret))
    }

    /// A ready bearer token, sent as is to the registry it is bound to.
    pub fn bearer(token: impl Into<SecretString>) -> Self {
        Self::Bearer(token.into())
    }

    /// An identity token (`identitytoken` in a docker config; used as an OAuth2 refresh token).
    pub fn identity_token(username: Option<String>, token: impl Into<SecretString>) -> Self {
        Self::IdentityToken {
            username,
            token: token.into(),
        }
    }

    /// A refresh token from an earlier OAuth2 `access_type=offline` answer.
    pub fn refresh_token(username: Option<String>, token: impl Into<SecretString>) -> Self {
        Self::RefreshToken {
            username,
            token: token.into(),
        }
    }

    /// Whether these are anonymous.
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Self::Anonymous)
    }

    /// The user name, when there is one (sent as `account` to the realm).
    pub fn username(&self) -> Option<&str> {
        match self {
            Self::Basic { username, .. } => Some(username),
            Self::IdentityToken { username, .. } | Self::RefreshToken { username, .. } => {
                username.as_deref()
            }
            _ => None,
        }
    }

    /// The `Authorization` header to send to the token realm (GET flow) or, for Basic and
    /// Bearer, directly to a registry that accepts it. `None` for anonymous and for the
    /// OAuth2-only token kinds. The value is marked sensitive.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`] when a value holds characters a header cannot carry.
    pub fn authorization(&self) -> Result<Option<http::HeaderValue>> {
        match self {
            Self::Basic { username, password } => {
                if username.contains(':') {
                    return Err(Error::InvalidCredentials {
                        reason: "a Basic user name cannot contain ':'",
                    });
                }
                let raw = format!("{username}:{}", password.expose_secret());
                let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
                let mut v =
                    http::HeaderValue::try_from(format!("Basic {encoded}")).map_err(|_| {
                        Error::InvalidCredentials {
                            reason: "credentials do not fit in an HTTP header",
                        }
                    })?;
                v.set_sensitive(true);
                Ok(Some(v))
            }
            Self::Bearer(t) => crate::token::bearer_header(t.expose_secret()).map(Some),
            _ => Ok(None),
        }
    }
}

impl Credentials {
    /// Who these credentials are, for keeping tokens apart: the kind, the user name and a
    /// keyed hash of the secret (HMAC-SHA256 under a random key made once per process, so the
    /// value means nothing outside it and reveals nothing of the secret).
    pub fn id(&self) -> CredentialId {
        let (kind, username, secret) = match self {
            Self::Anonymous => (CredentialKind::Anonymous, "", None),
            Self::Basic { username, password } => {
                (CredentialKind::Basic, username.as_str(), Some(password))
            }
            Self::IdentityToken { username, token } => (
                CredentialKind::IdentityToken,
                username.as_deref().unwrap_or_default(),
                Some(token),
            ),
            Self::RefreshToken { username, token } => (
                CredentialKind::RefreshToken,
                username.as_deref().unwrap_or_default(),
                Some(token),
            ),
            Self::Bearer(token) => (CredentialKind::Bearer, "", Some(token)),
        };
        CredentialId {
            kind,
            username: username.to_owned(),
            secret: secret.map(|s| keyed_hash(s.expose_secret().as_bytes())),
        }
    }
}

/// The kind of a [`Credentials`] value, part of its [`CredentialId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CredentialKind {
    /// [`Credentials::Anonymous`].
    Anonymous,
    /// [`Credentials::Basic`].
    Basic,
    /// [`Credentials::IdentityToken`].
    IdentityToken,
    /// [`Credentials::RefreshToken`].
    RefreshToken,
    /// [`Credentials::Bearer`].
    Bearer,
}

/// The identity of a [`Credentials`] value: kind, user name and a keyed hash of the secret.
///
/// Two values with the same user name but another password (or two token kinds that both have
/// no user name) have different identities, so a token fetched with one is never served to the
/// other. The hash is keyed with a random per-process key; `Debug` does not print it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialId {
    kind: CredentialKind,
    username: String,
    secret: Option<[u8; 32]>,
}

impl CredentialId {
    /// The kind of credentials.
    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// The user name (empty when there is none).
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialId")
            .field("kind", &self.kind)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// HMAC-SHA256 of `data` under this process's random key.
fn keyed_hash(data: &[u8]) -> [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        if getrandom::fill(&mut key).is_err() {
            // No OS randomness (very unusual): a key from the process's own hashing seed, the
            // time and the address of a local still differs between processes.
            use std::hash::{BuildHasher as _, Hasher as _};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos(),
            );
            h.write_usize(std::ptr::from_ref(&key) as usize);
            let a = h.finish().to_le_bytes();
            for (i, b) in key.iter_mut().enumerate() {
                *b = a.get(i % 8).copied().unwrap_or_default() ^ (i as u8);
            }
        }
        key
    });
    // HMAC takes a key of any length, so `new_from_slice` cannot fail here; an empty MAC on
    // the impossible error path would still keep kinds and user names apart.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0u8; 32],
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"[REDACTED]")
                .finish(),
            Self::IdentityToken { username, .. } => f
                .debug_struct("IdentityToken")
                .field("username", username)
                .field("token", &"[REDACTED]")
                .finish(),
            Self::RefreshToken { username, .. } => f
                .debug_struct("RefreshToken")
                .field("username", username)
                .field("token", &"[REDACTED]")
                .finish(),
            Self::Bearer(_) => f.write_str("Bearer([REDACTED])"),
        }
    }
}

/// A Harbor robot account name: `robot$<name>` (system level) or `robot$<project>+<name>`
/// (project level). Harbor's prefix is configurable (`robot_name_prefix`); this type knows the
/// default `robot$`.
///
/// ```
/// use harbor_auth::RobotName;
///
/// let r: RobotName = "robot$library+ci".parse()?;
/// assert_eq!(r.project(), Some("library"));
/// assert_eq!(r.name(), "ci");
/// assert_eq!(r.to_string(), "robot$library+ci");
/// # Ok::<(), harbor_auth::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RobotName {
    project: Option<String>,
    name: String,
}

impl RobotName {
    /// The prefix Harbor uses by default.
    pub const PREFIX: &'static str = "robot$";

    /// A system-level robot.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`] for an empty name or one with `$`, `+`, `:` or spaces.
    pub fn system(name: &str) -> Result<Self> {
        check_part(name)?;
        Ok(Self {
            project: None,
            name: name.to_owned(),
        })
    }

    /// A project-level robot.
    ///
    /// # Errors
    ///
    /// As [`RobotName::system`], for either part.
    pub fn project_level(project: &str, name: &str) -> Result<Self> {
        check_part(project)?;
        check_part(name)?;
        Ok(Self {
            project: Some(project.to_owned()),
            name: name.to_owned(),
        })
    }

    /// The project, for project-level robots.
    pub fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }

    /// The robot's own name (without prefix and project).
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn check_part(s: &str) -> Result<()> {
    if s.is_empty()
        || s.chars()
            .any(|c| c == '$' || c == '+' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(Error::InvalidCredentials {
            reason: "a robot name part is non-empty and has no '$', '+', ':' or spaces",
        });
    }
    Ok(())
}

impl fmt::Display for RobotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.project {
            Some(p) => write!(f, "{}{p}+{}", Self::PREFIX, self.name),
            None => write!(f, "{}{}", Self::PREFIX, self.name),
        }
    }
}

impl std::str::FromStr for RobotName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let rest = s
            .strip_prefix(Self::PREFIX)
            .ok_or(Error::InvalidCredentials {
                reason: "a robot account name starts with `robot$`",
            })?;
        match rest.split_once('+') {
            Some((p, n)) => Self::project_level(p, n),
            None => Self::system(rest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts() {
        let c = Credentials::basic("alice", "s3cret-pw");
        let d = format!("{c:?}");
        assert!(d.contains("alice") && !d.contains("s3cret-pw"), "{d}");
        let d = format!("{:?}", Credentials::bearer("tok-123"));
        assert!(!d.contains("tok-123"));
        let h = c.authorization().unwrap().unwrap();
        assert!(h.is_sensitive());
        assert_eq!(h, "Basic YWxpY2U6czNjcmV0LXB3");
    }

    #[test]
    fn identities_tell_secrets_and_kinds_apart() {
        let a = Credentials::basic("alice", "one").id();
        assert_eq!(a, Credentials::basic("alice", "one").id());
        assert_ne!(
            a,
            Credentials::basic("alice", "two").id(),
            "another password"
        );
        assert_ne!(a, Credentials::basic("bob", "one").id());
        // No user name on either side: the kinds and the secrets still differ.
        let anon = Credentials::Anonymous.id();
        assert_ne!(anon, Credentials::bearer("t").id());
        assert_ne!(
            Credentials::identity_token(None, "t").id(),
            Credentials::refresh_token(None, "t").id()
        );
        assert_ne!(
            Credentials::identity_token(None, "t").id(),
            Credentials::identity_token(None, "u").id()
        );
        let d = format!("{:?}", Credentials::basic("alice", "one").id());
        assert!(d.contains("alice") && !d.contains("one"), "{d}");
    }

    #[test]
    fn robots() {
        assert!(Credentials::robot("robot$ci", "x").is_ok());
        assert!(Credentials::robot("ci", "x").is_err());
        assert!(Credentials::robot("robot$a+b+c", "x").is_err());
        assert_eq!("robot$ci".parse::<RobotName>().unwrap().project(), None);
    }
}
