#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// `Serialize` as the text `Display` writes, `Deserialize` through `parse` (a JSON string).
macro_rules! serde_as_text {
    ($ty:ty, $parse:expr) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <crate::wire::Text<'_> as serde::Deserialize<'de>>::deserialize(d)?;
                ($parse)(&*text).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// `FromStr`, `TryFrom<&str>` and serde as a JSON string, all through `parse`.
macro_rules! parsed_from_text {
    ($ty:ty, $parse:expr) => {
        impl std::str::FromStr for $ty {
            type Err = crate::Error;
            fn from_str(s: &str) -> crate::Result<Self> {
                ($parse)(s)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = crate::Error;
            fn try_from(s: &str) -> crate::Result<Self> {
                ($parse)(s)
            }
        }

        serde_as_text!($ty, $parse);
    };
}

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
pub use image::{DOCKER_HUB, DOCKER_HUB_API, ImageReference, Repository, api_host};
pub use name::{Reference, RepositoryName, Tag};
pub use severity::Severity;
pub use webhook::EventKind;
pub use wire::StrMap;
