//! How a wire field is read and written: each encoding a marker type, named for what it
//! does, implementing [`Field`] (serde) and [`ReadField`] (a fast [`Reader`]).
//!
//! | encoding | type | reads | writes |
//! | --- | --- | --- | --- |
//! | [`always`] | any [`WireValue`] | the value (`null` only for a list: empty) | always |
//! | [`omit_none`] | `Option<T>` | `null` or absent: `None` | omitted when `None` |
//! | [`null_none`] | `Option<T>` | `null` or absent: `None` | `null` when `None` |
//! | [`if_present`] | `Option<T>` | absent: `None`; present, even `null`: `Some` | omitted when `None` |
//! | [`omit_empty`] | `Vec<T>` | `null` or absent: empty | omitted when empty |
//! | [`array`](struct@array) | `Vec<T>` | `null` or absent: empty | always an array |
//! | [`unix_secs`], [`unix_secs_omit_none`] | `DateTime<Utc>` (or `Option`) | Unix seconds | Unix seconds |
//! | [`rfc3339`], [`rfc3339_omit_none`] | `DateTime<Utc>` (or `Option`) | RFC 3339 | as Go writes it |
//! | [`severity_or_empty`] | `Option<Severity>` | `""` or `null`: `None` | `""` when `None` |
//!
//! Absent members take the field's `Default` (unless the declaration marks them
//! `required`); a member given twice is an error; unknown members are skipped.
#![allow(non_camel_case_types)]

use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, Visitor};
use serde::ser::Serializer;

use super::time::{
    from_unix_secs, from_unix_secs_de, parse_rfc3339, parse_rfc3339_de, serialize_rfc3339,
};
use super::{Reader, Text, WireValue};
use crate::Severity;

/// How a field of type `T` is read and written by serde.
pub trait Field<T> {
    /// Reads the field.
    ///
    /// # Errors
    ///
    /// serde's error for a value that is not what the field holds.
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<T, D::Error>;
    /// Writes the field.
    ///
    /// # Errors
    ///
    /// The serializer's error.
    fn ser<S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error>;
    /// Whether the member is left out when writing.
    fn omit(_v: &T) -> bool {
        false
    }
}

/// How a field of type `T` is read by a fast [`Reader`].
pub trait ReadField<'a, T> {
    /// Reads the field, or declines with `None`.
    fn read<R: Reader<'a>>(r: &mut R) -> Option<T>;
}

/// Reads a field with encoding `P`, as a serde seed.
#[derive(Debug)]
pub struct De<P, T>(PhantomData<fn() -> (P, T)>);

impl<P, T> De<P, T> {
    /// The seed.
    pub fn new() -> Self {
        De(PhantomData)
    }
}

impl<P, T> Default for De<P, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'de, P: Field<T>, T> DeserializeSeed<'de> for De<P, T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        P::de(d)
    }
}

/// Writes a field with encoding `P`.
#[derive(Debug)]
pub struct Ser<'v, P, T>(pub &'v T, pub PhantomData<P>);

impl<'v, P, T> Ser<'v, P, T> {
    /// The field's value, to write.
    pub fn new(value: &'v T) -> Self {
        Ser(value, PhantomData)
    }
}

impl<P: Field<T>, T> serde::Serialize for Ser<'_, P, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        P::ser(self.0, s)
    }
}

/// `null` as `None`, anything else with `seed`.
fn de_option<'de, D: Deserializer<'de>, T>(
    d: D,
    seed: impl DeserializeSeed<'de, Value = T>,
) -> Result<Option<T>, D::Error> {
    struct OptionVisitor<S>(S);
    impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for OptionVisitor<S> {
        type Value = Option<S::Value>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a value or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            self.0.deserialize(d).map(Some)
        }
    }
    d.deserialize_option(OptionVisitor(seed))
}

/// `null` as `None`, anything else with `T`.
#[inline]
fn read_option<'a, R: Reader<'a>, T>(
    r: &mut R,
    value: impl FnOnce(&mut R) -> Option<T>,
) -> Option<Option<T>> {
    if r.null()? {
        Some(None)
    } else {
        value(r).map(Some)
    }
}

/// The value itself, always written (`null` is invalid, except for a list: empty).
#[derive(Debug)]
pub struct always;

impl<'a, T: WireValue<'a>> Field<T> for always {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        T::de(d)
    }
    fn ser<S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        v.ser(s)
    }
}

impl<'a, T: WireValue<'a>> ReadField<'a, T> for always {
    #[inline]
    fn read<R: Reader<'a>>(r: &mut R) -> Option<T> {
        T::read(r)
    }
}

/// An optional value read and written with `P`: `null` or absent is `None`, left out when
/// `None` (Go's `omitempty`).
#[derive(Debug)]
pub struct omit_none_with<P>(PhantomData<P>);

/// An optional value: `null` or absent is `None`, left out when `None`.
pub type omit_none = omit_none_with<always>;
/// An optional time as Unix seconds: `null` or absent is `None`, left out when `None`.
pub type unix_secs_omit_none = omit_none_with<unix_secs>;
/// An optional RFC 3339 time: `null` or absent is `None`, left out when `None`.
pub type rfc3339_omit_none = omit_none_with<rfc3339>;

