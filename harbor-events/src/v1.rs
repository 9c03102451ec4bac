//! Harbor 1.9 / 1.10 format, as actually sent: `type` (camelCase: `pushImage` …),
//! `occur_at`, `operator`, `event_data`.
//!
//! Quirks kept faithfully: `resources` is `null` when empty (e.g. a pull by digest),
//! `tag` is always present and may be `""`, 1.9 scan events carry the Clair overview with an
//! integer severity ([`ScanOverview::Clair`]), 1.10 the
//! map of report summaries. `custom_attributes` (1.10) holds the `projectQuota` message.
//!
//! The 1.x `type` strings are the 1.x column of [`EventKind`]'s name table
//! ([`EventKind::name`] with [`Format::V1`], [`harbor_types::webhook::is_v1_type`]).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::report::ScanOverview;
use crate::v2::Repository;
use crate::wire::StrMap;
use crate::{EventKind, Format};

harbor_types::wire_struct! {
    @no_deserialize
    /// A Harbor 1.9 / 1.10 payload.
    #[derive(Clone, Debug, PartialEq)]
    #[non_exhaustive]
    pub struct Payload<'a> {
        /// Event type text (`pushImage` …), kept verbatim; see [`Payload::kind`].
        pub event_type: Cow<'a, str> = always("type"),
        /// When the event happened (Unix seconds on the wire).
        pub occur_at: DateTime<Utc> = unix_secs("occur_at"),
        /// Who caused it; `auto` for scans, `""` for anonymous pulls and `projectQuota`.
        pub operator: Cow<'a, str> = always("operator"),
        /// The event's data.
        pub event_data: Option<Box<EventData<'a>>> = omit_none("event_data"),
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
        crate::detect::deserialize_as(d, Format::V1).and_then(|p| match p {
            crate::Payload::V1(p) => Ok(p),
            _ => Err(serde::de::Error::custom("not a Harbor 1.x payload")),
        })
    }
}

harbor_types::wire_struct! {
    /// `event_data` of Harbor 1.x.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct EventData<'a> {
        /// Affected images / chart versions; empty when Harbor sent `null` (a pull by digest),
        /// written back as `null` when empty, as Harbor 1.x writes it.
        pub resources: Vec<Resource<'a>> = always("resources"),
        /// The repository or chart.
        pub repository: Repository<'a> = always("repository"),
        /// 1.10 `projectQuota`: `{"Details": "<message>"}`.
        pub custom_attributes: Option<StrMap<'a, Cow<'a, str>>> = omit_none("custom_attributes"),
    }
}

harbor_types::wire_struct! {
    /// An image or chart version of a 1.x event.
    #[derive(Clone, Debug, Default, PartialEq)]
    #[non_exhaustive]
    pub struct Resource<'a> {
        /// Manifest digest (absent for chart events).
        pub digest: Option<Cow<'a, str>> = omit_none("digest"),
        /// Tag or chart version; always present, may be `""`.
        pub tag: Cow<'a, str> = always("tag"),
        /// `<host[:port]>/<project>/<repo>:<tag>`, or the chart URL.
        pub resource_url: Option<Cow<'a, str>> = omit_none("resource_url"),
        /// Scan events: 1.9 Clair overview or 1.10 report map.
        pub scan_overview: Option<ScanOverview<'a>> = omit_none("scan_overview"),
    }
}
