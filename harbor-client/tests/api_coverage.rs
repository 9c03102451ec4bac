//! Which operations of Harbor's spec are typed, and whether the typed ones still match it.
//!
//! Prints `N/203 operations typed` and fails when a method's HTTP method, path or
//! parameters drift from the spec (e.g. after updating the spec copy).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use harbor_client::api::{OPERATIONS, TypedOperation};
use serde_norway::Value;

mod api_support;

#[derive(Debug, Clone, PartialEq, Eq)]
struct SpecOp {
    method: String,
    path: String,
    params: BTreeSet<String>,
}

fn spec_ops() -> Option<BTreeMap<String, SpecOp>> {
    let text = std::fs::read_to_string(api_support::require_spec()?).expect("read spec");
    let spec: Value = serde_norway::from_str(&text).expect("parse spec");
    let shared = &spec["parameters"];
    let mut ops = BTreeMap::new();
    let paths = spec["paths"].as_mapping().expect("paths");
    for (path, item) in paths {
        let path = path.as_str().expect("path").to_owned();
        for (method, op) in item.as_mapping().expect("path item") {
            let method = method.as_str().expect("method");
            if method == "parameters" {
                continue;
            }
            let mut params = BTreeSet::new();
            for p in op["parameters"].as_sequence().into_iter().flatten() {
                let p = match p["$ref"].as_str() {
                    Some(r) => &shared[r.rsplit('/').next().expect("ref name")],
                    None => p,
                };
                let name = p["name"].as_str().expect("param name");
                if name != "X-Request-Id" {
                    params.insert(format!("{}:{name}", p["in"].as_str().expect("in")));
                }
            }
            let id = op["operationId"].as_str().expect("operationId").to_owned();
            ops.insert(
                id,
                SpecOp {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    params,
                },
            );
        }
    }
    Some(ops)
}

/// Differences between the spec and the table, one line each.
fn drift(spec: &BTreeMap<String, SpecOp>, table: &[TypedOperation]) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for row in table {
        if !seen.insert(row.operation_id) {
            out.push(format!("{} is listed twice", row.operation_id));
        }
        let Some(op) = spec.get(row.operation_id) else {
            out.push(format!(
                "{} ({}) is not in the spec",
                row.operation_id, row.rust_method
            ));
            continue;
        };
        if op.method != row.method || op.path != row.path {
            out.push(format!(
                "{} ({}): table has {} {}, spec has {} {}",
                row.operation_id, row.rust_method, row.method, row.path, op.method, op.path
            ));
        }
        let params: BTreeSet<String> = row.params.iter().map(|s| (*s).to_owned()).collect();
        if params != op.params {
            out.push(format!(
                "{} ({}): parameters differ: missing {:?}, unknown {:?}",
                row.operation_id,
                row.rust_method,
                op.params.difference(&params).collect::<Vec<_>>(),
                params.difference(&op.params).collect::<Vec<_>>()
            ));
        }
    }
    out
}

#[harbor_testkit::needs(spec)]
#[test]
fn typed_operations_match_the_spec() {
    let Some(spec) = spec_ops() else { return };
    let problems = drift(&spec, OPERATIONS);
    assert!(
        problems.is_empty(),
        "drift from the spec:\n{}",
        problems.join("\n")
    );

    let typed: BTreeSet<&str> = OPERATIONS.iter().map(|o| o.operation_id).collect();
    let untyped: Vec<&String> = spec
        .keys()
        .filter(|k| !typed.contains(k.as_str()))
        .collect();
    println!("{}/{} operations typed", typed.len(), spec.len());
    if !untyped.is_empty() {
        println!("reachable through HarborClient::raw only: {untyped:?}");
    }
    assert_eq!(spec.len(), 203, "Harbor's spec holds 203 operations");
    assert!(
        typed.len() * 100 >= spec.len() * 80,
        "goal: at least 80 % typed"
    );
}

#[test]
fn rust_method_names_are_unique() {
    let mut seen = BTreeSet::new();
    for op in OPERATIONS {
        assert!(
            seen.insert(op.rust_method),
            "{} is used twice",
            op.rust_method
        );
    }
}

#[harbor_testkit::needs(spec)]
#[test]
fn drift_is_detected() {
    let Some(spec) = spec_ops() else { return };
    let row = OPERATIONS
        .iter()
        .find(|o| o.operation_id == "listArtifacts")
        .copied()
        .expect("listArtifacts is typed");
    let mut wrong_path = row;
    wrong_path.path = "/projects/{project_name}/repositories/{repository_name}/artifact";
    let mut missing_param = row;
    missing_param.params = &["path:project_name", "path:repository_name"];
    let mut wrong_method = row;
    wrong_method.method = "POST";
    for bad in [wrong_path, missing_param, wrong_method] {
        assert_eq!(drift(&spec, &[bad]).len(), 1, "{bad:?}");
    }
}

#[test]
fn operations_carry_the_release_that_added_them() {
    use harbor_client::api::HarborVersion;
    let since = |id: &str| {
        OPERATIONS
            .iter()
            .find(|o| o.operation_id == id)
            .map(|o| o.since)
            .expect("in the table")
    };
    // Checked against the release tags of goharbor/harbor (codegen/data/since.yaml).
    assert_eq!(since("getHealth"), HarborVersion::BASELINE);
    assert_eq!(since("stopScanArtifact"), HarborVersion::new(2, 4, 0));
    assert_eq!(since("getPermissions"), HarborVersion::new(2, 10, 0));
    assert_eq!(
        since("listArtifactsOfProject"),
        HarborVersion::new(2, 11, 1)
    );
    assert_eq!(since("listAuditLogExts"), HarborVersion::new(2, 13, 0));
    for op in OPERATIONS {
        assert!(
            op.since >= HarborVersion::BASELINE && op.since <= HarborVersion::new(2, 15, 2),
            "{}: {}",
            op.operation_id,
            op.since
        );
    }
}
