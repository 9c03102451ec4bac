//! Support for the crash tests of `events_receiver`: running the real binary (killed with
//! `SIGKILL` on purpose), collecting the events its workers print with `--json`, 1,000
//! distinct Harbor payloads, and the Harbor-shaped sender delivering them.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use harbor_receiver::DeliveryKey;
use harbor_receiver::sender::{Backoff, SendReport, Sender};

pub const SECRET: &str = "Bearer crash-test-secret";

/// One line a worker printed: which process printed it, the key, the attempt.
#[derive(Clone, Debug)]
pub struct Handled {
    pub process: usize,
    pub key: String,
    pub attempt: u64,
}

/// Everything every process printed, in order.
pub type Log = Arc<Mutex<Vec<Handled>>>;

/// A running `events_receiver`, killed (`SIGKILL`) on drop.
pub struct Process {
    pub id: usize,
    child: Child,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Process {
    /// Starts `events_receiver ARGS --json`, waits for its first line, and copies every JSON
    /// line it prints into `log` (tagged with `id`).
    pub fn start(id: usize, args: &[String], log: &Log) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_events_receiver"))
            .args(args)
            .args(["--json", "--auth-header", SECRET])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("events_receiver starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(
            first.starts_with("listening on ") || first.starts_with("working on "),
            "unexpected first line {first:?}"
        );
        let log = log.clone();
        let reader = std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                let json: serde_json::Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                log.lock().unwrap().push(Handled {
                    process: id,
                    key: json["delivery_key"].as_str().unwrap().to_owned(),
                    attempt: json["attempt"].as_u64().unwrap(),
                });
            }
        });
        Process {
            id,
            child,
            reader: Some(reader),
        }
    }

    /// Freezes it (`SIGSTOP`): whatever it holds stays leased to it, unhandled.
    pub fn freeze(&self) {
        // The shell's own `kill`: no package beyond the essential ones needed.
        let status = Command::new("sh")
            .args(["-c", &format!("kill -STOP {}", self.child.id())])
            .status()
            .expect("run kill -STOP");
        assert!(status.success());
    }

    /// `SIGTERM`, and waits for the exit (and for everything it printed to be in the log).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status()
            .expect("run kill -TERM");
        assert!(status.success());
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        status
    }

    /// `kill -9`, and waits until everything it printed is in the log.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A payload to deliver: its `Content-Type`, body and the key the receiver must give it.
#[derive(Clone, Debug)]
pub struct Payload {
    pub content_type: &'static str,
    pub body: String,
    pub key: String,
}

/// `n` distinct payloads: CloudEvents (keyed by their `id`) and 2.x "Default" ones (keyed by
/// the hash of their bytes), alternating.
pub fn payloads(n: usize) -> Vec<Payload> {
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                let id = format!("0c1e7a52-crash-{i:05}");
                Payload {
                    content_type: "application/cloudevents+json",
                    body: format!(
                        r#"{{"specversion":"1.0","id":"{id}","requestid":"","source":"/projects/1/webhook/policies/2","type":"harbor.artifact.pushed","datacontenttype":"application/json","time":"2024-05-02T10:11:12Z","data":{{"resources":[{{"digest":"sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945","tag":"v{i}","resource_url":"harbor.example.com/library/app:v{i}"}}],"repository":{{"date_created":1714644600,"name":"app","namespace":"library","repo_full_name":"library/app","repo_type":"private"}}}},"operator":"ci-robot"}}"#
                    ),
                    key: DeliveryKey::for_cloudevent_id(&id).to_string(),
                }
            } else {
                let body = format!(
                    r#"{{"type":"PUSH_ARTIFACT","occur_at":1714644672,"operator":"ci-robot","event_data":{{"resources":[{{"digest":"sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945","tag":"v{i}","resource_url":"harbor.example.com/library/app:v{i}"}}],"repository":{{"date_created":1714644600,"name":"app","namespace":"library","repo_full_name":"library/app","repo_type":"private"}}}}}}"#
                );
                let key = DeliveryKey::for_body(body.as_bytes()).to_string();
                Payload {
                    content_type: "application/json",
                    body,
                    key,
                }
            }
        })
        .collect()
}

