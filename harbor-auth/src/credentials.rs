//! Credentials for a registry or its token realm.
//!
//! Secrets live in [`secrecy::SecretString`]: `Debug` prints `[REDACTED]`, and no error message
//! or log line of this crate ever includes them. Header values built from them are marked
//! sensitive.

use std::fmt;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

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
    /// Basic credentials.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::Basic {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// A Harbor robot account: `name` is the full name (`robot$ci` or `robot$project+ci`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`] when the name is not a robot name (see [`RobotName`]).
    pub fn robot(name: &str, secret: impl Into<String>) -> Result<Self> {
        let name: RobotName = name.parse()?;
        Ok(Self::basic(name.to_string(), secret))
    }

    /// A ready bearer token.
    pub fn bearer(token: impl Into<String>) -> Self {
        Self::Bearer(SecretString::from(token.into()))
    }

    /// An identity token.
    pub fn identity_token(username: Option<String>, token: impl Into<String>) -> Self {
        Self::IdentityToken {
            username,
            token: SecretString::from(token.into()),
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
    fn robots() {
        assert!(Credentials::robot("robot$ci", "x").is_ok());
        assert!(Credentials::robot("ci", "x").is_err());
        assert!(Credentials::robot("robot$a+b+c", "x").is_err());
        assert_eq!("robot$ci".parse::<RobotName>().unwrap().project(), None);
    }
}
