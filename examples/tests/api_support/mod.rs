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

pub use harbor_testkit::{Prism, require_prism, require_spec, spec_path};
pub use proxy::{Answer, Proxy};
