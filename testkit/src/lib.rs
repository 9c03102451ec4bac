//! Test support shared by the integration tests of `harbor-auth`, `harbor-client` and
//! `harbor-examples`. Dev-only (`publish = false`); it depends on no `harbor-*` crate, so that
//! it can be a dev-dependency of all of them without a cycle.
//!
//! What is here is what every harness needs the same way:
//!
//! - [`tool`]: an external program on `PATH`, with the team's SKIP rule: when it is absent the
//!   test prints `SKIP: NAME not on PATH` to stderr and returns, but under `CI=true` it fails.
//! - [`free_port`]: a free loopback port.
//! - [`noise`]: deterministic pseudo-random bytes (the same `(len, seed)` always gives the same
//!   bytes, in every crate).
//! - [`Registry`]: a real `docker-registry` on a loopback port with a configuration the caller
//!   extends (token auth, notifications), killed on drop.
//! - [`Prism`]: `prism mock --errors` serving Harbor's swagger ([`spec_path`]) on a loopback
//!   port, killed on drop; [`require_spec`] and [`require_prism`] apply the SKIP rule to them.
//! - [`NatsServer`]: a real `nats-server -js` on a loopback port with its store in a temporary
//!   directory, killed on drop.
//!
//! What depends on a `harbor-*` crate (images built with `harbor-client` types, keys and
//! certificates with `harbor-auth` types, token services) stays in each crate's own harness.
//!
//! A test harness fails by panicking, so the functions here panic (with a message that says what
//! went wrong) where a setup step fails; each says so under `# Panics`.
//!
//! ```no_run
//! let Some(registry) = harbor_testkit::Registry::start("") else {
//!     return; // SKIP: docker-registry not on PATH
//! };
//! println!("registry at {}", registry.url());
//! ```
#![allow(clippy::panic, clippy::expect_used)]

mod nats;
mod prism;
mod registry;

use std::path::PathBuf;

pub use nats::NatsServer;
pub use prism::{Prism, require_prism, require_spec, spec_path};
pub use registry::Registry;

/// Whether the environment variable `CI` is `true`: then a missing tool or spec fails the test
/// instead of skipping it.
pub fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Finds the executable `name` on `PATH`, without the SKIP rule.
pub fn which(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The path of the external tool `name` on `PATH`. When it is absent: `None` after printing
/// `SKIP: NAME not on PATH` to stderr, so the test can return.
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
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port on 127.0.0.1")
        .port()
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
