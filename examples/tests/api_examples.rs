//! The API examples, run as users run them, against Prism validating Harbor's spec.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_support;

use std::process::{Command, Output};

use api_support::{Answer, Proxy, assert_clean, shared_prism};

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env("HARBOR_USERNAME", "admin")
        .env("HARBOR_PASSWORD", "Harbor12345")
        .env_remove("HARBOR_WEBHOOK_AUTH")
        .output()
        .expect("the example runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[harbor_testkit::needs("prism", spec)]
#[test]
fn api_list_projects_reads_all_pages() {
    let Some(prism) = shared_prism() else { return };
    let out = run(
        env!("CARGO_BIN_EXE_api_list_projects"),
        &["--api-root", &prism.url, "--query", "name=~lib"],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("projects (Harbor reports"), "{stdout}");
    // (Prism logs paths without the query; page_size=100 is asserted in harbor-client's
    // api_requests tests.)
    assert!(prism.requests().contains(&"GET /projects".to_owned()));
    assert_clean(prism);
}

#[harbor_testkit::needs("prism", spec)]
#[test]
fn api_list_projects_prints_json_lines() {
    let Some(prism) = shared_prism() else { return };
    let out = run(
        env!("CARGO_BIN_EXE_api_list_projects"),
        &["--api-root", &prism.url, "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    for line in text(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        assert!(v.is_object());
    }
}

#[harbor_testkit::needs("prism", spec)]
#[test]
fn api_configure_webhook_creates_a_policy_for_the_receiver() {
    let Some(prism) = shared_prism() else { return };
    let out = run(
        env!("CARGO_BIN_EXE_api_configure_webhook"),
        &[
            "--api-root",
            &prism.url,
            "--project",
            "webhooked",
            "--receiver",
            "http://127.0.0.1:8080/events",
            "--auth-header",
            "Bearer s3cret",
            "--format",
            "cloudevents",
            "--events",
            "SCANNING_COMPLETED,PUSH_ARTIFACT",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("created webhook policy"), "{stdout}");
    assert!(
        stdout.contains("CloudEvents payloads, with auth header"),
        "{stdout}"
    );
    assert!(!stdout.contains("s3cret"), "the secret is never printed");
    let requests = prism.requests();
    assert!(
        requests.contains(&"GET /projects/webhooked/webhook/events".to_owned()),
        "{requests:?}"
    );
    assert!(
        requests.contains(&"POST /projects/webhooked/webhook/policies".to_owned()),
        "{requests:?}"
    );
    assert_clean(prism);
}

#[test]
fn api_configure_webhook_rejects_bad_arguments_before_calling_harbor() {
    let out = run(
        env!("CARGO_BIN_EXE_api_configure_webhook"),
        &[
            "--api-root",
            "http://127.0.0.1:9",
            "--project",
            "p",
            "--receiver",
            "ftp://x",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("must be an http(s) URL"));
}

#[test]
fn api_list_projects_reports_harbor_errors() {
    // Nothing listens on port 9 of loopback: a transport error, exit 1, no panic.
    let out = run(
        env!("CARGO_BIN_EXE_api_list_projects"),
        &["--api-root", "http://127.0.0.1:9"],
    );
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("panicked"));
}

/// The project as Prism shows it, with its metadata `retention_id` set to `id` (`None`:
/// no retention policy bound; Prism's example has the word "string" there).
fn with_retention_id(method: &str, path: &str, answer: Answer, id: Option<&str>) -> Answer {
    if method != "GET" || path != "/projects/team" {
        return answer;
    }
    answer.edit_json(|project| {
        let metadata = project["metadata"].as_object_mut().unwrap();
        match id {
            Some(id) => metadata.insert("retention_id".to_owned(), id.into()),
            None => metadata.remove("retention_id"),
        };
    })
}

#[harbor_testkit::needs("prism", spec)]
#[test]
fn api_provision_project_runs_every_step_against_the_spec() {
    let Some(prism) = shared_prism() else { return };
    // A new project: no retention policy bound yet.
    let proxy = Proxy::start(&prism.url, |method, path, answer| {
        with_retention_id(method, path, answer, None)
    });
    let dir = std::env::temp_dir().join(format!("provision-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("robot-secret");
    // A file left by an earlier run, readable by all: the secret must not go into it so.
    std::fs::write(&secret_file, "old").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let everyone = std::fs::Permissions::from_mode(0o644);
        std::fs::set_permissions(&secret_file, everyone).unwrap();
    }
    let out = run(
        env!("CARGO_BIN_EXE_api_provision_project"),
        &[
            "--api-root",
            &proxy.url,
            "--project",
            "team",
            "--webhook",
            "https://ci.example/hook",
            "--scan",
            "app:v1",
            "--robot-secret-file",
            secret_file.to_str().unwrap(),
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}\nstdout: {stdout}",
        text(&out.stderr)
    );
    for step in [
        "project:",
        "robot:",
        "webhook:",
        "retention:",
        "immutability:",
        "scan of team/app:v1",
    ] {
        assert!(stdout.contains(step), "{step} in {stdout}");
    }
    // The secret went to a file only its owner reads (Prism's example secret is the word
    // "string", as is the robot's name, so the output cannot be searched for it).
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert!(!secret.is_empty() && secret != "old");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secret_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let requests = proxy.requests();
    for want in [
        "POST /projects",
        "POST /robots",
        "POST /projects/team/webhook/policies",
        "POST /retentions",
        "POST /projects/team/immutabletagrules",
        "POST /projects/team/repositories/app/artifacts/v1/scan",
    ] {
        assert!(requests.iter().any(|r| r == want), "{want} in {requests:?}");
    }
    assert_clean(prism);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[harbor_testkit::needs("prism", spec)]
#[test]
fn api_provision_project_run_again_updates_the_bound_retention_policy() {
    let Some(prism) = shared_prism() else { return };
    // A second run: the project exists (409) and has retention policy 7 bound. Harbor would
    // answer a second POST /retentions with 400 "project 1 already has retention policy 7".
    let proxy = Proxy::start(&prism.url, |method, path, answer| match (method, path) {
        ("POST", "/projects") => {
            Answer::harbor_error(409, "CONFLICT", "The project named team already exists")
        }
        ("POST", "/retentions") => Answer::harbor_error(
            400,
            "BAD_REQUEST",
            "project 1 already has retention policy 7",
        ),
        _ => with_retention_id(method, path, answer, Some("7")),
    });
    let out = run(
        env!("CARGO_BIN_EXE_api_provision_project"),
        &["--api-root", &proxy.url, "--project", "team"],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}\nstdout: {stdout}",
        text(&out.stderr)
    );
    assert!(stdout.contains("project: exists already, kept"), "{stdout}");
    assert!(
        stdout.contains("retention: exists already (id 7), updated"),
        "{stdout}"
    );
    let requests = proxy.requests();
    assert!(
        requests.contains(&"PUT /retentions/7".to_owned()),
        "{requests:?}"
    );
    assert!(
        !requests.contains(&"POST /retentions".to_owned()),
        "{requests:?}"
    );
    assert_clean(prism);
}

#[harbor_testkit::needs("prism", spec)]
#[test]
fn api_provision_project_refuses_a_retention_id_that_is_not_an_id() {
    let Some(prism) = shared_prism() else { return };
    // Prism's own example project has `"retention_id": "string"`.
    let out = run(
        env!("CARGO_BIN_EXE_api_provision_project"),
        &["--api-root", &prism.url, "--project", "team"],
    );
    assert_eq!(out.status.code(), Some(1), "stdout: {}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("retention_id \"string\" is not a policy id"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stdout).contains("retention:"));
}
