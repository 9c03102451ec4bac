//! Real registry notifications: a real `docker-registry` (distribution) on a loopback port
//! sends its notification envelopes to a real axum receiver (loopback) while a real
//! `skopeo` pushes and pulls an image. Every body decodes as the registry format, round-trips,
//! and maps to the unified kinds (manifest push/pull → artifact kinds, layers → blob kinds).
//!
//! Needs `docker-registry` and `skopeo` on PATH: ignored (with the reason) when absent, failed
//! when the environment variable `CI` is `true` (`harbor_testkit::needs` and `tool`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use harbor_events::{Decoder, EventKind, Format};
use harbor_testkit::tool;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

fn tools_or_skip() -> Option<(PathBuf, PathBuf)> {
    Some((tool("docker-registry")?, tool("skopeo")?))
}

/// Kills the registry when the test ends, however it ends.
struct Registry(Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// Writes a one-layer OCI image layout (tag `v1`) into `dir`.
fn write_oci_layout(dir: &Path) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let digest = sha256(bytes);
        std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), bytes).unwrap();
        (digest, bytes.len())
    };
    let (layer, layer_size) = put(&[0u8; 1024]); // an empty tar archive
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
    );
    let (config, config_size) = put(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_size}}}]}}"#
    );
    let (manifest, manifest_size) = put(manifest.as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest}","size":{manifest_size},"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}"#
        ),
    )
    .unwrap();
}

#[derive(Clone)]
struct AppState {
    decoder: Decoder,
    tx: mpsc::UnboundedSender<(Vec<harbor_events::Event<'static>>, serde_json::Value)>,
}

impl axum::extract::FromRef<AppState> for Decoder {
    fn from_ref(state: &AppState) -> Decoder {
        state.decoder.clone()
    }
}

/// Decodes with the `Decoder` directly (the extractor is tested elsewhere) so the raw body
/// can be compared with the re-encoded payload.
async fn receive(
    State(state): State<AppState>,
    headers: http::HeaderMap,
    body: axum::body::Bytes,
) -> http::StatusCode {
    let payload = match state.decoder.decode_with_headers(&headers, &body) {
        Ok(payload) => payload,
        Err(e) => {
            return e
                .status()
                .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    assert_eq!(payload.format(), Format::Distribution);
    let raw: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let encoded = serde_json::to_value(&payload).unwrap();
    assert_eq!(encoded, raw, "exact round trip of a real registry envelope");
    let _ = state.tx.send((payload.into_owned().into_events(), encoded));
    http::StatusCode::OK
}

#[harbor_testkit::needs("docker-registry", "skopeo")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_notifications_of_a_real_push_and_pull_decode_and_round_trip() {
    let Some((registry_bin, skopeo)) = tools_or_skip() else {
        return;
    };
    // The receiver, with the auth header the registry is configured to send.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let state = AppState {
        decoder: Decoder::new().auth_header("Bearer registry-secret"),
        tx,
    };
    let app = Router::new()
        .route("/webhook", post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\nnotifications:\n  endpoints:\n    - name: harbor-events-test\n      url: http://{receiver}/webhook\n      headers:\n        Authorization: [Bearer registry-secret]\n      timeout: 2s\n      threshold: 3\n      backoff: 200ms\n",
        root = dir.path().join("storage").display()
    );
    std::fs::write(dir.path().join("config.yml"), config).unwrap();
    let _registry = Registry(
        Command::new(&registry_bin)
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if client
            .get(format!("{base}/v2/"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "docker-registry did not start on port {port}");

    let layout = dir.path().join("layout");
    write_oci_layout(&layout);
    let pulled = dir.path().join("pulled");
    let image = format!("docker://127.0.0.1:{port}/team/app:v1");
    let run = move |args: Vec<String>| {
        let out = Command::new(&skopeo).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "skopeo {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let push = vec![
        "--insecure-policy".to_owned(),
        "copy".to_owned(),
        "--dest-tls-verify=false".to_owned(),
        format!("oci:{}:v1", layout.display()),
        image.clone(),
    ];
    let pull = vec![
        "--insecure-policy".to_owned(),
        "copy".to_owned(),
        "--src-tls-verify=false".to_owned(),
        image,
        format!("dir:{}", pulled.display()),
    ];
    let run2 = run.clone();
    tokio::task::spawn_blocking(move || run(push))
        .await
        .unwrap();
    tokio::task::spawn_blocking(move || run2(pull))
        .await
        .unwrap();

    // Collect until the manifest push and the manifest pull have arrived.
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !(events
        .iter()
        .any(|e: &harbor_events::Event<'_>| e.kind == EventKind::PushArtifact)
        && events.iter().any(|e| e.kind == EventKind::PullArtifact))
    {
        let (batch, encoded) = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("registry notifications within 20 s")
            .unwrap();
        // The re-encoded payload decodes to the same events.
        let bytes = serde_json::to_vec(&encoded).unwrap();
        assert_eq!(harbor_events::decode(&bytes).unwrap().into_events(), batch);
        events.extend(batch);
    }
    server.abort();

    let push = events
        .iter()
        .find(|e| e.kind == EventKind::PushArtifact)
        .unwrap();
    assert_eq!(push.format, Format::Distribution);
    assert_eq!(push.repository(), Some("team/app"));
    let artifact = push.artifact().unwrap();
    assert_eq!(artifact.tag, Some("v1"));
    let digest = harbor_events::Digest::parse(artifact.digest.unwrap()).unwrap();
    assert_eq!(digest.algorithm(), "sha256");
    let url = artifact.resource_url().unwrap().unwrap();
    assert_eq!(url.repository().registry(), format!("127.0.0.1:{port}"));
    // The registry's own event names the same image.
    let image = push.registry.as_ref().unwrap().image_reference().unwrap();
    assert_eq!(image.repository(), url.repository());
    assert_eq!(image.tag().map(|t| t.as_str()), Some("v1"));
    assert_eq!(image.digest(), Some(&digest));
    assert!(push.id.is_some() && push.request_id.is_some());
    let target = &push.registry.as_ref().unwrap().target;
    assert_eq!(
        target.media_type.as_deref(),
        Some("application/vnd.oci.image.manifest.v1+json")
    );
    assert!(
        push.to_string().contains("PUSH_ARTIFACT team/app:v1"),
        "{push}"
    );
    // Layers and config are blob events, not artifact events.
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::BlobPush || e.kind == EventKind::BlobMount),
        "{events:#?}"
    );
    let pull = events
        .iter()
        .find(|e| e.kind == EventKind::PullArtifact)
        .unwrap();
    assert_eq!(pull.artifact().unwrap().digest, artifact.digest);
}
