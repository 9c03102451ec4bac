//! Docker and podman auth files, and credential helpers (feature `docker-config`).
//!
//! Lookup for a registry host, in order:
//! 1. `credHelpers[host]` → run `docker-credential-<helper> get`;
//! 2. an `auths` entry with credentials: `auth` (base64 `user:password`),
//!    `username`/`password`, `identitytoken` (an OAuth2 refresh token), `registrytoken` (a
//!    ready bearer token);
//! 3. `credsStore` → run `docker-credential-<store> get`;
//! 4. otherwise anonymous.
//!
//! Keys are normalised to `host[:port]` (`https://reg.example:5000/v2/` → `reg.example:5000`);
//! Docker Hub's spellings (`https://index.docker.io/v1/`, `index.docker.io`,
//! `registry-1.docker.io`, `docker.io`) are one host. Helpers run with a timeout (10 s by
//! default) and their output never reaches an error message. Everything here blocks: in
//! async code call it from `spawn_blocking`.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::credentials::Credentials;
use crate::error::{Error, Result};

/// The default time a credential helper may take.
pub const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// The most output read from a credential helper.
const HELPER_OUTPUT_LIMIT: u64 = 1 << 20;

const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_HELPER_KEY: &str = "https://index.docker.io/v1/";

#[derive(Deserialize, Default)]
struct Wire {
    #[serde(default)]
    auths: BTreeMap<String, WireAuth>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireAuth {
    #[serde(default)]
    auth: Option<SecretString>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<SecretString>,
    #[serde(default)]
    identitytoken: Option<SecretString>,
    #[serde(default)]
    registrytoken: Option<SecretString>,
}

/// A parsed `config.json` (Docker) or `auth.json` (podman).
#[derive(Debug, Clone)]
pub struct DockerConfig {
    path: Option<PathBuf>,
    auths: BTreeMap<String, Credentials>,
    cred_helpers: BTreeMap<String, String>,
    creds_store: Option<String>,
    timeout: Duration,
    helper_dirs: Option<Vec<PathBuf>>,
}

/// `host[:port]` of a registry reference or auth-file key, lower case, Docker Hub unified.
///
/// ```
/// use harbor_auth::docker_config::normalize_registry;
/// assert_eq!(normalize_registry("https://index.docker.io/v1/"), "docker.io");
/// assert_eq!(normalize_registry("HTTPS://Reg.Example:5000/v2/"), "reg.example:5000");
/// ```
pub fn normalize_registry(s: &str) -> String {
    let s = s.trim();
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let host = s.split('/').next().unwrap_or_default().to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" | "docker.io" => {
            DOCKER_HUB.to_owned()
        }
        _ => host,
    }
}

fn config_err(path: Option<&Path>, message: impl Into<String>) -> Error {
    Error::DockerConfig {
        path: path.map(Path::to_path_buf).unwrap_or_default(),
        message: message.into(),
        source: None,
    }
}

impl DockerConfig {
    /// An empty configuration (every lookup is anonymous).
    pub fn empty() -> Self {
        Self {
            path: None,
            auths: BTreeMap::new(),
            cred_helpers: BTreeMap::new(),
            creds_store: None,
            timeout: DEFAULT_HELPER_TIMEOUT,
            helper_dirs: None,
        }
    }

