//! Docker and podman auth files, and credential helpers (feature `docker-config`): the file
//! and process readers behind the [`Keychain`].
//!
//! ```no_run
//! // What `docker pull` and `podman pull` would use, in one line (ggcr's DefaultKeychain).
//! let keychain = harbor_auth::Keychain::from_default_files()?;
//! # Ok::<(), harbor_auth::Error>(())
//! ```
//!
//! A file becomes one keychain source. Within it, for a registry host:
//! 1. `credHelpers[host]` → `docker-credential-<helper> get`;
//! 2. the `auths` entry with the longest matching key: `host[:port]`, or podman's
//!    `host/repository/prefix`; the entry holds `auth` (base64 `user:password`),
//!    `username`/`password`, `identitytoken` (an OAuth2 refresh token) or `registrytoken`
//!    (a ready bearer token);
//! 3. `credsStore` → `docker-credential-<store> get`.
//!
//! Keys are normalised to `host[:port]` (`https://reg.example:5000/v2/` → `reg.example:5000`);
//! Docker Hub's spellings are one registry (see [`KnownRegistry`](crate::KnownRegistry)) and
//! its helper server name is `https://index.docker.io/v1/`.
//!
//! Helpers ([`ProcessHelpers`]) run with a timeout (10 s by default), their output never
//! reaches an error message, and their answers are cached for the life of the process (one run
//! per helper and server, however many requests ask at once). Reading files and running helpers
//! blocks: async callers run [`HelperRequest::run`](crate::HelperRequest::run) on a blocking
//! thread, as `harbor-client`'s transport does.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::keychain::{CredentialHelper, Key, Keychain, Source, parse_key};

/// The default time a credential helper may take.
pub const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// The most output read from a credential helper.
const HELPER_OUTPUT_LIMIT: u64 = 1 << 20;

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

/// A parsed `config.json` (Docker) or `auth.json` (podman, skopeo), to add to a [`Keychain`].
#[derive(Debug, Clone)]
pub struct DockerConfig {
    path: Option<PathBuf>,
    auths: Vec<(Key, Credentials)>,
    cred_helpers: Vec<(Key, String)>,
    creds_store: Option<String>,
    helpers: ProcessHelpers,
}

