//! Which token realms may be contacted, and whether credentials may go there.
//!
//! The realm comes from the registry's `WWW-Authenticate` header, so a hostile or compromised
//! registry chooses it. [`RealmPolicy::check`] decides, without IO:
//! - plain `http://` realms are refused, except on loopback hosts and hosts put on the
//!   insecure list; realm URLs with user info are refused;
//! - credentials go only where their [`BoundCredentials`] allow: a realm on the registry's own
//!   host, or on a host trusted **for that registry** (Docker Hub's `auth.docker.io` by the
//!   built-in [`KnownRegistry`](crate::KnownRegistry) data, others by
//!   [`Keychain::trust_realm`](crate::Keychain::trust_realm) or
//!   [`BoundCredentials::trust_realm`]). An anonymous token request may go to any https realm.

use std::net::IpAddr;

use url::{Host, Url};

use crate::error::{Error, Result};
use crate::keychain::BoundCredentials;

/// The rules for contacting token realms.
///
/// ```
/// use harbor_auth::{BoundCredentials, Credentials, RealmPolicy};
/// use url::Url;
///
/// let creds = BoundCredentials::new("quay.example", Credentials::basic("alice", "pw"));
/// let foreign = Url::parse("https://auth.other.example/token")?;
/// let policy = RealmPolicy::new();
/// assert!(policy.check(&foreign, &creds).is_err()); // credentials would leave their registry
/// assert!(policy.check(&foreign, &creds.without_credentials()).is_ok()); // anonymous is fine
/// assert!(policy.check(&foreign, &creds.clone().trust_realm("auth.other.example")).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RealmPolicy {
    insecure_hosts: Vec<String>,
    any_host: bool,
}

impl RealmPolicy {
    /// https realms; plain `http` only on loopback; credentials only where they are bound.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows plain `http://` realms on `host` (loopback hosts are always allowed).
    #[must_use]
    pub fn insecure_host(mut self, host: &str) -> Self {
        self.insecure_hosts.push(host.to_ascii_lowercase());
        self
    }

    /// Sends credentials to whatever realm a registry names. Only for registries you fully
    /// trust: a hostile registry can then collect your password. Prefer trusting one realm for
    /// one registry ([`Keychain::trust_realm`](crate::Keychain::trust_realm)).
    #[must_use]
    pub fn danger_send_credentials_to_any_realm(mut self) -> Self {
        self.any_host = true;
        self
    }

    /// Checks a realm before contacting it with `credentials` (pass
    /// [`BoundCredentials::without_credentials`] for an anonymous request).
    ///
    /// # Errors
    ///
    /// [`Error::RealmRejected`] with the reason and the setting that would allow it.
    pub fn check(&self, realm: &Url, credentials: &BoundCredentials) -> Result<()> {
        self.check_url(realm)?;
        if !credentials.is_anonymous() && !self.any_host && !credentials.may_send_to_realm(realm) {
            return Err(Error::RealmRejected {
                realm: realm_display(realm),
                reason: "the realm is on another host than the registry the credentials are for; \
                         trust it for that registry (Keychain::trust_realm) if it is legitimate",
            });
        }
        Ok(())
    }

    /// Whether the realm URL itself is acceptable (scheme, host, no user info).
    ///
    /// # Errors
    ///
    /// [`Error::RealmRejected`].
    pub fn check_url(&self, realm: &Url) -> Result<()> {
        let reject = |reason| {
            Err(Error::RealmRejected {
                realm: realm_display(realm),
                reason,
            })
        };
        let Some(host) = realm.host() else {
            return reject("the realm URL has no host");
        };
        if !realm.username().is_empty() || realm.password().is_some() {
            return reject("the realm URL carries user info");
        }
        match realm.scheme() {
            "https" => Ok(()),
            "http" => {
                if is_loopback(&host) || self.insecure_hosts.contains(&host_string(&host)) {
                    Ok(())
                } else {
                    reject(
                        "plain http realm on a non-loopback host; put the host on the insecure list to allow it",
                    )
                }
            }
            _ => reject("the realm scheme must be https (or http on loopback)"),
        }
    }
}

/// The realm without query or fragment, for messages.
pub(crate) fn realm_display(realm: &Url) -> String {
    let mut u = realm.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

fn host_string(host: &Host<&str>) -> String {
    match host {
        Host::Domain(d) => d.to_ascii_lowercase(),
        Host::Ipv4(a) => a.to_string(),
        Host::Ipv6(a) => a.to_string(),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(a) => IpAddr::V4(*a).is_loopback(),
        Host::Ipv6(a) => IpAddr::V6(*a).is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Credentials;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn http_only_on_loopback_or_listed() {
        let p = RealmPolicy::new();
        assert!(p.check_url(&u("http://127.0.0.1:5001/token")).is_ok());
        assert!(p.check_url(&u("http://[::1]:5001/token")).is_ok());
        assert!(p.check_url(&u("http://reg.lan/token")).is_err());
        assert!(
            p.clone()
                .insecure_host("reg.lan")
                .check_url(&u("http://reg.lan/token"))
                .is_ok()
        );
        assert!(p.check_url(&u("ftp://reg.lan/token")).is_err());
        assert!(p.check_url(&u("https://u:p@reg.lan/token")).is_err());
    }

    #[test]
    fn credentials_stay_with_their_registry() {
        let creds = BoundCredentials::new("harbor.example", Credentials::basic("a", "pw"));
        let p = RealmPolicy::new();
        assert!(
            p.check(&u("https://harbor.example/service/token"), &creds)
                .is_ok()
        );
        let e = p
            .check(&u("https://evil.example/t?x=1"), &creds)
            .unwrap_err();
        assert!(e.to_string().contains("https://evil.example/t"), "{e}");
        assert!(!e.to_string().contains("x=1"));
        assert!(
            p.clone()
                .danger_send_credentials_to_any_realm()
                .check(&u("https://evil.example/t"), &creds)
                .is_ok()
        );
        // Anonymous requests may go anywhere https.
        assert!(
            p.check(&u("https://evil.example/t"), &creds.without_credentials())
                .is_ok()
        );
    }
}
