//! Delivery keys: what makes two requests "the same delivery".

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use harbor_events::Payload;
use sha2::{Digest as _, Sha256};

use crate::{Error, Result};

/// The longest CloudEvents `id` used as it is; a longer one (or one with spaces or control
/// characters) is hashed.
const MAX_PLAIN_ID: usize = 128;
/// The longest key [`DeliveryKey::from_str`] accepts.
const MAX_KEY: usize = 256;

/// The identity of one delivery: the same for every retry Harbor makes of it, different for
/// different events. It is the deduplication key of the inbox, and the idempotency key a
/// handler should use for its own side effects.
///
/// - CloudEvents (Harbor 2.8+): `ce:` followed by the event's `id`, a UUID Harbor generates
///   when it creates the delivery job, so every retry carries it
///   ([`CloudEvent::id`](harbor_events::cloudevents::CloudEvent::id)). An `id` longer than
///   128 characters or with characters outside printable ASCII is hashed:
///   `ce-sha256:<hex>`.
/// - Every other format (1.x, 2.x "Default", registry notifications) carries no id: the key
///   is `sha256:<hex>` of the exact body bytes, which Harbor sends unchanged on every retry
///   (the body is formatted once, when the job is created). Two *different* events with
///   byte-identical bodies (the same pull of the same artifact by the same user within one
///   second, for example) share a key and are handled once.
///
/// ```
/// use harbor_receiver::DeliveryKey;
///
/// let body = br#"{"specversion":"1.0","id":"4b2f89a6-548d-4c12-9993-a1f5790b97d2",
///   "source":"/projects/1/webhook/policies/3","type":"harbor.artifact.pulled",
///   "time":"2023-03-06T06:08:43Z","data":{}}"#;
/// let payload = harbor_events::decode(body)?;
/// let key = DeliveryKey::for_payload(&payload, body);
/// assert_eq!(key.as_str(), "ce:4b2f89a6-548d-4c12-9993-a1f5790b97d2");
///
/// let body = br#"{"type":"QUOTA_WARNING","occur_at":1680505653,"operator":"","event_data":{}}"#;
/// let key = DeliveryKey::for_payload(&harbor_events::decode(body)?, body);
/// assert!(key.as_str().starts_with("sha256:"));
/// assert_eq!(key, DeliveryKey::for_body(body));
/// # Ok::<(), harbor_events::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryKey(Arc<str>);

impl DeliveryKey {
    /// The key of a decoded delivery: its CloudEvents `id`, else the hash of `body`.
    pub fn for_payload(payload: &Payload<'_>, body: &[u8]) -> DeliveryKey {
        match payload {
            Payload::CloudEvent(event) => DeliveryKey::for_cloudevent_id(&event.id),
            _ => DeliveryKey::for_body(body),
        }
    }

    /// The key of a CloudEvents `id`.
    pub fn for_cloudevent_id(id: &str) -> DeliveryKey {
        let plain =
            !id.is_empty() && id.len() <= MAX_PLAIN_ID && id.bytes().all(|b| b.is_ascii_graphic());
        if plain {
            let mut key = String::with_capacity(3 + id.len());
            key.push_str("ce:");
            key.push_str(id);
            DeliveryKey(key.into())
        } else {
            DeliveryKey(hashed("ce-sha256:", id.as_bytes()))
        }
    }

    /// The key of a body without an id: `sha256:` and the hex SHA-256 of the exact bytes.
    pub fn for_body(body: &[u8]) -> DeliveryKey {
        DeliveryKey(hashed("sha256:", body))
    }

    /// The key as text (printable ASCII, at most 256 bytes).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `prefix` and the lowercase hex SHA-256 of `bytes`, in one allocation.
fn hashed(prefix: &str, bytes: &[u8]) -> Arc<str> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = String::with_capacity(prefix.len() + 64);
    key.push_str(prefix);
    for byte in Sha256::digest(bytes) {
        key.push(char::from(HEX[usize::from(byte >> 4)]));
        key.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    key.into()
}

impl FromStr for DeliveryKey {
    type Err = Error;

    /// Reads a key back from storage: 1 to 256 printable ASCII characters.
    fn from_str(text: &str) -> Result<DeliveryKey> {
        if text.is_empty() || text.len() > MAX_KEY || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::Corrupt {
                message: format!(
                    "{:?} is not a delivery key (1 to {MAX_KEY} printable ASCII characters)",
                    text.chars().take(80).collect::<String>()
                ),
            });
        }
        Ok(DeliveryKey(text.into()))
    }
}

impl fmt::Display for DeliveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DeliveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeliveryKey({})", self.0)
    }
}

impl AsRef<str> for DeliveryKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_cloudevent_ids_are_hashed_into_a_valid_key() {
        for id in ["", "has space", "new\nline", &"x".repeat(129), "é"] {
            let key = DeliveryKey::for_cloudevent_id(id);
            assert!(key.as_str().starts_with("ce-sha256:"), "{id:?} -> {key}");
            assert_eq!(key.as_str().parse::<DeliveryKey>().unwrap(), key);
        }
        let key = DeliveryKey::for_cloudevent_id(&"x".repeat(128));
        assert_eq!(key.as_str().len(), 131);
    }

    #[test]
    fn body_keys_are_the_lowercase_hex_sha256() {
        assert_eq!(
            DeliveryKey::for_body(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            DeliveryKey::for_cloudevent_id("").as_str(),
            "ce-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn body_keys_depend_on_every_byte() {
        assert_ne!(DeliveryKey::for_body(b"{}"), DeliveryKey::for_body(b"{} "));
        assert_eq!(DeliveryKey::for_body(b"{}"), DeliveryKey::for_body(b"{}"));
    }

    #[test]
    fn stored_keys_are_checked() {
        for bad in ["", "a b", "tab\t", &"k".repeat(257)] {
            assert!(bad.parse::<DeliveryKey>().is_err(), "{bad:?}");
        }
        assert!("sha256:00".parse::<DeliveryKey>().is_ok());
    }
}
