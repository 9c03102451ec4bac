//! Test support shared by the integration tests of `harbor-auth`, `harbor-client`,
//! `harbor-events` and `harbor-examples`. Dev-only (`publish = false`); it depends on no
//! `harbor-*` library crate, so that it can be a dev-dependency of all of them without a cycle.
//!
//! What is here is what every harness needs the same way:
//!
//! - [`needs`]: the attribute that marks a test needing a real component; when it is absent
//!   the test shows as ignored with its reason (below).
//! - [`tool`]: an external program on `PATH`, the runtime guard behind [`needs`]: when it is
//!   absent the test prints `SKIP: NAME not on PATH` to stderr and returns, but under `CI=true`
//!   it fails with the install hint.
//! - [`free_port`]: a free loopback port.
//! - [`noise`]: deterministic pseudo-random bytes (the same `(len, seed)` always gives the same
//!   bytes, in every crate).
//! - [`Registry`]: a real `docker-registry` on a loopback port (of `127.0.0.1`, or another
//!   `127.x.y.z` standing for another host) with a configuration the caller extends (token
//!   auth, [`htpasswd_auth`], notifications), killed on drop.
//! - [`Prism`]: `prism mock --errors` serving Harbor's swagger ([`spec_path`]) on a loopback
//!   port, killed on drop; [`require_spec`] and [`require_prism`] are its runtime guards.
//! - [`NatsServer`]: a real `nats-server -js` on a loopback port with its store in a temporary
//!   directory, killed on drop.
//!
//! What depends on a `harbor-*` crate (images built with `harbor-client` types, keys and
//! certificates with `harbor-auth` types, token services) stays in each crate's own harness.
//!
//! A test harness fails by panicking, so the functions here panic (with a message that says what
//! went wrong) where a setup step fails; each says so under `# Panics`.
//!
//! # A test that needs a real component
//!
//! Such a test carries two lines of defence:
//!
//! ```no_run
//! #[harbor_testkit::needs("docker-registry", "skopeo")]
//! #[test]
//! fn skopeo_copies_what_we_push() {
//!     let Some(registry) = harbor_testkit::Registry::start("") else {
//!         return; // the runtime guard: SKIP outside CI, a failure under CI=true
//!     };
//!     let Some(_skopeo) = harbor_testkit::tool("skopeo") else {
//!         return;
//!     };
//!     println!("registry at {}", registry.url());
//! }
//! ```
//!
//! 1. [`needs`] decides at compile time. When a named tool is not on `PATH` (or, for the word
//!    `spec`, Harbor's swagger is not at [`spec_path`]) and `CI` is not `true`, the test is
//!    compiled as `#[ignore = "needs docker-registry, skopeo on PATH"]`, so `cargo test` counts
//!    it as ignored and prints why:
//!
//!    ```text
//!    test skopeo_copies_what_we_push ... ignored, needs skopeo on PATH
//!    test result: ok. 12 passed; 0 failed; 3 ignored; ...
//!    ```
//!
//!    `cargo test -- --include-ignored` runs it anyway (its guard then prints `SKIP`). Under
//!    `CI=true` nothing is ignored: the test runs, and fails if the tool is absent.
//! 2. The runtime guard ([`tool`], [`Registry::start`], [`require_prism`], [`require_spec`])
//!    stays in the test: it finds the path of the tool, and it is what fails under `CI=true`
//!    with the install hint. Keep the tool's name literally in both (`needs("skopeo")` and
//!    `tool("skopeo")`): CI's checks read the names in `tool` calls to see that `.ci/run` installs
//!    every tool a test asks for.
//!
//! Put `needs` above `#[test]` or `#[tokio::test]`. It names the tools the whole test needs,
//! also those a helper looks up for it.
//!
//! # A test that needs data from outside the repository
//!
//! `#[harbor_testkit::needs(path = "../shared/fixtures/harbor-webhooks")]` (relative to the
//! workspace root) ignores the test with the reason `../shared/fixtures/harbor-webhooks not
//! found` when the path is absent, **also under `CI=true`**: unlike a tool, such data is not
//! ours to install (a fresh clone lacks it, and it must never be copied into the repository),
//! so its absence is no failure. The test itself may assume the path is there. A path is
//! tracked both ways: present, every file under it is a file dependency (deleting it rebuilds
//! the test, which is then ignored); absent, a stamp dated in the future is, so `cargo`
//! rebuilds that test crate on every run until the path appears (stable Rust cannot make a
//! proc macro depend on a path that does not exist yet). Every test that drives a real
//! component carries `needs`: `testkit/tests/needs_on_every_component_test.rs` checks it.
//!
//! What is tracked: `needs` emits `option_env!("PATH")` and `option_env!("CI")` into the test
//! crate, so `cargo` rebuilds the test when `PATH` or `CI` differ from the last build (start
//! `cargo test` with a `PATH` that lacks a tool and the ignore appears; with it back, it goes).
//! The spec, when present, is a file dependency (deleting it rebuilds). What is *not* tracked:
//! a tool installed into, or removed from, a directory that is already on `PATH`, and the spec
//! appearing where it was absent, since neither changes any variable. After such a change run
//! `cargo clean -p CRATE` (e.g. `cargo clean -p harbor-client`), or `touch` the test file, so
//! that the attribute looks again; until then a test stays ignored after its tool was
//! installed, and one whose tool was removed runs into its runtime guard (`SKIP`, or a failure
//! under `CI=true`). A test binary run by hand, not by `cargo test`, keeps the decision of its
//! build, and one built from an environment with another `PATH` (an IDE's) makes the next
//! `cargo test` rebuild the test crates that use `needs` (their libraries are not rebuilt).
#![allow(clippy::panic, clippy::expect_used)]

