//! Prism serving Harbor's spec on loopback, shared by the API example tests: all of it comes
//! from `harbor-testkit`; and a proxy in front of it ([`Proxy`]) for answers Prism's static
//! examples cannot give.

#![allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used
)]

mod proxy;

use std::sync::OnceLock;

pub use harbor_testkit::{Prism, require_prism, require_spec, spec_path};
pub use proxy::{Answer, Proxy};

/// Prism serving Harbor's spec, started once per test binary; `None` (after a skip notice)
/// when Prism is absent outside CI.
pub fn shared_prism() -> Option<&'static Prism> {
    static PRISM: OnceLock<Option<Prism>> = OnceLock::new();
    PRISM
        .get_or_init(|| require_prism().map(|p| Prism::start(&p, None)))
        .as_ref()
}

/// Asserts that every request Prism received matched Harbor's spec.
pub fn assert_clean(prism: &Prism) {
    assert!(prism.violations().is_empty(), "{:?}", prism.violations());
}
