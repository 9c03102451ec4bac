//! Serde building blocks shared by the wire modules: borrowed strings, ordered string maps,
//! raw JSON, and Harbor's time encodings.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

use harbor_types::wire::IntoOwned;

/// A string that borrows from the input when it has no escapes (private helper: serde's
/// `#[serde(borrow)]` only borrows a `Cow<str>` that is directly a field).
pub(crate) struct BorrowCow<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for BorrowCow<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = BorrowCow<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(BorrowCow(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BorrowCow(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(BorrowCow(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V(PhantomData))
    }
}

/// `deserialize_with` for `Option<Cow<'a, str>>` that borrows (null and absent are `None`).
pub(crate) fn opt_cow<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    Ok(Option::<BorrowCow<'a>>::deserialize(deserializer)?.map(|b| b.0))
}

/// Absent (`None`), `null` (`Some(None)`) or a list of strings.
pub(crate) type NullableStrings<'a> = Option<Option<Vec<Cow<'a, str>>>>;

/// `deserialize_with` for a member that may be absent, `null` or a list of strings
/// (replication `references`: absent before 2.10, `null` in retention entries).
pub(crate) fn opt_nullable_strings<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<NullableStrings<'a>, D::Error> {
    let list = Option::<Vec<BorrowCow<'a>>>::deserialize(deserializer)?;
    Ok(Some(list.map(|l| l.into_iter().map(|b| b.0).collect())))
}

/// A JSON object with string keys, kept in wire order (a `Vec` of pairs: Harbor's maps have
/// a handful of entries, so a search beats hashing, and the order round-trips).
///
/// Equality ignores the order, as JSON objects do.
#[derive(Clone, Debug)]
pub struct StrMap<'a, V> {
    entries: Vec<(Cow<'a, str>, V)>,
}

impl<V: PartialEq> PartialEq for StrMap<'_, V> {
    fn eq(&self, other: &Self) -> bool {
        // The same entries, each as often, in any order (a repeated key counts each time).
        let count = |map: &Self, entry: &(Cow<'_, str>, V)| {
            map.entries.iter().filter(|e| *e == entry).count()
        };
        self.entries.len() == other.entries.len()
            && (self.entries == other.entries
                || self
                    .entries
                    .iter()
                    .all(|e| count(self, e) == count(other, e)))
    }
}

impl<V> Default for StrMap<'_, V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<'a, V> StrMap<'a, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`, if present (the first one if the JSON repeated the key).
    pub fn get(&self, key: &str) -> Option<&V> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v)
    }

    /// Sets `key` to `value`, replacing an existing entry in place or appending.
    pub fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: V) {
        let key = key.into();
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.entries.push((key, value));
        }
    }

    /// Appends an entry read from the wire (a repeated key is kept, as the `Deserialize`
    /// impl keeps it), sizing the first allocation as that impl does.
    pub(crate) fn push_parsed(&mut self, key: Cow<'a, str>, value: V) {
        if self.entries.capacity() == 0 {
            self.entries.reserve_exact(first_capacity::<V>());
        }
        self.entries.push((key, value));
    }

    /// The entries in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// The keys in wire order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_ref())
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<'a, K: Into<Cow<'a, str>>, V> FromIterator<(K, V)> for StrMap<'a, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = StrMap::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl<V: IntoOwned> IntoOwned for StrMap<'_, V> {
    type Owned = StrMap<'static, V::Owned>;
    fn into_owned(self) -> Self::Owned {
        StrMap {
            entries: self
                .entries
                .into_iter()
                .map(|(k, v)| (IntoOwned::into_owned(k), v.into_owned()))
                .collect(),
        }
    }
}

impl<V: Serialize> Serialize for StrMap<'_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

impl<'de: 'a, 'a, V: Deserialize<'de>> Deserialize<'de> for StrMap<'a, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<'a, V>(PhantomData<(&'a (), V)>);
        impl<'de: 'a, 'a, V: Deserialize<'de>> Visitor<'de> for MapVisitor<'a, V> {
            type Value = StrMap<'a, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                // JSON gives no size hint, and `Vec` starts at four entries. Harbor's maps of
                // large values (report summaries keyed by MIME type) nearly always have one
                // entry, its maps of small values (severity counts) up to seven: size the
                // first allocation to about 256 bytes (one to eight entries) instead, so a
                // webhook with many resources does not allocate four reports per resource.
                // An empty object allocates nothing.
                let first = access
                    .size_hint()
                    .unwrap_or_else(first_capacity::<V>)
                    .clamp(1, 16);
                let mut entries = Vec::new();
                while let Some(key) = access.next_key::<BorrowCow<'a>>()? {
                    let value = access.next_value::<V>()?;
                    if entries.capacity() == 0 {
                        entries.reserve_exact(first);
                    }
                    entries.push((key.0, value));
                }
                Ok(StrMap { entries })
            }
        }
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

