#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
mod challenge;
mod credentials;
pub mod decision;
mod error;
mod keychain;
mod realm;
mod scope;
mod token;

pub use cache::{CacheKey, Clock, DEFAULT_CAPACITY, ManualClock, SystemClock, TokenCache};
pub use challenge::{Challenge, ChallengeError, Scheme, format_challenges};
pub use credentials::{CredentialId, CredentialKind, Credentials, RobotName};
pub use error::{Error, Result, TokenRejection};
pub use keychain::{
    BoundCredentials, CredentialHelper, HelperRequest, Keychain, KnownRegistry, Lookup,
};
pub use realm::RealmPolicy;
pub use scope::{Action, ActionSet, Resource, Scope, ScopeSet};
pub use token::{MAX_EXPIRES_IN, MAX_RENEWAL_MARGIN, MIN_EXPIRES_IN, Token, TokenResponse};

#[cfg(feature = "fetch")]
#[cfg_attr(docsrs, doc(cfg(feature = "fetch")))]
pub mod fetch;

#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;

#[cfg(feature = "docker-config")]
#[cfg_attr(docsrs, doc(cfg(feature = "docker-config")))]
pub mod docker_config;
