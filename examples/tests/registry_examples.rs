//! The `registry_*` examples against a real `docker-registry`: push a layout, list tags, pull
//! it back, copy it; failures exit non-zero with the error.

mod registry_support;

use registry_support::{Registry, make_image, noise, run, stdout};

const PUSH: &str = env!("CARGO_BIN_EXE_registry_push");
const PULL: &str = env!("CARGO_BIN_EXE_registry_pull");
const TAGS: &str = env!("CARGO_BIN_EXE_registry_list_tags");
const COPY: &str = env!("CARGO_BIN_EXE_registry_copy");

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

#[test]
fn failures_exit_non_zero_with_the_error() {
    let out = run(PULL, &["NOT A REFERENCE", "/tmp/unused"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.starts_with("error: invalid"), "{err}");

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
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}
