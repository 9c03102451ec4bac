//! The registry's own notifications, from the real producer: `docker-registry` is configured
//! to notify the `events_receiver` example; we push an image with `harbor-client` and check
//! that the manifest push and its blob pushes arrive decoded.

mod registry_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use harbor_client::registry::{ImageOptions, ImageReference, RegistryClient};
use registry_support::{Registry, free_port, make_image, noise};

const RECEIVER: &str = env!("CARGO_BIN_EXE_events_receiver");
const SECRET: &str = "Bearer notification-test-secret";

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn pushes_and_their_blobs_arrive_decoded() {
    if registry_support::tool("docker-registry").is_none() {
        return;
    }
    let port = free_port();
    let inbox = tempfile::tempdir().unwrap();
    let mut child = Command::new(RECEIVER)
        .args([
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--auth-header",
            SECRET,
            "--inbox",
            &format!("sqlite:{}", inbox.path().join("inbox.db").display()),
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut guard = Kill(child);
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let addr = first
        .strip_prefix("listening on ")
        .expect("first line names the address")
        .to_owned();
    // A receiver that stops right after announcing itself cannot receive anything.
    std::thread::sleep(Duration::from_millis(300));
    if let Ok(Some(status)) = guard.0.try_wait() {
        panic!("events_receiver exited ({status}) right after `{first}`: it must keep serving");
    }

    let notifications = format!(
        "notifications:\n  endpoints:\n    - name: receiver\n      url: {addr}/registry/events\n      headers:\n        Authorization: [\"{SECRET}\"]\n      timeout: 2s\n      threshold: 3\n      backoff: 1s\n"
    );
    let Some(reg) = Registry::start(&notifications) else {
        return;
    };

    let src = tempfile::tempdir().unwrap();
    let (desc, layers) = make_image(src.path(), "v1", &[noise(20_000, 1), noise(3000, 2)]).await;
    let r: ImageReference = format!("{}/notify/app:v1", reg.host()).parse().unwrap();
    RegistryClient::builder()
        .build()
        .unwrap()
        .push_image(src.path(), &r, &ImageOptions::default())
        .await
        .unwrap();

    // One line of JSON per event: `kind` from the unified view under `event`, the digest in
    // its resources.
    let mut want: Vec<(String, &str)> = layers
        .iter()
        .map(|d| (d.to_string(), "BLOB_PUSH"))
        .collect();
    want.push((desc.digest.to_string(), "PUSH_ARTIFACT"));
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !want.is_empty() && Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) else {
            continue;
        };
        let kind = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["event"]["kind"].as_str().map(str::to_owned))
            .unwrap_or_default();
        want.retain(|(digest, k)| !(kind == *k && line.contains(digest.as_str())));
        seen.push(line);
    }
    assert!(
        want.is_empty(),
        "missing events {want:?}; received:\n{}\nregistry log:\n{}",
        seen.join("\n"),
        reg.log()
    );
}
