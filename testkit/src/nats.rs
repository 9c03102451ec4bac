//! A real `nats-server` with JetStream on a loopback port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, tool, which};

/// How long the server may take to be ready before the test fails.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// A running `nats-server -js` on `127.0.0.1:PORT` with its store in a temporary directory,
/// killed on drop.
#[derive(Debug)]
pub struct NatsServer {
    child: Child,
    bin: PathBuf,
    /// Arguments after the usual ones (`--user`, `--pass` …), kept for a restart.
    extra: Vec<String>,
    /// Where it listens: `127.0.0.1:PORT`.
    pub addr: SocketAddr,
    /// Its directory: `store/` (JetStream) and `nats.log`. Removed after the server stops.
    pub dir: tempfile::TempDir,
}

impl NatsServer {
    /// Finds `nats-server` (on `PATH`, or in `/usr/sbin` where Debian installs it) and starts
    /// it with JetStream on a free loopback port. `None` after the SKIP notice when it is
    /// absent.
    ///
    /// # Panics
    /// Under `CI=true` when it is absent; when it does not become ready within 20 s.
    pub fn start() -> Option<NatsServer> {
        NatsServer::start_with(&[])
    }

    /// As [`NatsServer::start`], with `extra` arguments after the usual ones (for example
    /// `["--user", "worker", "--pass", "s3cret"]` for a server that requires them).
    ///
    /// # Panics
    /// As [`NatsServer::start`].
    pub fn start_with(extra: &[&str]) -> Option<NatsServer> {
        let debian = Path::new("/usr/sbin/nats-server");
        let bin = which("nats-server")
            .or_else(|| debian.is_file().then(|| debian.to_path_buf()))
            .or_else(|| tool("nats-server"))?;
        let dir = tempfile::tempdir().expect("create a temporary directory for nats-server");
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let extra: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
        let mut server = NatsServer {
            child: spawn(&bin, addr, dir.path(), &extra),
            bin,
            extra,
            addr,
            dir,
        };
        server.wait_ready();
        Some(server)
    }

    /// `nats://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default()
    }

    /// Kills the server (`SIGKILL`) and starts it again on the same port and store.
    ///
    /// # Panics
    /// As [`NatsServer::start`].
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.bin, self.addr, self.dir.path(), &self.extra);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nats-server exited ({status}); log:\n{}", self.log());
            }
            if self.log().matches("Server is ready").count() >= self.starts() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nats-server was not ready on {} within {} s; log:\n{}",
                self.addr,
                READY_WITHIN.as_secs(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// How many times the server was started on this log.
    fn starts(&self) -> usize {
        self.log().matches("Starting nats-server").count().max(1)
    }
}

fn spawn(bin: &Path, addr: SocketAddr, dir: &Path, extra: &[String]) -> Child {
    let log = dir.join("nats.log");
    Command::new(bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &addr.port().to_string()])
        .arg("-sd")
        .arg(dir.join("store"))
        .arg("-l")
        .arg(&log)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()))
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
