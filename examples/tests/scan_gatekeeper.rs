//! `scan_gatekeeper` end to end: a SCANNING_COMPLETED delivery reaches it, it reads the
//! artifact through the API and makes the configured call; Prism validates every call
//! against Harbor's spec (its static example artifact has severity `High`, scan status
//! `Success`). What Prism cannot show (a scan still running, a tag moved, a `409`) a
//! [`Proxy`] in front of it makes of Prism's answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_support;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use api_support::{Answer, Prism, Proxy, assert_clean, shared_prism};

const SECRET: &str = "Bearer gatekeeper-secret";
/// The longest one event may take, retries with their backoff included.
const EVENT_DEADLINE: Duration = Duration::from_secs(120);
/// The digest every test event names as scanned.
const DIGEST: &str = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945";

/// A SCANNING_COMPLETED payload (Harbor 2.x "Default" format) for `library/<repo>:<tag>`.
fn scan_completed(repo: &str, tag: &str) -> String {
    let digest = DIGEST;
    format!(
        r#"{{"type":"SCANNING_COMPLETED","occur_at":1714644672,"operator":"auto","event_data":{{"resources":[{{"digest":"{digest}","tag":"{tag}","resource_url":"harbor.example.com/library/{repo}:{tag}","scan_overview":{{"application/vnd.security.vulnerability.report; version=1.1":{{"report_id":"r1","scan_status":"Success","severity":"Critical","duration":12,"summary":{{"total":1,"fixable":1,"summary":{{"Critical":1}}}}}}}}}}],"repository":{{"date_created":1714644600,"name":"{repo}","namespace":"library","repo_full_name":"library/{repo}","repo_type":"private"}}}}}}"#
    )
}

struct Gatekeeper {
    child: Child,
    stdout: BufReader<ChildStdout>,
    url: String,
    /// Holds the SQLite inbox.
    _dir: tempfile::TempDir,
}

impl Drop for Gatekeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gatekeeper {
    fn start(prism: &Prism, args: &[&str]) -> Gatekeeper {
        Gatekeeper::start_at(&prism.url, args)
    }

