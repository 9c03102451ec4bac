//! Every command-line example as a new user meets it: `--help` names its main options,
//! `--version` answers, a usage error exits 2 naming the bad argument, a failing run exits
//! non-zero with a message naming the problem; `RUST_LOG` shows the SDK's requests and never a
//! secret; pull, push and copy draw bars on a terminal and print one summary line elsewhere.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod registry_support;

use std::path::Path;
use std::process::{Command, Output};

use registry_support::{Registry, make_image, noise};

/// `(binary, its name, options its --help must name)`.
const EXAMPLES: &[(&str, &str, &[&str])] = &[
    (
        env!("CARGO_BIN_EXE_events_decode"),
        "events_decode",
        &["--json", "--content-type", "[FILE]"],
    ),
    (
        env!("CARGO_BIN_EXE_events_receiver"),
        "events_receiver",
        &[
            "--addr",
            "--auth-header",
            "HARBOR_WEBHOOK_AUTH",
            "--inbox",
            "--role",
            "--concurrency",
            "--json",
            "--demo",
        ],
    ),
    (
        env!("CARGO_BIN_EXE_api_list_projects"),
        "api_list_projects",
        &[
            "--harbor",
            "--api-root",
            "--username",
            "HARBOR_PASSWORD",
            "--query",
            "--json",
        ],
    ),
    (
        env!("CARGO_BIN_EXE_api_configure_webhook"),
        "api_configure_webhook",
        &[
            "--harbor",
            "--project",
            "--receiver",
            "--auth-header",
            "--format",
            "--events",
            "--username",
        ],
    ),
    (
        env!("CARGO_BIN_EXE_scan_gatekeeper"),
        "scan_gatekeeper",
        &[
            "--harbor",
            "--inbox",
            "--severity",
            "--action",
            "--label-id",
            "--json",
            "--username",
        ],
    ),
    (
        env!("CARGO_BIN_EXE_registry_token_server"),
        "registry_token_server",
        &[
            "--htpasswd",
            "--acl",
            "--state-dir",
            "--addr",
            "--kid",
            "--demo",
        ],
    ),
    (
        env!("CARGO_BIN_EXE_registry_list_tags"),
        "registry_list_tags",
        &["<REPOSITORY>", "--page-size", "--username", "--plain-http"],
    ),
    (
        env!("CARGO_BIN_EXE_registry_pull"),
        "registry_pull",
        &[
            "<REFERENCE>",
            "<DIR>",
            "--platform",
            "--concurrency",
            "--username",
            "REGISTRY_PASSWORD",
            "--plain-http",
            "RUST_LOG",
        ],
    ),
    (
        env!("CARGO_BIN_EXE_registry_push"),
        "registry_push",
        &[
            "<DIR>",
            "<REFERENCE>",
            "--chunk-size",
            "--concurrency",
            "--username",
        ],
    ),
    (
        env!("CARGO_BIN_EXE_registry_copy"),
        "registry_copy",
        &[
            "<SOURCE>",
            "<DESTINATION>",
            "--chunk-size",
            "--concurrency",
            "--username",
        ],
    ),
    (
        env!("CARGO_BIN_EXE_registry_artifact"),
        "registry_artifact",
        &[
            "<IMAGE>",
            "<FILE>",
            "<ARTIFACT_TYPE>",
            "--username",
            "--plain-http",
        ],
    ),
    (
        env!("CARGO_BIN_EXE_api_provision_project"),
        "api_provision_project",
        &[
            "--harbor",
            "--api-root",
            "--project",
            "--webhook",
            "--scan",
            "--robot-secret-file",
            "HARBOR_PASSWORD",
        ],
    ),
];

/// Runs an example with no credentials from the host (no docker or podman files, no password
/// variables) and stdin closed.
fn run(bin: &str, args: &[&str]) -> Output {
    run_env(bin, args, &[])
}

