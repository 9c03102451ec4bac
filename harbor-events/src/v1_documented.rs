//! The `event_type` / `events[]` shape printed in the Harbor 1.9 / 1.10 docs.
//!
//! **Harbor never sent this.** It comes from the 2019 design proposal; Harbor 1.9 and 1.10
//! send the [`v1`](crate::v1) shape. It is decoded as its own, clearly labelled variant
//! ([`Format::V1Documented`]) because people and tools copy the
//! docs.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::{EventKind, Format};

harbor_types::wire_struct! {
    @no_deserialize
    /// A payload in the documented-only 1.x shape.
    #[derive(Clone, Debug, PartialEq)]
    #[non_exhaustive]
    pub struct Payload<'a> {
        /// Type text in 1.x camelCase (`pushImage`).
        pub event_type: Cow<'a, str> = always("event_type"),
        /// One entry per image.
        pub events: Vec<DocumentedEvent<'a>> = array("events"),
    }
}

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

harbor_types::wire_struct! {
    /// One entry of `events[]` in the documented-only shape.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct DocumentedEvent<'a> {
        /// Project name.
        pub project: Cow<'a, str> = always("project"),
        /// Repository name without the project.
        pub repo_name: Cow<'a, str> = always("repo_name"),
        /// Tag.
        pub tag: Cow<'a, str> = always("tag"),
        /// `project/repo_name`.
        pub full_name: Cow<'a, str> = always("full_name"),
        /// When it happened, read as Unix seconds.
        pub trigger_time: DateTime<Utc> = unix_secs("trigger_time"),
        /// Image id (hex digest without the algorithm in the docs example).
        pub image_id: Cow<'a, str> = always("image_id"),
        /// `Private` or `Public`.
        pub project_type: Cow<'a, str> = always("project_type"),
    }
}
