//! The keychain: credentials bound to the registries they were given for (no IO).
//!
//! A [`Keychain`] answers one question: *which credentials go with a request to this registry
//! host, for this repository?* Its answer is a [`BoundCredentials`], a value that carries the
//! registry it was given for, so nothing downstream can send it to another host.
//!
//! - **Explicit entries** ([`Keychain::with`]) come first; then the files read with the
//!   `docker-config` feature, in the order they were added (podman's `auth.json`, then
//!   Docker's `config.json` for [`Keychain::from_default_files`](crate::docker_config)).
//! - Keys are `host[:port]` or, as in podman's `auth.json`, `host[:port]/repository/prefix`;
//!   the **longest prefix** that matches the repository wins within a source (`quay.io/org`
//!   beats `quay.io`), and the first source with a match wins.
//! - `credHelpers` and `credsStore` entries name a `docker-credential-*` helper; the lookup
//!   returns a [`HelperRequest`] so the caller decides where the blocking call runs.
//! - Registries known under several names are data: [`KnownRegistry`]. The default list holds
//!   Docker Hub (`docker.io`, `index.docker.io`, `registry-1.docker.io` and
//!   `registry.hub.docker.com` are one registry, whose credentials live under
//!   `https://index.docker.io/v1/` and whose token realm `auth.docker.io` is trusted for it).
//!   Tests and private setups replace it with [`Keychain::known_registries`].
//! - A token realm on another host than the registry gets the registry's credentials only when
//!   it is trusted **for that registry**: by a [`KnownRegistry`] or by
//!   [`Keychain::trust_realm`].

use std::fmt;
use std::sync::Arc;

use url::Url;

use crate::credentials::{CredentialId, Credentials};
use crate::error::Result;

/// Runs a `docker-credential-*` helper (the `docker-config` feature has the process runner).
///
/// The call blocks; async callers run it on a blocking thread. Implementations should cache
/// answers per process and bound the time a helper may take.
pub trait CredentialHelper: Send + Sync + fmt::Debug {
    /// The credentials `helper` holds for `server` (the registry's credential key, such as
    /// `https://index.docker.io/v1/` or `harbor.example:5000`). A helper that has none
    /// answers [`Credentials::Anonymous`].
    ///
    /// # Errors
    ///
    /// When the helper fails, times out or answers nonsense.
    fn get(&self, helper: &str, server: &str) -> Result<Credentials>;
}

/// A registry known under several host names, with a credential key and trusted token realms.
///
/// ```
/// use harbor_auth::KnownRegistry;
///
/// let hub = KnownRegistry::docker_hub();
/// assert!(hub.hosts().iter().any(|h| h == "registry-1.docker.io"));
/// assert_eq!(hub.credential_key(), "https://index.docker.io/v1/");
///
/// // The same shape on loopback, for a test topology.
/// let local = KnownRegistry::new("docker.io")
///     .alias("127.0.0.7:5000")
///     .with_credential_key("https://index.docker.io/v1/")
///     .trust_realm("127.0.0.8");
/// assert!(local.hosts().iter().any(|h| h == "127.0.0.7:5000"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownRegistry {
    name: String,
    hosts: Vec<String>,
    credential_key: String,
    realm_hosts: Vec<String>,
}

impl KnownRegistry {
    /// A registry called `name` (`host[:port]`), known by that name only so far.
    pub fn new(name: &str) -> Self {
        let name = name.trim().to_ascii_lowercase();
        Self {
            hosts: vec![name.clone()],
            credential_key: name.clone(),
            name,
            realm_hosts: Vec::new(),
        }
    }

    /// Docker Hub, as the docker CLI knows it.
    pub fn docker_hub() -> Self {
        Self::new("docker.io")
            .alias("index.docker.io")
            .alias("registry-1.docker.io")
            .alias("registry.hub.docker.com")
            .with_credential_key("https://index.docker.io/v1/")
            .trust_realm("auth.docker.io")
    }

    /// Another host name (`host[:port]`) requests to this registry may go to.
    #[must_use]
    pub fn alias(mut self, host: &str) -> Self {
        let host = host.trim().to_ascii_lowercase();
        if !self.hosts.contains(&host) {
            self.hosts.push(host);
        }
        self
    }

    /// The key the registry's credentials are filed under in auth files, and the server name a
    /// credential helper is asked about (default: the name).
    #[must_use]
    pub fn with_credential_key(mut self, key: &str) -> Self {
        key.clone_into(&mut self.credential_key);
        if let Some(k) = parse_key(key) {
            self = self.alias(&k.host);
        }
        self
    }

