//! Credential helpers run as processes: their answers map to credentials, "not found" is
//! anonymous, a hanging helper is killed at the timeout, and no helper output leaks into errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use harbor_auth::Credentials;
use harbor_auth::docker_config::DockerConfig;
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

    match cfg.credentials_for("https://reg.example/v2/").unwrap() {
        Credentials::Basic { username, password } => {
            assert_eq!(username, "u-reg.example");
            assert_eq!(password.expose_secret(), "helper-secret");
        }
        other => panic!("{other:?}"),
    }
    // Docker Hub is asked for under its legacy key.
    assert_eq!(
        cfg.credentials_for("docker.io").unwrap().username(),
        Some("u-https://index.docker.io/v1/")
    );
    assert!(matches!(
        cfg.credentials_for("tok.example").unwrap(),
        Credentials::IdentityToken { .. }
    ));
    assert!(cfg.credentials_for("none.example").unwrap().is_anonymous());
    let err = cfg.credentials_for("bad.example").unwrap_err().to_string();
    assert!(
        err.contains("broken") && !err.contains("leaked-secret-text"),
        "{err}"
    );
    let start = Instant::now();
    let err = cfg.credentials_for("slow.example").unwrap_err().to_string();
    assert!(err.contains("killed"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(4));
    // The file entry wins over the store; unknown hosts go to the store.
    assert_eq!(
        cfg.credentials_for("file.example").unwrap().username(),
        Some("f")
    );
    assert_eq!(
        cfg.credentials_for("other.example").unwrap().username(),
        Some("u-other.example")
    );
}

#[test]
fn load_from_a_path_and_podman_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.json");
    std::fs::write(&path, r#"{"auths":{"quay.example":{"auth":"cTpw"}}}"#).unwrap();
    let cfg = DockerConfig::from_path(&path).unwrap();
    assert_eq!(cfg.path(), Some(path.as_path()));
    assert_eq!(
        cfg.credentials_for("quay.example").unwrap().username(),
        Some("q")
    );
    let missing = DockerConfig::from_path(&dir.path().join("nope.json")).unwrap_err();
    assert!(missing.to_string().contains("nope.json"));
}
