//! Docker image manifests, schema 1 (`application/vnd.docker.distribution.manifest.v1+json`
//! and the signed `…v1+prettyjws`): deprecated since 2015, still served by old registries and
//! by distribution 2.8 when a client asks for nothing newer. Read here so that such images can
//! be pulled; never pushed.
//!
//! A signed schema 1 manifest is a JSON object with a `signatures` member added at its end by
//! libtrust's "pretty JWS" format. Each signature's `protected` header (base64url JSON) holds
//! `formatLength` and `formatTail`: the signed payload is the first `formatLength` bytes of
//! the manifest followed by the decoded `formatTail` (the closing `\n}`). That payload, not
//! the bytes served, is what the manifest's digest covers (`Docker-Content-Digest`), so the
//! same manifest re-signed by another registry keeps its digest.

use std::borrow::Cow;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::manifest::{Descriptor, MediaType, decode};
use super::{Digest, Platform};
use crate::error::{Error, Result};

/// A Docker image manifest, schema 1.
///
/// Decoded from the signed (`…v1+prettyjws`) and the unsigned (`…v1+json`) form. The
/// signatures of the signed form are kept as they came but **not verified**: schema 1
/// signatures are made with keys nobody distributes (each registry or daemon signs with its
/// own), so they prove nothing about the image's origin. Trust comes from the digest, which
/// this client checks against the reference and the registry's `Docker-Content-Digest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Schema1Manifest {
    /// Always 1.
    pub schema_version: u32,
    /// The repository name the manifest was made for.
    #[serde(default)]
    pub name: String,
    /// The tag the manifest was made for.
    #[serde(default)]
    pub tag: String,
    /// The CPU architecture (`amd64`).
    #[serde(default)]
    pub architecture: String,
    /// The layers, **newest first** (the reverse of an OCI manifest's `layers`), one per
    /// history entry: empty layers repeat the same blob.
    #[serde(default)]
    pub fs_layers: Vec<FsLayer>,
    /// The image history, newest first, parallel to [`Schema1Manifest::fs_layers`].
    #[serde(default)]
    pub history: Vec<Schema1History>,
    /// The JWS signatures of the signed form (empty for the unsigned form); not verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<Schema1Signature>,
}

/// One layer of a [`Schema1Manifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FsLayer {
    /// The layer blob's digest.
    pub blob_sum: Digest,
}

/// One history entry of a [`Schema1Manifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Schema1History {
    /// The v1 image JSON of this step, as the string it is in the manifest (kept as it is:
    /// its bytes are part of what was signed).
    pub v1_compatibility: String,
}

/// A JWS signature of a signed [`Schema1Manifest`], kept as it came; never verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Schema1Signature {
    /// The unprotected header (`alg`, and `jwk` or `x5c`).
    pub header: serde_json::Value,
    /// The signature, base64url.
    pub signature: String,
    /// The protected header, base64url JSON (`formatLength`, `formatTail`, `time`).
    pub protected: String,
}

