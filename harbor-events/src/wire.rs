//! Wire building blocks of this crate: [`RawJson`], and the shared ones of `harbor-types`
//! ([`StrMap`], the time encodings, `IntoOwned`).

use std::borrow::Cow;

use harbor_types::wire::{IntoOwned, Reader, WireValue};
use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};
use serde_json::value::RawValue;

pub use harbor_types::StrMap;

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

/// Kept verbatim: the fast reader borrows the exact text; serde owns a copy.
impl<'a> WireValue<'a> for RawJson<'a> {
    #[inline]
    fn read<R: Reader<'a>>(r: &mut R) -> Option<Self> {
        r.raw_text().map(RawJson::borrowed)
    }

    fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Ok(RawJson(Cow::Owned(String::from(Box::<str>::from(raw)))))
    }

    fn ser<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_json_is_kept_verbatim_and_owned_on_demand() {
        let raw: RawJson<'_> = serde_json::from_str(r#" {"a": [1, 2]} "#).unwrap();
        assert_eq!(raw.get(), r#"{"a": [1, 2]}"#);
        let owned: RawJson<'static> = raw.clone().into_owned();
        assert_eq!(owned, raw);
        assert_eq!(serde_json::to_string(&owned).unwrap(), r#"{"a": [1, 2]}"#);
        assert!(RawJson::from_text("{").is_err());
        let copied = RawJson::de(&mut serde_json::Deserializer::from_str(" [true] ")).unwrap();
        assert_eq!(copied.get(), "[true]");
    }
}