    /// One in front of `api_root` (Prism, or a [`Proxy`] to it).
    fn start_at(api_root: &str, args: &[&str]) -> Gatekeeper {
        let dir = tempfile::tempdir().unwrap();
        let inbox = format!("sqlite:{}", dir.path().join("gatekeeper.db").display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_scan_gatekeeper"))
            .args(["--inbox", &inbox])
            .args([
                "--api-root",
                api_root,
                "--addr",
                "127.0.0.1:0",
                "--auth-header",
                SECRET,
            ])
            .args(["--max-events", "1"])
            .args(args)
            .env("HARBOR_USERNAME", "admin")
            .env("HARBOR_PASSWORD", "Harbor12345")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("scan_gatekeeper starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        Gatekeeper {
            child,
            stdout,
            url,
            _dir: dir,
        }
    }

    async fn deliver(&self, auth: &str, body: &str) -> u16 {
        reqwest::Client::new()
            .post(&self.url)
            .header("authorization", auth)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("delivery")
            .status()
            .as_u16()
    }

    /// The one decision line for the delivered event, and the exit status (it stops after
    /// one event): a retry before it fails the test.
    fn decision(self) -> String {
        let mut lines = self.decisions();
        assert_eq!(lines.len(), 1, "one decision, no retry: {lines:?}");
        lines.pop().unwrap()
    }

    /// Every decision line until it exits (after the one event is done), and the exit status.
    /// A gatekeeper still running after [`EVENT_DEADLINE`] is killed: the test fails instead
    /// of hanging.
    fn decisions(mut self) -> Vec<String> {
        let (done, watching) = std::sync::mpsc::channel::<()>();
        let pid = self.child.id().to_string();
        let watchdog = std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                watching.recv_timeout(EVENT_DEADLINE)
            {
                let _ = Command::new("kill").args(["-9", &pid]).status();
            }
        });
        let lines: Vec<String> = (&mut self.stdout)
            .lines()
            .map(|l| l.unwrap().trim().to_owned())
            .collect();
        let status = self.child.wait().unwrap();
        let _ = done.send(());
        watchdog.join().unwrap();
        assert!(
            status.success(),
            "scan_gatekeeper exited with {status}: {lines:?}"
        );
        assert!(!lines.is_empty(), "no decision printed");
        lines
    }
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn labels_an_artifact_above_the_threshold() {
    let Some(prism) = shared_prism() else { return };
    let gk = Gatekeeper::start(
        prism,
        &["--severity", "high", "--action", "label", "--label-id", "7"],
    );
    assert_eq!(
        gk.deliver("Bearer wrong", &scan_completed("label-me", "v1"))
            .await,
        401
    );
    assert_eq!(
        gk.deliver(SECRET, &scan_completed("label-me", "v1")).await,
        200
    );
    let line = gk.decision();
    assert!(
        line.starts_with(&format!(
            "act library/label-me:v1@{DIGEST}: severity High >= High"
        )),
        "{line}"
    );
    assert!(line.ends_with("labelled with label 7"), "{line}");
    let requests = prism.requests();
    assert!(
        requests.contains(&format!(
            "GET /projects/library/repositories/label-me/artifacts/{DIGEST}"
        )),
        "the scanned digest is read: {requests:?}"
    );
    assert!(
        requests.contains(&format!(
            "POST /projects/library/repositories/label-me/artifacts/{DIGEST}/labels"
        )),
        "the scanned digest is labelled: {requests:?}"
    );
    assert_clean(prism);
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn deletes_the_tag_of_a_nested_repository() {
    let Some(prism) = shared_prism() else { return };
    let gk = Gatekeeper::start(prism, &["--severity", "medium", "--action", "delete-tag"]);
    assert_eq!(
        gk.deliver(SECRET, &scan_completed("team/delete-me", "v2"))
            .await,
        200
    );
    let line = gk.decision();
    assert!(line.ends_with("deleted tag v2"), "{line}");
    let requests = prism.requests();
    assert!(
        requests.contains(&format!(
            "DELETE /projects/library/repositories/team%252Fdelete-me/artifacts/{DIGEST}/tags/v2"
        )),
        "the tag is deleted from the scanned digest, the repository name encoded twice: {requests:?}"
    );
    assert_clean(prism);
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn turns_on_prevent_vulnerable_images() {
    let Some(prism) = shared_prism() else { return };
    let gk = Gatekeeper::start(prism, &["--severity", "low", "--action", "prevent"]);
    assert_eq!(
        gk.deliver(SECRET, &scan_completed("prevent-me", "v3"))
            .await,
        200
    );
    let line = gk.decision();
    assert!(
        line.ends_with("project library now prevents pulls at severity low"),
        "{line}"
    );
    assert!(
        prism
            .requests()
            .contains(&"PUT /projects/library".to_owned())
    );
    assert_clean(prism);
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn leaves_artifacts_below_the_threshold_alone() {
    let Some(prism) = shared_prism() else { return };
    let gk = Gatekeeper::start(prism, &["--severity", "critical", "--action", "delete-tag"]);
    assert_eq!(
        gk.deliver(SECRET, &scan_completed("keep-me", "v4")).await,
        200
    );
    let line = gk.decision();
    assert_eq!(
        line,
        format!("pass library/keep-me:v4@{DIGEST}: severity High below Critical")
    );
    assert!(
        !prism
            .requests()
            .iter()
            .any(|r| r.starts_with("DELETE") && r.contains("keep-me"))
    );
    assert_clean(prism);
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn json_lines_carry_the_delivery_key() {
    let Some(prism) = shared_prism() else { return };
    let gk = Gatekeeper::start(
        prism,
        &["--severity", "critical", "--action", "delete-tag", "--json"],
    );
    let body = scan_completed("json-me", "v5");
    assert_eq!(gk.deliver(SECRET, &body).await, 200);
    let line: serde_json::Value = serde_json::from_str(&gk.decision()).unwrap();
    let key = harbor_receiver::DeliveryKey::for_body(body.as_bytes());
    assert_eq!(line["delivery_key"], key.as_str());
    assert_eq!(line["attempt"], 1);
    assert_eq!(line["outcome"], "pass");
    assert_eq!(line["artifact"], format!("library/json-me:v5@{DIGEST}"));
    assert_clean(prism);
}

/// Prism's answer to `GET .../artifacts/REF` with every scan summary changed by `edit`.
fn edit_summaries(answer: Answer, edit: impl Fn(&mut serde_json::Value)) -> Answer {
    answer.edit_json(|artifact| {
        if let Some(overview) = artifact["scan_overview"].as_object_mut() {
            overview.values_mut().for_each(&edit);
        }
    })
}

fn is_artifact_read(method: &str, path: &str) -> bool {
    method == "GET" && path.contains("/artifacts/") && !path.contains("/tags")
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn judges_the_scanned_digest_when_the_tag_has_moved() {
    let Some(prism) = shared_prism() else { return };
    // The tag now points to a clean artifact; the digest the event names is still `High`.
    let proxy = Proxy::start(&prism.url, |method, path, answer| {
        if is_artifact_read(method, path) && path.ends_with("/artifacts/v1") {
            return edit_summaries(answer, |s| s["severity"] = "Low".into());
        }
        answer
    });
    let gk = Gatekeeper::start_at(
        &proxy.url,
        &["--severity", "high", "--action", "label", "--label-id", "7"],
    );
    assert_eq!(
        gk.deliver(SECRET, &scan_completed("moved", "v1")).await,
        200
    );
    let line = gk.decision();
    assert!(
        line.starts_with(&format!("act library/moved:v1@{DIGEST}: severity High")),
        "{line}"
    );
    let requests = proxy.requests();
    assert_eq!(
        requests,
        [
            format!("GET /projects/library/repositories/moved/artifacts/{DIGEST}"),
            format!("POST /projects/library/repositories/moved/artifacts/{DIGEST}/labels"),
        ],
        "only the scanned digest is read and labelled"
    );
    assert_clean(prism);
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn never_passes_an_artifact_without_a_successful_scan() {
    let Some(prism) = shared_prism() else { return };
    // Each case's artifact, from Prism's (Success, High) one; `--severity critical` would
    // let High pass, so only the missing verdict makes it act.
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit, &str); 4] = [
        (
            "no-overview",
            |_| {},
            "no scan overview, no verdict (fail closed)",
        ),
        (
            "failed",
            |s| {
                s["scan_status"] = "Error".into();
                s["severity"] = "".into();
            },
            "scan status \"Error\", no verdict (fail closed)",
        ),
        (
            "stopped",
            |s| s["scan_status"] = "Stopped".into(),
            "scan status \"Stopped\", no verdict (fail closed)",
        ),
        (
            "no-severity",
            |s| s["severity"] = "".into(),
            "the scan reports no severity, no verdict (fail closed)",
        ),
    ];
    for (repo, edit, want) in cases {
        let proxy = Proxy::start(&prism.url, move |method, path, answer| {
            if !is_artifact_read(method, path) {
                return answer;
            }
            if repo == "no-overview" {
                return answer.edit_json(|a| {
                    a.as_object_mut().unwrap().remove("scan_overview");
                });
            }
            edit_summaries(answer, edit)
        });
        let gk = Gatekeeper::start_at(
            &proxy.url,
            &[
                "--severity",
                "critical",
                "--action",
                "label",
                "--label-id",
                "7",
            ],
        );
        assert_eq!(gk.deliver(SECRET, &scan_completed(repo, "v1")).await, 200);
        let line = gk.decision();
        assert_eq!(
            line,
            format!("act library/{repo}:v1@{DIGEST}: {want}: labelled with label 7"),
            "{repo}"
        );
    }
    assert_clean(prism);
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn retries_while_a_scan_is_running() {
    let Some(prism) = shared_prism() else { return };
    // A rescan is running when the event is first handled; it is done by the retry.
    let reads = std::sync::atomic::AtomicUsize::new(0);
    let proxy = Proxy::start(&prism.url, move |method, path, answer| {
        if is_artifact_read(method, path) && reads.fetch_add(1, Ordering::SeqCst) == 0 {
            return edit_summaries(answer, |s| {
                s["scan_status"] = "Running".into();
                s["severity"] = "".into();
            });
        }
        answer
    });
    let gk = Gatekeeper::start_at(
        &proxy.url,
        &[
            "--severity",
            "high",
            "--action",
            "label",
            "--label-id",
            "7",
            "--json",
        ],
    );
    assert_eq!(
        gk.deliver(SECRET, &scan_completed("rescan", "v1")).await,
        200
    );
    let lines: Vec<serde_json::Value> = gk
        .decisions()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l["attempt"].as_u64().unwrap(),
                l["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen, [(1, "retry"), (2, "act")], "{lines:?}");
    assert_eq!(
        lines[0]["message"],
        "scan status Running: tried again later"
    );
    assert_clean(prism);
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn a_scan_still_running_on_the_last_attempt_is_acted_on() {
    let Some(prism) = shared_prism() else { return };
    let proxy = Proxy::start(&prism.url, |method, path, answer| {
        if is_artifact_read(method, path) {
            return edit_summaries(answer, |s| s["scan_status"] = "Running".into());
        }
        answer
    });
    let gk = Gatekeeper::start_at(
        &proxy.url,
        &[
            "--severity",
            "critical",
            "--action",
            "label",
            "--label-id",
            "7",
        ],
    );
    assert_eq!(
        gk.deliver(SECRET, &scan_completed("stuck", "v1")).await,
        200
    );
    // 5 attempts, 1 s after the first failure, doubling (with jitter): about 8 to 15 s.
    let lines = gk.decisions();
    let outcomes: Vec<_> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        outcomes,
        ["retry", "retry", "retry", "retry", "act"],
        "{lines:?}"
    );
    assert!(
        lines[4].ends_with(
            "scan status Running on the last attempt, no verdict (fail closed): labelled with label 7"
        ),
        "{lines:?}"
    );
    assert_clean(prism);
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn a_label_already_there_and_a_tag_already_gone_are_done() {
    let Some(prism) = shared_prism() else { return };
    // What Harbor answers a retry after the first attempt acted.
    let proxy = Proxy::start(&prism.url, |method, path, answer| match method {
        "POST" if path.ends_with("/labels") => Answer::harbor_error(
            409,
            "CONFLICT",
            "label 7 is already added to the artifact 1",
        ),
        "DELETE" if path.contains("/tags/") => {
            Answer::harbor_error(404, "NOT_FOUND", "tag v2 attached to artifact 1 not found")
        }
        _ => answer,
    });
    let label = Gatekeeper::start_at(
        &proxy.url,
        &["--severity", "high", "--action", "label", "--label-id", "7"],
    );
    assert_eq!(
        label.deliver(SECRET, &scan_completed("again", "v1")).await,
        200
    );
    let line = label.decision();
    assert!(line.starts_with("act "), "{line}");
    assert!(line.ends_with("label 7 was there already"), "{line}");

    let delete = Gatekeeper::start_at(
        &proxy.url,
        &["--severity", "high", "--action", "delete-tag"],
    );
    assert_eq!(
        delete.deliver(SECRET, &scan_completed("again", "v2")).await,
        200
    );
    let line = delete.decision();
    assert!(line.starts_with("act "), "{line}");
    assert!(
        line.ends_with("tag v2 was not on this artifact (any more)"),
        "{line}"
    );
    assert_clean(prism);
}
