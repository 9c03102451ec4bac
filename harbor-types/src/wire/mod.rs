//! Building blocks the SDK's crates share to read and write Harbor's JSON. Not part of the
//! public API: nothing here is covered by semver, and it may change in any release.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserialize, Deserializer, Visitor};

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

impl<'a> Text<'a> {
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
