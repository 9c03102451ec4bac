//! Building blocks the SDK's crates share to read and write Harbor's JSON. Not part of the
//! public API: nothing here is covered by semver, and it may change in any release.
//!
//! A wire type is declared once, with [`wire_struct!`](crate::wire_struct): its fields,
//! each with its JSON name and its [`field`] encoding. From that one declaration come the
//! struct, `into_owned`, the serde `Serialize`/`Deserialize` impls (the reference decode),
//! and [`WireValue::read`], which a fast JSON reader (any [`Reader`], such as
//! `harbor-events`' own) drives. A field cannot be in one and missing or misspelt in another.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, Serializer};

mod declare;
pub mod field;
mod strmap;
pub mod time;

#[doc(hidden)]
pub use serde as __serde;
pub use strmap::StrMap;

/// Converts a value that may borrow from a request body into one that borrows nothing.
pub trait IntoOwned {
    /// The `'static` form.
    type Owned;
    /// Copies what is borrowed.
    fn into_owned(self) -> Self::Owned;
}

impl IntoOwned for Cow<'_, str> {
    type Owned = Cow<'static, str>;
    #[inline]
    fn into_owned(self) -> Cow<'static, str> {
        Cow::Owned(Cow::into_owned(self))
    }
}

impl<T: IntoOwned> IntoOwned for Option<T> {
    type Owned = Option<T::Owned>;
    fn into_owned(self) -> Self::Owned {
        self.map(IntoOwned::into_owned)
    }
}

impl<T: IntoOwned> IntoOwned for Vec<T> {
    type Owned = Vec<T::Owned>;
    fn into_owned(self) -> Self::Owned {
        self.into_iter().map(IntoOwned::into_owned).collect()
    }
}

impl<T: IntoOwned> IntoOwned for Box<T> {
    type Owned = Box<T::Owned>;
    fn into_owned(self) -> Self::Owned {
        Box::new((*self).into_owned())
    }
}

/// `IntoOwned` for types that borrow nothing: the value itself.
#[macro_export]
#[doc(hidden)]
macro_rules! __identity_into_owned {
    ($($t:ty),* $(,)?) => {
        $(impl $crate::wire::IntoOwned for $t {
            type Owned = $t;
            #[inline]
            fn into_owned(self) -> Self::Owned {
                self
            }
        })*
    };
}

crate::__identity_into_owned!(
    i64,
    u64,
    bool,
    DateTime<Utc>,
    crate::Severity,
    crate::webhook::Format,
);

/// A JSON string that borrows from the input when it has no escapes, and owns its text
/// otherwise (serde's `#[serde(borrow)]` only borrows a `Cow<str>` that is directly a field).
#[derive(Debug)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Text<'_> {
    /// The text, owned.
    pub fn into_string(self) -> String {
        self.0.into_owned()
    }
}

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V(PhantomData))
    }
}

/// A JSON cursor a fast reader implements: the few primitives the wire types are read with.
///
/// Every method answers `None` to decline: the input is malformed, or not something the
/// reader handles exactly as serde would. The caller then decodes with serde (the
/// reference), so a reader only has to be right when it answers.
pub trait Reader<'a> {
    /// Consumes `null` and says so, or leaves any other value in place.
    fn null(&mut self) -> Option<bool>;
    /// A string value, borrowed from the input unless it has escapes.
    fn string(&mut self) -> Option<Cow<'a, str>>;
    /// A plain JSON integer that fits an `i64`.
    fn i64(&mut self) -> Option<i64>;
    /// A plain JSON integer that fits a `u64`.
    fn u64(&mut self) -> Option<u64>;
    /// `true` or `false`.
    fn bool(&mut self) -> Option<bool>;
    /// Skips any value, checked as strictly as serde_json checks it.
    fn skip(&mut self) -> Option<()>;
    /// The exact text of the next value (checked by skipping it).
    fn raw_text(&mut self) -> Option<&'a str>;
    /// Consumes the `{` or `[` that opens an object or an array.
    fn open(&mut self, c: u8) -> Option<()>;
    /// Whether another member or element follows in the object or array being read (its
    /// comma consumed), or its `close` byte (consumed: `false`).
    fn more(&mut self, close: u8, first: &mut bool) -> Option<bool>;
    /// The next member name of the object being read (and its colon), `Some(None)` at its
    /// `}`.
    fn member(&mut self, first: &mut bool) -> Option<Option<&'a str>>;
}

/// A value that can sit in a wire field: read by a fast [`Reader`], read by serde (owning
/// what it reads: serde cannot lend for any `'a`), and written as Harbor writes it.
pub trait WireValue<'a>: Sized {
    /// Reads the value, or declines with `None`.
    fn read<R: Reader<'a>>(r: &mut R) -> Option<Self>;
    /// Reads the value with serde.
    ///
    /// # Errors
    ///
    /// serde's error for anything that is not this value.
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
    /// Writes the value.
    ///
    /// # Errors
    ///
    /// The serializer's error.
    fn ser<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
}

