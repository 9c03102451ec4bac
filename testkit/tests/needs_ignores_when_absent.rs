//! `#[needs]` as a user sees it: a test that needs an absent tool shows as ignored with its
//! reason (outside CI), one that needs an absent path too (also under CI), and one whose tools
//! and paths are there runs. The listing is read from this very
//! test binary, run again by the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

const ABSENT: &str = "harbor-testkit-no-such-tool";

/// Whether this binary was built with `CI=true` (then `needs` ignores nothing).
const BUILT_UNDER_CI: bool = match option_env!("CI") {
    Some(v) => matches!(v.as_bytes(), b"true"),
    None => false,
};

#[harbor_testkit::needs("harbor-testkit-no-such-tool")]
#[test]
fn needs_an_absent_tool() {
    // Compiled as ignored outside CI; there it runs only with `--include-ignored`, and its
    // guard skips. Under CI=true it runs, and its guard must fail it (caught here).
    if harbor_testkit::ci() {
        let outcome = std::panic::catch_unwind(|| harbor_testkit::tool(ABSENT));
        assert!(
            outcome.is_err(),
            "under CI=true a missing tool must fail the test"
        );
    } else {
        assert!(harbor_testkit::tool(ABSENT).is_none());
    }
}

#[harbor_testkit::needs("sh")]
#[test]
fn needs_a_present_tool() {
    assert!(harbor_testkit::tool("sh").is_some());
}

/// A missing path is ignored also under `CI=true`. (Its future-dated stamp rebuilds this small
/// test crate on every `cargo test`: the price of showing that the path is looked for again.)
#[harbor_testkit::needs(path = "testkit/no-such-dir")]
#[test]
fn needs_an_absent_path() {
    panic!("a test whose path is absent must not run");
}

#[harbor_testkit::needs(path = "testkit/tests", "sh")]
#[test]
fn needs_a_present_path() {
    assert!(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .is_dir()
    );
}

/// Runs this test binary on one test and returns its output.
fn run_self(test: &str, extra: &[&str]) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--test-threads=1"])
        .args(extra)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_absent_tool_shows_as_ignored_with_its_reason() {
    let out = run_self("needs_an_absent_tool", &[]);
    if BUILT_UNDER_CI {
        assert!(out.contains("test needs_an_absent_tool ... ok"), "{out}");
    } else {
        assert!(
            out.contains(&format!(
                "test needs_an_absent_tool ... ignored, needs {ABSENT} on PATH"
            )),
            "{out}"
        );
        assert!(out.contains("0 passed; 0 failed; 1 ignored"), "{out}");
    }
}

#[test]
fn a_present_tool_runs() {
    let out = run_self("needs_a_present_tool", &[]);
    assert!(out.contains("test needs_a_present_tool ... ok"), "{out}");
    assert!(out.contains("1 passed; 0 failed; 0 ignored"), "{out}");
}

#[test]
fn an_absent_path_shows_as_ignored_with_its_reason_even_under_ci() {
    let out = run_self("needs_an_absent_path", &[]);
    assert!(
        out.contains("test needs_an_absent_path ... ignored, testkit/no-such-dir not found"),
        "{out}"
    );
    assert!(out.contains("0 passed; 0 failed; 1 ignored"), "{out}");
}

#[test]
fn a_present_path_runs() {
    let out = run_self("needs_a_present_path", &[]);
    assert!(out.contains("test needs_a_present_path ... ok"), "{out}");
}
