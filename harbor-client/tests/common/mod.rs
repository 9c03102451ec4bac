//! Test support: a real `docker-registry` on a free loopback port (the guard, tool lookup, free
//! ports and `noise` come from `harbor-testkit`), a fault-injecting TCP proxy, and small images
//! built at run time.
#![allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod auth;
pub mod fake;
pub mod phase;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use harbor_client::registry::{Descriptor, Digest, ImageIndex, MediaType, OciLayout, Platform};
pub use harbor_testkit::{Registry, free_port, noise, tool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Starts a registry without auth; `None` when docker-registry is absent (SKIP).
pub async fn registry() -> Option<Registry> {
    let bin = tool("docker-registry")?;
    Some(registry_in(bin, tempfile::tempdir().unwrap(), String::new()).await)
}

/// Starts the registry `bin` in `dir` with `extra` config sections, waiting for it on a
/// blocking thread so that servers on the test's runtime keep running meanwhile.
pub async fn registry_in(bin: PathBuf, dir: tempfile::TempDir, extra: String) -> Registry {
    registry_in_at(bin, dir, std::net::Ipv4Addr::LOCALHOST, extra).await
}

/// As [`registry_in`], on the loopback address `ip`.
pub async fn registry_in_at(
    bin: PathBuf,
    dir: tempfile::TempDir,
    ip: std::net::Ipv4Addr,
    extra: String,
) -> Registry {
    tokio::task::spawn_blocking(move || Registry::start_in_at(&bin, dir, ip, &extra))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// A registry with htpasswd (Basic) auth on `ip`, knowing only `user`.
pub async fn htpasswd_registry(ip: std::net::Ipv4Addr, user: (&str, &str)) -> Option<Registry> {
    let bin = tool("docker-registry")?;
    let dir = tempfile::tempdir().unwrap();
    let auth = harbor_testkit::htpasswd_auth(dir.path(), &[user]);
    Some(registry_in_at(bin, dir, ip, auth).await)
}

/// What the proxy does to the traffic.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Pass everything.
    None,
    /// Cut the first connection whose server-to-client traffic passes `n` bytes.
    CutDownstreamAfter(u64),
    /// Cut the first connection whose client-to-server traffic passes `n` bytes.
    CutUpstreamAfter(u64),
    /// Flip the byte at server-to-client offset `n` of every connection that gets that far.
    FlipDownstreamAt(u64),
}

/// A loopback TCP proxy that injects one fault.
pub struct FaultProxy {
    pub addr: SocketAddr,
    pub faults_fired: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    pub async fn start(target: SocketAddr, fault: Fault) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fired = Arc::new(AtomicU64::new(0));
        let once = Arc::new(AtomicBool::new(false));
        let f2 = fired.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let fired = f2.clone();
                let once = once.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let (down_cut, up_cut, flip) = match fault {
                        Fault::None => (None, None, None),
                        Fault::CutDownstreamAfter(n) => (Some(n), None, None),
                        Fault::CutUpstreamAfter(n) => (None, Some(n), None),
                        Fault::FlipDownstreamAt(n) => (None, None, Some(n)),
                    };
                    let up = pump(cr, sw, up_cut, None, once.clone(), fired.clone());
                    let down = pump(sr, cw, down_cut, flip, once, fired);
                    tokio::select! { _ = up => {}, _ = down => {} }
                });
            }
        });
        FaultProxy {
            addr,
            faults_fired: fired,
            task,
        }
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

async fn pump(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    cut: Option<u64>,
    flip: Option<u64>,
    once: Arc<AtomicBool>,
    fired: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = w.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        let chunk = &mut buf[..n];
        if let Some(at) = flip
            && at >= total
            && at < total + n as u64
        {
            chunk[(at - total) as usize] ^= 0x01;
            fired.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(limit) = cut
            && total + n as u64 > limit
            && !once.swap(true, Ordering::SeqCst)
        {
            let keep = (limit - total.min(limit)) as usize;
            let _ = w.write_all(&chunk[..keep]).await;
            fired.fetch_add(1, Ordering::SeqCst);
            // Drop both halves: the connection is cut mid-transfer.
            return;
        }
        if w.write_all(chunk).await.is_err() {
            return;
        }
        total += n as u64;
    }
}

