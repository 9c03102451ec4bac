//! Prism mocking Harbor's own swagger on a loopback port.

use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{ci, free_port, tool};

/// How long Prism may take to listen (it parses a large spec) before the test fails.
const READY_WITHIN: Duration = Duration::from_secs(90);

/// Where Harbor's swagger lives: the copy vendored beside the API generator,
/// `codegen/spec/harbor-v2.0-swagger.yaml` (its source commit is in `codegen/spec/SOURCES.md`).
/// `needs(spec)` looks for it at the same place.
pub fn spec_path() -> PathBuf {
    crate::lookup::spec_under(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// [`spec_path`] when the file is there; otherwise `None` after a SKIP notice on stderr.
///
/// # Panics
/// When the spec is absent and `CI=true`: CI must not skip.
pub fn require_spec() -> Option<PathBuf> {
    let path = spec_path();
    if path.is_file() {
        return Some(path);
    }
    if ci() {
        panic!(
            "Harbor's spec is not at {}, and CI=true forbids skipping",
            path.display()
        );
    }
    eprintln!(
        "SKIP: Harbor's spec not found at {} (a partial checkout?)",
        path.display()
    );
    None
}

/// The `prism` executable when both it and the spec are there ([`require_spec`], then
/// [`tool`]); otherwise `None` after a SKIP notice.
///
/// # Panics
/// When either is absent and `CI=true`.
pub fn require_prism() -> Option<PathBuf> {
    require_spec()?;
    tool("prism")
}

/// A running `prism mock --errors SPEC` on a free loopback port.
///
/// Killed on drop. When held in a `static` (never dropped) it dies with the test process: it
/// runs under a shell that kills it once our end of the shell's stdin closes.
#[derive(Debug)]
pub struct Prism {
    child: Child,
    stdin: Option<ChildStdin>,
    /// `http://127.0.0.1:PORT`: the API root (Prism mounts the paths without `/api/v2.0`).
    pub url: String,
    /// Prism's log: one `[HTTP SERVER] <method> <path>` line per request, and its violations.
    pub log: PathBuf,
}

impl Prism {
    /// Starts the `prism` executable on [`spec_path`] with `--errors` (requests that break the
    /// spec get errors) and, when `seed` is given, `-d --seed SEED` (dynamic, reproducible
    /// responses); waits until it accepts connections.
    ///
    /// # Panics
    /// When the shell cannot be spawned, or Prism exits or does not listen within 90 s.
    pub fn start(prism: &Path, seed: Option<u32>) -> Prism {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("harbor-testkit-prism-{port}.log"));
        let mut args = vec![
            "mock".to_owned(),
            "--errors".to_owned(),
            "-h".to_owned(),
            "127.0.0.1".to_owned(),
            "-p".to_owned(),
            port.to_string(),
        ];
        if let Some(seed) = seed {
            args.extend(["-d".to_owned(), "--seed".to_owned(), seed.to_string()]);
        }
        let script = r#"prism="$1"; log="$2"; shift 2; "$prism" "$@" >"$log" 2>&1 & pid=$!; read _ignored; kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null"#;
        let mut child = Command::new("sh")
            .args(["-c", script, "sh"])
            .arg(prism)
            .arg(&log)
            .args(&args)
            .arg(spec_path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh to run prism");
        let stdin = child.stdin.take();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + READY_WITHIN;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("prism exited early ({status}):\n{text}");
            }
            if Instant::now() >= deadline {
                panic!(
                    "prism did not listen within {} s; log: {}",
                    READY_WITHIN.as_secs(),
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Prism {
            child,
            stdin,
            url: format!("http://{addr}"),
            log,
        }
    }

    /// The requests Prism received so far, as `METHOD /path` lines (Prism logs no query).
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

    /// The request violations Prism reported so far (requests that break the spec).
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
