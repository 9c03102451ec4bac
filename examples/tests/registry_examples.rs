//! The `registry_*` examples against a real `docker-registry`: push a layout, list tags, pull
//! it back, copy it; failures exit non-zero with the error.

mod registry_support;

use registry_support::{Registry, make_image, noise, run, run_with_docker_config, stdout};

const PUSH: &str = env!("CARGO_BIN_EXE_registry_push");
const PULL: &str = env!("CARGO_BIN_EXE_registry_pull");
const TAGS: &str = env!("CARGO_BIN_EXE_registry_list_tags");
const COPY: &str = env!("CARGO_BIN_EXE_registry_copy");
const ARTIFACT: &str = env!("CARGO_BIN_EXE_registry_artifact");

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn push_list_pull_copy_round_trip() {
    let Some(reg) = Registry::start("") else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    let (desc, layers) = make_image(src.path(), "v1", &[noise(150_000, 1), noise(10, 2)]).await;
    let reference = format!("{}/examples/app:v1", reg.host());

    let out = run(
        PUSH,
        &[
            src.path().to_str().unwrap(),
            &reference,
            "--concurrency",
            "2",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out), desc.digest.to_string());

    let out = run(TAGS, &[&format!("{}/examples/app", reg.host())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out), "v1");

    let dst = tempfile::tempdir().unwrap();
    let out = run(PULL, &[&reference, dst.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out), desc.digest.to_string());
    for d in &layers {
        let p = |root: &std::path::Path| root.join("blobs/sha256").join(d.encoded());
        assert_eq!(
            std::fs::read(p(dst.path())).unwrap(),
            std::fs::read(p(src.path())).unwrap()
        );
    }

    let copy_to = format!("{}/mirror/app:v1", reg.host());
    let out = run(COPY, &[&reference, &copy_to, "--chunk-size", "65536"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out), desc.digest.to_string());
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn registry_artifact_attaches_an_sbom_and_lists_it() {
    let Some(reg) = Registry::start("") else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    make_image(src.path(), "v1", &[noise(1000, 3)]).await;
    let reference = format!("{}/examples/signed:v1", reg.host());
    let out = run(PUSH, &[src.path().to_str().unwrap(), &reference]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let sbom = src.path().join("sbom.spdx.json");
    std::fs::write(&sbom, br#"{"spdxVersion":"SPDX-2.3","name":"signed"}"#).unwrap();
    let out = run(
        ARTIFACT,
        &[&reference, sbom.to_str().unwrap(), "application/spdx+json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let mut lines = text.lines();
    let digest = lines.next().unwrap().to_owned();
    assert!(digest.starts_with("sha256:"), "{text}");
    assert_eq!(
        lines.collect::<Vec<_>>(),
        vec![format!("{digest} application/spdx+json sbom.spdx.json")],
        "the SBOM is listed among the image's referrers of its type"
    );

    // Attaching a second file of another type lists only the asked type.
    let vex = src.path().join("vex.json");
    std::fs::write(&vex, b"{}").unwrap();
    let out = run(
        ARTIFACT,
        &[
            &reference,
            vex.to_str().unwrap(),
            "application/vnd.openvex+json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout(&out).lines().count(), 2);
}

#[test]
fn failures_exit_non_zero_with_the_error() {
    // A bad reference is a usage error: exit 2, the value and the argument named.
    let out = run(PULL, &["NOT A REFERENCE", "/tmp/unused"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.starts_with("error: invalid value 'NOT A REFERENCE' for '<REFERENCE>'"),
        "{err}"
    );

    let port = registry_support::free_port();
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        PULL,
        &[
            &format!("127.0.0.1:{port}/a/b:c"),
            dir.path().to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error:"));

    let out = run(PUSH, &["only-one-arg"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("<REFERENCE>") && err.contains("Usage:"),
        "{err}"
    );
}

/// The issue that made the keychain: with one docker config holding a password for each of two
/// htpasswd registries (127.0.0.1 and 127.0.0.2, each knowing only its own user),
/// `registry_copy` authenticated both sides with the destination's password and failed with
/// 401 on the source. Now every side gets its own.
#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn registry_copy_across_two_htpasswd_registries_with_one_docker_config() {
    use base64::Engine as _;
    let auth_a = tempfile::tempdir().unwrap();
    let auth_b = tempfile::tempdir().unwrap();
    let a_conf = harbor_testkit::htpasswd_auth(auth_a.path(), &[("alice", "alice-pw")]);
    let b_conf = harbor_testkit::htpasswd_auth(auth_b.path(), &[("bob", "bob-pw")]);
    let Some(a) = Registry::start_at(std::net::Ipv4Addr::new(127, 0, 0, 1), &a_conf) else {
        return;
    };
    let Some(b) = Registry::start_at(std::net::Ipv4Addr::new(127, 0, 0, 2), &b_conf) else {
        return;
    };
    let docker = tempfile::tempdir().unwrap();
    let auth =
        |u: &str, p: &str| base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
    std::fs::write(
        docker.path().join("config.json"),
        serde_json::json!({"auths": {
            a.host(): {"auth": auth("alice", "alice-pw")},
            b.host(): {"auth": auth("bob", "bob-pw")},
        }})
        .to_string(),
    )
    .unwrap();
    let src = tempfile::tempdir().unwrap();
    let (desc, _) = make_image(src.path(), "v1", &[noise(80_000, 7), noise(100, 8)]).await;
    let from = format!("{}/team/app:v1", a.host());
    let to = format!("{}/mirror/app:v1", b.host());
    let ok = |out: &std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout(out), desc.digest.to_string());
    };
    ok(&run_with_docker_config(
        PUSH,
        &[src.path().to_str().unwrap(), &from],
        docker.path(),
    ));
    ok(&run_with_docker_config(COPY, &[&from, &to], docker.path()));
    let out_dir = tempfile::tempdir().unwrap();
    ok(&run_with_docker_config(
        PULL,
        &[&to, out_dir.path().to_str().unwrap()],
        docker.path(),
    ));
    // Without the config the same copy is refused: the registries really check.
    let out = run(COPY, &[&from, &to]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
