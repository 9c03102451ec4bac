//! `#[needs]` as a user sees it: a test that needs an absent tool shows as ignored with its
//! reason (outside CI), and one whose tools are there runs. The listing is read from this very
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