impl Schema1Manifest {
    /// Decodes schema 1 bytes, signed or not.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when they are not such a manifest (the error names the JSON path),
    /// [`Error::InvalidInput`] when the schema version is not 1.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let m: Schema1Manifest = decode("schema 1 manifest", bytes)?;
        if m.schema_version != 1 {
            return Err(Error::invalid(
                "schema 1 manifest",
                &m.schema_version.to_string(),
                "the schema version is not 1",
            ));
        }
        Ok(m)
    }

    /// The layers in the order they apply (base first, as an OCI manifest lists them), each
    /// blob once: `fsLayers` reversed, with repeated blobs (the empty layer of every history
    /// step that changed no file) kept at their first use from the base. Schema 1 does not
    /// say layer sizes: the descriptors' sizes are 0 until the registry tells
    /// ([`RegistryClient::head_blob`](super::RegistryClient::head_blob)).
    pub fn layers(&self) -> Vec<Descriptor> {
        let mut seen = std::collections::HashSet::new();
        self.fs_layers
            .iter()
            .rev()
            .filter(|l| seen.insert(l.blob_sum.clone()))
            .map(|l| Descriptor::new(MediaType::DOCKER_SCHEMA1_LAYER, l.blob_sum.clone(), 0))
            .collect()
    }

    /// The platform: `linux` (schema 1 knows no other) and the manifest's architecture.
    pub fn platform(&self) -> Platform {
        Platform::new("linux", self.architecture.clone())
    }

    /// The bytes a schema 1 manifest's digest covers: for the signed form the payload the
    /// signatures sign (the first `formatLength` bytes and the decoded `formatTail` of the
    /// protected headers, which all signatures must agree on), else the bytes themselves.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when the bytes are not JSON; [`Error::InvalidInput`] when a
    /// protected header is not base64url JSON with `formatLength` and `formatTail`, when two
    /// signatures disagree on them, or when `formatLength` lies outside the bytes.
    pub fn signed_payload(bytes: &[u8]) -> Result<Cow<'_, [u8]>> {
        #[derive(Deserialize)]
        struct Signed {
            #[serde(default)]
            signatures: Vec<Schema1Signature>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Protected {
            format_length: usize,
            format_tail: String,
        }
        let bad = |reason: &str| Error::invalid("schema 1 signature", "protected", reason);
        let signed: Signed = decode("schema 1 manifest", bytes)?;
        let mut format: Option<(usize, Vec<u8>)> = None;
        for s in &signed.signatures {
            let raw = b64url(&s.protected).ok_or_else(|| bad("not base64url"))?;
            let p: Protected = serde_json::from_slice(&raw)
                .map_err(|_| bad("not JSON with formatLength and formatTail"))?;
            let tail = b64url(&p.format_tail).ok_or_else(|| bad("formatTail is not base64url"))?;
            match &format {
                None => format = Some((p.format_length, tail)),
                Some((len, t)) if *len == p.format_length && *t == tail => {}
                Some(_) => return Err(bad("two signatures disagree on the signed payload")),
            }
        }
        let Some((len, tail)) = format else {
            return Ok(Cow::Borrowed(bytes));
        };
        let head = bytes
            .get(..len)
            .ok_or_else(|| bad("formatLength lies beyond the manifest"))?;
        let mut payload = Vec::with_capacity(len + tail.len());
        payload.extend_from_slice(head);
        payload.extend_from_slice(&tail);
        Ok(Cow::Owned(payload))
    }
}

/// Decodes base64url with or without padding, as libtrust writes it (without).
fn b64url(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

/// Whether a media type is Docker schema 1 (signed or not).
pub(crate) fn is_schema1(media_type: &str) -> bool {
    media_type == MediaType::DOCKER_SCHEMA1 || media_type == MediaType::DOCKER_SCHEMA1_SIGNED
}

/// The bytes a manifest's digest covers: the signed payload for a signed schema 1 manifest
/// (recognised by its media type, or by `schemaVersion: 1` when the registry sent a generic
/// type), else the bytes as they are.
pub(crate) fn digested_bytes<'a>(
    bytes: &'a [u8],
    media_type: Option<&str>,
) -> Result<Cow<'a, [u8]>> {
    match media_type {
        Some(t) if is_schema1(t) => Schema1Manifest::signed_payload(bytes),
        Some(t) if t != "application/json" && t != "text/plain" && !t.is_empty() => {
            Ok(Cow::Borrowed(bytes))
        }
        _ => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Probe {
                #[serde(default)]
                schema_version: Option<u32>,
            }
            match serde_json::from_slice::<Probe>(bytes) {
                Ok(Probe {
                    schema_version: Some(1),
                }) => Schema1Manifest::signed_payload(bytes),
                _ => Ok(Cow::Borrowed(bytes)),
            }
        }
    }
}

