//! `scan_gatekeeper` end to end: a SCANNING_COMPLETED delivery reaches it, it reads the
//! artifact through the API and makes the configured call; Prism validates every call
//! against Harbor's spec (its static example artifact has severity `High`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_support;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use api_support::{Prism, require_prism};

const SECRET: &str = "Bearer gatekeeper-secret";

fn prism() -> Option<&'static Prism> {
    static PRISM: OnceLock<Option<Prism>> = OnceLock::new();
    PRISM
        .get_or_init(|| require_prism().map(|p| Prism::start(&p, None)))
        .as_ref()
}

/// A SCANNING_COMPLETED payload (Harbor 2.x "Default" format) for `library/<repo>:<tag>`.
fn scan_completed(repo: &str, tag: &str) -> String {
    let digest = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945";
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
        let dir = tempfile::tempdir().unwrap();
        let inbox = format!("sqlite:{}", dir.path().join("gatekeeper.db").display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_scan_gatekeeper"))
            .args(["--inbox", &inbox])
            .args([
                "--api-root",
                &prism.url,
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

    /// The decision line for the delivered event, and the exit status (it stops after one event).
    fn decision(mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "scan_gatekeeper exited with {status}");
        line.trim().to_owned()
    }
}

fn assert_clean(prism: &Prism) {
    assert!(prism.violations().is_empty(), "{:?}", prism.violations());
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn labels_an_artifact_above_the_threshold() {
    let Some(prism) = prism() else { return };
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
        line.starts_with("act library/label-me:v1: severity High >= High"),
        "{line}"
    );
    assert!(line.ends_with("labelled with label 7"), "{line}");
    let requests = prism.requests();
    assert!(
        requests.contains(&"GET /projects/library/repositories/label-me/artifacts/v1".to_owned()),
        "{requests:?}"
    );
    assert!(
        requests.contains(
            &"POST /projects/library/repositories/label-me/artifacts/v1/labels".to_owned()
        ),
        "{requests:?}"
    );
    assert_clean(prism);
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn deletes_the_tag_of_a_nested_repository() {
    let Some(prism) = prism() else { return };
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
        requests.contains(
            &"DELETE /projects/library/repositories/team%252Fdelete-me/artifacts/v2/tags/v2"
                .to_owned()
        ),
        "the repository name is encoded twice: {requests:?}"
    );
    assert_clean(prism);
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn turns_on_prevent_vulnerable_images() {
    let Some(prism) = prism() else { return };
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
    let Some(prism) = prism() else { return };
    let gk = Gatekeeper::start(prism, &["--severity", "critical", "--action", "delete-tag"]);
    assert_eq!(
        gk.deliver(SECRET, &scan_completed("keep-me", "v4")).await,
        200
    );
    let line = gk.decision();
    assert_eq!(
        line,
        "pass library/keep-me:v4: severity High below Critical"
    );
    assert!(
        !prism
            .requests()
            .iter()
            .any(|r| r.starts_with("DELETE") && r.contains("keep-me"))
    );
}

#[tokio::test]
async fn json_lines_carry_the_delivery_key() {
    let Some(prism) = prism() else { return };
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
    assert_eq!(line["artifact"], "library/json-me:v5");
}
