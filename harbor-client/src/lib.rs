#![doc = include_str!("../README.md")]
//!
//! ## Modules
//!
//! - [`transport`]: the shared [`Transport`](transport::Transport) and its
//!   [`Request`](transport::Request), [`RetryPolicy`](transport::RetryPolicy), the
//!   [`Keychain`](transport::Keychain) that binds [`Credentials`](transport::Credentials) to
//!   their registry, and the per-registry [`Registries`](transport::Registries) settings.
//! - [`registry`]: [`RegistryClient`](registry::RegistryClient), names and references
//!   ([`ImageReference`](registry::ImageReference), [`Digest`](registry::Digest), ...), manifest types,
//!   [`OciLayout`](registry::OciLayout), [`UploadSession`](registry::UploadSession).
//!   With the `blocking` feature, `registry::blocking::RegistryClient` is the same client
//!   without `async` (blob downloads as `std::io::Read`, uploads from one).
//! - [`api`]: [`HarborClient`] for the Harbor REST API v2.0.
//!
//! Errors: one enum, [`Error`], with predicates such as [`Error::is_not_found`].
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod api;
#[cfg(feature = "blocking")]
mod blocking_runtime;
mod error;
pub mod registry;
pub mod transport;
mod types;

pub use api::HarborClient;
pub use error::{ApiError, Error, ErrorCode, ErrorEntry, Result};
