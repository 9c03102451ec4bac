//! Which token realms may be contacted, and with which credentials.
//!
//! The realm comes from the registry's `WWW-Authenticate` header, so a hostile or compromised
//! registry chooses it. [`RealmPolicy`] decides, without IO:
//! - plain `http://` realms are refused, except on loopback hosts and hosts put on the
//!   insecure list;
//! - credentials are sent only to a realm on the registry's own host, or on a host the caller
//!   trusts explicitly ([`RealmPolicy::trust_host`]), never to an attacker-chosen host. An
//!   anonymous token request may go to any https realm.

use std::net::IpAddr;

use url::{Host, Url};

use crate::error::{Error, Result};

/// The rules for contacting token realms. The default trusts only the registry's own host.
///
/// ```
/// use harbor_auth::RealmPolicy;
/// use url::Url;
///
/// let registry = Url::parse("https://registry-1.docker.io/v2/")?;
/// let realm = Url::parse("https://auth.docker.io/token")?;
/// assert!(RealmPolicy::new().check(&realm, Some(&registry), true).is_err());
/// assert!(RealmPolicy::new().check(&realm, Some(&registry), false).is_ok()); // anonymous
/// assert!(RealmPolicy::new().trust_host("auth.docker.io").check(&realm, Some(&registry), true).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RealmPolicy {
    trusted_hosts: Vec<String>,
    insecure_hosts: Vec<String>,
    any_host: bool,
}

impl RealmPolicy {
    /// Credentials only to the registry's host; `http` only on loopback.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also sends credentials to realms on `host` (for example `auth.docker.io`).
    #[must_use]
    pub fn trust_host(mut self, host: &str) -> Self {
        self.trusted_hosts.push(host.to_ascii_lowercase());
        self
    }

    /// Allows plain `http://` realms on `host` (loopback hosts are always allowed).
    #[must_use]
    pub fn insecure_host(mut self, host: &str) -> Self {
        self.insecure_hosts.push(host.to_ascii_lowercase());
        self
    }

    /// Sends credentials to whatever realm a registry names. Only for registries you fully
    /// trust: a hostile registry can then collect your password.
    #[must_use]
    pub fn danger_send_credentials_to_any_realm(mut self) -> Self {
        self.any_host = true;
        self
    }

    /// Checks a realm before contacting it.
    ///
    /// `registry` is the URL of the registry that sent the challenge (when known);
    /// `with_credentials` says whether credentials would be sent.
    ///
    /// # Errors
    ///
    /// [`Error::RealmRejected`] with the reason and the setting that would allow it.
    pub fn check(&self, realm: &Url, registry: Option<&Url>, with_credentials: bool) -> Result<()> {
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
        let host_str = host_string(&host);
        match realm.scheme() {
            "https" => {}
            "http" => {
                if !is_loopback(&host) && !self.insecure_hosts.contains(&host_str) {
                    return reject(
                        "plain http realm on a non-loopback host; put the host on the insecure list to allow it",
                    );
                }
            }
            _ => return reject("the realm scheme must be https (or http on loopback)"),
        }
        if with_credentials && !self.any_host {
            let same = registry
                .and_then(Url::host)
                .is_some_and(|h| host_string(&h) == host_str);
            if !same && !self.trusted_hosts.contains(&host_str) {
                return reject(
                    "the realm is on another host than the registry and credentials would be sent there; \
                     trust the realm host explicitly (RealmPolicy::trust_host) if it is legitimate",
                );
            }
        }
        Ok(())
    }
}

/// The realm without query or fragment, for messages.
pub(crate) fn realm_display(realm: &Url) -> String {
    let mut u = realm.clone();
    u.set_query(None);
    u.set_fragment(None);
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

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn http_only_on_loopback_or_listed() {
        let p = RealmPolicy::new();
        assert!(
            p.check(&u("http://127.0.0.1:5001/token"), None, false)
                .is_ok()
        );
        assert!(p.check(&u("http://[::1]:5001/token"), None, false).is_ok());
        assert!(p.check(&u("http://reg.lan/token"), None, false).is_err());
        assert!(
            p.clone()
                .insecure_host("reg.lan")
                .check(&u("http://reg.lan/token"), None, false)
                .is_ok()
        );
        assert!(p.check(&u("ftp://reg.lan/token"), None, false).is_err());
        assert!(
            p.check(&u("https://u:p@reg.lan/token"), None, false)
                .is_err()
        );
    }

    #[test]
    fn credentials_stay_on_the_registry_host() {
        let reg = u("https://harbor.example/v2/");
        let p = RealmPolicy::new();
        assert!(
            p.check(&u("https://harbor.example/service/token"), Some(&reg), true)
                .is_ok()
        );
        let e = p
            .check(&u("https://evil.example/t?x=1"), Some(&reg), true)
            .unwrap_err();
        assert!(e.to_string().contains("https://evil.example/t"), "{e}");
        assert!(!e.to_string().contains("x=1"));
        assert!(p.check(&u("https://evil.example/t"), None, true).is_err());
        assert!(
            p.danger_send_credentials_to_any_realm()
                .check(&u("https://evil.example/t"), Some(&reg), true)
                .is_ok()
        );
    }
}
