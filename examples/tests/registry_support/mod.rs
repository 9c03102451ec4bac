//! Support for the registry example tests: a small OCI layout and running the example binaries;
//! the `docker-registry` guard (killed on drop), tool lookup, free ports and `noise` come from
//! `harbor-testkit`.
#![allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::path::Path;
use std::process::{Command, Output};

use harbor_client::registry::{Descriptor, Digest, MediaType, OciLayout};
// `Registry::start(extra)` appends `extra` to the registry's YAML config (e.g. `notifications:`).
pub use harbor_testkit::{Registry, free_port, noise, tool};

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

/// Runs an example binary with clean docker and podman configs (no credentials leak in from
/// the host).
pub fn run(bin: &str, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    run_with_docker_config(bin, args, home.path())
}

/// Runs an example binary with `DOCKER_CONFIG=dir` and no podman file.
pub fn run_with_docker_config(bin: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(bin)
        .args(args)
        .env("DOCKER_CONFIG", dir)
        .env("REGISTRY_AUTH_FILE", dir.join("no-podman-auth.json"))
        .env_remove("REGISTRY_PASSWORD")
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}