    /// A token realm host that may receive this registry's credentials.
    #[must_use]
    pub fn trust_realm(mut self, host: &str) -> Self {
        self.realm_hosts
            .push(strip_port(&host.trim().to_ascii_lowercase()));
        self
    }

    /// The canonical name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every host name of the registry, the canonical name first.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The credential key.
    pub fn credential_key(&self) -> &str {
        &self.credential_key
    }

    /// The token realm hosts trusted for it.
    pub fn realm_hosts(&self) -> &[String] {
        &self.realm_hosts
    }
}

/// Credentials together with the registry they were given for.
///
/// This is the only form in which the SDK sends credentials: to a request whose host is one of
/// the registry's hosts ([`BoundCredentials::applies_to`]) and to a token realm on one of those
/// hosts or trusted for the registry ([`BoundCredentials::may_send_to_realm`]). A realm on any
/// other host gets nothing: a registry chooses its realm, so a hostile registry could name
/// its own collector.
///
/// ```
/// use harbor_auth::{BoundCredentials, Credentials};
/// use url::Url;
///
/// let bound = BoundCredentials::new("harbor.example", Credentials::basic("alice", "pw"));
/// assert!(bound.applies_to(&Url::parse("https://harbor.example/v2/")?));
/// assert!(!bound.applies_to(&Url::parse("https://evil.example/v2/")?));
/// assert!(bound.may_send_to_realm(&Url::parse("https://harbor.example/service/token")?));
/// assert!(!bound.may_send_to_realm(&Url::parse("https://evil.example/token")?));
/// let trusted = bound.trust_realm("auth.harbor.example");
/// assert!(trusted.may_send_to_realm(&Url::parse("https://auth.harbor.example/token")?));
/// # Ok::<(), url::ParseError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BoundCredentials {
    registry: String,
    hosts: Vec<String>,
    realm_hosts: Vec<String>,
    credentials: Credentials,
    id: CredentialId,
}

impl BoundCredentials {
    /// Binds `credentials` to one registry (`host[:port]`; a URL or an auth-file key works too).
    pub fn new(registry: &str, credentials: Credentials) -> Self {
        let host =
            parse_key(registry).map_or_else(|| registry.trim().to_ascii_lowercase(), |k| k.host);
        Self {
            id: credentials.id(),
            registry: host.clone(),
            hosts: vec![host],
            realm_hosts: Vec::new(),
            credentials,
        }
    }

    /// No credentials, for `registry`.
    pub fn anonymous(registry: &str) -> Self {
        Self::new(registry, Credentials::Anonymous)
    }

    /// Also lets a token realm on `host` receive these credentials. Do this only for a realm
    /// you know belongs to the registry (a registry whose token service lives elsewhere).
    #[must_use]
    pub fn trust_realm(mut self, host: &str) -> Self {
        self.realm_hosts
            .push(strip_port(&host.trim().to_ascii_lowercase()));
        self
    }

    /// The registry (its canonical name) the credentials were given for.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host names (`host[:port]`) requests with these credentials may go to.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The credentials' identity (kind, user name, keyed hash of the secret).
    pub fn id(&self) -> &CredentialId {
        &self.id
    }

    /// Whether there is nothing to send.
    pub fn is_anonymous(&self) -> bool {
        self.credentials.is_anonymous()
    }

    /// The same binding without credentials.
    #[must_use]
    pub fn without_credentials(&self) -> Self {
        Self {
            credentials: Credentials::Anonymous,
            id: Credentials::Anonymous.id(),
            ..self.clone()
        }
    }

    /// Whether a request to `url` may carry these credentials: its `host[:port]` is one of the
    /// registry's hosts.
    pub fn applies_to(&self, url: &Url) -> bool {
        authority(url).is_some_and(|a| self.hosts.contains(&a))
    }

    /// Whether the token realm `realm` may receive these credentials: it is on one of the
    /// registry's hosts (any port), or on a realm host trusted for the registry.
    pub fn may_send_to_realm(&self, realm: &Url) -> bool {
        let Some(host) = realm.host_str().map(str::to_ascii_lowercase) else {
            return false;
        };
        self.hosts.iter().any(|h| strip_port(h) == host) || self.realm_hosts.contains(&host)
    }
}

