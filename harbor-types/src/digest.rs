//! [`Digest`] (content addresses) and the [`Hasher`] that computes them.

use std::fmt;

use sha2::{Digest as _, Sha256, Sha384, Sha512};

use crate::error::{Error, Result, ValueKind};

/// A content digest, `algorithm:encoded` (OCI image spec), validated.
///
/// `sha256`, `sha384` and `sha512` need 64, 96 and 128 lowercase hex digits; other algorithms
/// follow the OCI grammar (`[a-z0-9]+([+._-][a-z0-9]+)*` `:` `[a-zA-Z0-9=_-]+`).
///
/// ```
/// use harbor_types::Digest;
/// let d: Digest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".parse()?;
/// assert_eq!(d, Digest::sha256_of(b"foo"));
/// assert_eq!((d.algorithm(), d.encoded().len()), ("sha256", 64));
/// assert!("sha256:abc".parse::<Digest>().is_err());
/// # Ok::<(), harbor_types::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    value: String,
    colon: usize,
}

fn lower_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

impl Digest {
    /// Validates `text` as a digest.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] (kind [`ValueKind::Digest`]) with the reason when `text` is not
    /// `algorithm:encoded`.
    pub fn parse(text: &str) -> Result<Digest> {
        let bad = |reason: &'static str| Error::invalid(ValueKind::Digest, text, reason);
        let colon = text
            .find(':')
            .ok_or_else(|| bad("expected `algorithm:encoded`"))?;
        let (algorithm, encoded) = (&text[..colon], &text[colon + 1..]);
        let algorithm_ok = !algorithm.is_empty()
            && algorithm.split(['+', '.', '_', '-']).all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !algorithm_ok {
            return Err(bad("the algorithm must match [a-z0-9]+([+._-][a-z0-9]+)*"));
        }
        let hex_len = match algorithm {
            "sha256" => Some(64),
            "sha384" => Some(96),
            "sha512" => Some(128),
            _ => None,
        };
        if let Some(len) = hex_len {
            if encoded.len() != len
                || !encoded
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            {
                return Err(bad(
                    "the encoded part must be lowercase hex of the algorithm's length \
                     (sha256: 64, sha384: 96, sha512: 128)",
                ));
            }
        } else if encoded.is_empty()
            || !encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
        {
            return Err(bad("the encoded part must match [a-zA-Z0-9=_-]+"));
        }
        Ok(Digest {
            value: text.to_owned(),
            colon,
        })
    }

    /// The sha256 digest of `data`.
    pub fn sha256_of(data: &[u8]) -> Digest {
        Digest::from_sha256(Sha256::digest(data).into())
    }

    /// The digest of a finished sha256 hash.
    pub fn from_sha256(hash: [u8; 32]) -> Digest {
        Digest {
            value: format!("sha256:{}", lower_hex(&hash)),
            colon: 6,
        }
    }

    /// The whole digest, `algorithm:encoded`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The algorithm, e.g. `sha256`.
    pub fn algorithm(&self) -> &str {
        self.value.get(..self.colon).unwrap_or_default()
    }

    /// The encoded part (hex for sha256).
    pub fn encoded(&self) -> &str {
        self.value.get(self.colon + 1..).unwrap_or_default()
    }

    /// A hasher for this digest's algorithm, to verify content as it streams.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] (kind [`ValueKind::Digest`]) for an algorithm other than sha256,
    /// sha384 and sha512, which cannot be verified.
    pub fn hasher(&self) -> Result<Hasher> {
        match self.algorithm() {
            "sha256" => Ok(Hasher(State::Sha256(Sha256::new()))),
            "sha384" => Ok(Hasher(State::Sha384(Sha384::new()))),
            "sha512" => Ok(Hasher(State::Sha512(Sha512::new()))),
            other => Err(Error::invalid(
                ValueKind::Digest,
                self.as_str(),
                format!(
                    "cannot verify algorithm {other:?} (sha256, sha384 and sha512 are supported)"
                ),
            )),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

parsed_from_text!(Digest, Digest::parse);

/// An incremental hash for verifying content as it streams (see [`Digest::hasher`]).
///
/// ```
/// use harbor_types::{Digest, Hasher};
/// let mut h = Hasher::sha256();
/// h.update(b"fo");
/// h.update(b"o");
/// assert_eq!(h.finish(), Digest::sha256_of(b"foo"));
/// ```
#[derive(Debug, Clone)]
pub struct Hasher(State);

/// The hash state, by algorithm (private: which hash crate computes it is not API).
#[derive(Debug, Clone)]
enum State {
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hasher {
    /// A sha256 hasher.
    pub fn sha256() -> Self {
        Hasher(State::Sha256(Sha256::new()))
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            State::Sha256(h) => h.update(data),
            State::Sha384(h) => h.update(data),
            State::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        let (algorithm, hex) = match self.0 {
            State::Sha256(h) => return Digest::from_sha256(h.finalize().into()),
            State::Sha384(h) => ("sha384", lower_hex(&h.finalize())),
            State::Sha512(h) => ("sha512", lower_hex(&h.finalize())),
        };
        Digest {
            value: format!("{algorithm}:{hex}"),
            colon: algorithm.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    const D: &str = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4";

    #[test]
    fn digests_are_validated() {
        let d = Digest::parse(D).unwrap();
        assert_eq!((d.algorithm(), d.encoded().len()), ("sha256", 64));
        for bad in [
            "sha256:***",
            "latest",
            "sha256:ABC",
            ":abc",
            "sha256:",
            "Sha256:ab",
            "a..b:c",
        ] {
            let err = Digest::parse(bad).unwrap_err();
            assert_eq!(err.kind(), ValueKind::Digest, "{bad}");
        }
        assert!(
            Digest::parse(&format!("sha256:{}", "A".repeat(64))).is_err(),
            "upper-case hex is not a sha256 digest"
        );
        assert!(
            Digest::parse("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8")
                .is_ok()
        );
        assert!(Digest::parse(&format!("sha384:{}", "a".repeat(96))).is_ok());
        assert!(Digest::parse(&format!("sha512:{}", "a".repeat(64))).is_err());
    }

    #[test]
    fn hashers_give_the_digest_of_what_they_were_fed() {
        let empty = Digest::sha256_of(b"");
        assert_eq!(
            empty.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut h = empty.hasher().unwrap();
        h.update(b"");
        assert_eq!(h.finish(), empty);
        let sha512 = Digest::parse(&format!("sha512:{}", "0".repeat(128))).unwrap();
        let mut h = sha512.hasher().unwrap();
        h.update(b"abc");
        let got = h.finish();
        assert_eq!(got.algorithm(), "sha512");
        assert!(got.encoded().starts_with("ddaf35a193617aba"));
        assert_eq!(Digest::parse(got.as_str()).unwrap(), got);
        assert!(Digest::parse("x+y:abc").unwrap().hasher().is_err());
    }

    #[test]
    fn digests_read_and_write_themselves_as_json_strings() {
        let d: Digest = serde_json::from_str(&format!("\"{D}\"")).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{D}\""));
        assert!(serde_json::from_str::<Digest>("\"sha256:x\"").is_err());
    }

    proptest! {
        #[test]
        fn the_parser_never_panics_and_what_parses_prints_back(s in "\\PC{0,140}") {
            if let Ok(d) = Digest::parse(&s) {
                prop_assert_eq!(d.to_string(), s);
                prop_assert_eq!(format!("{}:{}", d.algorithm(), d.encoded()), d.as_str());
            }
        }
    }
}
