//! Shared harness of the Harbor API tests: Prism serving Harbor's own spec on loopback (the
//! guard, the spec path and the SKIP rule come from `harbor-testkit`).

#![allow(dead_code, unused_imports, unreachable_pub)]

pub mod calls;
pub mod recorder;

use std::path::PathBuf;

pub use harbor_testkit::{Prism, require_prism, require_spec, spec_path};

/// `None` (after printing a SKIP notice) when the tool is absent; panics instead when `CI=true`.
/// Prism also needs Harbor's spec, so asking for `prism` checks that first.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    if name == "prism" {
        return require_prism();
    }
    harbor_testkit::tool(name)
}
