//! Fuzz the manifest parser with every `Content-Type` a registry may send (OCI and Docker
//! manifests, indexes and manifest lists, the OCI artifact manifest, Docker schema 1, none,
//! garbage): no input may panic, and a manifest that parses (an image manifest with or without
//! `artifactType`, or an index) serialises to JSON that parses, under its own media type, to
//! the same manifest.
#![no_main]

use harbor_client::registry::{Manifest, MediaType};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&str>; 9] = [
    None,
    Some(MediaType::OCI_MANIFEST),
    Some(MediaType::OCI_INDEX),
    Some(MediaType::DOCKER_MANIFEST),
    Some(MediaType::DOCKER_MANIFEST_LIST),
    Some("application/vnd.oci.artifact.manifest.v1+json"),
    Some(MediaType::DOCKER_SCHEMA1),
    Some(MediaType::DOCKER_SCHEMA1_SIGNED),
    Some("text/plain"),
];

fuzz_target!(|data: &[u8]| {
    for ct in CONTENT_TYPES {
        let Ok(m) = Manifest::from_slice(data, ct) else {
            continue;
        };
        let json = match &m {
            Manifest::Image(image) => serde_json::to_vec(image),
            Manifest::Index(index) => serde_json::to_vec(index),
            _ => continue,
        }
        .expect("a parsed manifest serialises");
        let again = Manifest::from_slice(&json, Some(m.media_type()))
            .expect("a serialised manifest parses");
        assert_eq!(again, m, "a manifest changed through its JSON");
    }
});