mod lookup;
mod nats;
mod prism;
mod registry;

use std::path::PathBuf;

pub use harbor_testkit_macros::needs;
pub use nats::NatsServer;
pub use prism::{Prism, require_prism, require_spec, spec_path};
pub use registry::{Registry, htpasswd_auth};

/// Whether the environment variable `CI` is `true`: then a missing tool or spec fails the test
/// instead of skipping it, and [`needs`] ignores nothing.
pub fn ci() -> bool {
    lookup::is_ci()
}

/// Finds the executable `name` on `PATH`, without the SKIP rule (the lookup [`needs`] makes at
/// compile time).
pub fn which(name: &str) -> Option<PathBuf> {
    lookup::find_on_path(name)
}

/// The path of the external tool `name` on `PATH`: the runtime guard of a test marked
/// [`needs`]`("NAME")`. When it is absent: `None` after printing `SKIP: NAME not on PATH` to
/// stderr, so the test can return (it gets here only when run with `--include-ignored`, or when
/// the tool went away after the test was built).
///
/// # Panics
/// When the tool is absent and `CI=true` ([`ci`]): CI must not skip.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = which(name);
    if found.is_none() {
        if ci() {
            let package = match name {
                "prism" => "the npm package `@stoplight/prism-cli`".to_owned(),
                _ => format!("the Debian package `{name}`"),
            };
            panic!("{name} is not on PATH, and CI=true forbids skipping: install it ({package})");
        }
        eprintln!("SKIP: {name} not on PATH");
    }
    found
}

/// A free loopback port: bound on `127.0.0.1:0`, then released for the caller's server.
///
/// # Panics
/// When the loopback interface cannot be bound.
pub fn free_port() -> u16 {
    free_port_on(std::net::Ipv4Addr::LOCALHOST)
}

/// A free port on the loopback address `ip` (any `127.x.y.z` is loopback on Linux).
///
/// # Panics
/// When the address cannot be bound.
pub fn free_port_on(ip: std::net::Ipv4Addr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("bind a free port on {ip}: {e}"))
        .port()
}

/// The bytes of a fuzz reproducer kept beside a parser: the crate's
/// `tests/fixtures/fuzz-regressions/TARGET/NAME` (`crate_dir` is the crate's
/// `env!("CARGO_MANIFEST_DIR")`), which `fuzz/run.sh` also replays as part of TARGET's corpus.
///
/// # Panics
///
/// When the file cannot be read (a test helper).
pub fn fuzz_reproducer(crate_dir: &str, target: &str, name: &str) -> Vec<u8> {
    let path = format!("{crate_dir}/tests/fixtures/fuzz-regressions/{target}/{name}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `len` deterministic pseudo-random bytes (xorshift seeded by `seed`): data that does not
/// compress and is the same on every run.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
        | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // The top bits of the low 32 are well mixed; taking one byte of them is the point.
            #[allow(clippy::cast_possible_truncation)]
            let byte = (x >> 24) as u8;
            byte
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_deterministic_and_seed_dependent() {
        assert_eq!(noise(1000, 7), noise(1000, 7));
        assert_ne!(noise(1000, 7), noise(1000, 8));
        assert_eq!(noise(10, 1).len(), 10);
        // Golden bytes: the data every harness has produced so far (digests in tests depend on it).
        assert_eq!(noise(8, 1), [206, 49, 223, 26, 82, 199, 244, 199]);
        assert_eq!(noise(8, 42), [112, 237, 156, 182, 163, 92, 143, 50]);
        assert_eq!(noise(3, 42), noise(8, 42)[..3]);
    }

    #[test]
    fn free_port_is_bindable() {
        let port = free_port();
        assert_ne!(port, 0);
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
    }

    #[test]
    fn which_finds_sh_and_not_nonsense() {
        assert!(which("sh").is_some());
        assert!(which("harbor-testkit-no-such-tool").is_none());
    }
}