/// The first allocation of a map read from JSON (which gives no size hint): about 256 bytes,
/// one to eight entries (see the `Deserialize` impl of [`StrMap`]).
fn first_capacity<V>() -> usize {
    (256 / size_of::<(Cow<'static, str>, V)>().max(1)).clamp(1, 8)
}

/// A JSON value kept as its exact text (borrowed from the body when possible).
///
/// The text is always one valid JSON value with no surrounding whitespace: it comes from a
/// parse, or from [`RawJson::from_text`], which checks it.
#[derive(Clone, Debug)]
pub struct RawJson<'a>(Cow<'a, str>);

impl RawJson<'_> {
    /// The JSON text, exactly as received.
    pub fn get(&self) -> &str {
        &self.0
    }

    /// Parses `text` as JSON and keeps it verbatim.
    ///
    /// # Errors
    ///
    /// [`Error::Encode`](crate::Error::Encode) when `text` is not valid JSON.
    pub fn from_text(text: impl Into<String>) -> crate::Result<RawJson<'static>> {
        RawValue::from_string(text.into())
            .map(|raw| RawJson(Cow::Owned(String::from(Box::<str>::from(raw)))))
            .map_err(crate::Error::Encode)
    }

    /// Copies the text if it is borrowed, giving a `'static` value.
    #[must_use]
    pub fn into_owned(self) -> RawJson<'static> {
        IntoOwned::into_owned(self)
    }

    /// Text the caller has checked to be exactly one JSON value.
    pub(crate) fn borrowed(checked: &str) -> RawJson<'_> {
        RawJson(Cow::Borrowed(checked))
    }

    /// Parses the JSON into a [`serde_json::Value`].
    ///
    /// # Errors
    ///
    /// Never in practice (the text was valid JSON when it was captured); the error type is
    /// kept for honesty.
    pub fn to_value(&self) -> crate::Result<serde_json::Value> {
        serde_json::from_str(self.get()).map_err(crate::Error::Encode)
    }
}

impl PartialEq for RawJson<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl IntoOwned for RawJson<'_> {
    type Owned = RawJson<'static>;
    fn into_owned(self) -> Self::Owned {
        RawJson(IntoOwned::into_owned(self.0))
    }
}

impl Serialize for RawJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Checked when it was made, so this parse does not fail; it lets serializers that
        // know raw values (serde_json's) write the text verbatim.
        let raw: &RawValue = serde_json::from_str(self.get()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawJson<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(deserializer).map(|raw| RawJson::borrowed(raw.get()))
    }
}

/// Unix seconds (`occur_at`, `date_created`, `execution_timestamp`) as `DateTime<Utc>`.
pub(crate) mod unix {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub(crate) fn from_secs<E: de::Error>(secs: i64) -> Result<DateTime<Utc>, E> {
        DateTime::from_timestamp(secs, 0).ok_or_else(|| {
            E::custom(format_args!(
                "Unix time {secs} is out of the supported range"
            ))
        })
    }

    pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(t.timestamp())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        from_secs(i64::deserialize(d)?)
    }

    pub(crate) mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        #[allow(clippy::ref_option)]
        pub(crate) fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_i64(t.timestamp()),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<i64>::deserialize(d)?
                .map(super::from_secs)
                .transpose()
        }
    }
}

