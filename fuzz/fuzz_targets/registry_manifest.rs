//! Fuzz the manifest parser (OCI/Docker manifests and indexes, with or without `mediaType`,
//! with any `Content-Type`): no input may panic.
#![no_main]

use harbor_client::registry::{Manifest, MediaType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for ct in [None, Some(MediaType::OCI_INDEX), Some(MediaType::DOCKER_MANIFEST)] {
        if let Ok(m) = Manifest::from_slice(data, ct) {
            let _ = m.media_type();
        }
    }
});
