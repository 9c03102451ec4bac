#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod convert;
mod decode;
mod detect;
mod error;
mod event;
mod fast;
mod owned;
mod values;
mod wire;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
pub mod cloudevents;
pub mod distribution;
pub mod report;
pub mod v1;
pub mod v1_documented;
pub mod v2;

#[cfg(fuzzing)]
pub use decode::decode_both;
pub use decode::{
    CONTENT_TYPE_CLOUDEVENTS, CONTENT_TYPE_DISTRIBUTION, CONTENT_TYPE_JSON, DEFAULT_MAX_BODY_BYTES,
    Decoder, Payload, decode, is_empty_body,
};
pub use error::{Error, Result};
pub use event::{Artifact, Event};
pub use harbor_types::webhook::{EventKind, Format};
/// The shared vocabulary (defined in `harbor-types`).
pub use harbor_types::{
    Digest, ImageReference, Reference, Repository, RepositoryName, Severity, Tag, ValueKind,
};
pub use report::{ScanOverview, ScanSummary};
pub use wire::{RawJson, StrMap};
