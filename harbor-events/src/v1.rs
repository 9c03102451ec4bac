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
use serde::{Deserialize, Serialize};

use crate::owned::owned_struct;
use crate::report::ScanOverview;
use crate::v2::Repository;
use crate::wire::StrMap;
use crate::{EventKind, Format};

/// A Harbor 1.9 / 1.10 payload.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Payload<'a> {
    /// Event type text (`pushImage` …), kept verbatim; see [`Payload::kind`].
    #[serde(rename = "type")]
    pub event_type: Cow<'a, str>,
    /// When the event happened (Unix seconds on the wire).
    #[serde(with = "crate::wire::unix")]
    pub occur_at: DateTime<Utc>,
    /// Who caused it; `auto` for scans, `""` for anonymous pulls and `projectQuota`.
    pub operator: Cow<'a, str>,
    /// The event's data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_data: Option<Box<EventData<'a>>>,
}

owned_struct!(Payload {
    event_type,
    occur_at,
    operator,
    event_data
});

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

/// `event_data` of Harbor 1.x.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EventData<'a> {
    /// Affected images / chart versions; `None` when Harbor sent `null` (always written).
    #[serde(borrow)]
    pub resources: Option<Vec<Resource<'a>>>,
    /// The repository or chart.
    #[serde(borrow)]
    pub repository: Repository<'a>,
    /// 1.10 `projectQuota`: `{"Details": "<message>"}`.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub custom_attributes: Option<StrMap<'a, Cow<'a, str>>>,
}

owned_struct!(EventData {
    resources,
    repository,
    custom_attributes
});

/// An image or chart version of a 1.x event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Resource<'a> {
    /// Manifest digest (absent for chart events).
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub digest: Option<Cow<'a, str>>,
    /// Tag or chart version; always present, may be `""`.
    #[serde(borrow)]
    pub tag: Cow<'a, str>,
    /// `<host[:port]>/<project>/<repo>:<tag>`, or the chart URL.
    #[serde(
        borrow,
        deserialize_with = "crate::wire::opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_url: Option<Cow<'a, str>>,
    /// Scan events: 1.9 Clair overview or 1.10 report map.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub scan_overview: Option<ScanOverview<'a>>,
}

owned_struct!(Resource {
    digest,
    tag,
    resource_url,
    scan_overview
});
