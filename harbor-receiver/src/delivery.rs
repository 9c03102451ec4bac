//! What the inbox stores: [`Delivery`], and what a worker holds while it handles one:
//! [`Leased`].

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use harbor_events::{Decoder, Event, Format, Payload};

use crate::DeliveryKey;

/// One accepted webhook request, as stored: the exact body bytes, the format it was decoded
/// as, its [`DeliveryKey`] and when it arrived.
///
/// The body is decoded again by [`Delivery::payload`] when a worker handles it, so the inbox
/// stores exactly what Harbor sent and a newer `harbor-events` reads old entries.
#[derive(Clone, PartialEq, Eq)]
pub struct Delivery {
    key: DeliveryKey,
    format: Format,
    body: Bytes,
    received_at: DateTime<Utc>,
    attempt: u32,
}

impl Delivery {
    /// A delivery received now, not yet handled (attempt 0).
    pub fn new(key: DeliveryKey, format: Format, body: Bytes) -> Delivery {
        Delivery::restore(key, format, body, Utc::now(), 0)
    }

    /// A delivery read back from storage (for [`Inbox`](crate::Inbox) implementations).
    pub fn restore(
        key: DeliveryKey,
        format: Format,
        body: Bytes,
        received_at: DateTime<Utc>,
        attempt: u32,
    ) -> Delivery {
        Delivery {
            key,
            format,
            body,
            received_at,
            attempt,
        }
    }

    /// The delivery key: the deduplication key, and the idempotency key for the handler's
    /// side effects (a database row, an API call that accepts one).
    pub fn key(&self) -> &DeliveryKey {
        &self.key
    }

    /// The format the receiver decoded the body as.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The exact bytes Harbor sent.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// When the receiver accepted it (the first time, for a delivery Harbor sent again).
    pub fn received_at(&self) -> DateTime<Utc> {
        self.received_at
    }

    /// Which attempt at handling this is: 1 for the first, 2 after one failure or a crash
    /// while it was being handled … (0 for a delivery not taken from an inbox).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Decodes the body again, as the format it was accepted as.
    ///
    /// # Errors
    ///
    /// [`harbor_events::Error`] if the body no longer decodes (it did when it was accepted;
    /// only a `harbor-events` that reads less than the one that accepted it fails here).
    pub fn payload(&self) -> harbor_events::Result<Payload<'_>> {
        Decoder::new()
            .max_body_bytes(self.body.len())
            .only_format(self.format)
            .decode(&self.body)
    }

    /// The unified events of the body (one for Harbor formats, one per entry for registry
    /// notifications).
    ///
    /// # Errors
    ///
    /// As [`Delivery::payload`].
    pub fn events(&self) -> harbor_events::Result<Vec<Event<'_>>> {
        Ok(self.payload()?.into_events())
    }

    pub(crate) fn with_attempt(mut self, attempt: u32) -> Delivery {
        self.attempt = attempt;
        self
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("key", &self.key)
            .field("format", &self.format)
            .field("body_len", &self.body.len())
            .field("received_at", &self.received_at)
            .field("attempt", &self.attempt)
            .finish()
    }
}

/// The outcome of [`Inbox::append`](crate::Inbox::append).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Appended {
    /// Stored durably; a worker will handle it.
    New,
    /// The inbox already holds (or recently finished) a delivery with this key: nothing was
    /// stored, and the sender may stop retrying.
    Duplicate,
}

/// An opaque handle on a lease, given by the inbox that leased the delivery.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LeaseToken(Arc<str>);

impl LeaseToken {
    /// A token with the backend's own text (a row and a nonce, a JetStream reply subject).
    pub fn new(text: impl Into<Arc<str>>) -> LeaseToken {
        LeaseToken(text.into())
    }

    /// The backend's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A token of the built-in backends (numbers joined by `:`), formatted on the stack:
    /// one allocation per lease instead of a growing `String` and its copy.
    pub(crate) fn formatted(text: fmt::Arguments<'_>) -> LeaseToken {
        let mut bytes = [0_u8; 64];
        let mut free = &mut bytes[..];
        // Writing past the end of the buffer fails: then a `String` it is.
        if std::io::Write::write_fmt(&mut free, text).is_ok() {
            let len = 64 - free.len();
            if let Ok(text) = std::str::from_utf8(&bytes[..len]) {
                return LeaseToken(Arc::from(text));
            }
        }
        LeaseToken(Arc::from(text.to_string()))
    }
}

impl fmt::Debug for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LeaseToken({})", self.0)
    }
}

/// A delivery taken from an inbox, leased to one worker: no other worker gets it until the
/// lease runs out (the worker crashed or hangs) or it is failed with a retry.
#[derive(Clone, Debug)]
pub struct Leased {
    delivery: Delivery,
    token: LeaseToken,
}

impl Leased {
    /// A leased delivery (for [`Inbox`](crate::Inbox) implementations).
    pub fn new(delivery: Delivery, token: LeaseToken) -> Leased {
        Leased { delivery, token }
    }

    /// The delivery.
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// The lease token, for the inbox that issued it.
    pub fn token(&self) -> &LeaseToken {
        &self.token
    }

    /// The delivery, dropping the lease token.
    pub fn into_delivery(self) -> Delivery {
        self.delivery
    }
}

/// What to do with a delivery whose handling failed: the decision of a
/// [`RetryPolicy`](crate::RetryPolicy), carried out by [`Inbox::fail`](crate::Inbox::fail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Disposition {
    /// Make it available again after this delay.
    RetryAfter(std::time::Duration),
    /// Give up: move it to the dead letters, where it stays until someone looks.
    DeadLetter,
}

/// A delivery that failed too often (or permanently), kept for inspection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The delivery (its attempt is the last one made).
    pub delivery: Delivery,
    /// Why the last attempt failed.
    pub reason: String,
    /// When it was given up.
    pub dead_at: DateTime<Utc>,
}

impl DeadLetter {
    /// A dead letter (for [`Inbox`](crate::Inbox) implementations).
    pub fn new(delivery: Delivery, reason: String, dead_at: DateTime<Utc>) -> DeadLetter {
        DeadLetter {
            delivery,
            reason,
            dead_at,
        }
    }
}

/// A format's short name back to the [`Format`] (`v1`, `v2`, `cloudevents` …).
#[cfg_attr(not(any(feature = "sqlite", feature = "nats")), allow(dead_code))]
pub(crate) fn format_from_str(name: &str) -> Option<Format> {
    Format::ALL.into_iter().find(|f| f.as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::LeaseToken;

    #[test]
    fn a_formatted_token_is_its_text_whatever_its_length() {
        let short = LeaseToken::formatted(format_args!("{}:{}:{}", 3, i64::MAX, u64::MAX));
        assert_eq!(
            short.as_str(),
            format!("3:{}:{}", i64::MAX, u64::MAX),
            "on the stack"
        );
        let long = "9".repeat(100);
        let token = LeaseToken::formatted(format_args!("{long}:{long}"));
        assert_eq!(
            token.as_str(),
            format!("{long}:{long}"),
            "past the stack buffer"
        );
        assert_eq!(token, LeaseToken::new(format!("{long}:{long}")));
    }
}
