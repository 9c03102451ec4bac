//! Prism serving Harbor's spec on loopback, shared by the API example tests: all of it comes
//! from `harbor-testkit`.

#![allow(dead_code, unused_imports, unreachable_pub)]

pub use harbor_testkit::{Prism, require_prism, require_spec, spec_path};