/// What a [`Keychain`] has for a registry.
#[derive(Debug)]
#[non_exhaustive]
pub enum Lookup {
    /// The credentials (anonymous when the keychain has none for the registry).
    Ready(BoundCredentials),
    /// A credential helper holds them: run [`HelperRequest::run`] (it blocks).
    Helper(HelperRequest),
}

/// A credential-helper call the keychain asks for; see [`Lookup::Helper`].
#[derive(Debug)]
pub struct HelperRequest {
    helper: String,
    server: String,
    runner: Option<Arc<dyn CredentialHelper>>,
    bound: BoundCredentials,
}

impl HelperRequest {
    /// The helper (`docker-credential-<helper>`).
    pub fn helper(&self) -> &str {
        &self.helper
    }

    /// The server name the helper is asked about.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Runs the helper (blocking; in async code call it from a blocking thread) and binds its
    /// answer to the registry.
    ///
    /// # Errors
    ///
    /// The helper's failure (`Error::CredentialHelper` with the `docker-config` feature), or
    /// [`Error::InvalidCredentials`](crate::Error::InvalidCredentials) when the keychain has
    /// no way to run helpers.
    pub fn run(self) -> Result<BoundCredentials> {
        let runner = self.runner.ok_or(crate::Error::InvalidCredentials {
            reason: "the keychain names a credential helper but has no way to run one \
                         (enable harbor-auth's `docker-config` feature)",
        })?;
        let credentials = runner.get(&self.helper, &self.server)?;
        Ok(BoundCredentials {
            id: credentials.id(),
            credentials,
            ..self.bound
        })
    }
}

/// An auth-file or keychain key: `host[:port]` and an optional repository prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) host: String,
    pub(crate) path: String,
}

/// Parses `https://host:port/v1/`, `host:port`, `host/org/repo` into a key.
pub(crate) fn parse_key(s: &str) -> Option<Key> {
    let s = s.trim();
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let (host, path) = s.split_once('/').unwrap_or((s, ""));
    let host = host.to_ascii_lowercase();
    if host.is_empty() || host.contains(['@', ' ', '?', '#']) {
        return None;
    }
    let path = path.trim_matches('/');
    // Docker's legacy keys carry an API version (`https://index.docker.io/v1/`).
    let path = if path == "v1" || path == "v2" {
        ""
    } else {
        path
    };
    Some(Key {
        host,
        path: path.to_owned(),
    })
}

/// `host[:port]` of a URL, lower case, with the port only when it is not the default one.
pub(crate) fn authority(url: &Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

/// The host of `host[:port]`, as [`Url::host_str`] writes it: an IPv6 address in brackets
/// (`[::1]:5000`, `[::1]` and `::1` are all `[::1]`).
fn strip_port(host: &str) -> String {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or_else(|| host.to_owned(), |(h, _)| format!("{h}]"));
    }
    if host.bytes().filter(|&b| b == b':').count() > 1 {
        return format!("[{host}]");
    }
    host.rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
        .to_owned()
}

/// Whether `prefix` (segments) is the repository or a parent of it.
fn prefix_matches(prefix: &str, repository: &str) -> bool {
    prefix.is_empty()
        || repository == prefix
        || repository
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// One place credentials come from: the explicit entries, or one auth file.
#[derive(Clone, Default)]
pub(crate) struct Source {
    /// What it is, for `Debug` (a file path, or `explicit`).
    pub(crate) label: String,
    pub(crate) auths: Vec<(Key, Credentials)>,
    pub(crate) helpers: Vec<(Key, String)>,
    pub(crate) store: Option<String>,
    pub(crate) runner: Option<Arc<dyn CredentialHelper>>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = |k: &Key| {
            if k.path.is_empty() {
                k.host.clone()
            } else {
                format!("{}/{}", k.host, k.path)
            }
        };
        f.debug_struct("Source")
            .field("from", &self.label)
            .field(
                "auths",
                &self
                    .auths
                    .iter()
                    .map(|(k, c)| (key(k), c))
                    .collect::<Vec<_>>(),
            )
            .field(
                "helpers",
                &self
                    .helpers
                    .iter()
                    .map(|(k, h)| (key(k), h))
                    .collect::<Vec<_>>(),
            )
            .field("store", &self.store)
            .finish()
    }
}