impl<P: Field<T>, T> Field<Option<T>> for omit_none_with<P> {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        de_option(d, De::<P, T>::new())
    }
    fn ser<S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => P::ser(v, s),
            None => s.serialize_none(),
        }
    }
    fn omit(v: &Option<T>) -> bool {
        v.is_none()
    }
}

impl<'a, P: ReadField<'a, T>, T> ReadField<'a, Option<T>> for omit_none_with<P> {
    #[inline]
    fn read<R: Reader<'a>>(r: &mut R) -> Option<Option<T>> {
        read_option(r, P::read)
    }
}

/// An optional value: `null` or absent is `None`, written as `null` when `None`.
#[derive(Debug)]
pub struct null_none;

impl<'a, T: WireValue<'a>> Field<Option<T>> for null_none {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        <omit_none as Field<Option<T>>>::de(d)
    }
    fn ser<S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        <omit_none as Field<Option<T>>>::ser(v, s)
    }
}

impl<'a, T: WireValue<'a>> ReadField<'a, Option<T>> for null_none {
    #[inline]
    fn read<R: Reader<'a>>(r: &mut R) -> Option<Option<T>> {
        read_option(r, T::read)
    }
}

/// A member some versions do not send: absent is `None`, present (even `null`) is `Some`
/// (a `null` list is an empty one), left out when `None`.
#[derive(Debug)]
pub struct if_present;

impl<'a, T: WireValue<'a>> Field<Option<T>> for if_present {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        T::de(d).map(Some)
    }
    fn ser<S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        <omit_none as Field<Option<T>>>::ser(v, s)
    }
    fn omit(v: &Option<T>) -> bool {
        v.is_none()
    }
}

impl<'a, T: WireValue<'a>> ReadField<'a, Option<T>> for if_present {
    #[inline]
    fn read<R: Reader<'a>>(r: &mut R) -> Option<Option<T>> {
        T::read(r).map(Some)
    }
}

/// A list: `null` or absent is empty, left out when empty (Go's `omitempty`).
#[derive(Debug)]
pub struct omit_empty;

impl<'a, T: WireValue<'a>> Field<Vec<T>> for omit_empty {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        Vec::<T>::de(d)
    }
    fn ser<S: Serializer>(v: &Vec<T>, s: S) -> Result<S::Ok, S::Error> {
        super::write_array(v, s)
    }
    fn omit(v: &Vec<T>) -> bool {
        v.is_empty()
    }
}

impl<'a, T: WireValue<'a>> ReadField<'a, Vec<T>> for omit_empty {
    #[inline]
    fn read<R: Reader<'a>>(r: &mut R) -> Option<Vec<T>> {
        Vec::<T>::read(r)
    }
}

/// A list: `null` or absent is empty, always written as an array (`[]` when empty).
#[derive(Debug)]
pub struct array;

impl<'a, T: WireValue<'a>> Field<Vec<T>> for array {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        Vec::<T>::de(d)
    }
    fn ser<S: Serializer>(v: &Vec<T>, s: S) -> Result<S::Ok, S::Error> {
        super::write_array(v, s)
    }
}

impl<'a, T: WireValue<'a>> ReadField<'a, Vec<T>> for array {
    #[inline]
    fn read<R: Reader<'a>>(r: &mut R) -> Option<Vec<T>> {
        Vec::<T>::read(r)
    }
}

/// A time as Unix seconds.
#[derive(Debug)]
pub struct unix_secs;

impl Field<DateTime<Utc>> for unix_secs {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        from_unix_secs_de(i64::deserialize(d)?)
    }
    fn ser<S: Serializer>(v: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(v.timestamp())
    }
}

impl<'a> ReadField<'a, DateTime<Utc>> for unix_secs {
    #[inline]
    fn read<R: Reader<'a>>(r: &mut R) -> Option<DateTime<Utc>> {
        from_unix_secs(r.i64()?)
    }
}

/// A time as RFC 3339, written as Go's `time.Time` writes it.
#[derive(Debug)]
pub struct rfc3339;

impl Field<DateTime<Utc>> for rfc3339 {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        parse_rfc3339_de(&Text::deserialize(d)?)
    }
    fn ser<S: Serializer>(v: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        serialize_rfc3339(v, s)
    }
}

impl<'a> ReadField<'a, DateTime<Utc>> for rfc3339 {
    #[inline]
    fn read<R: Reader<'a>>(r: &mut R) -> Option<DateTime<Utc>> {
        parse_rfc3339(&r.string()?).ok()
    }
}

/// An overall severity where `""` (no report: a failed or stopped scan) and `null` are
/// `None`; `None` is written as `""`, as Harbor writes it.
#[derive(Debug)]
pub struct severity_or_empty;

impl Field<Option<Severity>> for severity_or_empty {
    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Severity>, D::Error> {
        Ok(Option::<Text<'de>>::deserialize(d)?
            .filter(|t| !t.is_empty())
            .map(|t| Severity::from_text(&t)))
    }
    fn ser<S: Serializer>(v: &Option<Severity>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_ref().map_or("", Severity::as_str))
    }
}

impl<'a> ReadField<'a, Option<Severity>> for severity_or_empty {
    #[inline]
    fn read<R: Reader<'a>>(r: &mut R) -> Option<Option<Severity>> {
        Some(
            read_option(r, R::string)?
                .filter(|t| !t.is_empty())
                .map(|t| Severity::from_text(&t)),
        )
    }
}
