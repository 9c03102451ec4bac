//! Golden test: the generator's output for a small excerpt of Harbor's spec
//! (`tests/golden/spec.yaml`) and data (`tests/golden/overrides.yaml`) is exactly the files in
//! `tests/golden/expected/`. A change of a rule shows here as a readable diff.
//!
//! After an intended change: `UPDATE_GOLDEN=1 cargo test -p harbor-codegen --test golden`, and
//! review the diff of `tests/golden/expected/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn excerpt_generates_the_expected_files() {
    let inputs = harbor_codegen::Inputs::from_dir(&dir()).unwrap();
    let files = harbor_codegen::generate(&inputs).expect("the excerpt generates");
    let expected_dir = dir().join("expected");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    if update {
        let _ = std::fs::remove_dir_all(&expected_dir);
    }
    let mut problems = Vec::new();
    for (rel, text) in &files {
        let formatted = harbor_codegen::format::format_source(text)
            .unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
        let path = expected_dir.join(rel);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &formatted).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == formatted => {}
            Ok(_) => problems.push(format!("{} differs", rel.display())),
            Err(_) => problems.push(format!("{} is not expected", rel.display())),
        }
    }
    // Every expected file is still produced.
    let mut stack = vec![expected_dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(&expected_dir).unwrap().to_path_buf();
                if !files.contains_key(&rel) {
                    problems.push(format!("{} is no longer generated", rel.display()));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "golden output drifted (UPDATE_GOLDEN=1 to accept, then review the diff):\n{}",
        problems.join("\n")
    );
}

/// The generator refuses the excerpt after `edit`, naming `needle` in its message.
fn refused(edit: impl FnOnce(&mut harbor_codegen::Inputs), needle: &str) {
    let mut inputs = harbor_codegen::Inputs::from_dir(&dir()).unwrap();
    edit(&mut inputs);
    let err = harbor_codegen::generate(&inputs).expect_err(needle);
    assert!(err.to_string().contains(needle), "{err}");
}

#[test]
fn data_that_misses_a_tag_is_refused() {
    refused(
        |i| i.overrides = i.overrides.replace("    ping: system\n", ""),
        "tag `ping`",
    );
}

#[test]
fn data_naming_an_unknown_operation_is_refused() {
    refused(
        |i| i.overrides = i.overrides.replace("headProject:", "headProjects:"),
        "the data names `headProjects`",
    );
}

#[test]
fn a_closed_set_on_a_missing_field_is_refused() {
    refused(
        |i| {
            i.enums = i
                .enums
                .replace("WebhookLastTrigger.event_type", "WebhookLastTrigger.event")
        },
        "WebhookLastTrigger.event is not",
    );
}

#[test]
fn an_operation_without_a_release_is_refused() {
    refused(
        |i| i.since = i.since.replace("  getPermissions: 2.10.0\n", ""),
        "getPermissions has no release",
    );
}
