//! Fuzz the `WWW-Authenticate` parser: no input may panic, and whatever parses must format to
//! text that parses to the same challenges.
#![no_main]

use harbor_auth::{Challenge, format_challenges};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(challenges) = Challenge::parse_all(text) {
        let again = Challenge::parse_all(&format_challenges(&challenges))
            .expect("formatted challenges parse");
        assert_eq!(again, challenges);
        for c in &challenges {
            let _ = c.scopes();
            let _ = c.error();
        }
    }
});
