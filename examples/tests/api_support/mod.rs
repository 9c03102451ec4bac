//! Prism serving Harbor's spec on loopback, shared by the API example tests.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Harbor's swagger lives: `shared/specs/` beside the repository.
pub fn spec_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/specs/harbor-v2.0-swagger.yaml")
}

/// Harbor's own swagger, from the team's `shared/specs/` beside the repository (never copied
/// into it). `None` after a SKIP notice when that folder is absent; a panic instead when `CI=true`.
pub fn require_spec() -> Option<PathBuf> {
    let path = spec_path();
    match path.is_file() {
        true => Some(path),
        false if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "Harbor's spec is not at {}, and CI=true forbids skipping",
                path.display()
            )
        }
        false => {
            eprintln!(
                "SKIP: Harbor's spec not found at {} (no shared/ beside the repository)",
                path.display()
            );
            None
        }
    }
}

/// `None` after a SKIP notice when prism is not on PATH; a panic instead when `CI=true`.
pub fn require_prism() -> Option<PathBuf> {
    require_spec()?;
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("prism"))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => Some(p),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("prism is not on PATH, and CI=true forbids skipping")
        }
        None => {
            eprintln!("SKIP: prism not on PATH");
            None
        }
    }
}

/// A running `prism mock --errors`, killed on drop (or with the test process, when kept in a
/// `static`: it runs under a shell that kills it once our end of its stdin closes).
#[derive(Debug)]
pub struct Prism {
    child: Child,
    stdin: Option<ChildStdin>,
    /// `http://127.0.0.1:PORT`: the API root (Prism mounts the paths without `/api/v2.0`).
    pub url: String,
    /// Prism's log: one `[HTTP SERVER] <method> <path>` line per request it received.
    pub log: PathBuf,
}

impl Prism {
    pub fn start(prism: &Path) -> Prism {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = std::env::temp_dir().join(format!("harbor-examples-prism-{port}.log"));
        let script = r#"prism="$1"; log="$2"; shift 2; "$prism" "$@" >"$log" 2>&1 & pid=$!; read _ignored; kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null"#;
        let mut child = Command::new("sh")
            .args(["-c", script, "sh"])
            .arg(prism)
            .arg(&log)
            .args([
                "mock",
                "--errors",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .arg(spec_path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn prism");
        let stdin = child.stdin.take();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(90);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "prism exited early ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "prism did not listen within 90 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Prism {
            child,
            stdin,
            url: format!("http://{addr}"),
            log,
        }
    }

    /// The requests Prism received, as `METHOD /path` lines (Prism logs no query).
    pub fn requests(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let rest = l.split("[HTTP SERVER] ").nth(1)?;
                let mut parts = rest.split_whitespace();
                let method = parts.next()?.to_uppercase();
                let path = parts.next()?;
                Some(format!("{method} {path}"))
            })
            .collect()
    }

    /// The request violations Prism reported (a request that breaks the spec).
    pub fn violations(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter(|l| l.contains("Violation: request"))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let _ = self.child.wait();
    }
}
