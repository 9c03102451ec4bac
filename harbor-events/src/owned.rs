//! `into_owned` plumbing: every borrowed wire type converts into its `'static` form
//! (the trait is `harbor_types::wire::IntoOwned`, shared with the types defined there).

/// Implements `IntoOwned` and a public `into_owned` for a struct with one lifetime.
macro_rules! owned_struct {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl $ty<'_> {
            /// Copies everything borrowed from the request body, giving a `'static` value
            /// that can be stored or sent to another task.
            #[must_use]
            pub fn into_owned(self) -> $ty<'static> {
                $ty { $($field: harbor_types::wire::IntoOwned::into_owned(self.$field)),* }
            }
        }

        impl harbor_types::wire::IntoOwned for $ty<'_> {
            type Owned = $ty<'static>;
            fn into_owned(self) -> Self::Owned {
                $ty::into_owned(self)
            }
        }
    };
}

pub(crate) use owned_struct;