fn run_env(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .current_dir(home.path())
        .env("DOCKER_CONFIG", home.path())
        .env("REGISTRY_AUTH_FILE", home.path().join("none.json"))
        .stdin(std::process::Stdio::null());
    for var in [
        "REGISTRY_USERNAME",
        "REGISTRY_PASSWORD",
        "HARBOR_USERNAME",
        "HARBOR_PASSWORD",
        "HARBOR_WEBHOOK_AUTH",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_names_the_main_options_and_version_answers() {
    for (bin, name, options) in EXAMPLES {
        let out = run(bin, &["--help"]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        let help = text(&out.stdout);
        assert!(help.contains(&format!("Usage: {name}")), "{name}: {help}");
        for option in *options {
            assert!(
                help.contains(option),
                "{name} --help lacks {option}: {help}"
            );
        }
        let out = run(bin, &["--version"]);
        assert_eq!(out.status.code(), Some(0), "{name}");
        assert_eq!(
            text(&out.stdout).trim(),
            format!("{name} {}", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn help_never_shows_a_secret_from_the_environment() {
    let env = [
        ("REGISTRY_PASSWORD", "reg-s3cret"),
        ("HARBOR_PASSWORD", "harbor-s3cret"),
        ("HARBOR_WEBHOOK_AUTH", "Bearer hook-s3cret"),
    ];
    for (bin, name, _) in EXAMPLES {
        let out = run_env(bin, &["--help"], &env);
        assert_eq!(out.status.code(), Some(0), "{name}");
        assert!(!text(&out.stdout).contains("s3cret"), "{name}");
    }
}

#[test]
fn an_unknown_option_is_a_usage_error_that_names_it() {
    for (bin, name, _) in EXAMPLES {
        let out = run(bin, &["--no-such-option"]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = text(&out.stderr);
        assert!(err.contains("'--no-such-option'"), "{name}: {err}");
        assert!(err.contains(&format!("Usage: {name}")), "{name}: {err}");
    }
}

#[test]
fn a_bad_value_is_a_usage_error_that_names_the_option_and_the_problem() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            env!("CARGO_BIN_EXE_events_receiver"),
            &["--addr", "nowhere"],
            "'nowhere' for '--addr <HOST:PORT>'",
        ),
        (
            env!("CARGO_BIN_EXE_api_list_projects"),
            &["--query", "x"],
            "--harbor <URL>|--api-root <URL>",
        ),
        (
            env!("CARGO_BIN_EXE_api_configure_webhook"),
            &[
                "--harbor",
                "http://h",
                "--project",
                "p",
                "--receiver",
                "http://r",
                "--format",
                "xml",
            ],
            "use Default or CloudEvents",
        ),
        (
            env!("CARGO_BIN_EXE_scan_gatekeeper"),
            &["--api-root", "http://127.0.0.1:9", "--severity", "awful"],
            "'awful' for '--severity <LEVEL>'",
        ),
        (
            env!("CARGO_BIN_EXE_scan_gatekeeper"),
            &["--api-root", "http://127.0.0.1:9"],
            "--action label needs --label-id",
        ),
        (
            env!("CARGO_BIN_EXE_registry_token_server"),
            &["--acl", "acl"],
            "--htpasswd <FILE>",
        ),
        (
            env!("CARGO_BIN_EXE_registry_token_server"),
            &["--demo", "--refresh-tokens", "59"],
            "at least 60",
        ),
        (
            env!("CARGO_BIN_EXE_registry_list_tags"),
            &["127.0.0.1:9/a", "--page-size", "0"],
            "'0' for '--page-size <N>'",
        ),
        (
            env!("CARGO_BIN_EXE_registry_pull"),
            &["127.0.0.1:9/a:b", "dir", "--platform", "linux"],
            "use OS/ARCH",
        ),
        (
            env!("CARGO_BIN_EXE_registry_push"),
            &["dir", "127.0.0.1:9/a:b", "--concurrency", "0"],
            "'0' for '--concurrency <N>'",
        ),
        (
            env!("CARGO_BIN_EXE_registry_copy"),
            &["127.0.0.1:9/a:b", "127.0.0.1:9/c:d", "--username", "u"],
            "--password <PASS>",
        ),
    ];
    for (bin, args, named) in cases {
        let out = run(bin, args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(named), "{args:?}: {err}");
    }
}

#[test]
fn a_failing_run_exits_1_with_a_message_naming_the_problem() {
    // Nothing listens on port 9 of loopback; the files do not exist.
    let gone = "127.0.0.1:9";
    let cases: &[(&str, &[&str], &str)] = &[
        (
            env!("CARGO_BIN_EXE_events_decode"),
            &["no-such-payload.json"],
            "cannot read the payload",
        ),
        (
            env!("CARGO_BIN_EXE_events_receiver"),
            &[
                "--inbox",
                "sqlite:no/such/dir/x.db",
                "--addr",
                "127.0.0.1:0",
            ],
            "cannot open the sqlite inbox",
        ),
        (
            env!("CARGO_BIN_EXE_api_list_projects"),
            &["--api-root", "http://127.0.0.1:9"],
            "127.0.0.1:9",
        ),
        (
            env!("CARGO_BIN_EXE_api_configure_webhook"),
            &[
                "--api-root",
                "http://127.0.0.1:9",
                "--project",
                "p",
                "--receiver",
                "http://r",
            ],
            "127.0.0.1:9",
        ),
        (
            env!("CARGO_BIN_EXE_scan_gatekeeper"),
            &[
                "--api-root",
                "http://127.0.0.1:9",
                "--action",
                "prevent",
                "--inbox",
                "sqlite:no/such/dir/x.db",
            ],
            "cannot open the sqlite inbox",
        ),
        (
            env!("CARGO_BIN_EXE_registry_token_server"),
            &[
                "--htpasswd",
                "no-such-htpasswd",
                "--acl",
                "acl",
                "--addr",
                "127.0.0.1:0",
            ],
            "no-such-htpasswd",
        ),
        (
            env!("CARGO_BIN_EXE_registry_list_tags"),
            &[&format!("{gone}/a")],
            gone,
        ),
        (
            env!("CARGO_BIN_EXE_registry_pull"),
            &[&format!("{gone}/a:b"), "out"],
            gone,
        ),
        (
            env!("CARGO_BIN_EXE_registry_push"),
            &["no-such-layout", &format!("{gone}/a:b")],
            "no-such-layout",
        ),
        (
            env!("CARGO_BIN_EXE_registry_copy"),
            &[&format!("{gone}/a:b"), &format!("{gone}/c:d")],
            gone,
        ),
    ];
    for (bin, args, named) in cases {
        let out = run(bin, args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(named), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// Writes a layout, pushes it with `RUST_LOG=harbor_client=debug` to an htpasswd registry: the
/// log shows each request with its status and the registry's challenge, never the password.
#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn rust_log_shows_requests_and_challenges_but_never_the_password() {
    let auth = tempfile::tempdir().unwrap();
    let conf = harbor_testkit::htpasswd_auth(auth.path(), &[("alice", "alice-s3cret")]);
    let Some(reg) = Registry::start(&conf) else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    make_image(src.path(), "v1", &[noise(20_000, 3)]).await;
    let out = run_env(
        env!("CARGO_BIN_EXE_registry_push"),
        &[
            src.path().to_str().unwrap(),
            &format!("{}/team/app:v1", reg.host()),
            "--username",
            "alice",
        ],
        &[
            ("REGISTRY_PASSWORD", "alice-s3cret"),
            ("RUST_LOG", "harbor_client=debug,harbor_auth=debug"),
        ],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("harbor.request"), "{err}");
    assert!(err.contains("method=PUT"), "{err}");
    assert!(err.contains("status=201"), "{err}");
    assert!(
        err.contains("the registry asked for authentication") && err.contains("Basic realm="),
        "{err}"
    );
    assert!(!err.contains("alice-s3cret"), "{err}");
    // Nor its Basic encoding.
    assert!(!err.contains("YWxpY2U6YWxpY2UtczNjcmV0"), "{err}");
}

/// Off a terminal: no bar, no escape sequence, one summary line with bytes, time and rate.
#[harbor_testkit::needs("docker-registry")]
#[tokio::test]
async fn transfers_print_one_summary_line_when_stderr_is_not_a_terminal() {
    let Some(reg) = Registry::start("") else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    make_image(src.path(), "v1", &[noise(300_000, 4), noise(1_000, 5)]).await;
    let reference = format!("{}/team/app:v1", reg.host());
    let push = env!("CARGO_BIN_EXE_registry_push");
    let out = run(push, &[src.path().to_str().unwrap(), &reference]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Two layers and the config; the bytes of every blob.
    assert!(
        err.starts_with("pushed 3 blobs, 0 already there, 0 mounted: 294.")
            && err.contains("KiB in "),
        "{err}"
    );
    assert!(err.trim_end().ends_with("/s"), "{err}");
    assert!(!err.contains('\x1b'), "{err}");

    let out = run(push, &[src.path().to_str().unwrap(), &reference]);
    assert!(
        text(&out.stderr).starts_with("pushed 0 blobs, 3 already there"),
        "{}",
        text(&out.stderr)
    );
    let copy = env!("CARGO_BIN_EXE_registry_copy");
    let out = run(
        copy,
        &[&reference, &format!("{}/mirror/app:v1", reg.host())],
    );
    assert!(
        text(&out.stderr).starts_with("copied 0 blobs, 0 already there, 3 mounted"),
        "{}",
        text(&out.stderr)
    );
}

/// On a terminal (`script` gives the program a pseudo-terminal): a bar per blob, named by the
/// first 12 hex digits of its digest as `docker pull` does, with bytes and rate, then the
/// summary in place of the total bar.
#[harbor_testkit::needs("docker-registry", "script")]
#[tokio::test]
async fn pull_draws_a_bar_per_blob_on_a_terminal() {
    let Some(reg) = Registry::start("") else {
        return;
    };
    let Some(script) = harbor_testkit::tool("script") else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    let (_, layers) = make_image(src.path(), "v1", &[noise(2_000_000, 6), noise(500, 7)]).await;
    let reference = format!("{}/team/app:v1", reg.host());
    let out = run(
        env!("CARGO_BIN_EXE_registry_push"),
        &[src.path().to_str().unwrap(), &reference],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dst = tempfile::tempdir().unwrap();
    let command = format!(
        "{} {reference} {}",
        shell_word(Path::new(env!("CARGO_BIN_EXE_registry_pull"))),
        shell_word(&dst.path().join("layout"))
    );
    let out = Command::new(script)
        .args(["-qec", &command, "/dev/null"])
        .env("DOCKER_CONFIG", dst.path())
        .env("REGISTRY_AUTH_FILE", dst.path().join("none.json"))
        .env("COLUMNS", "120")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let screen = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{screen}");
    for layer in &layers {
        let short = &layer.encoded()[..12];
        assert!(
            screen.contains(&format!("{short} done (")),
            "{short}: {screen}"
        );
    }
    assert!(screen.contains("1.91 MiB"), "{screen}");
    assert!(
        screen.contains("pulled 3 blobs, 0 already there, 0 mounted"),
        "{screen}"
    );
}

fn shell_word(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}
