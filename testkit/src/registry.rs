//! A real `docker-registry` (distribution) on a loopback port.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port_on, tool};

/// How long a registry may take to listen before the test fails.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// A running `docker-registry serve CONFIG`, killed on drop.
///
/// The configuration is a base this type writes (a loopback address, `127.0.0.1` unless
/// [`Registry::start_at`] names another, on a free port; filesystem
/// storage in [`Registry::dir`] with deletes enabled, upload purging off, errors logged to
/// `registry.log`) followed by the caller's own top-level sections (`auth:`, `notifications:`
/// ...). The registry has no auth unless the caller adds it.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    /// Where it listens: `127.0.0.1:PORT` (or the address given to [`Registry::start_at`]).
    pub addr: SocketAddr,
    /// Its port (the one of [`Registry::addr`]).
    pub port: u16,
    /// Its directory: `config.yml`, `registry.log`, `storage/` and whatever the caller put there
    /// before (a certificate bundle the `auth:` section names). Removed after the registry stops.
    pub dir: tempfile::TempDir,
}

impl Registry {
    /// Looks up `docker-registry` with [`tool`] and starts it in a new temporary directory, with
    /// `extra` (whole top-level YAML sections, or `""`) appended to the base configuration.
    /// `None` after the SKIP notice when the tool is absent.
    ///
    /// # Panics
    /// Under `CI=true` when the tool is absent, and as [`Registry::start_in`] does.
    pub fn start(extra: &str) -> Option<Registry> {
        Self::start_at(Ipv4Addr::LOCALHOST, extra)
    }

    /// As [`Registry::start`], listening on another loopback address (`127.0.0.2`, ...), so
    /// that several registries stand for several hosts.
    ///
    /// # Panics
    /// As [`Registry::start`].
    pub fn start_at(ip: Ipv4Addr, extra: &str) -> Option<Registry> {
        let bin = tool("docker-registry")?;
        let dir = tempfile::tempdir().expect("create a temporary directory for the registry");
        Some(Self::start_in_at(&bin, dir, ip, extra))
    }

    /// Starts the registry binary `bin` in `dir` (which may already hold files that `extra`
    /// refers to), with `extra` appended to the base configuration, and waits until it accepts
    /// connections.
    ///
    /// # Panics
    /// When the files cannot be written, the process cannot be spawned, or it exits or does not
    /// listen within 20 s (the message holds its log).
    pub fn start_in(bin: &Path, dir: tempfile::TempDir, extra: &str) -> Registry {
        Self::start_in_at(bin, dir, Ipv4Addr::LOCALHOST, extra)
    }

    /// As [`Registry::start_in`], listening on the loopback address `ip`.
    ///
    /// # Panics
    /// As [`Registry::start_in`], and when `ip` has no free port.
    pub fn start_in_at(bin: &Path, dir: tempfile::TempDir, ip: Ipv4Addr, extra: &str) -> Registry {
        Self::start_configured(bin, dir, ip, "", extra)
    }

    /// As [`Registry::start_in_at`], with `http_extra` (lines indented by two spaces, such as
    /// a `tls:` block with `certificate`, `key` and `clientcas`) added under `http:`.
    ///
    /// # Panics
    /// As [`Registry::start_in`].
    pub fn start_configured(
        bin: &Path,
        dir: tempfile::TempDir,
        ip: Ipv4Addr,
        http_extra: &str,
        extra: &str,
    ) -> Registry {
        let port = free_port_on(ip);
        let addr = SocketAddr::from((ip, port));
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("create the registry's storage directory");
        let config = format!(
            "version: 0.1\n\
             log:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n  \
             maintenance:\n    uploadpurging:\n      enabled: false\n\
             http:\n  addr: {addr}\n  secret: test-secret-not-a-credential\n{http_extra}\
             {extra}",
            storage = storage.display(),
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write the registry's config.yml");
        let log = std::fs::File::create(dir.path().join("registry.log"))
            .expect("create the registry's log file");
        let log_out = log
            .try_clone()
            .expect("clone the registry's log file handle");
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log_out)
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let mut registry = Registry {
            child,
            addr,
            port,
            dir,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("docker-registry exited ({status}); log:\n{}", self.log());
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "docker-registry did not listen on {} within {} s; log:\n{}",
                    self.addr,
                    READY_WITHIN.as_secs(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://IP:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `IP:PORT`, as image references want it.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// What the registry has logged so far (empty when the log cannot be read).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `users` (name, password) as an htpasswd file with bcrypt hashes into `dir` and
/// returns the `auth:` section that makes `docker-registry` use it (`Basic` challenges, realm
/// `test-registry`). Cost 4: fast, and a real bcrypt hash all the same.
///
/// # Panics
/// When hashing fails or the file cannot be written.
pub fn htpasswd_auth(dir: &Path, users: &[(&str, &str)]) -> String {
    let lines: String = users
        .iter()
        .map(|(user, password)| {
            let hash = bcrypt::hash(password, 4).expect("bcrypt a test password");
            format!("{user}:{hash}\n")
        })
        .collect();
    let path = dir.join("htpasswd");
    std::fs::write(&path, lines).expect("write the htpasswd file");
    format!(
        "auth:\n  htpasswd:\n    realm: test-registry\n    path: {}\n",
        path.display()
    )
}
