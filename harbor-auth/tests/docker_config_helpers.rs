//! Credential helpers run as processes: their answers map to credentials, "not found" is
//! anonymous, a hanging helper is killed at the timeout, and no helper output leaks into errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use harbor_auth::docker_config::DockerConfig;
use harbor_auth::{Credentials, Keychain};
use secrecy::ExposeSecret;

fn helper(dir: &Path, name: &str, body: &str) {
    let path = dir.join(format!("docker-credential-{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn helpers_and_store() {
    let dir = tempfile::tempdir().unwrap();
    // Echoes the server it was asked about into the user name, to prove what it got on stdin.
    helper(
        dir.path(),
        "basic",
        r#"read server; printf '{"ServerURL":"%s","Username":"u-%s","Secret":"helper-secret"}' "$server" "$server""#,
    );
    helper(
        dir.path(),
        "token",
        r#"printf '{"Username":"<token>","Secret":"idt"}'"#,
    );
    helper(
        dir.path(),
        "missing",
        r#"echo "credentials not found in native keychain"; exit 1"#,
    );
    helper(dir.path(), "broken", r#"echo "leaked-secret-text"; exit 3"#);
    helper(dir.path(), "slow", "sleep 5");
    let cfg = DockerConfig::from_slice(
        br#"{"credHelpers":{"reg.example":"basic","tok.example":"token","none.example":"missing",
             "bad.example":"broken","slow.example":"slow","hub.docker.com":"basic",
             "index.docker.io":"basic"},
            "credsStore":"basic","auths":{"file.example":{"auth":"Zjpw"}}}"#,
    )
    .unwrap()
    .with_helper_dirs(vec![dir.path().to_path_buf()])
    .with_helper_timeout(Duration::from_millis(500));

    let kc = Keychain::new().with_config(cfg);
    let get = |host: &str| kc.resolve(host, None).map(|b| b.credentials().clone());

    match get("reg.example").unwrap() {
        Credentials::Basic { username, password } => {
            assert_eq!(username, "u-reg.example");
            assert_eq!(password.expose_secret(), "helper-secret");
        }
        other => panic!("{other:?}"),
    }
    // Docker Hub is asked for under its legacy key, whatever name the request used.
    assert_eq!(
        get("registry-1.docker.io").unwrap().username(),
        Some("u-https://index.docker.io/v1/")
    );
    assert!(matches!(
        get("tok.example").unwrap(),
        Credentials::IdentityToken { .. }
    ));
    assert!(get("none.example").unwrap().is_anonymous());
    let err = get("bad.example").unwrap_err().to_string();
    assert!(
        err.contains("broken") && !err.contains("leaked-secret-text"),
        "{err}"
    );
    let start = Instant::now();
    let err = get("slow.example").unwrap_err().to_string();
    assert!(err.contains("killed"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(4));
    // The file entry wins over the store; unknown hosts go to the store.
    assert_eq!(get("file.example").unwrap().username(), Some("f"));
    assert_eq!(
        get("other.example").unwrap().username(),
        Some("u-other.example")
    );
    // The answer is bound to the registry it was asked for.
    let bound = kc.resolve("reg.example", None).unwrap();
    assert!(bound.applies_to(&url::Url::parse("https://reg.example/v2/").unwrap()));
    assert!(!bound.applies_to(&url::Url::parse("https://other.example/v2/").unwrap()));
}

#[test]
fn helpers_run_once_per_process_for_concurrent_askers() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("runs");
    helper(
        dir.path(),
        "counting",
        &format!(
            r#"echo run >> {}; sleep 0.2; printf '{{"Username":"c","Secret":"s"}}'"#,
            count.display()
        ),
    );
    let cfg = DockerConfig::from_slice(br#"{"credsStore":"counting"}"#)
        .unwrap()
        .with_helper_dirs(vec![dir.path().to_path_buf()]);
    let kc = Keychain::new().with_config(cfg);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let kc = kc.clone();
            std::thread::spawn(move || kc.resolve("cached.example", None).unwrap())
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().credentials().username(), Some("c"));
    }
    assert_eq!(
        kc.resolve("cached.example", None)
            .unwrap()
            .credentials()
            .username(),
        Some("c")
    );
    let runs = std::fs::read_to_string(&count).unwrap();
    assert_eq!(runs.lines().count(), 1, "one helper run for five lookups");
    // Another server is another run.
    kc.resolve("second.example", None).unwrap();
    assert_eq!(std::fs::read_to_string(&count).unwrap().lines().count(), 2);
}

#[test]
fn load_from_a_path_and_podman_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    std::fs::write(
        &path,
        r#"{"auths":{"quay.example":{"auth":"cTpw"},"quay.example/team":{"auth":"dDpw"}}}"#,
    )
    .unwrap();
    let cfg = DockerConfig::from_path(&path).unwrap();
    assert_eq!(cfg.path(), Some(path.as_path()));
    let kc = Keychain::new().with_config(cfg);
    let user = |repo| {
        kc.resolve("quay.example", Some(repo))
            .unwrap()
            .credentials()
            .username()
            .map(str::to_owned)
    };
    assert_eq!(user("other/app").as_deref(), Some("q"));
    assert_eq!(user("team/app").as_deref(), Some("t"), "longest prefix");
    let missing = DockerConfig::from_path(&dir.path().join("nope.json")).unwrap_err();
    assert!(missing.to_string().contains("nope.json"));
}

/// `Keychain::from_default_files` reads podman's file (here `REGISTRY_AUTH_FILE`) before
/// Docker's (`DOCKER_CONFIG`). The environment is the child process's own: this test runs
/// itself again with the variables set (`default_files_child` does the work there).
#[test]
fn default_files_follow_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let docker = dir.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        r#"{"auths":{"both.example":{"auth":"ZG9ja2VyOnA="},"docker.example":{"auth":"ZG9ja2VyOnA="}}}"#,
    )
    .unwrap();
    let podman = dir.path().join("auth.json");
    std::fs::write(
        &podman,
        r#"{"auths":{"both.example":{"auth":"cG9kbWFuOnA="}}}"#,
    )
    .unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "default_files_child", "--ignored", "--nocapture"])
        .env("DOCKER_CONFIG", &docker)
        .env("REGISTRY_AUTH_FILE", &podman)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("1 passed"), "{text}");
    assert!(
        text.contains("both.example=podman docker.example=docker"),
        "{text}"
    );
}

/// The child of `default_files_follow_the_environment`: ignored in a normal run (it would read
/// the developer's own files), run by its parent with `--ignored --exact`.
#[test]
#[ignore = "run as a child by default_files_follow_the_environment"]
fn default_files_child() {
    let kc = Keychain::from_default_files().unwrap();
    let user = |host| {
        kc.resolve(host, None)
            .unwrap()
            .credentials()
            .username()
            .unwrap_or_default()
            .to_owned()
    };
    println!(
        "both.example={} docker.example={}",
        user("both.example"),
        user("docker.example")
    );
}

#[test]
fn a_helper_timeout_of_never_waits_for_the_helper() {
    let dir = tempfile::tempdir().unwrap();
    helper(
        dir.path(),
        "late",
        r#"sleep 0.2; printf '{"Username":"u","Secret":"s"}'"#,
    );
    let cfg = DockerConfig::from_slice(br#"{"credHelpers":{"reg.example":"late"}}"#)
        .unwrap()
        .with_helper_dirs(vec![dir.path().to_path_buf()])
        .with_helper_timeout(Duration::MAX);
    let kc = Keychain::new().with_config(cfg);
    let got = kc.resolve("reg.example", None).unwrap();
    assert_eq!(got.credentials().username(), Some("u"));
}