/// RFC 3339 times as Go's `time.Time` writes them (`RFC3339Nano`: trailing zeros of the
/// fraction trimmed), normalised to UTC.
pub(crate) mod rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de};

    use super::BorrowCow;

    pub(crate) fn format(t: &DateTime<Utc>) -> String {
        use chrono::Timelike;
        let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
        let nanos = t.nanosecond() % 1_000_000_000;
        if nanos > 0 {
            let frac = format!("{nanos:09}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the form Harbor and the registry write, without
    /// chrono's general parser; anything else goes to chrono.
    fn parse_utc_fast(text: &str) -> Option<DateTime<Utc>> {
        let b = text.as_bytes();
        let num = |range: std::ops::Range<usize>| -> Option<u32> {
            let digits = b.get(range)?;
            digits.iter().try_fold(0u32, |acc, d| {
                d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
            })
        };
        let sep = |i: usize, c: u8| b.get(i).is_some_and(|x| *x == c);
        if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':'))
            || b.last() != Some(&b'Z')
        {
            return None;
        }
        let mut nanos = 0u32;
        let end = b.len() - 1;
        if end > 19 {
            if !sep(19, b'.') || end - 20 > 9 || end == 20 {
                return None;
            }
            nanos = num(20..end)? * 10u32.pow(u32::try_from(9 - (end - 20)).ok()?);
        } else if end != 19 {
            return None;
        }
        let date = chrono::NaiveDate::from_ymd_opt(
            i32::try_from(num(0..4)?).ok()?,
            num(5..7)?,
            num(8..10)?,
        )?;
        let time =
            chrono::NaiveTime::from_hms_nano_opt(num(11..13)?, num(14..16)?, num(17..19)?, nanos)?;
        Some(date.and_time(time).and_utc())
    }

    pub(crate) fn parse<E: de::Error>(text: &str) -> Result<DateTime<Utc>, E> {
        if let Some(t) = parse_utc_fast(text) {
            return Ok(t);
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| E::custom(format_args!("invalid RFC 3339 time {text:?}: {e}")))
    }

    pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        parse(&BorrowCow::deserialize(d)?.0)
    }

    pub(crate) mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        use super::super::BorrowCow;

        #[allow(clippy::ref_option)]
        pub(crate) fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::format(t)),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<BorrowCow<'_>>::deserialize(d)?
                .map(|t| super::parse(&t.0))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_written_as_go_writes_it() {
        for text in [
            "2023-04-03T06:12:47Z",
            "2021-05-03T22:10:30.632281Z",
            "2024-05-01T10:00:00.123456789Z",
            "2024-05-01T10:00:00.1Z",
            "0001-01-01T00:00:00Z",
        ] {
            let t = rfc3339::parse::<serde_json::Error>(text).unwrap();
            assert_eq!(rfc3339::format(&t), text);
        }
        for bad in [
            "2024-13-01T00:00:00Z",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T25:00:00Z",
        ] {
            assert!(rfc3339::parse::<serde_json::Error>(bad).is_err(), "{bad}");
        }
        let t = rfc3339::parse::<serde_json::Error>("2024-05-01T12:00:00.500+02:00").unwrap();
        assert_eq!(rfc3339::format(&t), "2024-05-01T10:00:00.5Z");
        assert!(rfc3339::parse::<serde_json::Error>("2024-05-01").is_err());
    }

    #[test]
    fn str_map_keeps_wire_order_and_replaces_in_place() {
        let mut map: StrMap<'_, u64> = [("b", 1), ("a", 2)].into_iter().collect();
        map.insert("b", 3);
        assert_eq!(map.iter().collect::<Vec<_>>(), [("b", &3), ("a", &2)]);
        let reordered: StrMap<'_, u64> = [("a", 2), ("b", 3)].into_iter().collect();
        assert_eq!(map, reordered);
        let different: StrMap<'_, u64> = [("a", 2), ("b", 4)].into_iter().collect();
        assert_ne!(map, different);
        // A repeated key (kept when read from JSON) counts each time, in any order.
        let twice: StrMap<'_, u64> = serde_json::from_str(r#"{"a":1,"a":2}"#).unwrap();
        let swapped: StrMap<'_, u64> = serde_json::from_str(r#"{"a":2,"a":1}"#).unwrap();
        let once: StrMap<'_, u64> = serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap();
        assert_eq!(twice, twice.clone());
        assert_eq!(twice, swapped);
        assert_ne!(twice, once);
        assert_eq!(serde_json::to_string(&map).unwrap(), r#"{"b":3,"a":2}"#);
        let back: StrMap<'_, u64> = serde_json::from_str(r#"{"z":1,"y":2}"#).unwrap();
        assert_eq!(back.keys().collect::<Vec<_>>(), ["z", "y"]);
        assert_eq!(
            (back.get("y"), back.get("x"), back.len()),
            (Some(&2), None, 2)
        );
    }

    #[test]
    fn raw_json_is_kept_verbatim_and_owned_on_demand() {
        let raw: RawJson<'_> = serde_json::from_str(r#" {"a": [1, 2]} "#).unwrap();
        assert_eq!(raw.get(), r#"{"a": [1, 2]}"#);
        let owned: RawJson<'static> = raw.clone().into_owned();
        assert_eq!(owned, raw);
        assert_eq!(serde_json::to_string(&owned).unwrap(), r#"{"a": [1, 2]}"#);
        assert!(RawJson::from_text("{").is_err());
    }
}
