//! [`InboxSpec`]: choosing a backend from one line of text (a flag, a setting).

use std::borrow::Cow;
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
/// | `nats://HOST:PORT`, `nats://USER:PASSWORD@HOST:PORT`, `nats://TOKEN@HOST:PORT` | [`NatsInbox`](crate::NatsInbox) on that server (feature `nats`) |
/// | `memory` | [`MemoryInbox`]: **lost when the process exits** |
///
/// `Display` and `Debug` never show the credentials of a NATS URL (`nats://***@HOST:PORT`),
/// and neither do the errors of parsing or opening one: print a spec in a log line freely.
/// `Display` gives back the text that was parsed otherwise.
///
/// ```
/// use harbor_receiver::InboxSpec;
///
/// let spec: InboxSpec = "sqlite:/var/lib/webhooks/inbox.db".parse()?;
/// assert_eq!(spec.to_string(), "sqlite:/var/lib/webhooks/inbox.db");
/// assert!("memory".parse::<InboxSpec>()?.is_memory());
/// assert!("postgres://db".parse::<InboxSpec>().is_err());
///
/// let nats: InboxSpec = "nats://worker:s3cret@nats:4222".parse()?;
/// assert_eq!(nats.to_string(), "nats://***@nats:4222");
/// assert!(!format!("{nats:?}").contains("s3cret"));
/// # Ok::<(), harbor_receiver::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InboxSpec {
    /// In memory: lost on exit.
    Memory,
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A NATS server with JetStream (the `nats://` URL as given, credentials included: only
    /// [`InboxSpec::open`] uses them; `Display` and `Debug` hide them).
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
                // Display hides credentials (and `invalid_spec` would again).
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
            InboxSpec::Nats(url) => f.write_str(&without_credentials(url)),
        }
    }
}

impl fmt::Debug for InboxSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InboxSpec::Memory => f.write_str("Memory"),
            InboxSpec::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            InboxSpec::Nats(url) => f
                .debug_tuple("Nats")
                .field(&without_credentials(url))
                .finish(),
        }
    }
}

/// What a message, `Display` or `Debug` may show of a URL or of text that may be one: the
/// user information (`user:password@`, `token@`) replaced by `***@`.
/// `nats://u:s3cret@h:4222` → `nats://***@h:4222`; text without `@` is unchanged.
pub(crate) fn without_credentials(text: &str) -> Cow<'_, str> {
    match user_info(text) {
        None => Cow::Borrowed(text),
        Some((scheme, _, host)) => Cow::Owned(format!("{scheme}***@{host}")),
    }
}

/// The user information of a URL or of text that may be one, and what stands around it:
/// `(scheme, user info, rest)`, the scheme with its `://` (or empty), the user information
/// without its `@` (`user:password`, `token`), the rest from the host on. `None` without
/// user information. The last `@` counts: a password may hold one (unencoded), a host never.
pub(crate) fn user_info(text: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = match text.find("://") {
        Some(at) => text.split_at(at + 3),
        None => ("", text),
    };
    let (info, host) = rest.rsplit_once('@')?;
    Some((scheme, info, host))
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

    /// How long a delivery key is remembered after its first arrival (the SQLite inbox also
    /// keeps it while its delivery is pending or dead-lettered, the memory inbox while it is
    /// pending, the NATS inbox not; see [`Inbox`]). For NATS, only a stream created by this
    /// opening gets it.
    pub fn dedup_window(mut self, window: Duration) -> Self {
        self.dedup_window = window;
        self
    }

    /// How long a taken delivery stays leased without an extension. For NATS, only a
    /// consumer created by this opening gets it ([`Inbox::lease`] reports the one in force).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_hidden_from_urls_and_other_text() {
        for (text, shown) in [
            ("nats://user:s3cret@h:4222", "nats://***@h:4222"),
            ("nats://s3cret-token@h:4222", "nats://***@h:4222"),
            ("nats://user:s3c@ret@h:4222", "nats://***@h:4222"),
            ("natss://user:s3cret@h", "natss://***@h"),
            ("user:s3cret@h:4222", "***@h:4222"),
            ("nats://h:4222", "nats://h:4222"),
            ("sqlite:/var/hooks.db", "sqlite:/var/hooks.db"),
        ] {
            assert_eq!(without_credentials(text), shown, "{text}");
        }
    }

    #[test]
    fn a_nats_spec_never_shows_its_password() {
        let spec: InboxSpec = "nats://worker:s3cret@nats:4222".parse().unwrap();
        let shown = format!("{spec} {spec:?} {:#?}", spec.clone());
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("nats://***@nats:4222"), "{shown}");
        // What is parsed keeps the credentials, for `open`.
        assert_eq!(
            spec,
            InboxSpec::Nats("nats://worker:s3cret@nats:4222".to_owned())
        );
        // Nor does the error of a spec that is not one.
        let long = format!("postgres://u:{}s3cret@db", "x".repeat(300));
        for bad in [
            "nats:/worker:s3cret@nats:4222",
            "natss://worker:s3cret@nats",
            &long,
        ] {
            let error = bad.parse::<InboxSpec>().unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("s3cret"), "{shown}");
        }
    }

    /// With the `nats` feature off, opening a NATS spec fails with an error made of its
    /// redacted text.
    #[cfg(not(feature = "nats"))]
    #[tokio::test]
    async fn a_nats_spec_without_the_feature_fails_without_its_password() {
        let spec: InboxSpec = "nats://worker:s3cret@nats:4222".parse().unwrap();
        let error = spec.open(&InboxOptions::new()).await.unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(matches!(error, Error::InvalidSpec { .. }), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
