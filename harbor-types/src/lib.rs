#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod digest;
mod error;
mod image;
mod name;
pub mod report;
mod severity;
pub mod webhook;
#[doc(hidden)]
pub mod wire;

pub use digest::{Digest, Hasher};
pub use error::{Error, Result, ValueKind};
pub use image::{DOCKER_HUB, DOCKER_HUB_API, ImageReference, Repository};
pub use name::{Reference, RepositoryName, Tag};
pub use severity::Severity;
pub use webhook::EventKind;
pub use wire::StrMap;
