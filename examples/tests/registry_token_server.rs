//! `registry_token_server`, run as users run it: the demo, and a real `docker-registry`
//! (distribution 2.8) configured with the snippet it prints, trusting its tokens.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_registry_token_server");

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn demo_grants_per_acl() {
    let out = Command::new(BIN).arg("--demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("rootcertbundle:"), "{stdout}");
    assert!(
        stdout.contains(r#"demo asked for `repository:demo/app:pull,push repository:someone-else/app:pull`, was granted [{"actions":["pull","push"],"name":"demo/app","type":"repository"},{"actions":[],"name":"someone-else/app","type":"repository"}]"#),
        "{stdout}"
    );
    assert!(
        stdout.contains("a wrong password gets: the token endpoint answered HTTP 401"),
        "{stdout}"
    );
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_docker_registry_trusts_its_tokens() {
    let Some(registry_bin) = harbor_testkit::tool("docker-registry") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    std::fs::write(
        &htpasswd,
        format!(
            "{}\n{}\n",
            harbor_auth::server::Htpasswd::hash_line("alice", "alice-pw", 4).unwrap(),
            harbor_auth::server::Htpasswd::hash_line("bob", "bob-pw", 4).unwrap()
        ),
    )
    .unwrap();
    let acl = dir.path().join("acl");
    std::fs::write(&acl, "+ $user/* pull,push\n* public/* pull\n").unwrap();

    let mut server = Kill(
        Command::new(BIN)
            .args([
                "--addr",
                "127.0.0.1:0",
                "--service",
                "it-registry",
                "--issuer",
                "it-issuer",
                "--x5c",
            ])
            .arg("--htpasswd")
            .arg(&htpasswd)
            .arg("--acl")
            .arg(&acl)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The config snippet, then "listening on".
    let mut snippet = String::new();
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.starts_with("listening on") {
            break;
        }
        if !line.starts_with('#') {
            snippet.push_str(&line);
            snippet.push('\n');
        }
    }
    let realm = snippet
        .lines()
        .find_map(|l| l.trim().strip_prefix("realm: "))
        .expect("the snippet names the realm")
        .to_owned();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let storage = dir.path().join("storage");
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{snippet}",
        storage.display()
    );
    let config_path = dir.path().join("config.yml");
    std::fs::write(&config_path, config).unwrap();
    let _registry = Kill(
        Command::new(registry_bin)
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "docker-registry did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let client = reqwest::Client::new();
    let tags = format!("http://127.0.0.1:{port}/v2/alice/app/tags/list");
    let resp = client.get(&tags).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = harbor_auth::Challenge::bearer_from_headers(resp.headers())
        .unwrap()
        .unwrap();
    assert_eq!(challenge.realm(), Some(realm.as_str()));

    for (user, password, expected) in [("alice", "alice-pw", 404), ("bob", "bob-pw", 401)] {
        let token: serde_json::Value = serde_json::from_slice(
            &client
                .get(format!(
                    "{realm}?service=it-registry&scope=repository:alice/app:pull"
                ))
                .basic_auth(user, Some(password))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        let status = client
            .get(&tags)
            .bearer_auth(token["token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, expected, "{user}");
    }
}

/// Starts the binary with these users and ACL; returns it and its realm.
fn start_server(dir: &std::path::Path, users: &[(&str, &str)], acl: &str) -> (Kill, String) {
    let htpasswd = dir.join("htpasswd");
    let lines: Vec<String> = users
        .iter()
        .map(|(u, p)| harbor_auth::server::Htpasswd::hash_line(u, p, 4).unwrap())
        .collect();
    std::fs::write(&htpasswd, lines.join("\n")).unwrap();
    let acl_path = dir.join("acl");
    std::fs::write(&acl_path, acl).unwrap();
    let mut server = Kill(
        Command::new(BIN)
            .args(["--addr", "127.0.0.1:0"])
            .arg("--htpasswd")
            .arg(&htpasswd)
            .arg("--acl")
            .arg(&acl_path)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut realm = None;
    for line in BufReader::new(server.0.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(r) = line.trim().strip_prefix("realm: ") {
            realm = Some(r.to_owned());
        }
        if line.starts_with("listening on") {
            break;
        }
    }
    (server, realm.expect("the snippet names the realm"))
}

#[tokio::test]
async fn repeated_wrong_passwords_are_answered_later_and_later() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, realm) = start_server(dir.path(), &[("alice", "alice-pw")], "+ $user/* pull\n");
    let client = reqwest::Client::new();
    let ask = |password: Option<&'static str>| {
        let client = client.clone();
        let url = format!("{realm}?service=registry&scope=repository:alice/app:pull");
        async move {
            let start = Instant::now();
            let mut request = client.get(url);
            if let Some(password) = password {
                request = request.basic_auth("alice", Some(password));
            }
            let status = request.send().await.unwrap().status();
            (status.as_u16(), start.elapsed())
        }
    };
    // Three free failures, then 250 ms, 500 ms, 1 s before each answer. The anonymous
    // token between two guesses (a `200`) does not forgive them.
    let mut times = Vec::new();
    for _ in 0..6 {
        let (status, took) = ask(Some("guess")).await;
        assert_eq!(status, 401);
        times.push(took);
        assert_eq!(ask(None).await.0, 200, "anonymous pulls get a token");
    }
    assert!(
        times[..3].iter().all(|t| *t < Duration::from_millis(250)),
        "{times:?}"
    );
    assert!(times[3] >= Duration::from_millis(250), "{times:?}");
    assert!(times[5] >= Duration::from_secs(1), "{times:?}");
    // The right password still works (after the wait), and forgives.
    let (status, took) = ask(Some("alice-pw")).await;
    assert_eq!(status, 200);
    assert!(took >= Duration::from_secs(2), "{took:?}");
    let (status, took) = ask(Some("alice-pw")).await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_millis(250), "{took:?}");
}

#[test]
fn an_acl_with_a_dot_dot_pattern_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("htpasswd"),
        harbor_auth::server::Htpasswd::hash_line("alice", "pw", 4).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("acl"), "alice team/../admin/* pull,push\n").unwrap();
    let out = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0"])
        .arg("--htpasswd")
        .arg(dir.path().join("htpasswd"))
        .arg("--acl")
        .arg(dir.path().join("acl"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ACL line 1") && err.contains(".."), "{err}");
}
