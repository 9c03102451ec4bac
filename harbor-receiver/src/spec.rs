//! [`InboxSpec`]: choosing a backend from one line of text (a flag, a setting).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::inbox::{DEFAULT_DEDUP_WINDOW, DEFAULT_LEASE};
use crate::{DEFAULT_MEMORY_CAPACITY, Error, Inbox, MemoryInbox, Result};

/// Which inbox to open, as a user writes it:
///
/// | text | backend |
/// | --- | --- |
/// | `sqlite:PATH` | [`SqliteInbox`](crate::SqliteInbox) in the file `PATH` (feature `sqlite`, on by default) |
/// | `nats://HOST:PORT` | [`NatsInbox`](crate::NatsInbox) on that server (feature `nats`) |
/// | `memory` | [`MemoryInbox`]: **lost when the process exits** |
///
/// ```
/// use harbor_receiver::InboxSpec;
///
/// let spec: InboxSpec = "sqlite:/var/lib/webhooks/inbox.db".parse()?;
/// assert_eq!(spec.to_string(), "sqlite:/var/lib/webhooks/inbox.db");
/// assert!("memory".parse::<InboxSpec>()?.is_memory());
/// assert!("postgres://db".parse::<InboxSpec>().is_err());
/// # Ok::<(), harbor_receiver::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InboxSpec {
    /// In memory: lost on exit.
    Memory,
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A NATS server with JetStream (the `nats://` URL as given).
    Nats(String),
}

impl InboxSpec {
    /// Whether this is the memory inbox (which loses everything on exit).
    pub fn is_memory(&self) -> bool {
        matches!(self, InboxSpec::Memory)
    }

    /// Opens the inbox with `options`.
    ///
    /// # Errors
    ///
    /// [`Error::Open`] when the file or server cannot be used; [`Error::InvalidSpec`] when
    /// the backend's cargo feature is off.
    pub async fn open(&self, options: &InboxOptions) -> Result<Arc<dyn Inbox>> {
        match self {
            InboxSpec::Memory => Ok(Arc::new(MemoryInbox::with_limits(
                options.memory_capacity,
                options.dedup_window,
                options.lease,
            ))),
            #[cfg(feature = "sqlite")]
            InboxSpec::Sqlite(path) => {
                let builder = crate::SqliteInbox::builder(path)
                    .dedup_window(options.dedup_window)
                    .lease(options.lease);
                let inbox = tokio::task::spawn_blocking(move || builder.open())
                    .await
                    .map_err(|e| Error::Open {
                        backend: "sqlite",
                        target: path.display().to_string(),
                        message: "the opening task failed".into(),
                        source: Some(e.into()),
                    })??;
                Ok(Arc::new(inbox))
            }
            #[cfg(feature = "nats")]
            InboxSpec::Nats(url) => Ok(Arc::new(
                crate::NatsInbox::builder(url.clone())
                    .dedup_window(options.dedup_window)
                    .lease(options.lease)
                    .open()
                    .await?,
            )),
            #[allow(unreachable_patterns)]
            other => Err(Error::invalid_spec(
                &other.to_string(),
                "this build of harbor-receiver lacks that backend's cargo feature",
            )),
        }
    }
}

impl FromStr for InboxSpec {
    type Err = Error;

    fn from_str(text: &str) -> Result<InboxSpec> {
        if text == "memory" {
            Ok(InboxSpec::Memory)
        } else if let Some(path) = text.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err(Error::invalid_spec(text, "sqlite: needs a file path"));
            }
            Ok(InboxSpec::Sqlite(PathBuf::from(path)))
        } else if let Some(rest) = text.strip_prefix("nats://") {
            if rest.is_empty() {
                return Err(Error::invalid_spec(text, "nats:// needs HOST:PORT"));
            }
            Ok(InboxSpec::Nats(text.to_owned()))
        } else {
            Err(Error::invalid_spec(
                text,
                "use sqlite:PATH, nats://HOST:PORT or memory",
            ))
        }
    }
}

impl fmt::Display for InboxSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InboxSpec::Memory => f.write_str("memory"),
            InboxSpec::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            InboxSpec::Nats(url) => f.write_str(url),
        }
    }
}

/// Settings that every backend understands, for [`InboxSpec::open`].
#[derive(Clone, Debug)]
#[must_use]
pub struct InboxOptions {
    dedup_window: Duration,
    lease: Duration,
    memory_capacity: usize,
}

impl Default for InboxOptions {
    fn default() -> Self {
        InboxOptions {
            dedup_window: DEFAULT_DEDUP_WINDOW,
            lease: DEFAULT_LEASE,
            memory_capacity: DEFAULT_MEMORY_CAPACITY,
        }
    }
}

impl InboxOptions {
    /// The defaults: a 24 h deduplication window, a 30 s lease, 100 000 pending deliveries in
    /// memory.
    pub fn new() -> InboxOptions {
        InboxOptions::default()
    }

    /// How long a delivery key is remembered.
    pub fn dedup_window(mut self, window: Duration) -> Self {
        self.dedup_window = window;
        self
    }

    /// How long a taken delivery stays leased without an extension.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How many pending deliveries the memory inbox holds before it answers `503`.
    pub fn memory_capacity(mut self, capacity: usize) -> Self {
        self.memory_capacity = capacity;
        self
    }
}
