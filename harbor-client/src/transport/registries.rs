//! Per-registry settings (see [`Registries`]).

use std::fmt;
use std::path::Path;

use secrecy::SecretSlice;
use serde::Deserialize;

use crate::error::{Error, Result};

/// When a mirror serves pulls (`pull-from-mirror`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PullFromMirror {
    /// For pulls by tag and by digest (the default).
    #[default]
    All,
    /// For pulls by digest only (tags may be stale on a mirror).
    DigestOnly,
    /// For pulls by tag only.
    TagOnly,
}

/// A mirror of a registry (`[[registry.mirror]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Mirror {
    location: String,
    insecure: bool,
    pull_from_mirror: PullFromMirror,
}

impl Mirror {
    /// A mirror at `location` (`host[:port][/path]`; the repository name is appended).
    pub fn new(location: &str) -> Self {
        Self {
            location: normalize(location),
            insecure: false,
            pull_from_mirror: PullFromMirror::All,
        }
    }

    /// Allows plain HTTP and unverified TLS for the mirror's host.
    pub fn insecure(mut self, yes: bool) -> Self {
        self.insecure = yes;
        self
    }

    /// Which pulls the mirror serves.
    pub fn pull_from_mirror(mut self, which: PullFromMirror) -> Self {
        self.pull_from_mirror = which;
        self
    }

    /// The location.
    pub fn location(&self) -> &str {
        &self.location
    }
}

/// One registry's settings (`[[registry]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct RegistrySettings {
    prefix: String,
    location: Option<String>,
    insecure: bool,
    blocked: bool,
    mirror_by_digest_only: bool,
    mirrors: Vec<Mirror>,
}

impl RegistrySettings {
    /// Settings for images under `prefix`: `host[:port]`, `host[:port]/repository/prefix`, or
    /// `*.domain` for every host of a domain.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: normalize(prefix),
            location: None,
            insecure: false,
            blocked: false,
            mirror_by_digest_only: false,
            mirrors: Vec::new(),
        }
    }

    /// Where images under the prefix really are: the prefix is replaced by `location`.
    pub fn location(mut self, location: &str) -> Self {
        self.location = Some(normalize(location));
        self
    }

    /// Allows plain HTTP and unverified TLS for the registry's host: the transport tries
    /// HTTPS without certificate verification and falls back to HTTP if the connection fails.
    pub fn insecure(mut self, yes: bool) -> Self {
        self.insecure = yes;
        self
    }

    /// Refuses every request for images under the prefix.
    pub fn blocked(mut self, yes: bool) -> Self {
        self.blocked = yes;
        self
    }

    /// Uses the mirrors for pulls by digest only.
    pub fn mirror_by_digest_only(mut self, yes: bool) -> Self {
        self.mirror_by_digest_only = yes;
        self
    }

    /// Adds a mirror, tried in the order added, before the origin.
    pub fn mirror(mut self, mirror: Mirror) -> Self {
        self.mirrors.push(mirror);
        self
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn matches(&self, image: &str) -> bool {
        match self.prefix.strip_prefix('*') {
            Some(domain) => host_of(image).ends_with(domain),
            None => {
                image == self.prefix
                    || image
                        .strip_prefix(&self.prefix)
                        .is_some_and(|rest| rest.starts_with('/'))
            }
        }
    }

    /// `image` with the prefix replaced by `base` (wildcard prefixes are not rewritten).
    fn rebase(&self, base: &str, image: &str) -> String {
        if self.prefix.starts_with('*') {
            return image.to_owned();
        }
        let rest = image.get(self.prefix.len()..).unwrap_or_default();
        format!("{base}{rest}")
    }
}

/// A CA bundle and a client certificate for one host.
#[derive(Clone, Default)]
#[must_use]
pub struct HostTls {
    pub(crate) ca_pem: Vec<Vec<u8>>,
    pub(crate) client_cert_pem: Option<Vec<u8>>,
    pub(crate) client_key_pem: Option<SecretSlice<u8>>,
}