/// The error for pushing a schema 1 manifest anywhere.
pub(crate) fn not_pushable(reference: &str) -> Error {
    Error::Schema1NotPushable {
        reference: reference.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signed manifest as distribution 2.8 serves it (see `tests/fixtures/schema1/SOURCES.md`).
    const SIGNED: &[u8] = include_bytes!("../../tests/fixtures/schema1/signed.json");
    const SIGNED_DIGEST: &str =
        "sha256:42958260f042263e0f31d90b9c0ae37b2beed89f84a51b14013f268926e713b0";

    #[test]
    fn the_digest_of_a_signed_manifest_covers_the_payload_without_signatures() {
        let payload = Schema1Manifest::signed_payload(SIGNED).unwrap();
        assert!(payload.len() < SIGNED.len());
        assert_eq!(Digest::sha256_of(&payload).as_str(), SIGNED_DIGEST);
        assert_ne!(Digest::sha256_of(SIGNED).as_str(), SIGNED_DIGEST);
        // The payload is the unsigned manifest, and its own payload.
        let unsigned = Schema1Manifest::from_slice(&payload).unwrap();
        assert!(unsigned.signatures.is_empty());
        assert_eq!(
            Schema1Manifest::signed_payload(&payload).unwrap(),
            payload.as_ref()
        );
        assert_eq!(
            digested_bytes(SIGNED, Some(MediaType::DOCKER_SCHEMA1_SIGNED)).unwrap(),
            payload
        );
        // A registry that calls it `application/json`: recognised by its schema version.
        assert_eq!(
            digested_bytes(SIGNED, Some("application/json")).unwrap(),
            payload
        );
        assert_eq!(
            digested_bytes(SIGNED, Some(MediaType::OCI_MANIFEST)).unwrap(),
            SIGNED
        );
    }

    #[test]
    fn a_signed_manifest_decodes_with_its_layers_base_first() {
        let m = Schema1Manifest::from_slice(SIGNED).unwrap();
        assert_eq!(m.schema_version, 1);
        assert_eq!((m.name.as_str(), m.tag.as_str()), ("conv/img", "v1"));
        assert_eq!(m.architecture, "amd64");
        assert_eq!(m.fs_layers.len(), 2);
        assert_eq!(m.history.len(), 2);
        assert!(m.history[0].v1_compatibility.starts_with('{'));
        assert_eq!(m.signatures.len(), 1);
        assert_eq!(m.signatures[0].header["alg"], "ES256");
        let layers = m.layers();
        assert_eq!(layers.len(), 2);
        assert_eq!(layers[0].digest, m.fs_layers[1].blob_sum, "base first");
        assert_eq!(m.platform(), Platform::new("linux", "amd64"));
    }

    #[test]
    fn repeated_blobs_are_listed_once_at_their_first_use_from_the_base() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let m = format!(
            r#"{{"schemaVersion":1,"name":"a","tag":"t","architecture":"arm64","fsLayers":[{{"blobSum":"{e}"}},{{"blobSum":"{b}"}},{{"blobSum":"{e}"}},{{"blobSum":"{a}"}}],"history":[]}}"#,
            e = d('e'),
            b = d('b'),
            a = d('a')
        );
        let m = Schema1Manifest::from_slice(m.as_bytes()).unwrap();
        let order: Vec<String> = m
            .layers()
            .into_iter()
            .map(|l| l.digest.to_string())
            .collect();
        assert_eq!(order, [d('a'), d('e'), d('b')]);
    }

    #[test]
    fn broken_protected_headers_are_typed_errors() {
        let with = |protected: &str| {
            format!(
                r#"{{"schemaVersion":1,"fsLayers":[],"history":[],"signatures":[{{"header":{{}},"signature":"x","protected":"{protected}"}}]}}"#
            )
        };
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        for p in [
            "%%%".to_owned(),
            enc("not json"),
            enc(r#"{"formatLength":9999,"formatTail":"Cn0"}"#),
            enc(r#"{"formatTail":"Cn0"}"#),
        ] {
            let e = Schema1Manifest::signed_payload(with(&p).as_bytes()).unwrap_err();
            assert!(matches!(e, Error::InvalidInput { .. }), "{p}: {e:?}");
        }
        let two = format!(
            r#"{{"schemaVersion":1,"signatures":[{{"header":{{}},"signature":"x","protected":"{a}"}},{{"header":{{}},"signature":"y","protected":"{b}"}}]}}"#,
            a = enc(r#"{"formatLength":10,"formatTail":"Cn0"}"#),
            b = enc(r#"{"formatLength":11,"formatTail":"Cn0"}"#),
        );
        let e = Schema1Manifest::signed_payload(two.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("disagree"), "{e}");
        assert!(Schema1Manifest::from_slice(br#"{"schemaVersion":2}"#).is_err());
    }
}
