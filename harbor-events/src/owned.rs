//! `into_owned` plumbing: every borrowed wire type converts into its `'static` form.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

/// Converts a value that may borrow from the request body into one that borrows nothing.
pub(crate) trait IntoOwned {
    /// The `'static` form.
    type Owned;
    /// Copies what is borrowed.
    fn into_owned(self) -> Self::Owned;
}

impl IntoOwned for Cow<'_, str> {
    type Owned = Cow<'static, str>;
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

macro_rules! identity_into_owned {
    ($($t:ty),* $(,)?) => {
        $(impl IntoOwned for $t {
            type Owned = $t;
            fn into_owned(self) -> Self::Owned {
                self
            }
        })*
    };
}

identity_into_owned!(
    i64,
    u64,
    bool,
    DateTime<Utc>,
    crate::Severity,
    crate::Format
);

/// Implements `IntoOwned` and a public `into_owned` for a struct with one lifetime.
macro_rules! owned_struct {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl $ty<'_> {
            /// Copies everything borrowed from the request body, giving a `'static` value
            /// that can be stored or sent to another task.
            #[must_use]
            pub fn into_owned(self) -> $ty<'static> {
                $ty { $($field: crate::owned::IntoOwned::into_owned(self.$field)),* }
            }
        }

        impl crate::owned::IntoOwned for $ty<'_> {
            type Owned = $ty<'static>;
            fn into_owned(self) -> Self::Owned {
                $ty::into_owned(self)
            }
        }
    };
}

pub(crate) use owned_struct;
