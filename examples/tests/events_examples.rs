//! The webhook examples, run as the programs users run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

const V2_PUSH: &str = r#"{"type":"PUSH_ARTIFACT","occur_at":1680502372,"operator":"admin","event_data":{"resources":[{"digest":"sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4","tag":"v1.0","resource_url":"harbor.example.com/library/alpine:v1.0"}],"repository":{"date_created":1680502300,"name":"alpine","namespace":"library","repo_full_name":"library/alpine","repo_type":"public"}}}"#;

fn run(bin: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("the example finishes")
}

fn decode(args: &[&str], stdin: &[u8]) -> Output {
    run(env!("CARGO_BIN_EXE_events_decode"), args, stdin)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn events_decode_explains_a_payload_from_stdin() {
    let out = decode(&[], V2_PUSH.as_bytes());
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("library/alpine"), "{stdout}");
    assert!(stdout.contains("v1.0"), "{stdout}");
}

#[test]
fn events_decode_reads_a_file_and_prints_json() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(V2_PUSH.as_bytes()).unwrap();
    let path = file.path().to_str().unwrap();
    let out = decode(&["--json", path], b"");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let events = json.as_array().expect("a JSON array of events");
    assert_eq!(events.len(), 1);
    assert!(text(&out.stdout).contains("library/alpine"));
}

#[test]
fn events_decode_uses_the_content_type_for_cloudevents() {
    let body = r#"{"specversion":"1.0","id":"1","source":"/projects/1/webhook/policies/2","type":"harbor.artifact.pushed","time":"2023-04-03T06:12:52Z","operator":"admin","data":{"resources":[{"digest":"sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4","tag":"v1.0","resource_url":"harbor.example.com/library/alpine:v1.0"}],"repository":{"name":"alpine","namespace":"library","repo_full_name":"library/alpine","repo_type":"public"}}}"#;
    let out = decode(
        &["--content-type", "application/cloudevents+json"],
        body.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).to_lowercase().contains("cloudevents"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn events_decode_exits_1_with_the_error_on_a_bad_payload() {
    let out = decode(&[], br#"{"type":"PUSH_ARTIFACT","occur_at":"yesterday"}"#);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("occur_at"),
        "the error names the field: {}",
        text(&out.stderr)
    );

    let out = decode(&[], b"not json");
    assert_eq!(out.status.code(), Some(1));
    assert!(!out.stderr.is_empty());
}

#[test]
fn events_decode_exits_2_on_a_usage_error() {
    let out = decode(&["--no-such-flag"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("'--no-such-flag'"));
    assert!(text(&out.stderr).contains("Usage: events_decode"));
    let out = decode(&["--content-type"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--content-type <CT>"));
    let out = decode(&["--content-type", "a\nb"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a valid header value"));
}

#[test]
fn events_receiver_demo_decodes_every_format_and_refuses_bad_deliveries() {
    let out = run(env!("CARGO_BIN_EXE_events_receiver"), &["--demo"], b"");
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(
        stdout.starts_with("listening on http://127.0.0.1:"),
        "{stdout}"
    );
    for format in [
        "(v1)",
        "(v1-documented)",
        "(v2)",
        "(cloudevents)",
        "(distribution)",
    ] {
        assert!(stdout.contains(format), "no {format} event in: {stdout}");
    }
    assert!(
        stdout.contains("refused a wrong secret with 401"),
        "{stdout}"
    );
    assert!(
        stdout.contains("refused a broken body with 400"),
        "{stdout}"
    );
    assert!(stdout.contains("demo: 5 deliveries"), "{stdout}");
    assert!(stdout.contains("retry of one was stored once"), "{stdout}");
    // Each event line names its delivery key: the CloudEvents id, else a hash of the bytes.
    assert!(
        stdout.contains("[ce:66cd6fb3-1d1f-4f0e-9c4b-a4b3d1c0e6a1]"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("(cloudevents) [ce:").count(), 1, "{stdout}");
}

#[test]
fn events_receiver_rejects_a_usage_error() {
    for (args, named) in [
        (&["--concurrency", "0"][..], "'0' for '--concurrency <N>'"),
        (&["--workers", "0"], "not a positive number"),
        (&["--inbox", "postgres://db"], "postgres://db"),
        (&["--inbox", "sqlite:"], "needs a file path"),
        (
            &["--role", "nobody"],
            "possible values: both, receiver, worker",
        ),
        (&["--lease", "-1"], "not a positive number of seconds"),
        (&["--demo", "--role", "worker"], "--demo needs --role both"),
    ] {
        let out = run(env!("CARGO_BIN_EXE_events_receiver"), args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(named), "{args:?}: {err}");
    }
}

#[test]
fn events_receiver_demo_on_the_memory_inbox_says_it_is_not_durable() {
    let out = run(
        env!("CARGO_BIN_EXE_events_receiver"),
        &["--demo", "--inbox", "memory"],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("lost on exit"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("demo: 5 deliveries"));
}

#[test]
fn events_receiver_cannot_open_an_inbox_in_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = format!("sqlite:{}", dir.path().join("no/such/dir/x.db").display());
    let out = run(
        env!("CARGO_BIN_EXE_events_receiver"),
        &["--inbox", &inbox, "--addr", "127.0.0.1:0"],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot open the sqlite inbox"),
        "{}",
        text(&out.stderr)
    );
}

/// `--role worker` prints `working on SPEC`: with a NATS password in the URL, the line (and
/// anything else it prints) shows `***` instead.
#[harbor_testkit::needs("nats-server")]
#[test]
fn events_receiver_never_prints_the_nats_password() {
    use std::io::{BufRead as _, BufReader, Read as _};
    let Some(server) = harbor_testkit::NatsServer::start() else {
        return;
    };
    // A server without auth takes any credentials.
    let url = format!("nats://worker:s3cret-pw@{}", server.addr);
    let mut child = Command::new(env!("CARGO_BIN_EXE_events_receiver"))
        .args(["--role", "worker", "--inbox", &url])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(
        first.trim_end(),
        format!("working on nats://***@{}", server.addr),
        "stderr: {stderr}"
    );
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
}
