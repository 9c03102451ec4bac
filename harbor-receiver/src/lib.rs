#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod delivery;
mod error;
mod inbox;
mod key;
mod memory;
mod policy;
mod receiver;
mod spec;
mod time;
mod worker;

#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "sender")]
#[cfg_attr(docsrs, doc(cfg(feature = "sender")))]
pub mod sender;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use delivery::{Appended, DeadLetter, Delivery, Disposition, LeaseToken, Leased};
pub use error::{BoxError, Error, Result};
pub use inbox::{BoxFuture, DEFAULT_DEDUP_WINDOW, DEFAULT_LEASE, Inbox};
pub use key::DeliveryKey;
pub use memory::{DEFAULT_MEMORY_CAPACITY, MemoryInbox};
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub use nats::{NatsInbox, NatsInboxBuilder};
pub use policy::RetryPolicy;
pub use receiver::{DEFAULT_READ_TIMEOUT, Receipt, Receiver};
pub use spec::{InboxOptions, InboxSpec};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{SqliteInbox, SqliteInboxBuilder, SqliteStats};
pub use worker::{Handler, HandlerError, Worker, WorkerReport};
