//! Support for the registry example tests: a real `docker-registry` on a free loopback port
//! (killed on drop), a small OCI layout, and running the example binaries.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use harbor_client::registry::{Descriptor, Digest, MediaType, OciLayout};

/// An external tool on PATH; `None` after a SKIP notice, a panic when `CI=true`.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{name} is not on PATH and CI=true: install it (Debian package `{name}`)");
        }
        eprintln!("SKIP: {name} not on PATH");
    }
    found
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `docker-registry`.
pub struct Registry {
    child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// Starts a registry; `extra` is appended to its YAML config (e.g. `notifications:`).
    pub fn start(extra: &str) -> Option<Registry> {
        let bin = tool("docker-registry")?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let storage = dir.path().join("storage");
        let yaml = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: test-secret-not-a-credential\n{extra}",
            storage.display()
        );
        let config = dir.path().join("config.yml");
        std::fs::write(&config, yaml).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut reg = Registry { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = reg.child.try_wait() {
                panic!("docker-registry exited ({s}): {}", reg.log());
            }
            if std::net::TcpStream::connect(addr).is_ok() {
                return Some(reg);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry did not start: {}", reg.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

/// Deterministic pseudo-random bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Writes a one-platform OCI image with these layers under `tag`; returns its descriptor and
/// the layer digests.
pub async fn make_image(dir: &Path, tag: &str, layers: &[Vec<u8>]) -> (Descriptor, Vec<Digest>) {
    let layout = OciLayout::create(dir).await.unwrap();
    let mut descs = Vec::new();
    let mut digests = Vec::new();
    for l in layers {
        let d = Digest::sha256_of(l);
        std::fs::write(layout.blob_path(&d), l).unwrap();
        descs.push(Descriptor::new(
            MediaType::OCI_LAYER_GZIP,
            d.clone(),
            l.len() as u64,
        ));
        digests.push(d);
    }
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = Digest::sha256_of(config);
    layout.write_blob(&cd, config).await.unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "config": Descriptor::new(MediaType::OCI_CONFIG, cd, config.len() as u64),
        "layers": descs,
    }))
    .unwrap();
    let md = Digest::sha256_of(&manifest);
    layout.write_blob(&md, &manifest).await.unwrap();
    let desc = Descriptor::new(MediaType::OCI_MANIFEST, md, manifest.len() as u64);
    layout.add_manifest(desc.clone(), Some(tag)).await.unwrap();
    (desc, digests)
}

/// Runs an example binary with a clean docker config (no credentials leak in from the host).
pub fn run(bin: &str, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(bin)
        .args(args)
        .env("DOCKER_CONFIG", home.path())
        .env_remove("REGISTRY_PASSWORD")
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}