    /// Docker's file: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`. A
    /// missing file gives an empty configuration.
    ///
    /// # Errors
    ///
    /// [`Error::DockerConfig`] when the file exists but cannot be read or decoded.
    pub fn load() -> Result<Self> {
        let path = match std::env::var_os("DOCKER_CONFIG") {
            Some(dir) => Some(PathBuf::from(dir).join("config.json")),
            None => std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".docker").join("config.json")),
        };
        match path {
            Some(p) if p.exists() => Self::from_path(&p),
            _ => Ok(Self::empty()),
        }
    }

    /// Podman's file: `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`,
    /// else `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config/...`), else Docker's file.
    ///
    /// # Errors
    ///
    /// As [`DockerConfig::load`].
    pub fn load_podman() -> Result<Self> {
        let mut candidates = Vec::new();
        if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE") {
            return Self::from_path(Path::new(&p));
        }
        if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
            candidates.push(PathBuf::from(d).join("containers").join("auth.json"));
        }
        match std::env::var_os("XDG_CONFIG_HOME") {
            Some(d) => candidates.push(PathBuf::from(d).join("containers").join("auth.json")),
            None => {
                if let Some(h) = std::env::var_os("HOME") {
                    candidates.push(
                        PathBuf::from(h)
                            .join(".config")
                            .join("containers")
                            .join("auth.json"),
                    );
                }
            }
        }
        match candidates.into_iter().find(|p| p.exists()) {
            Some(p) => Self::from_path(&p),
            None => Self::load(),
        }
    }

    /// Reads a file.
    ///
    /// # Errors
    ///
    /// [`Error::DockerConfig`] when it cannot be read or decoded.
    pub fn from_path(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::DockerConfig {
            path: path.to_path_buf(),
            message: "cannot read the file".to_owned(),
            source: Some(Box::new(e)),
        })?;
        let mut cfg = Self::parse(&bytes, Some(path))?;
        cfg.path = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Decodes file contents.
    ///
    /// # Errors
    ///
    /// [`Error::DockerConfig`] when they are not a config file (the error names the JSON path,
    /// never a value).
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        Self::parse(bytes, None)
    }

    fn parse(bytes: &[u8], path: Option<&Path>) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let wire: Wire = serde_path_to_error::deserialize(de).map_err(|e| {
            config_err(
                path,
                format!("not a docker config file (at `{}`)", e.path()),
            )
        })?;
        let mut auths = BTreeMap::new();
        for (key, entry) in wire.auths {
            let host = normalize_registry(&key);
            if let Some(c) = entry_credentials(entry)
                .map_err(|m| config_err(path, format!("auths[{key:?}]: {m}")))?
            {
                auths.insert(host, c);
            }
        }
        let cred_helpers = wire
            .cred_helpers
            .into_iter()
            .map(|(k, v)| (normalize_registry(&k), v))
            .collect();
        Ok(Self {
            path: None,
            auths,
            cred_helpers,
            creds_store: wire.creds_store.filter(|s| !s.is_empty()),
            timeout: DEFAULT_HELPER_TIMEOUT,
            helper_dirs: None,
        })
    }

    /// Sets the credential-helper timeout.
    #[must_use]
    pub fn with_helper_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Looks `docker-credential-*` helpers up in these directories only, instead of `PATH`.
    #[must_use]
    pub fn with_helper_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.helper_dirs = Some(dirs);
        self
    }

    /// The file this came from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The helper configured for a registry (`credHelpers`, else `credsStore`).
    pub fn helper_for(&self, registry: &str) -> Option<&str> {
        self.cred_helpers
            .get(&normalize_registry(registry))
            .or(self.creds_store.as_ref())
            .map(String::as_str)
    }

    /// The credentials for a registry (a host, `host:port`, or any key spelling).
    ///
    /// # Errors
    ///
    /// [`Error::CredentialHelper`] when a configured helper fails or times out (a helper that
    /// answers "credentials not found" gives anonymous).
    pub fn credentials_for(&self, registry: &str) -> Result<Credentials> {
        let host = normalize_registry(registry);
        if let Some(helper) = self.cred_helpers.get(&host) {
            return self.run_helper(helper, &host);
        }
        if let Some(c) = self.auths.get(&host) {
            return Ok(c.clone());
        }
        if let Some(store) = &self.creds_store {
            return self.run_helper(store, &host);
        }
        Ok(Credentials::Anonymous)
    }

    fn run_helper(&self, helper: &str, host: &str) -> Result<Credentials> {
        let program = format!("docker-credential-{helper}");
        let program = match &self.helper_dirs {
            None => PathBuf::from(program),
            Some(dirs) => dirs
                .iter()
                .map(|d| d.join(&program))
                .find(|p| p.is_file())
                .ok_or_else(|| Error::CredentialHelper {
                    helper: helper.to_owned(),
                    reason: "not found in the helper directories".to_owned(),
                })?,
        };
        run_helper(&program, helper, host, self.timeout)
    }
}

