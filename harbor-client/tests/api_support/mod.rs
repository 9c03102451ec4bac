//! Shared harness of the Harbor API tests: Prism serving Harbor's own spec on loopback.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod calls;
pub mod recorder;

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the spec the tests run against lives: `shared/specs/` beside the repository.
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

/// Finds an executable on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// `None` (after printing a SKIP notice) when the tool is absent; panics instead when `CI=true`.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    if name == "prism" {
        require_spec()?;
    }
    match which(name) {
        Some(p) => Some(p),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{name} is not on PATH, and CI=true forbids skipping")
        }
        None => {
            eprintln!("SKIP: {name} not on PATH");
            None
        }
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    l.local_addr().expect("local addr").port()
}

/// A running Prism mock. Killed on drop; when held in a `static` (never dropped), it
/// dies with the test process: it runs under a shell that kills it once our end of its
/// stdin closes.
#[derive(Debug)]
pub struct Prism {
    child: Child,
    _stdin: Option<ChildStdin>,
    /// The mock's root URL (`http://127.0.0.1:PORT`), the API root without `/api/v2.0`.
    pub url: String,
    /// Where its log goes.
    pub log: PathBuf,
}

impl Prism {
    /// Starts `prism mock --errors SPEC` (and `-d --seed SEED` when `seed` is given).
    pub fn start(prism: &Path, seed: Option<u32>) -> Prism {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("harbor-client-prism-{port}.log"));
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
        args.push(spec_path().display().to_string());
        let script = r#"prism="$1"; log="$2"; shift 2; "$prism" "$@" >"$log" 2>&1 & pid=$!; read _ignored; kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(prism)
            .arg(&log)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn prism");
        let stdin = child.stdin.take();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("prism exited early ({status}):\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "prism did not listen within 90 s; log: {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Prism {
            child,
            _stdin: stdin,
            url: format!("http://{addr}"),
            log,
        }
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        if let Some(mut stdin) = self._stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let _ = self.child.wait();
    }
}
