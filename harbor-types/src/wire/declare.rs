//! [`wire_struct!`](crate::wire_struct): one declaration per wire type.

/// Declares a wire type once: its fields, each with its JSON name and its encoding (a marker
/// of [`wire::field`](crate::wire::field)). From the declaration come the struct,
/// `into_owned` (and [`IntoOwned`](crate::wire::IntoOwned)), `Serialize`, `Deserialize` (the
/// serde reference, owning what it reads), [`WireValue`](crate::wire::WireValue) (whose
/// `read` a fast [`Reader`](crate::wire::Reader) drives) and
/// [`WireMembers`](crate::wire::WireMembers).
///
/// ```text
/// harbor_types::wire_struct! {
///     /// One registry event.
///     #[derive(Clone, Debug, Default, PartialEq)]
///     pub struct Event<'a> {
///         /// Unique id of the event.
///         pub id: Cow<'a, str> = always("id"),
///         /// When it happened.
///         pub timestamp: DateTime<Utc> = rfc3339("timestamp", required),
///         /// Kept out of the wire.
///         pub note: Option<Cow<'a, str>> = skip(),
///     }
/// }
/// ```
///
/// A field is `name: Type = encoding("json name")`, `= encoding("json name", required)`
/// (a missing member is an error, as serde's "missing field"), or `= skip()` (not on the
/// wire: always `Default`). Members are read in any order, unknown ones skipped, a repeated
/// one refused (serde's "duplicate field"), missing ones at their `Default`.
///
/// A leading `@custom_serialize` leaves `Serialize` to the caller (who can call the hidden
/// `__serialize_wire_fields`); `@no_deserialize` generates no reading (the type is read by
/// other means); `@owned_only` generates only the struct and `into_owned`.
#[macro_export]
#[doc(hidden)]
macro_rules! wire_struct {
    (@custom_serialize $($rest:tt)*) => {
        $crate::wire_struct!(@with [read] [] $($rest)*);
    };
    (@no_deserialize $($rest:tt)*) => {
        $crate::wire_struct!(@with [] [write] $($rest)*);
    };
    (@owned_only $($rest:tt)*) => {
        $crate::wire_struct!(@with [] [] $($rest)*);
    };

    // A struct that borrows from the body (one lifetime).
    (@with $read:tt $write:tt
        $(#[$attr:meta])*
        $vis:vis struct $name:ident <$lt:lifetime> $body:tt
    ) => {
        $crate::wire_struct!(@def [$(#[$attr])*] $vis $name [<$lt>] $body);

        impl $name<'_> {
            /// Copies everything borrowed from the request body, giving a `'static` value
            /// that can be stored or sent to another task.
            #[must_use]
            pub fn into_owned(self) -> $name<'static> {
                $crate::wire::IntoOwned::into_owned(self)
            }
        }

        $crate::wire_struct!(@owned $name $body);
        $crate::wire_struct!(@read $read [$lt] [$name<$lt>] $name $body);
        $crate::wire_struct!(@write $write [<$lt>] [$name<$lt>] $name $body);
    };

    // A struct that borrows nothing.
    (@with $read:tt $write:tt
        $(#[$attr:meta])*
        $vis:vis struct $name:ident $body:tt
    ) => {
        $crate::wire_struct!(@def [$(#[$attr])*] $vis $name [] $body);

        impl $crate::wire::IntoOwned for $name {
            type Owned = $name;
            #[inline]
            fn into_owned(self) -> $name {
                self
            }
        }

        $crate::wire_struct!(@read $read ['a] [$name] $name $body);
        $crate::wire_struct!(@write $write [] [$name] $name $body);
    };

    (@def [$($attr:tt)*] $vis:vis $name:ident [$($gen:tt)*] {
        $(
            $(#[$fattr:meta])*
            $fvis:vis $field:ident : $ty:ty = $enc:ident ( $($key:literal $(, $req:ident)?)? )
        ),* $(,)?
    }) => {
        $($attr)*
        $vis struct $name $($gen)* {
            $(
                $(#[$fattr])*
                $fvis $field: $ty,
            )*
        }
    };

    (@owned $name:ident {
        $(
            $(#[$fattr:meta])*
            $fvis:vis $field:ident : $ty:ty = $enc:ident ( $($key:literal $(, $req:ident)?)? )
        ),* $(,)?
    }) => {
        impl $crate::wire::IntoOwned for $name<'_> {
            type Owned = $name<'static>;
            fn into_owned(self) -> $name<'static> {
                $name {
                    $($field: $crate::wire::IntoOwned::into_owned(self.$field),)*
                }
            }
        }
    };

    (@read [] $($rest:tt)*) => {};
    (@read [read] [$lt:lifetime] [$($Self:tt)*] $name:ident {
        $(
            $(#[$fattr:meta])*
            $fvis:vis $field:ident : $ty:ty = $enc:ident ( $($key:literal $(, $req:ident)?)? )
        ),* $(,)?
    }) => {
        impl<$lt> $crate::wire::WireValue<$lt> for $($Self)* {
            #[inline]
            fn read<__R: $crate::wire::Reader<$lt>>(
                r: &mut __R,
            ) -> ::core::option::Option<Self> {
                $(
                    #[allow(unused_mut)]
                    let mut $field: ::core::option::Option<$ty> = ::core::option::Option::None;
                )*
                r.open(b'{')?;
                let mut first = true;
                while let ::core::option::Option::Some(key) = r.member(&mut first)? {
                    match key {
                        $($(
                            $key => {
                                if $field.is_some() {
                                    return ::core::option::Option::None;
                                }
                                $field = ::core::option::Option::Some(
                                    <$crate::wire::field::$enc as $crate::wire::field::ReadField<
                                        $lt,
                                        $ty,
                                    >>::read(r)?,
                                );
                            }
                        )?)*
                        _ => r.skip()?,
                    }
                }
                $($($(
                    let _ = stringify!($req);
                    $field.as_ref()?;
                )?)?)*
                ::core::option::Option::Some($name {
                    $($field: $field.unwrap_or_default(),)*
                })
            }

            fn de<'de, __D: $crate::wire::__serde::Deserializer<'de>>(
                d: __D,
            ) -> ::core::result::Result<Self, __D::Error> {
                <Self as $crate::wire::__serde::Deserialize<'de>>::deserialize(d)
            }

            fn ser<__S: $crate::wire::__serde::Serializer>(
                &self,
                s: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error> {
                <Self as $crate::wire::__serde::Serialize>::serialize(self, s)
            }
        }

        impl<$lt> $crate::wire::WireMembers<$lt> for $($Self)* {
            const MEMBERS: &'static [&'static str] = &[$($($key,)?)*];

            fn read_member<__R: $crate::wire::Reader<$lt>>(
                &mut self,
                key: &str,
                r: &mut __R,
            ) -> ::core::option::Option<()> {
                match key {
                    $($(
                        $key => {
                            self.$field = <$crate::wire::field::$enc as $crate::wire::field::ReadField<
                                $lt,
                                $ty,
                            >>::read(r)?;
                        }
                    )?)*
                    _ => r.skip()?,
                }
                ::core::option::Option::Some(())
            }

            fn de_member<'de, __A: $crate::wire::__serde::de::MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut __A,
            ) -> ::core::result::Result<(), __A::Error> {
                match key {
                    $($(
                        $key => {
                            self.$field = map.next_value_seed(
                                $crate::wire::field::De::<$crate::wire::field::$enc, $ty>::new(),
                            )?;
                        }
                    )?)*
                    _ => {
                        map.next_value::<$crate::wire::__serde::de::IgnoredAny>()?;
                    }
                }
                ::core::result::Result::Ok(())
            }
        }

        #[allow(clippy::extra_unused_lifetimes)]
        impl<'de, $lt> $crate::wire::__serde::Deserialize<'de> for $($Self)* {
            fn deserialize<__D: $crate::wire::__serde::Deserializer<'de>>(
                d: __D,
            ) -> ::core::result::Result<Self, __D::Error> {
                struct __Visitor<$lt>(::core::marker::PhantomData<&$lt ()>);

                impl<'de, $lt> $crate::wire::__serde::de::Visitor<'de> for __Visitor<$lt> {
                    type Value = $($Self)*;

                    fn expecting(
                        &self,
                        f: &mut ::core::fmt::Formatter<'_>,
                    ) -> ::core::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " object"))
                    }

                    fn visit_map<__A: $crate::wire::__serde::de::MapAccess<'de>>(
                        self,
                        mut map: __A,
                    ) -> ::core::result::Result<Self::Value, __A::Error> {
                        $(
                            #[allow(unused_mut)]
                            let mut $field: ::core::option::Option<$ty> =
                                ::core::option::Option::None;
                        )*
                        while let ::core::option::Option::Some(key) =
                            map.next_key::<$crate::wire::Text<'de>>()?
                        {
                            match &*key {
                                $($(
                                    $key => {
                                        if $field.is_some() {
                                            return ::core::result::Result::Err(
                                                <__A::Error as $crate::wire::__serde::de::Error>::duplicate_field($key),
                                            );
                                        }
                                        $field = ::core::option::Option::Some(map.next_value_seed(
                                            $crate::wire::field::De::<$crate::wire::field::$enc, $ty>::new(),
                                        )?);
                                    }
                                )?)*
                                _ => {
                                    map.next_value::<$crate::wire::__serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        $($($(
                            let _ = stringify!($req);
                            if $field.is_none() {
                                return ::core::result::Result::Err(
                                    <__A::Error as $crate::wire::__serde::de::Error>::missing_field($key),
                                );
                            }
                        )?)?)*
                        ::core::result::Result::Ok($name {
                            $($field: $field.unwrap_or_default(),)*
                        })
                    }
                }

                d.deserialize_struct(
                    stringify!($name),
                    &[$($($key,)?)*],
                    __Visitor(::core::marker::PhantomData),
                )
            }
        }
    };

    (@write $write:tt [$($gen:tt)*] [$($Self:tt)*] $name:ident {
        $(
            $(#[$fattr:meta])*
            $fvis:vis $field:ident : $ty:ty = $enc:ident ( $($key:literal $(, $req:ident)?)? )
        ),* $(,)?
    }) => {
        impl $($gen)* $($Self)* {
            /// Writes the members, as the generated `Serialize` does (for a hand-written one).
            #[doc(hidden)]
            pub fn __serialize_wire_fields<__S: $crate::wire::__serde::Serializer>(
                &self,
                s: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error> {
                use $crate::wire::__serde::ser::SerializeMap as _;
                let mut map = s.serialize_map(::core::option::Option::None)?;
                $($(
                    if !<$crate::wire::field::$enc as $crate::wire::field::Field<$ty>>::omit(
                        &self.$field,
                    ) {
                        map.serialize_entry(
                            $key,
                            &$crate::wire::field::Ser::<$crate::wire::field::$enc, $ty>::new(
                                &self.$field,
                            ),
                        )?;
                    }
                )?)*
                map.end()
            }
        }

        $crate::wire_struct!(@serialize $write [$($gen)*] [$($Self)*]);
    };

    (@serialize [] $($rest:tt)*) => {};
    (@serialize [write] [$($gen:tt)*] [$($Self:tt)*]) => {
        impl $($gen)* $crate::wire::__serde::Serialize for $($Self)* {
            fn serialize<__S: $crate::wire::__serde::Serializer>(
                &self,
                s: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error> {
                self.__serialize_wire_fields(s)
            }
        }
    };

    // No option: everything.
    ($(#[$attr:meta])* $vis:vis struct $($rest:tt)*) => {
        $crate::wire_struct!(@with [read] [write] $(#[$attr])* $vis struct $($rest)*);
    };
}
