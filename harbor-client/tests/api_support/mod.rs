//! Shared harness of the Harbor API tests: Prism serving Harbor's own spec on loopback (the
//! guard, the spec path and the SKIP rule come from `harbor-testkit`).

#![allow(dead_code, unused_imports, unreachable_pub)]

pub mod calls;
pub mod recorder;

use std::path::PathBuf;
use std::sync::OnceLock;

pub use harbor_testkit::{Prism, require_prism, require_spec, spec_path};

/// The operations whose answers Prism cannot serialise (a PEM file, a CSV body): it answers
/// them with a 500 of its own (`stoplight.io/prism/errors`, no validation violation). The
/// only 500s the Prism tests excuse.
pub const PRISM_CANNOT_ANSWER: &[&str] = &["getCert", "downloadScanData"];

/// Whether `err`, the answer to `op`, is Prism's own failure to serialise a response of one
/// of [`PRISM_CANNOT_ANSWER`].
pub fn is_prism_limit(op: &str, err: &harbor_client::Error) -> bool {
    let text = err.to_string();
    PRISM_CANNOT_ANSWER.contains(&op)
        && err.status().map(|s| s.as_u16()) == Some(500)
        && text.contains("stoplight.io/prism/errors")
        && !text.contains("sl-violations")
}

/// `None` (after printing a SKIP notice) when the tool is absent; panics instead when `CI=true`.
/// Prism also needs Harbor's spec, so asking for `prism` checks that first.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    if name == "prism" {
        return require_prism();
    }
    harbor_testkit::tool(name)
}

/// Runs `case` to its end on a thread of its own with a 16 MiB stack, on a current-thread
/// runtime; a panic in it is the caller's. For [`calls::call_all`], which awaits every
/// operation in one function: in a debug build its poll frame needs more than the 2 MiB of a
/// test thread (users call one operation at a time and never build such a frame).
pub fn on_a_roomy_stack<F>(case: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = ()>,
{
    let worker = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime")
                .block_on(case());
        })
        .expect("spawn the test thread");
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
}

/// One Prism per test binary (it takes a few seconds to start); `None` when it is absent.
pub fn shared_prism() -> Option<&'static Prism> {
    static PRISM: OnceLock<Option<Prism>> = OnceLock::new();
    PRISM
        .get_or_init(|| require_tool("prism").map(|p| Prism::start(&p, None)))
        .as_ref()
}

/// A client of `prism` as Harbor's default admin.
pub fn admin_client(prism: &Prism) -> harbor_client::HarborClient {
    harbor_client::HarborClient::builder_with_api_root(&prism.url)
        .credentials(harbor_client::transport::Credentials::basic(
            "admin",
            "Harbor12345",
        ))
        .build()
        .expect("a client of Prism")
}