/// Member-wise access to a wire struct, for containers that decide what they read from a
/// first member (Harbor 1.9's Clair overview).
pub trait WireMembers<'a>: Sized {
    /// The JSON names of the members, in declaration order.
    const MEMBERS: &'static [&'static str];
    /// Reads the member `key` into `self` (a later one replaces an earlier one); skips a
    /// member it does not know.
    fn read_member<R: Reader<'a>>(&mut self, key: &str, r: &mut R) -> Option<()>;
    /// As [`WireMembers::read_member`], with serde.
    ///
    /// # Errors
    ///
    /// serde's error for a member that is not what it should be.
    fn de_member<'de, A: de::MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<(), A::Error>;
}

/// Reads a [`WireValue`] with serde, as a seed.
#[derive(Debug)]
pub struct DeValue<T>(PhantomData<fn() -> T>);

impl<T> Clone for DeValue<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for DeValue<T> {}

impl<T> DeValue<T> {
    /// The seed.
    pub fn new() -> Self {
        DeValue(PhantomData)
    }
}

impl<T> Default for DeValue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'de, 'a, T: WireValue<'a>> DeserializeSeed<'de> for DeValue<T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        T::de(d)
    }
}

/// Writes a [`WireValue`] with serde.
#[derive(Debug)]
pub struct SerValue<'v, T>(pub &'v T);

impl<'a, T: WireValue<'a>> Serialize for SerValue<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.ser(s)
    }
}

impl<'a> WireValue<'a> for Cow<'a, str> {
    #[inline]
    fn read<R: Reader<'a>>(r: &mut R) -> Option<Self> {
        r.string()
    }
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Cow::Owned(Text::deserialize(d)?.into_string()))
    }
    fn ser<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

/// `WireValue` for a number or a boolean: serde's own impls, and the reader's primitive.
macro_rules! scalar_wire_value {
    ($($t:ty => $read:ident),* $(,)?) => {
        $(impl<'a> WireValue<'a> for $t {
            #[inline]
            fn read<R: Reader<'a>>(r: &mut R) -> Option<Self> {
                r.$read()
            }
            fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <$t>::deserialize(d)
            }
            fn ser<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.serialize(s)
            }
        })*
    };
}

scalar_wire_value!(i64 => i64, u64 => u64, bool => bool);

impl<'a, T: WireValue<'a>> WireValue<'a> for Box<T> {
    #[inline]
    fn read<R: Reader<'a>>(r: &mut R) -> Option<Self> {
        T::read(r).map(Box::new)
    }
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::de(d).map(Box::new)
    }
    fn ser<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).ser(s)
    }
}

/// A list: `null` reads as an empty list (Harbor writes Go's nil slice as `null`), and an
/// empty list is written as `null`, as Harbor writes it where it does not omit it.
impl<'a, T: WireValue<'a>> WireValue<'a> for Vec<T> {
    #[inline]
    fn read<R: Reader<'a>>(r: &mut R) -> Option<Self> {
        if r.null()? {
            return Some(Vec::new());
        }
        r.open(b'[')?;
        let mut out = Vec::new();
        let mut first = true;
        while r.more(b']', &mut first)? {
            out.push(T::read(r)?);
        }
        Some(out)
    }

    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<fn() -> T>);
        impl<'de, 'a, T: WireValue<'a>> Visitor<'de> for ListVisitor<T> {
            type Value = Vec<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
                Ok(Vec::new())
            }
            fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
                Ok(Vec::new())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
                d.deserialize_seq(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element_seed(DeValue::<T>::new())? {
                    out.push(item);
                }
                Ok(out)
            }
        }
        d.deserialize_option(ListVisitor(PhantomData))
    }

    fn ser<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_empty() {
            return s.serialize_none();
        }
        write_array(self, s)
    }
}

/// Writes a list as a JSON array, even when empty.
fn write_array<'a, T: WireValue<'a>, S: Serializer>(items: &[T], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(items.len()))?;
    for item in items {
        seq.serialize_element(&SerValue(item))?;
    }
    seq.end()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lists_read_null_as_empty_and_write_empty_as_null() {
        let v: Vec<u64> = Vec::<u64>::de(&mut serde_json::Deserializer::from_str("null")).unwrap();
        assert!(v.is_empty());
        let v: Vec<u64> = Vec::<u64>::de(&mut serde_json::Deserializer::from_str("[1,2]")).unwrap();
        assert_eq!(v, [1, 2]);
        assert_eq!(
            serde_json::to_string(&SerValue(&Vec::<u64>::new())).unwrap(),
            "null"
        );
        assert_eq!(
            serde_json::to_string(&SerValue(&vec![1u64])).unwrap(),
            "[1]"
        );
        assert!(Vec::<u64>::de(&mut serde_json::Deserializer::from_str("{}")).is_err());
    }
}