impl fmt::Debug for HostTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostTls")
            .field("ca_certificates", &self.ca_pem.len())
            .field("client_certificate", &self.client_cert_pem.is_some())
            .finish_non_exhaustive()
    }
}

impl HostTls {
    /// Nothing beyond the default trust store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also trusts the certificates of a PEM bundle for this host.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem.push(pem.into());
        self
    }

    /// Presents a client certificate (mTLS): the certificate chain and its private key, PEM.
    pub fn client_identity_pem(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<SecretSlice<u8>>,
    ) -> Self {
        self.client_cert_pem = Some(cert_pem.into());
        self.client_key_pem = Some(key_pem.into());
        self
    }
}

/// Per-registry settings in the shape of `containers-registries.conf` (v2): mirrors tried
/// before the origin for pulls, a `location` that replaces a prefix, `insecure` (plain HTTP and
/// unverified TLS allowed) and `blocked` registries; plus a CA bundle and a client certificate
/// per host, as `containers-certs.d` keeps them.
///
/// The model does no IO: build it in code, or parse TOML text with [`Registries::from_toml`].
/// [`Registries::from_path`] and [`Registries::with_certs_dir`] read files (at the edge).
///
/// ```
/// use harbor_client::transport::Registries;
///
/// // Docker Hub through a Harbor proxy-cache project, then Docker Hub itself.
/// let registries = Registries::from_toml(r#"
///     [[registry]]
///     prefix = "docker.io"
///     [[registry.mirror]]
///     location = "harbor.example/dockerhub-proxy"
///
///     [[registry]]
///     location = "registry.lan:5000"
///     insecure = true
/// "#)?;
/// let sources = registries.pull_sources("docker.io", "library/alpine", false);
/// assert_eq!(sources[0].to_string(), "harbor.example/dockerhub-proxy/library/alpine");
/// assert_eq!(sources[1].to_string(), "docker.io/library/alpine");
/// assert!(registries.is_insecure("registry.lan:5000"));
/// # Ok::<(), harbor_client::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Registries {
    registries: Vec<RegistrySettings>,
    tls: Vec<(String, HostTls)>,
}

/// An image location: `registry/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PullSource {
    /// The registry (`host[:port]`).
    pub registry: String,
    /// The repository name on it.
    pub name: String,
    /// Whether it is a mirror (not the origin).
    pub mirror: bool,
}