fn entry_credentials(e: WireAuth) -> std::result::Result<Option<Credentials>, &'static str> {
    let non_empty = |s: Option<SecretString>| s.filter(|s| !s.expose_secret().is_empty());
    if let Some(t) = non_empty(e.registrytoken) {
        return Ok(Some(Credentials::Bearer(t)));
    }
    let mut username = e.username.filter(|u| !u.is_empty());
    let mut password = non_empty(e.password);
    if let Some(auth) = non_empty(e.auth) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.expose_secret().trim())
            .map_err(|_| "`auth` is not base64")?;
        let text = String::from_utf8(raw).map_err(|_| "`auth` is not UTF-8")?;
        let (u, p) = text
            .split_once(':')
            .ok_or("`auth` is not `user:password`")?;
        username = Some(u.to_owned());
        password = Some(SecretString::from(p.to_owned()));
    }
    if let Some(t) = non_empty(e.identitytoken) {
        return Ok(Some(Credentials::IdentityToken { username, token: t }));
    }
    Ok(match (username, password) {
        (Some(u), Some(p)) => Some(Credentials::Basic {
            username: u,
            password: p,
        }),
        _ => None,
    })
}

#[derive(Deserialize)]
struct HelperOutput {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: SecretString,
}

fn run_helper(program: &Path, helper: &str, host: &str, timeout: Duration) -> Result<Credentials> {
    let fail = |reason: String| Error::CredentialHelper {
        helper: helper.to_owned(),
        reason,
    };
    if helper.is_empty() || helper.contains(['/', '\\']) {
        return Err(fail("the helper name must be a plain name".to_owned()));
    }
    let server = if host == DOCKER_HUB {
        DOCKER_HUB_HELPER_KEY
    } else {
        host
    };
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot start it: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading gives a broken pipe: its exit status tells.
        let _ = stdin.write_all(server.as_bytes());
    }
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut err = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.take(HELPER_OUTPUT_LIMIT).read_to_end(&mut out);
        }
        if let Some(s) = stderr.as_mut() {
            let _ = s.take(4096).read_to_end(&mut err);
        }
        (out, err)
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "no answer within {} ms; killed",
                    timeout.as_millis()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(fail(format!("cannot wait for it: {e}"))),
        }
    };
    let (out, err) = reader.join().unwrap_or_default();
    if !status.success() {
        let text = String::from_utf8_lossy(&out).to_ascii_lowercase()
            + &String::from_utf8_lossy(&err).to_ascii_lowercase();
        if text.contains("credentials not found") {
            return Ok(Credentials::Anonymous);
        }
        return Err(fail(format!("it exited with {status}")));
    }
    let parsed: HelperOutput = serde_json::from_slice(&out)
        .map_err(|_| fail("its output is not the helper JSON".to_owned()))?;
    if parsed.username == "<token>" {
        return Ok(Credentials::IdentityToken {
            username: None,
            token: parsed.secret,
        });
    }
    if parsed.username.is_empty() && parsed.secret.expose_secret().is_empty() {
        return Ok(Credentials::Anonymous);
    }
    Ok(Credentials::Basic {
        username: parsed.username,
        password: parsed.secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auths_shapes() {
        let cfg = DockerConfig::from_slice(
            br#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"},
                "reg.example:5000":{"username":"u","password":"p"},
                "idp.example":{"auth":"dTo=","identitytoken":"idt"},
                "tok.example":{"registrytoken":"rt"},
                "empty.example":{}
            },"credHelpers":{"ecr.example":"ecr-login"}}"#,
        )
        .unwrap();
        match cfg.credentials_for("registry-1.docker.io").unwrap() {
            Credentials::Basic { username, password } => {
                assert_eq!(username, "user");
                assert_eq!(password.expose_secret(), "pass");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            cfg.credentials_for("https://reg.example:5000/v2/")
                .unwrap()
                .username(),
            Some("u")
        );
        assert!(matches!(
            cfg.credentials_for("idp.example").unwrap(),
            Credentials::IdentityToken { .. }
        ));
        assert!(matches!(
            cfg.credentials_for("tok.example").unwrap(),
            Credentials::Bearer(_)
        ));
        assert!(cfg.credentials_for("empty.example").unwrap().is_anonymous());
        assert_eq!(cfg.helper_for("ECR.example"), Some("ecr-login"));
    }

    #[test]
    fn bad_files_name_the_place_not_the_secret() {
        let e = DockerConfig::from_slice(br#"{"auths":{"r":{"auth":"!!not-base64-secret"}}}"#)
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("auths[\"r\"]") && !msg.contains("not-base64-secret"),
            "{msg}"
        );
        assert!(DockerConfig::from_slice(b"[1]").is_err());
    }
}