/// Wraps data in a valid gzip stream made of stored (uncompressed) deflate blocks, so that
/// tools which sniff compression (skopeo) see a real gzip layer without a compressor here.
pub fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 65535 * 5 + 32);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    let mut chunks = data.chunks(65535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, e) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *e = c;
    }
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Writes a single-platform OCI image with the given layers into a layout under `tag`.
/// Returns the manifest descriptor.
pub async fn make_image(dir: &Path, tag: &str, layers: &[Vec<u8>]) -> Descriptor {
    let layout = OciLayout::create(dir).await.unwrap();
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        let d = Digest::sha256_of(l);
        tokio::fs::write(layout.blob_path(&d), l).await.unwrap();
        diff_ids.push(d.to_string());
        layer_descs.push(Descriptor::new(
            MediaType::OCI_LAYER_GZIP,
            d,
            l.len() as u64,
        ));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    }))
    .unwrap();
    let cd = Digest::sha256_of(&config);
    layout.write_blob(&cd, &config).await.unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OCI_MANIFEST,
        "config": Descriptor::new(MediaType::OCI_CONFIG, cd, config.len() as u64),
        "layers": layer_descs,
    }))
    .unwrap();
    let md = Digest::sha256_of(&manifest);
    layout.write_blob(&md, &manifest).await.unwrap();
    let desc = Descriptor::new(MediaType::OCI_MANIFEST, md, manifest.len() as u64);
    layout.add_manifest(desc.clone(), Some(tag)).await.unwrap();
    desc
}

/// A two-platform index of two small images, in a layout under `tag`.
pub async fn make_index(dir: &Path, tag: &str) -> Descriptor {
    let a = make_image(&dir.join("a"), "x", &[noise(1000, 1)]).await;
    let b = make_image(&dir.join("b"), "x", &[noise(1000, 2)]).await;
    let layout = OciLayout::create(dir).await.unwrap();
    // Move the children's blobs into the main layout.
    for sub in ["a", "b"] {
        let mut rd = tokio::fs::read_dir(dir.join(sub).join("blobs/sha256"))
            .await
            .unwrap();
        while let Some(e) = rd.next_entry().await.unwrap() {
            tokio::fs::copy(e.path(), dir.join("blobs/sha256").join(e.file_name()))
                .await
                .unwrap();
        }
    }
    let mut index = ImageIndex::new();
    let mut da = a.clone();
    da.platform = Some(Platform::new("linux", "amd64"));
    let mut db = b.clone();
    db.platform = Some(Platform::new("linux", "arm64"));
    index.manifests = vec![da, db];
    let bytes = serde_json::to_vec(&index).unwrap();
    let d = Digest::sha256_of(&bytes);
    layout.write_blob(&d, &bytes).await.unwrap();
    let desc = Descriptor::new(MediaType::OCI_INDEX, d, bytes.len() as u64);
    layout.add_manifest(desc.clone(), Some(tag)).await.unwrap();
    desc
}

/// Collects a blob stream.
pub async fn collect(mut s: harbor_client::registry::BlobStream) -> harbor_client::Result<Bytes> {
    use futures_util::StreamExt;
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c?);
    }
    Ok(Bytes::from(out))
}

/// Runs `skopeo --insecure-policy ARGS` and asserts it succeeded (the caller has checked that
/// skopeo is on PATH).
pub fn skopeo(args: &[&str]) {
    skopeo_out(args);
}

/// As [`skopeo`], returning what it printed.
pub fn skopeo_out(args: &[&str]) -> Vec<u8> {
    let bin = tool("skopeo").expect("checked by the caller");
    let out = std::process::Command::new(bin)
        .arg("--insecure-policy")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The blob file names of an OCI layout (`blobs/sha256`), without partial downloads.
pub fn blob_names(dir: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".partial") && !n.ends_with(".tmp"))
        .collect()
}