impl fmt::Display for PullSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.name)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WireFile {
    #[serde(default)]
    registry: Vec<WireRegistry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WireRegistry {
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    #[serde(default)]
    mirror: Vec<WireMirror>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WireMirror {
    location: String,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    pull_from_mirror: PullFromMirror,
}

fn normalize(s: &str) -> String {
    let s = s.trim();
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let s = s.trim_end_matches('/');
    match s.split_once('/') {
        Some((host, rest)) => format!("{}/{rest}", host.to_ascii_lowercase()),
        None => s.to_ascii_lowercase(),
    }
}

fn host_of(image: &str) -> &str {
    image.split('/').next().unwrap_or_default()
}

fn config_error(message: String) -> Error {
    Error::Config {
        message,
        source: None,
    }
}

impl Registries {
    /// No settings: every registry as it is.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `registries.conf` (v2) text. `[[registry]]` tables with `prefix`, `location`,
    /// `insecure`, `blocked`, `mirror-by-digest-only` and `[[registry.mirror]]` (`location`,
    /// `insecure`, `pull-from-mirror`) are used; other keys (short-name aliases, search
    /// registries) are ignored.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming what is wrong (TOML syntax, a table without `prefix` or
    /// `location`, an unknown `pull-from-mirror`).
    pub fn from_toml(text: &str) -> Result<Self> {
        let wire: WireFile = toml::from_str(text).map_err(|e| Error::Config {
            message: format!("not a registries.conf (v2) file: {}", e.message()),
            source: Some(Box::new(e)),
        })?;
        let mut out = Self::new();
        for (i, r) in wire.registry.into_iter().enumerate() {
            let prefix = r.prefix.clone().or_else(|| r.location.clone()).ok_or_else(|| {
                config_error(format!(
                    "registries.conf: [[registry]] number {} has neither `prefix` nor `location`",
                    i + 1
                ))
            })?;
            let mut settings = RegistrySettings::new(&prefix)
                .insecure(r.insecure)
                .blocked(r.blocked)
                .mirror_by_digest_only(r.mirror_by_digest_only);
            if let Some(l) = r.location.as_deref().filter(|l| !l.trim().is_empty()) {
                settings = settings.location(l);
            }
            for m in r.mirror {
                settings = settings.mirror(
                    Mirror::new(&m.location)
                        .insecure(m.insecure)
                        .pull_from_mirror(m.pull_from_mirror),
                );
            }
            out = out.registry(settings);
        }
        Ok(out)
    }

    /// Reads a `registries.conf` (v2) file.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when it cannot be read, else as [`Registries::from_toml`].
    pub fn from_path(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text).map_err(|e| match e {
            Error::Config { message, source } => Error::Config {
                message: format!("{}: {message}", path.display()),
                source,
            },
            other => other,
        })
    }

    /// Reads per-host TLS files laid out as `containers-certs.d` (and Docker's `certs.d`):
    /// `DIR/<host[:port]>/*.crt` are CA certificates, `client.cert` with `client.key` the
    /// client certificate.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when a directory or file cannot be read, [`Error::Config`] for a
    /// `client.cert` without its `client.key`.
    pub fn with_certs_dir(mut self, dir: &Path) -> Result<Self> {
        let hosts = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for host in hosts {
            let host = host.map_err(|e| Error::io(dir, e))?;
            let path = host.path();
            if !path.is_dir() {
                continue;
            }
            let name = host.file_name().to_string_lossy().to_ascii_lowercase();
            let mut tls = HostTls::new();
            let mut files: Vec<_> = std::fs::read_dir(&path)
                .map_err(|e| Error::io(&path, e))?
                .filter_map(|f| f.ok().map(|f| f.path()))
                .collect();
            files.sort();
            for f in files
                .iter()
                .filter(|f| f.extension().is_some_and(|e| e == "crt"))
            {
                tls = tls.ca_pem(std::fs::read(f).map_err(|e| Error::io(f, e))?);
            }
            let cert = path.join("client.cert");
            if cert.exists() {
                let key = path.join("client.key");
                if !key.exists() {
                    return Err(config_error(format!(
                        "{} has no client.key beside it",
                        cert.display()
                    )));
                }
                let cert_pem = std::fs::read(&cert).map_err(|e| Error::io(&cert, e))?;
                let key_pem = std::fs::read(&key).map_err(|e| Error::io(&key, e))?;
                tls = tls.client_identity_pem(cert_pem, key_pem);
            }
            self = self.tls(&name, tls);
        }
        Ok(self)
    }

    /// Refuses a prefix, `location` or mirror whose host part holds user info
    /// (`user:pass@host`): credentials come from the keychain only. The message names the
    /// host without the user info.
    pub(crate) fn check_no_user_info(&self) -> Result<()> {
        let places = self.registries.iter().flat_map(|r| {
            [Some(r.prefix.as_str()), r.location.as_deref()]
                .into_iter()
                .flatten()
                .chain(r.mirrors.iter().map(|m| m.location.as_str()))
        });
        for place in places {
            let shown = crate::error::redact_user_info(place);
            if shown != place {
                return Err(config_error(format!(
                    "the registry settings for {shown:?} hold user info (`user:pass@`), which \
                     is never sent: give credentials to the keychain \
                     (`RegistryClientBuilder::keychain`) instead"
                )));
            }
        }
        Ok(())
    }

    /// Adds settings for a registry prefix.
    pub fn registry(mut self, settings: RegistrySettings) -> Self {
        self.registries.retain(|r| r.prefix != settings.prefix);
        self.registries.push(settings);
        self
    }

    /// Sets the TLS of one host (`host[:port]`), replacing earlier settings for it.
    pub fn tls(mut self, host: &str, tls: HostTls) -> Self {
        let host = host.trim().to_ascii_lowercase();
        self.tls.retain(|(h, _)| *h != host);
        self.tls.push((host, tls));
        self
    }

    /// The TLS settings of every host that has some.
    pub(crate) fn host_tls(&self) -> &[(String, HostTls)] {
        &self.tls
    }

    /// The settings for an image (`registry/name`): the longest matching prefix.
    pub fn find(&self, registry: &str, name: &str) -> Option<&RegistrySettings> {
        let image = format!("{}/{name}", registry.to_ascii_lowercase());
        self.registries
            .iter()
            .filter(|r| r.matches(&image))
            .max_by_key(|r| r.prefix.len())
    }

    /// Whether requests for the image are refused.
    pub fn is_blocked(&self, registry: &str, name: &str) -> bool {
        self.find(registry, name).is_some_and(|r| r.blocked)
    }

    /// Where the image really is (a `location` replaces the prefix).
    pub fn origin(&self, registry: &str, name: &str) -> PullSource {
        let image = format!("{}/{name}", registry.to_ascii_lowercase());
        let rewritten = match self.find(registry, name) {
            Some(r) => match &r.location {
                Some(l) => r.rebase(l, &image),
                None => image,
            },
            None => image,
        };
        split_image(&rewritten, false)
    }

    /// Where a pull of the image is tried, in order: the mirrors that serve this kind of pull
    /// (by digest or by tag), then the origin.
    pub fn pull_sources(&self, registry: &str, name: &str, by_digest: bool) -> Vec<PullSource> {
        let image = format!("{}/{name}", registry.to_ascii_lowercase());
        let mut out = Vec::new();
        if let Some(r) = self.find(registry, name)
            && (by_digest || !r.mirror_by_digest_only)
        {
            for m in &r.mirrors {
                let serves = match m.pull_from_mirror {
                    PullFromMirror::All => true,
                    PullFromMirror::DigestOnly => by_digest,
                    PullFromMirror::TagOnly => !by_digest,
                };
                if serves {
                    out.push(split_image(&r.rebase(&m.location, &image), true));
                }
            }
        }
        out.push(self.origin(registry, name));
        out
    }

    /// Whether any registry or mirror is insecure.
    #[cfg_attr(
        not(any(feature = "rustls-tls", feature = "native-tls")),
        allow(dead_code)
    )]
    pub(crate) fn any_insecure(&self) -> bool {
        self.registries
            .iter()
            .any(|r| r.insecure || r.mirrors.iter().any(|m| m.insecure))
    }

    /// Whether a host (`host[:port]`) is insecure: plain HTTP and unverified TLS allowed.
    pub fn is_insecure(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.registries.iter().any(|r| {
            let origin = r.location.as_deref().unwrap_or(&r.prefix);
            (r.insecure && !r.prefix.starts_with('*') && host_of(origin) == host)
                || (r.insecure
                    && r.prefix
                        .strip_prefix('*')
                        .is_some_and(|d| host.ends_with(d)))
                || r.mirrors
                    .iter()
                    .any(|m| m.insecure && host_of(&m.location) == host)
        })
    }
}