/// Credentials per registry (and repository prefix), resolved without IO.
///
/// ```
/// use harbor_auth::{Credentials, Keychain, Lookup};
///
/// let keychain = Keychain::new()
///     .with("harbor.example", Credentials::basic("alice", "pw"))
///     .with("harbor.example/team-b", Credentials::robot("robot$team-b+ci", "s3cret")?);
/// let creds = |repo| match keychain.lookup("harbor.example", Some(repo)) {
///     Lookup::Ready(b) => b.credentials().username().map(str::to_owned),
///     _ => None,
/// };
/// assert_eq!(creds("team-a/app").as_deref(), Some("alice"));
/// assert_eq!(creds("team-b/app").as_deref(), Some("robot$team-b+ci")); // longest prefix
/// // Another host gets nothing.
/// assert!(matches!(keychain.lookup("evil.example", None), Lookup::Ready(b) if b.is_anonymous()));
/// # Ok::<(), harbor_auth::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Keychain {
    sources: Vec<Source>,
    known: Vec<KnownRegistry>,
    trusted_realms: Vec<(String, String)>,
}

impl Default for Keychain {
    fn default() -> Self {
        Self::new()
    }
}

impl Keychain {
    /// An empty keychain (anonymous everywhere) that knows Docker Hub's names.
    pub fn new() -> Self {
        Self {
            sources: vec![Source {
                label: "explicit".to_owned(),
                ..Source::default()
            }],
            known: vec![KnownRegistry::docker_hub()],
            trusted_realms: Vec::new(),
        }
    }

    /// Adds credentials for a registry (`host[:port]`, an auth-file key such as
    /// `https://index.docker.io/v1/`, or `host/repository/prefix`). Explicit entries come
    /// before every file; a later entry for the same key replaces an earlier one.
    #[must_use]
    pub fn with(mut self, registry: &str, credentials: Credentials) -> Self {
        if let Some(key) = parse_key(registry)
            && let Some(explicit) = self.sources.first_mut()
        {
            explicit.auths.retain(|(k, _)| k != &key);
            explicit.auths.push((key, credentials));
        }
        self
    }

    /// Replaces the list of registries known under several names (default: Docker Hub only).
    #[must_use]
    pub fn known_registries(mut self, known: Vec<KnownRegistry>) -> Self {
        self.known = known;
        self
    }

    /// Trusts a token realm on `realm_host` to receive `registry`'s credentials, for a
    /// registry whose token service lives on another host. Nothing else gets that trust.
    #[must_use]
    pub fn trust_realm(mut self, registry: &str, realm_host: &str) -> Self {
        let registry = self.canonical(registry);
        let realm = strip_port(&realm_host.trim().to_ascii_lowercase());
        self.trusted_realms.push((registry, realm));
        self
    }

    /// Adds a source after the existing ones (the `docker-config` feature's files).
    #[cfg_attr(not(feature = "docker-config"), allow(dead_code))]
    pub(crate) fn push_source(mut self, source: Source) -> Self {
        self.sources.push(source);
        self
    }

    fn known_for(&self, host: &str) -> Option<&KnownRegistry> {
        self.known
            .iter()
            .find(|k| k.name == host || k.hosts.iter().any(|h| h == host))
    }

    /// The canonical name of a registry host or key (`registry-1.docker.io` → `docker.io`).
    pub fn canonical(&self, registry: &str) -> String {
        let host =
            parse_key(registry).map_or_else(|| registry.trim().to_ascii_lowercase(), |k| k.host);
        match self.known_for(&host) {
            Some(k) => k.name.clone(),
            None => host,
        }
    }

    /// Anonymous credentials bound to `host` with everything the keychain knows of it.
    fn bind(&self, host: &str) -> BoundCredentials {
        let host = host.trim().to_ascii_lowercase();
        let canonical = self.canonical(&host);
        let mut bound = BoundCredentials::anonymous(&host);
        bound.registry.clone_from(&canonical);
        if let Some(known) = self.known_for(&host) {
            for h in &known.hosts {
                if !bound.hosts.contains(h) {
                    bound.hosts.push(h.clone());
                }
            }
            bound.realm_hosts.extend(known.realm_hosts.iter().cloned());
        }
        bound.realm_hosts.extend(
            self.trusted_realms
                .iter()
                .filter(|(r, _)| *r == canonical)
                .map(|(_, h)| h.clone()),
        );
        bound
    }

