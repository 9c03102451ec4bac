//! Prism in dynamic mode (`-d`, several seeds) generates random responses from the spec's
//! schemas; every typed method must decode them into our models.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_support;

use std::sync::OnceLock;

use harbor_client::Error;
use harbor_client::api::{HarborClient, OPERATIONS};

use api_support::{Prism, require_tool};

const SEEDS: [u32; 3] = [1, 7, 2024];

/// The least number of (operation, seed) calls whose generated answer must decode: every
/// operation for every seed but those Prism cannot answer and the one spec mismatch
/// (`getVulnerabilitiesAddition`). 600 of 609 today.
const MIN_DECODED: usize =
    (OPERATIONS.len() - api_support::PRISM_CANNOT_ANSWER.len() - 1) * SEEDS.len();

/// One Prism per seed, started together, shared by the tests of this binary.
fn prisms() -> Option<&'static [Prism]> {
    static PRISMS: OnceLock<Option<Vec<Prism>>> = OnceLock::new();
    PRISMS
        .get_or_init(|| {
            let prism = require_tool("prism")?;
            let handles: Vec<_> = SEEDS
                .iter()
                .map(|&seed| {
                    let prism = prism.clone();
                    std::thread::spawn(move || Prism::start(&prism, Some(seed)))
                })
                .collect();
            Some(
                handles
                    .into_iter()
                    .map(|h| h.join().expect("prism start"))
                    .collect(),
            )
        })
        .as_deref()
}

#[harbor_testkit::needs("prism", spec)]
#[test]
fn generated_responses_decode_into_our_models() {
    api_support::on_a_roomy_stack(decode_all);
}

async fn decode_all() {
    let Some(prisms) = prisms() else { return };
    let mut failures = Vec::new();
    let mut decoded = 0;
    let clients: Vec<HarborClient> = prisms
        .iter()
        .map(|prism| {
            HarborClient::builder_with_api_root(&prism.url)
                .build()
                .expect("client")
        })
        .collect();
    // The seeds' Prisms answer at the same time (each is one node process).
    let calls = clients.iter().map(api_support::calls::call_all);
    let results = futures_util::future::join_all(calls).await;
    for (seed, results) in SEEDS.iter().zip(results) {
        for (op, err) in results {
            match err {
                None => decoded += 1,
                // The spec's string vs real Harbor's object: see api_responses.rs.
                Some(Error::Decode { .. }) if op == "getVulnerabilitiesAddition" => {}
                // Responses Prism cannot serialise (a PEM file, a CSV body); any other 500
                // is a failure.
                Some(e) if api_support::is_prism_limit(op, &e) => {}
                Some(e) => failures.push(format!("seed {seed} {op}: {e}")),
            }
        }
    }
    eprintln!(
        "{decoded} generated responses decoded over {} seeds",
        SEEDS.len()
    );
    assert!(
        decoded >= MIN_DECODED,
        "only {decoded} generated responses decoded, fewer than {MIN_DECODED}"
    );
    assert!(
        failures.is_empty(),
        "{} calls failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
