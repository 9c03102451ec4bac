//! The `event_type` / `events[]` shape printed in the Harbor 1.9 / 1.10 docs.
//!
//! **Harbor never sent this.** It comes from the 2019 design proposal; Harbor 1.9 and 1.10
//! send the [`v1`](crate::v1) shape. It is decoded as its own, clearly labelled variant
//! ([`Format::V1Documented`]) because people and tools copy the
//! docs.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::owned::owned_struct;
use crate::{EventKind, Format};

/// A payload in the documented-only 1.x shape.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Payload<'a> {
    /// Type text in 1.x camelCase (`pushImage`).
    pub event_type: Cow<'a, str>,
    /// One entry per image.
    pub events: Vec<DocumentedEvent<'a>>,
}

owned_struct!(Payload { event_type, events });

impl<'a> Payload<'a> {
    /// The event kind of `event_type`.
    pub fn kind(&self) -> EventKind<'a> {
        EventKind::parse(self.event_type.clone())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Payload<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::detect::deserialize_as(d, Format::V1Documented).and_then(|p| match p {
            crate::Payload::V1Documented(p) => Ok(p),
            _ => Err(serde::de::Error::custom("not the documented 1.x shape")),
        })
    }
}

/// One entry of `events[]` in the documented-only shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct DocumentedEvent<'a> {
    /// Project name.
    #[serde(borrow)]
    pub project: Cow<'a, str>,
    /// Repository name without the project.
    #[serde(borrow)]
    pub repo_name: Cow<'a, str>,
    /// Tag.
    #[serde(borrow)]
    pub tag: Cow<'a, str>,
    /// `project/repo_name`.
    #[serde(borrow)]
    pub full_name: Cow<'a, str>,
    /// When it happened, read as Unix seconds.
    #[serde(with = "crate::wire::unix")]
    pub trigger_time: DateTime<Utc>,
    /// Image id (hex digest without the algorithm in the docs example).
    #[serde(borrow)]
    pub image_id: Cow<'a, str>,
    /// `Private` or `Public`.
    #[serde(borrow)]
    pub project_type: Cow<'a, str>,
}

owned_struct!(DocumentedEvent {
    project,
    repo_name,
    tag,
    full_name,
    trigger_time,
    image_id,
    project_type
});