    /// What the keychain has for a request to `host` (`host[:port]`) about `repository`.
    pub fn lookup(&self, host: &str, repository: Option<&str>) -> Lookup {
        let bound = self.bind(host);
        let want = bound.registry.clone();
        let repository = repository.unwrap_or_default();
        let server = self.known_for(&want).map_or_else(
            || host.trim().to_ascii_lowercase(),
            |k| k.credential_key.clone(),
        );
        let helper = |source: &Source, helper: &str, bound: BoundCredentials| {
            Lookup::Helper(HelperRequest {
                helper: helper.to_owned(),
                server: server.clone(),
                runner: source.runner.clone(),
                bound,
            })
        };
        for source in &self.sources {
            if let Some((_, h)) = source
                .helpers
                .iter()
                .find(|(k, _)| self.canonical(&k.host) == want)
            {
                return helper(source, h, bound);
            }
            let best = source
                .auths
                .iter()
                .filter(|(k, _)| {
                    self.canonical(&k.host) == want && prefix_matches(&k.path, repository)
                })
                .max_by_key(|(k, _)| k.path.len());
            if let Some((_, credentials)) = best {
                return Lookup::Ready(BoundCredentials {
                    id: credentials.id(),
                    credentials: credentials.clone(),
                    ..bound
                });
            }
            if let Some(store) = &source.store {
                return helper(source, store, bound);
            }
        }
        Lookup::Ready(bound)
    }

