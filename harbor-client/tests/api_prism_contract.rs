//! Every typed method against Prism validating requests against Harbor's own spec.
//!
//! Prism (`prism mock --errors`) answers a request that breaks the spec (unknown path,
//! wrong method, missing or ill-typed parameter, bad body) with a 4xx and an
//! `sl-violations` header; every call must therefore succeed, and its answer (Prism's
//! example built from the spec) must decode into our models.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_support;

use harbor_client::api::{HarborClient, OPERATIONS};

use api_support::Prism;

fn prism() -> Option<&'static Prism> {
    api_support::shared_prism()
}

fn client(prism: &Prism) -> HarborClient {
    api_support::admin_client(prism)
}

#[harbor_testkit::needs("prism", spec)]
#[test]
fn every_typed_method_passes_prism_validation() {
    api_support::on_a_roomy_stack(check_every_typed_method);
}

async fn check_every_typed_method() {
    let Some(prism) = prism() else { return };
    let results = api_support::calls::call_all(&client(prism)).await;
    assert_eq!(
        results.len(),
        OPERATIONS.len(),
        "the contract test must call every operation of the table"
    );
    let mut failures = Vec::new();
    let mut prism_limits = 0;
    for (op, err) in &results {
        let Some(err) = err else { continue };
        if api_support::is_prism_limit(op, err) {
            prism_limits += 1;
            continue;
        }
        // The spec types this addition as a string; real Harbor sends an object keyed by
        // MIME type, which is what we decode (tested with our fixture in api_responses.rs).
        if *op == "getVulnerabilitiesAddition"
            && matches!(err, harbor_client::Error::Decode { .. })
            && err.to_string().contains("expected a map")
        {
            continue;
        }
        failures.push(format!("{op}: {err}"));
    }
    eprintln!(
        "{} operations called; {} answered by Prism, {} beyond Prism's serialisers",
        results.len(),
        results.len() - prism_limits,
        prism_limits
    );
    assert!(
        failures.is_empty(),
        "{} of {} calls failed against Prism (log {}):\n{}",
        failures.len(),
        results.len(),
        prism.log.display(),
        failures.join("\n")
    );
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn a_request_that_breaks_the_spec_is_refused_by_prism() {
    // Proves the harness can fail: a page size above Harbor's maximum of 100.
    let Some(prism) = prism() else { return };
    let err = client(prism)
        .list_projects(&harbor_client::api::ListProjectsParams::default().page_size(101))
        .await
        .expect_err("page_size=101 violates the spec");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(422), "{err}");
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn typed_paging_reads_total_count_from_prism() {
    let Some(prism) = prism() else { return };
    let page = client(prism)
        .list_projects(&Default::default())
        .await
        .expect("list projects");
    assert!(
        page.total.is_some(),
        "X-Total-Count is declared by the spec"
    );
    assert_eq!(page.page, 1);
}

#[harbor_testkit::needs("prism", spec)]
#[tokio::test]
async fn the_version_check_reads_systeminfo_as_the_spec_describes_it() {
    let Some(prism) = prism() else { return };
    let client = client(prism);
    // Prism answers `harbor_version` with the spec's placeholder, which is not a version:
    // the client then knows nothing and lets a newer operation go to the server.
    let version = client
        .server_version()
        .await
        .expect("systeminfo passes Prism's validation and decodes");
    assert_eq!(version, None);
    client
        .list_audit_log_exts(&Default::default())
        .await
        .expect("sent, since the server's version is unknown");
    let requests = prism.requests();
    assert!(
        requests.iter().any(|r| r == "GET /systeminfo"),
        "{requests:?}"
    );
    assert!(prism.violations().iter().all(|v| !v.contains("systeminfo")));
}
