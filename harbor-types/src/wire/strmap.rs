//! [`StrMap`]: a JSON object with string keys, in wire order.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::{IntoOwned, Reader, Text, WireValue};

/// A JSON object with string keys, kept in wire order (a `Vec` of pairs: Harbor's maps have
/// a handful of entries, so a search beats hashing, and the order round-trips).
///
/// Equality ignores the order, as JSON objects do. A key the JSON repeats is kept each time
/// (as the JSON said it); [`StrMap::get`] answers the first.
///
/// ```
/// use harbor_types::StrMap;
/// let mut counts: StrMap<'_, u64> = [("High", 1), ("Low", 2)].into_iter().collect();
/// counts.insert("High", 3);
/// assert_eq!(counts.iter().collect::<Vec<_>>(), [("High", &3), ("Low", &2)]);
/// ```
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

    /// Appends an entry read from the wire (a repeated key is kept), sizing the first
    /// allocation for Harbor's maps (see [`first_capacity`]).
    #[inline]
    fn push_parsed(&mut self, key: Cow<'a, str>, value: V) {
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

/// Reads a JSON object into a map, keys owned (serde cannot lend them for any `'a`), values
/// with the seed `S` (serde's own impl of the value, or its [`WireValue`] reading).
struct MapVisitor<'a, S>(S, PhantomData<&'a ()>);

impl<'de, 'a, S: DeserializeSeed<'de> + Copy> Visitor<'de> for MapVisitor<'a, S> {
    type Value = StrMap<'a, S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = StrMap::new();
        while let Some(key) = access.next_key::<Text<'de>>()? {
            let v = access.next_value_seed(self.0)?;
            map.push_parsed(Cow::Owned(key.into_string()), v);
        }
        Ok(map)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for StrMap<'_, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MapVisitor(PhantomData::<V>, PhantomData))
    }
}

impl<'a, V: WireValue<'a>> WireValue<'a> for StrMap<'a, V> {
    #[inline]
    fn read<R: Reader<'a>>(r: &mut R) -> Option<Self> {
        r.open(b'{')?;
        let mut map = StrMap::new();
        let mut first = true;
        while let Some(key) = r.member(&mut first)? {
            let v = V::read(r)?;
            map.push_parsed(Cow::Borrowed(key), v);
        }
        Some(map)
    }

    fn de<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MapVisitor(super::DeValue::<V>::new(), PhantomData))
    }

    fn ser<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k.as_ref(), &super::SerValue(v))?;
        }
        map.end()
    }
}

/// The first allocation of a map read from JSON (which gives no size hint): about 256 bytes,
/// one to eight entries. Harbor's maps of large values (report summaries keyed by MIME type)
/// nearly always have one entry, its maps of small values (severity counts) up to seven; a
/// `Vec`'s default of four would allocate four reports per resource. An empty object
/// allocates nothing.
fn first_capacity<V>() -> usize {
    (256 / size_of::<(Cow<'static, str>, V)>().max(1)).clamp(1, 8)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
}
