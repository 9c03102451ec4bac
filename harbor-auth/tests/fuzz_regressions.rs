//! Inputs the fuzz targets (`fuzz/`) once failed on, kept under
//! `tests/fixtures/fuzz-regressions/TARGET/` and replayed here in plain `cargo test` (the fuzz
//! step in CI replays them too, as part of each target's corpus).
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use harbor_auth::server::Htpasswd;

fn reproducer(target: &str, name: &str) -> Vec<u8> {
    harbor_testkit::fuzz_reproducer(env!("CARGO_MANIFEST_DIR"), target, name)
}

/// `auth_htpasswd` found that a line with bcrypt cost 24 made `Htpasswd::parse` hash its
/// timing dummy at cost 24 (about 20 minutes; cost 31 takes days): a hang on bad input. Such a
/// file is now refused, naming its first bad line (here a cut hash on line 2), before any
/// hashing; a well-formed hash of cost 18 or more is refused, naming its cost.
#[test]
fn htpasswd_with_a_bcrypt_cost_above_17_is_refused_before_hashing() {
    let text = String::from_utf8(reproducer("auth_htpasswd", "bcrypt-cost-24")).unwrap();
    let err = Htpasswd::parse(&text)
        .expect_err("a cost-24 line is refused")
        .to_string();
    assert!(err.contains("htpasswd line 2"), "{err}");
    for cost in [18, 31] {
        let line = format!("u:$2y${cost}${}", "a".repeat(53));
        let err = Htpasswd::parse(&line).expect_err("refused").to_string();
        assert!(
            err.contains(&format!("bcrypt cost {cost} is above 17")),
            "{err}"
        );
    }
}
