//! The vocabulary shared with the rest of the SDK (`harbor-types`): its parse errors become
//! this crate's [`Error::InvalidInput`].

use crate::Error;

impl From<harbor_types::Error> for Error {
    fn from(e: harbor_types::Error) -> Self {
        Error::invalid(e.kind().as_str(), e.value(), e.reason().to_owned())
    }
}
