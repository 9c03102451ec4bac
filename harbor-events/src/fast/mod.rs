//! The fast path of [`decode`](crate::decode): a strict, allocation-shy JSON reader that goes
//! from bytes to the wire types without serde's generic visitors.
//!
//! - [`reader`]: the JSON cursor, [`JsonReader`](reader::JsonReader), implementing the
//!   primitives of `harbor_types::wire::Reader`;
//! - the wire types read themselves with it: each one's declaration
//!   (`harbor_types::wire_struct!`) yields its member table, from the same lines as its
//!   struct, serialiser and serde reader, so the two readers cannot disagree on a name;
//! - this module reads the top level into `detect`'s `Collected`.
//!
//! `serde_json` driving the derived `Deserialize` impls costs about twice its own
//! skipping speed (the floor of the `webhook_decode` bench) even into borrowed `&str` fields
//! with no allocation at all: every member goes through the generic key, option and
//! identifier visitors. This reader goes straight from bytes to the typed values.
//!
//! It never has the last word. Whenever it meets anything it does not handle exactly as
//! the serde path would (an escaped member name, a duplicate member, a number that is not a
//! plain integer, a lone surrogate, nesting deeper than 96, trailing bytes, any error) it
//! gives up with `None`, and [`decode`](crate::decode) runs the serde path, which is the
//! reference: it decides every error and every odd case. So the only promise here is:
//! **when this returns `Some`, the value equals what the serde path returns** (checked by
//! the tests (`tests.rs`) over every fixture and edited fixtures, and by the differential fuzz
//! target `events_fast_path`). Format detection, data before its `type` and the raw data of
//! unknown types are not re-implemented: the top level fills `detect`'s own `Collected` and
//! goes through the same `assemble`.

mod reader;
#[cfg(test)]
mod tests;

use harbor_types::wire::time::{from_unix_secs, parse_rfc3339};
use harbor_types::wire::{Reader as _, WireValue};

use crate::detect::{Collected, DataModel, Slot};
use crate::wire::RawJson;
use crate::{Format, Payload, v1, v2};
use reader::JsonReader;

/// A data member read with the model `detect` chose, as its visitor reads it: `null` is
/// [`Slot::Null`] except for raw data, which keeps even `null` verbatim.
fn data_slot<'a>(r: &mut JsonReader<'a>, model: DataModel) -> Option<Slot<'a>> {
    if model == DataModel::Raw {
        return Some(Slot::Raw(r.raw_text()?));
    }
    if r.null()? {
        return Some(Slot::Null);
    }
    Some(match model {
        DataModel::V1 => Slot::V1(Box::new(v1::EventData::read(r)?)),
        DataModel::V2 => Slot::V2(Box::new(v2::EventData::read(r)?)),
        DataModel::Guess | DataModel::Raw => Slot::Guess(Box::new(v2::EventData::read(r)?)),
    })
}

/// The top-level object, collected exactly as `detect`'s speculative visitor collects it
/// (data met before its `type` read as 2.x data; data under a type this crate does not know
/// kept verbatim), then assembled by the same code.
pub(crate) fn payload<'a>(text: &'a str, hint: Option<Format>) -> Option<Payload<'a>> {
    let mut r = JsonReader::new(text);
    let mut c = Collected::<'a>::default();
    r.open(b'{')?;
    let mut first = true;
    while let Some(key) = r.member(&mut first)? {
        match key {
            "type" => {
                let text = r.string()?;
                c.type_known = crate::detect::known_type(&text);
                c.type_ = Some(text);
            }
            "occur_at" => c.occur_at = Some(from_unix_secs(r.i64()?)?),
            "operator" => c.operator = Some(r.string()?),
            "event_data" => {
                let model = c.event_data_model(hint, true);
                c.event_data = Some(data_slot(&mut r, model)?);
            }
            "specversion" => c.specversion = Some(r.string()?),
            "id" => c.id = Some(r.string()?),
            "source" => c.source = Some(r.string()?),
            "datacontenttype" => c.datacontenttype = Some(r.string()?),
            "time" => c.time = Some(parse_rfc3339(&r.string()?).ok()?),
            "requestid" => c.requestid = Some(r.string()?),
            "data" => {
                let model = c.data_model(true);
                c.data = Some(data_slot(&mut r, model)?);
            }
            "event_type" => c.event_type = Some(r.string()?),
            "events" => {
                c.events = Some(if r.null()? {
                    Slot::Null
                } else if c.events_documented(hint) {
                    Slot::Documented(Vec::read(&mut r)?)
                } else {
                    Slot::Distribution(Vec::read(&mut r)?)
                });
            }
            _ => {
                if c.extensions.len() < crate::detect::MAX_EXTENSIONS {
                    let value = RawJson::read(&mut r)?;
                    c.extensions.insert(key, value);
                } else {
                    r.skip()?;
                }
            }
        }
    }
    if !r.at_end() {
        return None;
    }
    crate::detect::assemble::<serde_json::Error>(c, hint).ok()
}
