//! The crate's error type.

use std::time::Duration;

/// A wrapped error from a backend or the HTTP client.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in this crate.
///
/// At the HTTP edge every inbox error becomes a `503` (Harbor retries it later):
/// [`Error::is_retryable`] says whether waiting helps.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The inbox could not be opened (a file that is not an inbox, a server that does not
    /// answer, a stream that cannot be created).
    #[error("cannot open the {backend} inbox {target}: {message}")]
    Open {
        /// `memory`, `sqlite` or `nats`.
        backend: &'static str,
        /// What was opened: a path or a server address (never a credential).
        target: String,
        /// What went wrong, and what to do about it.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// A write could not be made durable: nothing was stored and the sender must deliver again
    /// (the receiver answers `503`). Disk full, the database locked by another process for
    /// longer than the busy timeout, an I/O error, or no acknowledgement from JetStream.
    #[error("the {backend} inbox could not make the {operation} durable: {message}")]
    NotDurable {
        /// `memory`, `sqlite` or `nats`.
        backend: &'static str,
        /// `append`, `take`, `ack`, `fail` …
        operation: &'static str,
        /// What went wrong.
        message: String,
        /// Whether the cause was a full disk or an inbox size limit.
        full: bool,
        /// Whether the cause was a lock held by someone else (SQLite `BUSY`/`LOCKED`).
        busy: bool,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// The in-memory inbox holds as many pending deliveries as its capacity allows; the
    /// receiver answers `503` and Harbor delivers again later.
    #[error(
        "the memory inbox is full ({capacity} pending deliveries): add workers or raise the \
         capacity"
    )]
    Full {
        /// The configured capacity.
        capacity: usize,
    },
    /// A lease was lost before the acknowledgement or failure arrived: it expired (the
    /// handler ran longer than the lease) and the delivery may have gone to another worker.
    /// An acknowledgement of several deliveries names those whose lease was lost; the others
    /// are acknowledged.
    #[error(
        "the lease on {} is no longer held (it expired after {lease:?}): the delivery will \
         be handled again; extend the lease or make the handler faster",
        name_keys(keys)
    )]
    LeaseLost {
        /// The keys of the deliveries whose lease was lost (at least one).
        keys: Vec<String>,
        /// The inbox's lease duration.
        lease: Duration,
    },
    /// The inbox was closed (shutdown): it takes no more work.
    #[error("the inbox is closed")]
    Closed,
    /// An `--inbox` value is not `memory`, `sqlite:PATH` or `nats://HOST:PORT`, or names a
    /// backend whose cargo feature is off.
    #[error("invalid inbox {spec:?}: {reason}")]
    InvalidSpec {
        /// The text given, any credentials (`user:password@`) replaced by `***@`, cut to 200
        /// characters.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// A stored delivery could not be read back (a row or message this crate did not write).
    #[error("a stored delivery is corrupt: {message}")]
    Corrupt {
        /// What is wrong.
        message: String,
    },
    /// A configuration value was refused by a builder.
    #[error("invalid configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// The sender could not build its HTTP client.
    #[cfg(feature = "sender")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sender")))]
    #[error("cannot build the webhook sender's HTTP client")]
    Client(#[source] reqwest::Error),
}

impl Error {
    /// Whether trying again later may succeed (a `503` at the HTTP edge): a full or locked
    /// database, a server that did not answer, a full memory inbox.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::NotDurable { .. } | Error::Full { .. })
    }

    /// Whether the cause is a full disk, an inbox size limit or a full memory inbox.
    pub fn is_full(&self) -> bool {
        matches!(
            self,
            Error::Full { .. } | Error::NotDurable { full: true, .. }
        )
    }

    /// Whether the cause is a lock held by another connection or process.
    pub fn is_busy(&self) -> bool {
        matches!(self, Error::NotDurable { busy: true, .. })
    }

    /// Whether a lease was lost ([`Error::LeaseLost`]).
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, Error::LeaseLost { .. })
    }

    /// `Ok` when no lease was lost, else [`Error::LeaseLost`] naming `lost`.
    pub(crate) fn unless_lost(lost: Vec<String>, lease: Duration) -> Result<()> {
        if lost.is_empty() {
            Ok(())
        } else {
            Err(Error::LeaseLost { keys: lost, lease })
        }
    }

    /// A write that did not become durable, for `backend`'s `operation`.
    #[cfg_attr(not(feature = "nats"), allow(dead_code))]
    pub(crate) fn not_durable(
        backend: &'static str,
        operation: &'static str,
        source: impl Into<BoxError>,
    ) -> Error {
        let source = source.into();
        Error::NotDurable {
            backend,
            operation,
            message: source.to_string(),
            full: false,
            busy: false,
            source: Some(source),
        }
    }

    /// [`Error::InvalidSpec`] for `spec`, its credentials hidden (before it is cut: a cut
    /// could drop the `@` that marks them).
    pub(crate) fn invalid_spec(spec: &str, reason: impl Into<String>) -> Error {
        Error::InvalidSpec {
            spec: crate::spec::without_credentials(spec)
                .chars()
                .take(200)
                .collect(),
            reason: reason.into(),
        }
    }
}

/// "delivery K", or "deliveries K1, K2, K3 and N more" (at most three keys in a message).
fn name_keys(keys: &[String]) -> String {
    match keys {
        [key] => format!("delivery {key}"),
        _ => {
            let shown = keys.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
            match keys.len().saturating_sub(3) {
                0 => format!("deliveries {shown}"),
                more => format!("deliveries {shown} and {more} more"),
            }
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_lease_names_its_deliveries_and_at_most_three() {
        let lost = |n: usize| Error::LeaseLost {
            keys: (1..=n).map(|k| format!("k{k}")).collect(),
            lease: Duration::from_secs(30),
        };
        assert!(
            lost(1)
                .to_string()
                .starts_with("the lease on delivery k1 is no longer held")
        );
        assert!(
            lost(2)
                .to_string()
                .starts_with("the lease on deliveries k1, k2 is")
        );
        let many = lost(5).to_string();
        assert!(
            many.starts_with("the lease on deliveries k1, k2, k3 and 2 more is"),
            "{many}"
        );
        assert!(lost(5).is_lease_lost());
    }
}