/// The Harbor-shaped sender (3 attempts, 3 s timeout) with a short fixed backoff, so that a
/// test does not wait Harbor's 16 to 74 s between attempts.
pub fn sender() -> Sender {
    Sender::harbor()
        .auth_header(SECRET)
        .backoff(Backoff::Fixed(Duration::from_millis(400)))
        .build()
        .unwrap()
}

/// Delivers every payload (payload `i` to `urls[pick(i)]`), `concurrency` at a time; calls
/// `progress` with the number of `2xx` so far after each delivery. Returns each report.
pub async fn deliver_all(
    payloads: &[Payload],
    urls: &[String],
    pick: impl Fn(usize) -> usize,
    concurrency: usize,
    progress: impl Fn(usize),
) -> Vec<SendReport> {
    let sender = sender();
    let mut delivered = 0;
    let mut reports: Vec<Option<SendReport>> = vec![None; payloads.len()];
    let mut sends = futures_util::stream::iter(payloads.iter().enumerate().map(|(i, p)| {
        let (sender, url) = (sender.clone(), urls[pick(i)].clone());
        let (content_type, body) = (p.content_type, p.body.clone());
        async move { (i, sender.send(&url, content_type, body).await) }
    }))
    .buffer_unordered(concurrency);
    while let Some((i, report)) = sends.next().await {
        if report.delivered() {
            delivered += 1;
            progress(delivered);
        }
        reports[i] = Some(report);
    }
    reports.into_iter().map(Option::unwrap).collect()
}

/// The keys of the payloads whose delivery got a `2xx` (`reports` in the same order).
pub fn answered(payloads: &[Payload], reports: &[SendReport]) -> HashSet<String> {
    payloads
        .iter()
        .zip(reports)
        .filter(|(_, r)| r.delivered())
        .map(|(p, _)| p.key.clone())
        .collect()
}

/// Waits until every key in `want` is in the log, or fails after `within`.
pub async fn wait_for_keys(log: &Log, want: &HashSet<String>, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let seen: HashSet<String> = log.lock().unwrap().iter().map(|h| h.key.clone()).collect();
        let missing: Vec<_> = want.difference(&seen).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} deliveries answered 2xx were never handled, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The keys handled more than once, with every (process, attempt) that handled them.
pub fn handled_twice(log: &Log) -> HashMap<String, Vec<(usize, u64)>> {
    let mut by_key: HashMap<String, Vec<(usize, u64)>> = HashMap::new();
    for h in log.lock().unwrap().iter() {
        by_key
            .entry(h.key.clone())
            .or_default()
            .push((h.process, h.attempt));
    }
    by_key.retain(|_, seen| seen.len() > 1);
    by_key
}

/// The arguments of an `events_receiver` on `127.0.0.1:PORT` with a SQLite inbox in `dir`
/// and a lease of `lease` seconds, and the URL to deliver to.
pub fn sqlite_receiver(dir: &std::path::Path, lease: &str) -> (Vec<String>, String) {
    let port = harbor_testkit::free_port();
    let args = [
        "--addr".to_owned(),
        format!("127.0.0.1:{port}"),
        "--inbox".to_owned(),
        format!("sqlite:{}", dir.join("inbox.db").display()),
        "--lease".to_owned(),
        lease.to_owned(),
    ];
    (args.to_vec(), format!("http://127.0.0.1:{port}/webhook"))
}

/// Harbor's retries of deliveries already handled (payload `i` to `urls[pick(i)]`): every one
/// gets a `2xx`, and nothing more is handled (given the lease time to show otherwise).
pub async fn assert_retries_not_handled_again(
    log: &Log,
    payloads: &[Payload],
    urls: &[String],
    pick: impl Fn(usize) -> usize,
) {
    let handled_before = log.lock().unwrap().len();
    let replayed = deliver_all(payloads, urls, pick, 32, |_| {}).await;
    assert!(
        replayed.iter().all(|r| r.delivered()),
        "a retry was refused"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        log.lock().unwrap().len(),
        handled_before,
        "a retry of a handled delivery was handled again"
    );
}
