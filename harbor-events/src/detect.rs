//! One-pass decoding of any format: a single visitor over the top-level object that
//! recognises the members of every format and parses the data member straight into the
//! right typed model when the discriminating member came first (as Harbor writes it). When
//! the data comes first (sorted keys), [`decode`](crate::decode) guesses the 2.x model (which
//! also reads 1.x data) and decodes a second time, keeping the data raw until the end, only
//! if the guess fails (an unknown type, whose data must be kept verbatim).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use harbor_types::wire::Text;

use crate::wire::{RawJson, StrMap};
use crate::{EventKind, Format, Payload, cloudevents, distribution, v1, v1_documented, v2};
use harbor_types::webhook::is_v1_type;

pub(crate) enum Slot<'a> {
    Null,
    V1(Box<v1::EventData<'a>>),
    V2(Box<v2::EventData<'a>>),
    /// 2.x data parsed before the type was known (see `PayloadVisitor::speculate`).
    Guess(Box<v2::EventData<'a>>),
    Documented(Vec<v1_documented::DocumentedEvent<'a>>),
    Distribution(Vec<distribution::Event<'a>>),
    /// The exact text of the member (kept for a type this crate does not know).
    Raw(&'a str),
}

#[derive(Default)]
pub(crate) struct Collected<'a> {
    pub(crate) type_: Option<Cow<'a, str>>,
    pub(crate) type_known: bool,
    pub(crate) occur_at: Option<DateTime<Utc>>,
    pub(crate) operator: Option<Cow<'a, str>>,
    pub(crate) event_data: Option<Slot<'a>>,
    pub(crate) specversion: Option<Cow<'a, str>>,
    pub(crate) id: Option<Cow<'a, str>>,
    pub(crate) source: Option<Cow<'a, str>>,
    pub(crate) datacontenttype: Option<Cow<'a, str>>,
    pub(crate) time: Option<DateTime<Utc>>,
    pub(crate) data: Option<Slot<'a>>,
    pub(crate) requestid: Option<Cow<'a, str>>,
    pub(crate) event_type: Option<Cow<'a, str>>,
    pub(crate) events: Option<Slot<'a>>,
    pub(crate) extensions: StrMap<'a, RawJson<'a>>,
}

/// The model a data member is read with, decided from what came before it. Both readers
/// (this visitor and `fast`) ask here, so they decide alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DataModel {
    /// 1.x `event_data`.
    V1,
    /// 2.x data under a type this crate knows.
    V2,
    /// Before the type: read as 2.x data (which also reads 1.x data); `assemble` refuses the
    /// guess if the type turns out unknown.
    Guess,
    /// Kept as its exact text (a type this crate does not know; `null` too).
    Raw,
}

impl Collected<'_> {
    fn known_type_seen(&self) -> bool {
        self.type_.is_some() && self.type_known
    }

    /// How to read `event_data` here (`speculate`: guess 2.x when no type came yet).
    pub(crate) fn event_data_model(&self, hint: Option<Format>, speculate: bool) -> DataModel {
        let v1 = match (hint, &self.type_) {
            (Some(Format::V1), _) => Some(true),
            (Some(_), _) => Some(false),
            (None, Some(t)) => Some(is_v1_type(t)),
            (None, None) => None,
        };
        match v1 {
            Some(true) => DataModel::V1,
            Some(false) if self.known_type_seen() => DataModel::V2,
            None if speculate => DataModel::Guess,
            _ => DataModel::Raw,
        }
    }

    /// How to read CloudEvents `data` here (never [`DataModel::V1`]).
    pub(crate) fn data_model(&self, speculate: bool) -> DataModel {
        if self.known_type_seen() {
            DataModel::V2
        } else if speculate && self.type_.is_none() {
            DataModel::Guess
        } else {
            DataModel::Raw
        }
    }

    /// Whether `events` here is the documented 1.x shape (else registry events).
    pub(crate) fn events_documented(&self, hint: Option<Format>) -> bool {
        match hint {
            Some(Format::V1Documented) => true,
            Some(_) => false,
            None => self.event_type.is_some(),
        }
    }
}

/// Top-level members beyond the known ones that are kept (CloudEvents extensions).
pub(crate) const MAX_EXTENSIONS: usize = 64;

/// Whether a v2 / CloudEvents type text is one this crate models (so its data is parsed
/// strictly instead of being kept raw).
pub(crate) fn known_type(text: &str) -> bool {
    !EventKind::parse(text).is_unknown()
}

struct PayloadVisitor<'a> {
    hint: Option<Format>,
    /// Parse a data member that comes before `type` as 2.x data right away (a 2.x data
    /// model also reads 1.x data); [`assemble`] fails when that guess cannot stand (the type
    /// turns out unknown, so the raw JSON was needed) and the caller decodes again without.
    speculate: bool,
    marker: PhantomData<&'a ()>,
}

/// Data member seed: parses `null` as `Slot::Null`, otherwise with `T`.
struct NullOr<T>(PhantomData<T>);

impl<'de, T: de::Deserialize<'de>> DeserializeSeed<'de> for NullOr<T> {
    type Value = Option<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Option::<T>::deserialize(d)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for PayloadVisitor<'a> {
    type Value = Payload<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a webhook payload object (Harbor 1.x, 2.x, CloudEvents or registry notification)",
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let hint = self.hint;
        let speculate = self.speculate;
        let mut c = Collected::<'a>::default();
        while let Some(key) = map.next_key::<Text<'a>>()? {
            match key.0.as_ref() {
                "type" => {
                    let text = map.next_value::<Text<'a>>()?.0;
                    c.type_known = known_type(&text);
                    c.type_ = Some(text);
                }
                "occur_at" => {
                    c.occur_at = Some(harbor_types::wire::time::from_unix_secs_de(
                        map.next_value::<i64>()?,
                    )?);
                }
                "operator" => c.operator = Some(map.next_value::<Text<'a>>()?.0),
                "event_data" => {
                    c.event_data = Some(match c.event_data_model(hint, speculate) {
                        DataModel::V1 => opt_slot(
                            map.next_value_seed(NullOr::<v1::EventData<'a>>(PhantomData))?,
                            |d| Slot::V1(Box::new(d)),
                        ),
                        DataModel::V2 => opt_slot(
                            map.next_value_seed(NullOr::<v2::EventData<'a>>(PhantomData))?,
                            |d| Slot::V2(Box::new(d)),
                        ),
                        DataModel::Guess => opt_slot(
                            map.next_value_seed(NullOr::<v2::EventData<'a>>(PhantomData))?,
                            |d| Slot::Guess(Box::new(d)),
                        ),
                        DataModel::Raw => Slot::Raw(map.next_value::<&'a RawValue>()?.get()),
                    });
                }
                "specversion" => c.specversion = Some(map.next_value::<Text<'a>>()?.0),
                "id" => c.id = Some(map.next_value::<Text<'a>>()?.0),
                "source" => c.source = Some(map.next_value::<Text<'a>>()?.0),
                "datacontenttype" => c.datacontenttype = Some(map.next_value::<Text<'a>>()?.0),
                "time" => {
                    c.time = Some(harbor_types::wire::time::parse_rfc3339_de(
                        &map.next_value::<Text<'a>>()?,
                    )?);
                }
                "requestid" => c.requestid = Some(map.next_value::<Text<'a>>()?.0),
                "data" => {
                    c.data = Some(match c.data_model(speculate) {
                        DataModel::V2 | DataModel::V1 => opt_slot(
                            map.next_value_seed(NullOr::<v2::EventData<'a>>(PhantomData))?,
                            |d| Slot::V2(Box::new(d)),
                        ),
                        DataModel::Guess => opt_slot(
                            map.next_value_seed(NullOr::<v2::EventData<'a>>(PhantomData))?,
                            |d| Slot::Guess(Box::new(d)),
                        ),
                        DataModel::Raw => Slot::Raw(map.next_value::<&'a RawValue>()?.get()),
                    });
                }
                "event_type" => c.event_type = Some(map.next_value::<Text<'a>>()?.0),
                "events" => {
                    c.events = Some(if c.events_documented(hint) {
                        opt_slot(
                            map.next_value_seed(
                                NullOr::<Vec<v1_documented::DocumentedEvent<'a>>>(PhantomData),
                            )?,
                            Slot::Documented,
                        )
                    } else {
                        opt_slot(
                            map.next_value_seed(NullOr::<Vec<distribution::Event<'a>>>(
                                PhantomData,
                            ))?,
                            Slot::Distribution,
                        )
                    });
                }
                _ => {
                    if c.extensions.len() < MAX_EXTENSIONS {
                        c.extensions.insert(key.0, map.next_value::<RawJson<'a>>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
        }
        assemble(c, hint)
    }
}

fn opt_slot<'a, T>(value: Option<T>, f: impl FnOnce(T) -> Slot<'a>) -> Slot<'a> {
    value.map_or(Slot::Null, f)
}

fn detect(c: &Collected<'_>) -> Option<Format> {
    if c.specversion.is_some() {
        Some(Format::CloudEvents)
    } else if c.event_type.is_some() && c.events.is_some() {
        Some(Format::V1Documented)
    } else if let Some(t) = &c.type_ {
        Some(if is_v1_type(t) {
            Format::V1
        } else {
            Format::V2
        })
    } else if c.events.is_some() {
        Some(Format::Distribution)
    } else {
        None
    }
}

/// Parses raw JSON captured earlier, with the JSON path of any error in the message.
fn parse_raw<'a, T: de::Deserialize<'a>, E: de::Error>(raw: &'a str, member: &str) -> Result<T, E> {
    if let Ok(value) = serde_json::from_str(raw) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_str(raw);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            E::custom(format_args!("{member}: {inner}"))
        } else {
            E::custom(format_args!("{member}.{path}: {inner}"))
        }
    })
}

fn v2_data<'a, E: de::Error>(
    slot: Option<Slot<'a>>,
    known: bool,
    member: &str,
) -> Result<Option<Box<v2::EventData<'a>>>, E> {
    Ok(match slot {
        None | Some(Slot::Null) => None,
        Some(Slot::V2(d)) => Some(d),
        Some(Slot::Guess(d)) if known => Some(d),
        Some(Slot::Guess(_)) => {
            return Err(E::custom(format_args!(
                "{member}: came before an unknown type and was not kept raw"
            )));
        }
        Some(Slot::Raw(raw)) if known => Some(Box::new(parse_raw(raw, member)?)),
        Some(Slot::Raw(raw)) => {
            // Unknown type: keep the exact JSON, fill typed members as far as they match.
            let mut data = serde_json::from_str::<v2::EventData<'a>>(raw).unwrap_or_default();
            data.raw = Some(RawJson::borrowed(raw));
            Some(Box::new(data))
        }
        Some(_) => return Err(E::custom(format_args!("{member}: unexpected shape"))),
    })
}

/// 1.x data read with the 2.x model (a superset) turned back into the 1.x model.
fn v1_from_v2(d: v2::EventData<'_>) -> v1::EventData<'_> {
    v1::EventData {
        resources: d
            .resources
            .into_iter()
            .map(|r| v1::Resource {
                digest: r.digest,
                tag: r.tag.unwrap_or_default(),
                resource_url: r.resource_url,
                scan_overview: r.scan_overview,
            })
            .collect(),
        repository: d.repository.unwrap_or_default(),
        custom_attributes: d.custom_attributes,
    }
}

fn missing<E: de::Error>(format: Format, field: &'static str) -> E {
    E::custom(format_args!(
        "missing field `{field}` (required by the {format} format)"
    ))
}

pub(crate) fn assemble<'a, E: de::Error>(
    c: Collected<'a>,
    hint: Option<Format>,
) -> Result<Payload<'a>, E> {
    let Some(format) = hint.or_else(|| detect(&c)) else {
        return Err(E::custom(
            "unrecognised payload: expected `type` (Harbor 1.x/2.x), `specversion` (CloudEvents), \
             `event_type` with `events` (documented 1.x shape) or `events` (registry notification)",
        ));
    };
    match format {
        Format::V1 => {
            let event_type = c.type_.ok_or_else(|| missing(format, "type"))?;
            let event_data = match c.event_data {
                None | Some(Slot::Null) => None,
                Some(Slot::V1(d)) => Some(d),
                Some(Slot::Guess(d)) => Some(Box::new(v1_from_v2(*d))),
                Some(Slot::Raw(raw)) => Some(Box::new(parse_raw(raw, "event_data")?)),
                Some(_) => return Err(E::custom("event_data: unexpected shape")),
            };
            Ok(Payload::V1(v1::Payload {
                event_type,
                occur_at: c.occur_at.ok_or_else(|| missing(format, "occur_at"))?,
                operator: c.operator.unwrap_or_default(),
                event_data,
            }))
        }
        Format::V2 => {
            let event_type = c.type_.ok_or_else(|| missing(format, "type"))?;
            let known = c.type_known;
            Ok(Payload::V2(v2::Payload {
                occur_at: c.occur_at.ok_or_else(|| missing(format, "occur_at"))?,
                operator: c.operator.unwrap_or_default(),
                event_data: v2_data(c.event_data, known, "event_data")?,
                event_type,
            }))
        }
        Format::CloudEvents => {
            let event_type = c.type_.ok_or_else(|| missing(format, "type"))?;
            let known = c.type_known;
            Ok(Payload::CloudEvent(cloudevents::CloudEvent {
                specversion: c
                    .specversion
                    .ok_or_else(|| missing(format, "specversion"))?,
                id: c.id.ok_or_else(|| missing(format, "id"))?,
                source: c.source.ok_or_else(|| missing(format, "source"))?,
                datacontenttype: c.datacontenttype,
                time: c.time.ok_or_else(|| missing(format, "time"))?,
                data: v2_data(c.data, known, "data")?,
                requestid: c.requestid,
                operator: c.operator,
                extensions: c.extensions,
                event_type,
            }))
        }
        Format::V1Documented => {
            let events = match c.events {
                None | Some(Slot::Null) => Vec::new(),
                Some(Slot::Documented(e)) => e,
                Some(Slot::Raw(raw)) => parse_raw(raw, "events")?,
                Some(_) => {
                    return Err(E::custom(
                        "events: the documented 1.x shape needs `event_type` before `events`",
                    ));
                }
            };
            Ok(Payload::V1Documented(v1_documented::Payload {
                event_type: c.event_type.ok_or_else(|| missing(format, "event_type"))?,
                events,
            }))
        }
        Format::Distribution => {
            let events = match c.events {
                None => return Err(missing(format, "events")),
                Some(Slot::Null) => Vec::new(),
                Some(Slot::Distribution(e)) => e,
                Some(Slot::Raw(raw)) => parse_raw(raw, "events")?,
                Some(_) => return Err(E::custom("events: unexpected shape")),
            };
            Ok(Payload::Distribution(distribution::Envelope { events }))
        }
        // `Format` is shared (harbor-types) and open to new formats: one this crate does
        // not decode yet is an error, never a guess.
        _ => Err(E::custom(format_args!(
            "the {format} format is not supported by this version of harbor-events"
        ))),
    }
}

/// Deserializes any format (`hint` = `None`) or the given one.
pub(crate) fn deserialize_any<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
    hint: Option<Format>,
) -> Result<Payload<'a>, D::Error> {
    d.deserialize_map(PayloadVisitor {
        hint,
        speculate: false,
        marker: PhantomData,
    })
}

/// As [`deserialize_any`], parsing data that comes before `type` right away (one pass for
/// payloads with sorted keys). May fail where [`deserialize_any`] succeeds (an unknown type
/// after its data): decode again with [`deserialize_any`] on failure.
pub(crate) fn deserialize_speculative<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
    hint: Option<Format>,
) -> Result<Payload<'a>, D::Error> {
    d.deserialize_map(PayloadVisitor {
        hint,
        speculate: true,
        marker: PhantomData,
    })
}

/// Deserializes the given format.
pub(crate) fn deserialize_as<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
    format: Format,
) -> Result<Payload<'a>, D::Error> {
    deserialize_any(d, Some(format))
}
