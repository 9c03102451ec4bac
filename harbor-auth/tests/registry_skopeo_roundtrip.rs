//! `skopeo copy` pushes an OCI-layout image into a real `docker-registry` through our token
//! endpoint and pulls it back byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{ISSUER, SERVICE, TokenServer, self_signed, sha256_hex, start_registry, tool};
use harbor_auth::ScopeSet;
use harbor_auth::server::{Htpasswd, KeyKind, TokenEndpoint, TokenIssuer};

/// A one-file tar archive (ustar), written by hand.
fn tar_one_file(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..108].copy_from_slice(b"0000644\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    header[124..136].copy_from_slice(format!("{:011o}\0", content.len()).as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .args(["-n", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip (Debian essential) runs");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

fn write_blob(layout: &Path, data: &[u8]) -> String {
    let hex = sha256_hex(data);
    std::fs::write(layout.join("blobs/sha256").join(&hex), data).unwrap();
    format!("sha256:{hex}")
}

/// Builds an OCI image layout with one config blob, one gzip layer and a manifest tagged `v1`.
/// Returns the manifest digest.
fn build_layout(layout: &Path) -> String {
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let tar = tar_one_file("hello.txt", b"hello from harbor-auth\n");
    let layer = gzip(&tar);
    let layer_digest = write_blob(layout, &layer);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(&tar))]},
    })
    .to_string()
    .into_bytes();
    let config_digest = write_blob(layout, &config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
    })
    .to_string()
    .into_bytes();
    let manifest_digest = write_blob(layout, &manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "v1"},
        }],
    });
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    manifest_digest
}

fn skopeo(bin: &Path, home: &Path, args: &[&str]) -> std::process::Output {
    let policy = home.join("policy.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let registries_d = home.join("registries.d");
    std::fs::create_dir_all(&registries_d).unwrap();
    let registries_conf = home.join("registries.conf");
    std::fs::write(&registries_conf, "").unwrap();
    Command::new(bin)
        .arg("--policy")
        .arg(&policy)
        .arg("--registries.d")
        .arg(&registries_d)
        .args(args)
        .env("HOME", home)
        .env("XDG_RUNTIME_DIR", home)
        .env("XDG_CONFIG_HOME", home)
        .env("CONTAINERS_REGISTRIES_CONF", &registries_conf)
        .env("REGISTRY_AUTH_FILE", home.join("auth.json"))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[harbor_testkit::needs("docker-registry", "skopeo", "gzip")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_pushes_and_pulls_through_our_token_endpoint() {
    let Some(registry_bin) = tool("docker-registry") else {
        return;
    };
    let Some(skopeo_bin) = tool("skopeo") else {
        return;
    };

    let signer = self_signed(KeyKind::Rsa, "token-signer");
    let password = format!("pw-{}", common::free_port());
    let htpasswd = Htpasswd::parse(&Htpasswd::hash_line("alice", &password, 4).unwrap()).unwrap();
    let issuer = TokenIssuer::builder(signer.key, ISSUER).build().unwrap();
    let endpoint = TokenEndpoint::new(issuer, SERVICE)
        .with_credentials(htpasswd)
        .with_authorizer(|subject: Option<&str>, _: &ScopeSet| match subject {
            Some("alice") => "repository:it/roundtrip:pull,push".parse().unwrap(),
            _ => ScopeSet::new(),
        });
    let server = TokenServer::start(endpoint).await;
    let reg = start_registry(&registry_bin, &server.realm(), &signer.cert_pem);

    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let dst = work.path().join("dst");
    let manifest_digest = build_layout(&src);
    let creds = format!("alice:{password}");
    let target = format!("docker://127.0.0.1:{}/it/roundtrip:v1", reg.port);

    let home = work.path().to_path_buf();
    let push = {
        let (home, creds, target, src) = (home.clone(), creds.clone(), target.clone(), src.clone());
        let bin = skopeo_bin.clone();
        tokio::task::spawn_blocking(move || {
            skopeo(
                &bin,
                &home,
                &[
                    "copy",
                    "--retry-times",
                    "0",
                    "--dest-tls-verify=false",
                    "--dest-creds",
                    &creds,
                    &format!("oci:{}:v1", src.display()),
                    &target,
                ],
            )
        })
        .await
        .unwrap()
    };
    assert!(
        push.status.success(),
        "push failed: {}",
        String::from_utf8_lossy(&push.stderr)
    );

    // Wrong credentials: the registry never sees a token, skopeo fails.
    let denied = {
        let (home, target, src) = (home.clone(), target.clone(), src.clone());
        let bin = skopeo_bin.clone();
        tokio::task::spawn_blocking(move || {
            skopeo(
                &bin,
                &home,
                &[
                    "copy",
                    "--retry-times",
                    "0",
                    "--dest-tls-verify=false",
                    "--dest-creds",
                    "alice:not-the-password",
                    &format!("oci:{}:v1", src.display()),
                    &target.replace("roundtrip", "denied"),
                ],
            )
        })
        .await
        .unwrap()
    };
    assert!(
        !denied.status.success(),
        "a push with a wrong password must fail"
    );

    let pull = {
        let (home, dst) = (home.clone(), dst.clone());
        tokio::task::spawn_blocking(move || {
            skopeo(
                &skopeo_bin,
                &home,
                &[
                    "copy",
                    "--retry-times",
                    "0",
                    "--src-tls-verify=false",
                    "--src-creds",
                    &creds,
                    &target,
                    &format!("oci:{}:v1", dst.display()),
                ],
            )
        })
        .await
        .unwrap()
    };
    assert!(
        pull.status.success(),
        "pull failed: {}",
        String::from_utf8_lossy(&pull.stderr)
    );

    // Byte-identical: the same manifest digest, and every blob of the source is in the copy.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dst.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], manifest_digest.as_str());
    for entry in std::fs::read_dir(src.join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        let copy = std::fs::read(dst.join("blobs/sha256").join(entry.file_name())).unwrap();
        assert_eq!(
            copy,
            std::fs::read(entry.path()).unwrap(),
            "{:?}",
            entry.file_name()
        );
    }
}
