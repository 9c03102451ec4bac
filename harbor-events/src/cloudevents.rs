//! Harbor 2.8+ "CloudEvents" format: structured mode (`application/cloudevents+json`),
//! `harbor.*` types, `requestid` and `operator` extensions, `data` = the 2.x
//! [`event_data`](crate::v2::EventData).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use crate::owned::owned_struct;
use crate::v2::EventData;
use crate::wire::{RawJson, StrMap};
use crate::{EventKind, Format};

/// A CloudEvent as Harbor sends it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CloudEvent<'a> {
    /// `1.0`.
    pub specversion: Cow<'a, str>,
    /// Random UUID per delivery; **retries of one delivery resend the same id**: deduplicate on it.
    pub id: Cow<'a, str>,
    /// `/projects/<project_id>/webhook/policies/<policy_id>`.
    pub source: Cow<'a, str>,
    /// `harbor.artifact.pushed` …; see [`CloudEvent::kind`].
    pub event_type: Cow<'a, str>,
    /// `application/json`.
    pub datacontenttype: Option<Cow<'a, str>>,
    /// When the event happened (RFC 3339, second precision).
    pub time: DateTime<Utc>,
    /// The 2.x `event_data` object.
    pub data: Option<Box<EventData<'a>>>,
    /// Extension: `X-Request-Id` of the request that caused the event (`""` when none).
    pub requestid: Option<Cow<'a, str>>,
    /// Extension: who caused it (may be `""`).
    pub operator: Option<Cow<'a, str>>,
    /// Any other top-level member (other extensions), verbatim.
    pub extensions: StrMap<'a, RawJson<'a>>,
}

owned_struct!(CloudEvent {
    specversion,
    id,
    source,
    event_type,
    datacontenttype,
    time,
    data,
    requestid,
    operator,
    extensions
});

impl<'a> CloudEvent<'a> {
    /// The event kind of `type`.
    pub fn kind(&self) -> EventKind<'a> {
        EventKind::parse(self.event_type.clone())
    }

    /// Project id and webhook policy id from `source`
    /// (`/projects/<project_id>/webhook/policies/<policy_id>`).
    pub fn project_and_policy(&self) -> Option<(i64, i64)> {
        let rest = self.source.strip_prefix("/projects/")?;
        let (project, rest) = rest.split_once('/')?;
        let policy = rest.strip_prefix("webhook/policies/")?;
        Some((project.parse().ok()?, policy.parse().ok()?))
    }
}

impl Serialize for CloudEvent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("specversion", &self.specversion)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("source", &self.source)?;
        map.serialize_entry("type", &self.event_type)?;
        if let Some(ct) = &self.datacontenttype {
            map.serialize_entry("datacontenttype", ct)?;
        }
        map.serialize_entry("time", &Rfc3339(&self.time))?;
        if let Some(data) = &self.data {
            map.serialize_entry("data", data)?;
        }
        if let Some(r) = &self.requestid {
            map.serialize_entry("requestid", r)?;
        }
        if let Some(o) = &self.operator {
            map.serialize_entry("operator", o)?;
        }
        for (k, v) in self.extensions.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for CloudEvent<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::detect::deserialize_as(d, Format::CloudEvents).and_then(|p| match p {
            crate::Payload::CloudEvent(p) => Ok(p),
            _ => Err(serde::de::Error::custom("not a CloudEvent")),
        })
    }
}

/// A time written as RFC 3339 (an error for a year RFC 3339 cannot write).
struct Rfc3339<'a>(&'a chrono::DateTime<chrono::Utc>);

impl serde::Serialize for Rfc3339<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        harbor_types::wire::time::serialize_rfc3339(self.0, s)
    }
}