fn config_err(path: Option<&Path>, message: impl Into<String>) -> Error {
    Error::DockerConfig {
        path: path.map(Path::to_path_buf).unwrap_or_default(),
        message: message.into(),
        source: None,
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl DockerConfig {
    /// An empty configuration.
    pub fn empty() -> Self {
        Self {
            path: None,
            auths: Vec::new(),
            cred_helpers: Vec::new(),
            creds_store: None,
            helpers: ProcessHelpers::new(),
        }
    }

    /// Where Docker keeps it: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
    pub fn docker_path() -> Option<PathBuf> {
        match env_path("DOCKER_CONFIG") {
            Some(dir) => Some(dir.join("config.json")),
            None => env_path("HOME").map(|h| h.join(".docker").join("config.json")),
        }
    }

    /// Where podman and skopeo keep it: `$REGISTRY_AUTH_FILE` when set, else the first that
    /// exists of `$XDG_RUNTIME_DIR/containers/auth.json` and
    /// `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config/...`).
    pub fn podman_path() -> Option<PathBuf> {
        if let Some(p) = env_path("REGISTRY_AUTH_FILE") {
            return Some(p);
        }
        let mut candidates = Vec::new();
        if let Some(d) = env_path("XDG_RUNTIME_DIR") {
            candidates.push(d.join("containers").join("auth.json"));
        }
        match env_path("XDG_CONFIG_HOME") {
            Some(d) => candidates.push(d.join("containers").join("auth.json")),
            None => {
                if let Some(h) = env_path("HOME") {
                    candidates.push(h.join(".config").join("containers").join("auth.json"));
                }
            }
        }
        candidates.into_iter().find(|p| p.exists())
    }

    /// Docker's file ([`DockerConfig::docker_path`]); a missing file gives an empty
    /// configuration.
    ///
    /// # Errors
    ///
    /// [`Error::DockerConfig`] when the file exists but cannot be read or decoded.
    pub fn load() -> Result<Self> {
        Self::load_optional(Self::docker_path())
    }

    /// Podman's file ([`DockerConfig::podman_path`]); a missing file gives an empty
    /// configuration (as podman reads it: `podman login` creates it).
    ///
    /// # Errors
    ///
    /// As [`DockerConfig::load`].
    pub fn load_podman() -> Result<Self> {
        Self::load_optional(Self::podman_path())
    }

    fn load_optional(path: Option<PathBuf>) -> Result<Self> {
        match path {
            Some(p) if p.exists() => Self::from_path(&p),
            _ => Ok(Self::empty()),
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
        let mut auths = Vec::new();
        for (name, entry) in wire.auths {
            let key = parse_key(&name)
                .ok_or_else(|| config_err(path, format!("auths[{name:?}]: not a registry")))?;
            if let Some(c) = entry_credentials(entry)
                .map_err(|m| config_err(path, format!("auths[{name:?}]: {m}")))?
            {
                auths.push((key, c));
            }
        }
        let mut cred_helpers = Vec::new();
        for (name, helper) in wire.cred_helpers {
            let key = parse_key(&name).ok_or_else(|| {
                config_err(path, format!("credHelpers[{name:?}]: not a registry"))
            })?;
            cred_helpers.push((key, helper));
        }
        Ok(Self {
            path: None,
            auths,
            cred_helpers,
            creds_store: wire.creds_store.filter(|s| !s.is_empty()),
            helpers: ProcessHelpers::new(),
        })
    }

    /// Sets the credential-helper timeout (`Duration::MAX`: wait for ever).
    #[must_use]
    pub fn with_helper_timeout(mut self, timeout: Duration) -> Self {
        self.helpers.timeout = timeout;
        self
    }

    /// Looks `docker-credential-*` helpers up in these directories only, instead of `PATH`.
    #[must_use]
    pub fn with_helper_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.helpers.dirs = Some(dirs);
        self
    }

    /// The file this came from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl Keychain {
    /// Adds an auth file as the next source (after the explicit entries and the files added
    /// before it).
    #[must_use]
    pub fn with_config(self, config: DockerConfig) -> Self {
        let label = config
            .path
            .as_ref()
            .map_or_else(|| "docker config".to_owned(), |p| p.display().to_string());
        self.push_source(Source {
            label,
            auths: config.auths,
            helpers: config.cred_helpers,
            store: config.creds_store,
            runner: Some(Arc::new(config.helpers)),
        })
    }

    /// The keychain `docker` and `podman` would use: podman's `auth.json`
    /// ([`DockerConfig::podman_path`]) first, then Docker's `config.json`
    /// ([`DockerConfig::docker_path`], which honours `DOCKER_CONFIG`), with their credential
    /// helpers. Missing files are skipped. Explicit entries added with [`Keychain::with`] still
    /// come first.
    ///
    /// # Errors
    ///
    /// [`Error::DockerConfig`] when a file exists but cannot be read or decoded.
    pub fn from_default_files() -> Result<Self> {
        Ok(Self::new()
            .with_config(DockerConfig::load_podman()?)
            .with_config(DockerConfig::load()?))
    }
}

/// Runs `docker-credential-<name> get` processes with a timeout, caching answers per process.
#[derive(Debug, Clone)]
pub struct ProcessHelpers {
    timeout: Duration,
    dirs: Option<Vec<PathBuf>>,
}

impl Default for ProcessHelpers {
    fn default() -> Self {
        Self::new()
    }
}

/// One cached helper answer per (program, server), filled once.
type Slot = Arc<Mutex<Option<Credentials>>>;

fn helper_cache() -> &'static Mutex<HashMap<(PathBuf, String), Slot>> {
    static CACHE: OnceLock<Mutex<HashMap<(PathBuf, String), Slot>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

impl ProcessHelpers {
    /// Helpers from `PATH`, with [`DEFAULT_HELPER_TIMEOUT`].
    pub fn new() -> Self {
        Self {
            timeout: DEFAULT_HELPER_TIMEOUT,
            dirs: None,
        }
    }

    fn program(&self, helper: &str) -> Result<PathBuf> {
        if helper.is_empty() || helper.contains(['/', '\\']) {
            return Err(Error::CredentialHelper {
                helper: helper.to_owned(),
                reason: "the helper name must be a plain name".to_owned(),
            });
        }
        let program = format!("docker-credential-{helper}");
        match &self.dirs {
            None => Ok(PathBuf::from(program)),
            Some(dirs) => dirs
                .iter()
                .map(|d| d.join(&program))
                .find(|p| p.is_file())
                .ok_or_else(|| Error::CredentialHelper {
                    helper: helper.to_owned(),
                    reason: "not found in the helper directories".to_owned(),
                }),
        }
    }
}

impl CredentialHelper for ProcessHelpers {
    fn get(&self, helper: &str, server: &str) -> Result<Credentials> {
        let program = self.program(helper)?;
        let slot = {
            let mut cache = helper_cache()
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(
                cache
                    .entry((program.clone(), server.to_owned()))
                    .or_default(),
            )
        };
        // One run per (helper, server): concurrent askers wait for the first answer.
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let answer = run_helper(&program, helper, server, self.timeout)?;
        *slot = Some(answer.clone());
        Ok(answer)
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

fn run_helper(
    program: &Path,
    helper: &str,
    server: &str,
    timeout: Duration,
) -> Result<Credentials> {
    let fail = |reason: String| Error::CredentialHelper {
        helper: helper.to_owned(),
        reason,
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
    // None: a timeout too long to add to the clock (`Duration::MAX`), which never comes.
    let deadline = Instant::now().checked_add(timeout);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if deadline.is_some_and(|d| Instant::now() >= d) => {
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
    use crate::keychain::Lookup;

    fn user(kc: &Keychain, host: &str, repo: Option<&str>) -> Option<String> {
        match kc.lookup(host, repo) {
            Lookup::Ready(b) => b.credentials().username().map(str::to_owned),
            Lookup::Helper(h) => Some(format!("helper:{}", h.helper())),
        }
    }

    #[test]
    fn auths_shapes() {
        let cfg = DockerConfig::from_slice(
            br#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"},
                "reg.example:5000":{"username":"u","password":"p"},
                "idp.example":{"auth":"dTo=","identitytoken":"idt"},
                "tok.example":{"registrytoken":"rt"},
                "quay.io/org":{"username":"org-robot","password":"p"},
                "empty.example":{}
            },"credHelpers":{"ecr.example":"ecr-login"}}"#,
        )
        .unwrap();
        let kc = Keychain::new().with_config(cfg);
        let Lookup::Ready(hub) = kc.lookup("registry-1.docker.io", None) else {
            panic!()
        };
        match hub.credentials() {
            Credentials::Basic { username, password } => {
                assert_eq!(username, "user");
                assert_eq!(password.expose_secret(), "pass");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(user(&kc, "reg.example:5000", None).as_deref(), Some("u"));
        assert!(matches!(
            kc.lookup("idp.example", None),
            Lookup::Ready(b) if matches!(b.credentials(), Credentials::IdentityToken { .. })
        ));
        assert!(matches!(
            kc.lookup("tok.example", None),
            Lookup::Ready(b) if matches!(b.credentials(), Credentials::Bearer(_))
        ));
        assert_eq!(
            user(&kc, "quay.io", Some("org/app")).as_deref(),
            Some("org-robot")
        );
        assert_eq!(user(&kc, "quay.io", Some("other/app")), None);
        assert_eq!(user(&kc, "empty.example", None), None);
        assert_eq!(
            user(&kc, "ECR.example", None).as_deref(),
            Some("helper:ecr-login")
        );
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