fn split_image(image: &str, mirror: bool) -> PullSource {
    let (registry, name) = image.split_once('/').unwrap_or((image, ""));
    PullSource {
        registry: registry.to_owned(),
        name: name.to_owned(),
        mirror,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
unqualified-search-registries = ["docker.io"]
short-name-mode = "enforcing"

[[registry]]
prefix = "docker.io"
[[registry.mirror]]
location = "harbor.example/proxy"
[[registry.mirror]]
location = "digests.example/hub"
pull-from-mirror = "digest-only"

[[registry]]
prefix = "docker.io/library/private"
location = "vault.example:5000/private"
blocked = false

[[registry]]
prefix = "quay.io/blocked"
blocked = true

[[registry]]
location = "lan.example:5000"
insecure = true

[[registry]]
prefix = "*.corp.example"
insecure = true
"#;

    #[test]
    fn containers_conf_is_read() {
        let r = Registries::from_toml(CONF).unwrap();
        let by_tag: Vec<String> = r
            .pull_sources("docker.io", "library/alpine", false)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            by_tag,
            [
                "harbor.example/proxy/library/alpine",
                "docker.io/library/alpine"
            ]
        );
        let by_digest = r.pull_sources("docker.io", "library/alpine", true);
        assert_eq!(by_digest.len(), 3);
        assert!(by_digest[0].mirror && by_digest[1].mirror && !by_digest[2].mirror);
        // The longest prefix wins: its location replaces the prefix, it has no mirrors.
        let private = r.pull_sources("docker.io", "library/private/app", false);
        assert_eq!(private.len(), 1);
        assert_eq!(private[0].to_string(), "vault.example:5000/private/app");
        assert!(r.is_blocked("quay.io", "blocked/x"));
        assert!(!r.is_blocked("quay.io", "blockedx/y"), "a segment boundary");
        assert!(r.is_insecure("lan.example:5000"));
        assert!(r.is_insecure("build.corp.example"));
        assert!(!r.is_insecure("docker.io"));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let e = Registries::from_toml("[[registry]]\ninsecure = true\n").unwrap_err();
        assert!(
            e.to_string().contains("neither `prefix` nor `location`"),
            "{e}"
        );
        let e = Registries::from_toml(
            "[[registry]]\nprefix = \"a\"\n[[registry.mirror]]\nlocation = \"b\"\npull-from-mirror = \"sometimes\"\n",
        )
        .unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{e}");
        assert!(Registries::from_toml("not toml [").is_err());
    }

    #[test]
    fn user_info_in_a_location_is_refused_without_quoting_it() {
        for r in [
            Registries::new()
                .registry(RegistrySettings::new("docker.io").location("alice:s3cret@h.example")),
            Registries::new().registry(
                RegistrySettings::new("docker.io")
                    .mirror(Mirror::new("https://alice:s3cret@h.example/hub")),
            ),
            Registries::new().registry(RegistrySettings::new("s3cret@h.example")),
            Registries::from_toml(
                "[[registry]]\nprefix = \"docker.io\"\n[[registry.mirror]]\nlocation = \"u:s3cret@h.example\"\n",
            )
            .unwrap(),
        ] {
            let e = r.check_no_user_info().unwrap_err();
            assert!(matches!(e, Error::Config { .. }), "{e}");
            let text = format!("{e} {e:?}");
            assert!(!text.contains("s3cret"), "{text}");
            assert!(text.contains("h.example") && text.contains("keychain"), "{text}");
        }
        let ok = Registries::from_toml(CONF).unwrap();
        assert!(ok.check_no_user_info().is_ok());
    }

    #[test]
    fn settable_in_code() {
        let r = Registries::new().registry(
            RegistrySettings::new("docker.io").mirror(Mirror::new("https://m.example/hub/")),
        );
        assert_eq!(
            r.pull_sources("docker.io", "library/a", false)[0].to_string(),
            "m.example/hub/library/a"
        );
        let tls = HostTls::new().client_identity_pem(b"cert".to_vec(), b"secret-key".to_vec());
        let d = format!("{tls:?}");
        assert!(!d.contains("secret-key"), "{d}");
    }
}
