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

/// `overrides` with `models.shared` and `models.field_types` entries added.
fn with_models_data(overrides: &str, entries: &str) -> String {
    overrides.replacen("models:\n", &format!("models:\n{entries}"), 1)
}

#[test]
fn a_shared_model_is_used_by_name_and_re_exported_not_generated() {
    let mut inputs = harbor_codegen::Inputs::from_dir(&dir()).unwrap();
    inputs.overrides = with_models_data(
        &inputs.overrides,
        "  shared:\n    CVEAllowlistItem: {use: \"harbor_types::AllowlistItem\", type: \"AllowlistItem<'static>\"}\n  field_types:\n    ProjectMetadata.severity: {use: \"harbor_types::Severity\", type: Severity}\n",
    );
    let files = harbor_codegen::generate(&inputs).unwrap();
    let models = |name: &str| {
        files
            .get(Path::new(&format!(
                "harbor-client/src/api/models/{name}.rs"
            )))
            .unwrap()
            .clone()
    };
    let project = models("project");
    assert!(
        !project.contains("pub struct CVEAllowlistItem"),
        "{project}"
    );
    assert!(project.contains("Vec<AllowlistItem<'static>>"), "{project}");
    assert!(
        project.contains("pub severity: Option<Severity>"),
        "{project}"
    );
    assert!(project.contains("use harbor_types::Severity;"), "{project}");
    assert!(
        models("mod").contains("pub use harbor_types::AllowlistItem;"),
        "{}",
        models("mod")
    );
}

#[test]
fn a_field_type_on_a_missing_property_is_refused() {
    refused(
        |i| {
            i.overrides = with_models_data(
                &i.overrides,
                "  field_types:\n    ProjectMetadata.severe: {use: \"harbor_types::Severity\", type: Severity}\n",
            )
        },
        "models.field_types names ProjectMetadata.severe",
    );
}
