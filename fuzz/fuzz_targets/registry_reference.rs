//! Fuzz the image reference, digest, name and tag parsers: no input may panic, and whatever
//! parses must print to text that parses to the same value.
#![no_main]

use harbor_client::registry::{Digest, ImageReference, RepositoryName, Tag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = text.parse::<ImageReference>() {
        let again: ImageReference = r.to_string().parse().expect("a printed reference parses");
        assert_eq!(again, r);
    }
    if let Ok(d) = text.parse::<Digest>() {
        assert_eq!(d.to_string(), text);
    }
    let _ = text.parse::<RepositoryName>();
    let _ = text.parse::<Tag>();
});