    /// [`Keychain::lookup`], running a credential helper when one is named. **Blocks** while a
    /// helper runs: in async code, call [`Keychain::lookup`] and run the
    /// [`HelperRequest`] on a blocking thread.
    ///
    /// # Errors
    ///
    /// As [`HelperRequest::run`].
    pub fn resolve(&self, host: &str, repository: Option<&str>) -> Result<BoundCredentials> {
        match self.lookup(host, repository) {
            Lookup::Ready(b) => Ok(b),
            Lookup::Helper(h) => h.run(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(l: Lookup) -> Option<String> {
        match l {
            Lookup::Ready(b) => b.credentials().username().map(str::to_owned),
            Lookup::Helper(h) => Some(format!("helper:{}:{}", h.helper(), h.server())),
        }
    }

    #[test]
    fn keys_normalise() {
        let k = parse_key("HTTPS://Reg.Example:5000/v2/").unwrap();
        assert_eq!((k.host.as_str(), k.path.as_str()), ("reg.example:5000", ""));
        let k = parse_key("quay.io/org/repo/").unwrap();
        assert_eq!((k.host.as_str(), k.path.as_str()), ("quay.io", "org/repo"));
        assert!(parse_key("").is_none());
        assert!(parse_key("user@host").is_none());
    }

    #[test]
    fn hosts_and_ports_are_kept_apart() {
        let kc = Keychain::new()
            .with("127.0.0.1:5000", Credentials::basic("one", "1"))
            .with("127.0.0.2:5000", Credentials::basic("two", "2"));
        assert_eq!(
            user(kc.lookup("127.0.0.1:5000", None)).as_deref(),
            Some("one")
        );
        assert_eq!(
            user(kc.lookup("127.0.0.2:5000", None)).as_deref(),
            Some("two")
        );
        assert_eq!(user(kc.lookup("127.0.0.1:5001", None)), None);
        assert_eq!(user(kc.lookup("127.0.0.3:5000", None)), None);
    }

    #[test]
    fn longest_prefix_wins_and_segments_matter() {
        let kc = Keychain::new()
            .with("quay.io", Credentials::basic("host", "x"))
            .with("quay.io/org", Credentials::basic("org", "x"))
            .with("quay.io/org/special", Credentials::basic("special", "x"));
        let u = |repo| user(kc.lookup("quay.io", Some(repo)));
        assert_eq!(u("org/app").as_deref(), Some("org"));
        assert_eq!(u("org/special").as_deref(), Some("special"));
        assert_eq!(u("org/special/x").as_deref(), Some("special"));
        assert_eq!(
            u("organisation/app").as_deref(),
            Some("host"),
            "not a segment"
        );
        assert_eq!(u("other").as_deref(), Some("host"));
    }

    #[test]
    fn docker_hub_names_are_one_registry() {
        let kc = Keychain::new().with(
            "https://index.docker.io/v1/",
            Credentials::basic("hubuser", "x"),
        );
        for host in ["docker.io", "registry-1.docker.io", "index.docker.io"] {
            let Lookup::Ready(b) = kc.lookup(host, Some("library/alpine")) else {
                panic!("{host}")
            };
            assert_eq!(b.credentials().username(), Some("hubuser"), "{host}");
            assert_eq!(b.registry(), "docker.io");
            let realm = Url::parse("https://auth.docker.io/token").unwrap();
            assert!(b.may_send_to_realm(&realm), "{host}");
            assert!(b.applies_to(&Url::parse("https://registry-1.docker.io/v2/").unwrap()));
        }
        // The realm is trusted for Docker Hub only.
        let other = Keychain::new().with("quay.io", Credentials::basic("q", "x"));
        let Lookup::Ready(b) = other.lookup("quay.io", None) else {
            panic!()
        };
        assert!(!b.may_send_to_realm(&Url::parse("https://auth.docker.io/token").unwrap()));
    }

    #[test]
    fn a_realm_is_trusted_for_one_registry_only() {
        let kc = Keychain::new()
            .with("a.example", Credentials::basic("a", "x"))
            .with("b.example", Credentials::basic("b", "x"))
            .trust_realm("a.example", "auth.a.example:8443");
        let realm = Url::parse("https://auth.a.example/token").unwrap();
        let Lookup::Ready(a) = kc.lookup("a.example", None) else {
            panic!()
        };
        let Lookup::Ready(b) = kc.lookup("b.example", None) else {
            panic!()
        };
        assert!(a.may_send_to_realm(&realm));
        assert!(!b.may_send_to_realm(&realm));
        // The registry's own host is trusted on any port.
        assert!(b.may_send_to_realm(&Url::parse("http://b.example:5001/token").unwrap()));
    }

    #[test]
    fn an_ipv6_registry_sends_credentials_to_its_own_realm() {
        let kc = Keychain::new()
            .with("[::1]:5000", Credentials::basic("six", "x"))
            .trust_realm("[::1]:5000", "::2");
        let Lookup::Ready(b) = kc.lookup("[::1]:5000", None) else {
            panic!()
        };
        assert_eq!(b.credentials().username(), Some("six"));
        assert!(b.applies_to(&Url::parse("http://[::1]:5000/v2/").unwrap()));
        assert!(b.may_send_to_realm(&Url::parse("http://[::1]:5001/token").unwrap()));
        assert!(b.may_send_to_realm(&Url::parse("http://[::2]/token").unwrap()));
        assert!(!b.may_send_to_realm(&Url::parse("http://[::3]/token").unwrap()));
        for written in ["[::2]:8443", "[::2]", "::2"] {
            assert_eq!(strip_port(written), "[::2]", "{written}");
        }
        assert_eq!(strip_port("auth.example:8443"), "auth.example");
    }

    #[test]
    fn helpers_are_asked_about_the_credential_key() {
        let mut source = Source {
            label: "file".to_owned(),
            ..Source::default()
        };
        source
            .helpers
            .push((parse_key("docker.io").unwrap(), "desktop".to_owned()));
        source.store = Some("store".to_owned());
        let kc = Keychain::new()
            .with("explicit.example", Credentials::basic("e", "x"))
            .push_source(source);
        assert_eq!(
            user(kc.lookup("registry-1.docker.io", None)).as_deref(),
            Some("helper:desktop:https://index.docker.io/v1/")
        );
        assert_eq!(
            user(kc.lookup("Reg.Example:5000", None)).as_deref(),
            Some("helper:store:reg.example:5000")
        );
        assert_eq!(
            user(kc.lookup("explicit.example", None)).as_deref(),
            Some("e")
        );
        // No runner: a typed error, not a panic.
        assert!(kc.resolve("reg.example", None).is_err());
    }

    #[test]
    fn a_known_registry_can_live_on_loopback() {
        let hub = KnownRegistry::new("docker.io")
            .alias("127.0.0.7:5000")
            .with_credential_key("https://index.docker.io/v1/")
            .trust_realm("127.0.0.8");
        let kc = Keychain::new().known_registries(vec![hub]).with(
            "https://index.docker.io/v1/",
            Credentials::basic("hub", "x"),
        );
        let Lookup::Ready(b) = kc.lookup("127.0.0.7:5000", Some("library/x")) else {
            panic!()
        };
        assert_eq!(b.credentials().username(), Some("hub"));
        assert!(b.may_send_to_realm(&Url::parse("http://127.0.0.8:9999/token").unwrap()));
        assert!(!b.may_send_to_realm(&Url::parse("http://127.0.0.9:9999/token").unwrap()));
    }
}
