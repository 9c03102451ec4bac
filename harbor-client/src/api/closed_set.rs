//! Closed sets of values that keep the unknown ones: the one macro behind every enum-like
//! string of the API ([`ScanKind`](crate::api::models::ScanKind),
//! [`WebhookEventType`](crate::api::models::WebhookEventType), ...).
//!
//! Harbor adds values over its versions (event types, resources, statuses); a client that
//! failed on an unknown one would break on the next Harbor. Each set is therefore a
//! `#[non_exhaustive]` enum with one variant per known value and `Other(String)`, which keeps
//! any other value as sent and writes it back unchanged. Equality, ordering and hashing go by
//! the wire text, so `Other("sbom")` equals `Sbom`.
//!
//! ```
//! use harbor_client::api::models::ScanKind;
//!
//! let kind: ScanKind = "sbom".parse().unwrap_or(ScanKind::Vulnerability);
//! assert_eq!(kind, ScanKind::Sbom);
//! assert_eq!(ScanKind::from(String::from("sbom")), ScanKind::Sbom);
//! // A value a newer Harbor sends is kept, and written back as it came.
//! let newer = ScanKind::from("license");
//! assert!(!newer.is_known());
//! assert_eq!(newer.as_str(), "license");
//! assert_eq!(serde_json::to_string(&newer).unwrap_or_default(), r#""license""#);
//! ```

/// Declares a closed set of wire strings (crate-private, so its syntax is shown as text; the
/// module docs show a generated set in use):
///
/// ```text
/// closed_set! {
///     /// What a scan produces.
///     pub enum ScanKind {
///         /// `vulnerability`: a vulnerability report.
///         Vulnerability = "vulnerability",
///     }
/// }
/// ```
///
/// The enum gets `Other(String)`, `as_str`, `KNOWN` (the known values in order),
/// `is_known`, `Display`, `FromStr` (never fails), `From<&str>`, `From<String>`,
/// `AsRef<str>`, `PartialEq<str>`, `Eq`, `Ord` and `Hash` by text, and serde as a string.
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $wire:literal,
            )+
        }
    ) => {
        $(#[$meta])*
        ///
        /// Unknown values are kept in `Other` and written back as they came.
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[$vmeta])*
                $variant,
            )+
            /// A value this version of the client does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// Every known value, in the order Harbor's source lists them.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The value as Harbor writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(other) => other,
                }
            }

            /// Whether the value is one of [`Self::KNOWN`] (an `Other` holding a known text
            /// counts as known).
            pub fn is_known(&self) -> bool {
                $crate::api::closed_set::known(Self::KNOWN.iter().map(Self::as_str), self.as_str())
            }

            fn from_text(text: &str) -> Option<Self> {
                match text {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            /// Never fails: an unknown value becomes `Other`.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok($name::from(s))
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name::from_text(s).unwrap_or_else(|| $name::Other(s.to_owned()))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name::from_text(&s).unwrap_or($name::Other(s))
            }
        }

        impl From<&$name> for $name {
            fn from(v: &$name) -> Self {
                v.clone()
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.as_str() == other.as_str()
            }
        }

        impl Eq for $name {}

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<::std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $name {
            /// By wire text.
            fn cmp(&self, other: &Self) -> ::std::cmp::Ordering {
                self.as_str().cmp(other.as_str())
            }
        }

        impl ::std::hash::Hash for $name {
            fn hash<H: ::std::hash::Hasher>(&self, state: &mut H) {
                self.as_str().hash(state);
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str($crate::api::closed_set::TextVisitor::<$name>::new())
            }
        }
    };
}

pub(crate) use closed_set;

/// Whether `text` is among `known`.
pub(crate) fn known<'a>(mut known: impl Iterator<Item = &'a str>, text: &str) -> bool {
    known.any(|k| k == text)
}

/// Deserialises any string (borrowed or owned) into a closed set.
pub(crate) struct TextVisitor<T>(std::marker::PhantomData<T>);

impl<T> TextVisitor<T> {
    pub(crate) fn new() -> Self {
        TextVisitor(std::marker::PhantomData)
    }
}

impl<T: for<'a> From<&'a str> + From<String>> serde::de::Visitor<'_> for TextVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::from(v))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<T, E> {
        Ok(T::from(v))
    }
}

#[cfg(test)]
mod tests {
    // The macro declares `pub` items; this test set is reachable from nowhere.
    #![allow(unreachable_pub)]

    use std::collections::BTreeSet;

    closed_set! {
        /// A test set.
        pub enum Colour {
            /// `red`.
            Red = "red",
            /// `dark-blue`.
            DarkBlue = "dark-blue",
        }
    }

    #[test]
    fn known_values_parse_to_their_variant() {
        assert_eq!(Colour::from("red"), Colour::Red);
        assert_eq!("dark-blue".parse::<Colour>(), Ok(Colour::DarkBlue));
        assert_eq!(Colour::KNOWN, &[Colour::Red, Colour::DarkBlue]);
        assert!(Colour::DarkBlue.is_known());
        assert_eq!(Colour::DarkBlue, "dark-blue");
    }

    #[test]
    fn unknown_values_are_kept_and_written_back() {
        let c: Colour = serde_json::from_str(r#""ultra-violet""#).unwrap();
        assert_eq!(c, Colour::Other("ultra-violet".into()));
        assert!(!c.is_known());
        assert_eq!(serde_json::to_string(&c).unwrap(), r#""ultra-violet""#);
        assert_eq!(c.to_string(), "ultra-violet");
        // Case matters, as in Harbor.
        assert!(matches!(Colour::from("RED"), Colour::Other(_)));
    }

    #[test]
    fn equality_goes_by_text() {
        assert_eq!(Colour::Other("red".into()), Colour::Red);
        assert!(Colour::Other("red".into()).is_known());
        let set: BTreeSet<Colour> = [Colour::Red, Colour::Other("red".into())].into();
        assert_eq!(set.len(), 1);
        let v: Vec<Colour> = serde_json::from_str(r#"["red","x"]"#).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"["red","x"]"#);
    }

    #[test]
    fn non_strings_are_refused() {
        assert!(serde_json::from_str::<Colour>("1").is_err());
    }
}
