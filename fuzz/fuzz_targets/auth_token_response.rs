//! Fuzz the token-response decoder: no input may panic, a decoded lifetime is within bounds,
//! and turning it into a token never overflows.
#![no_main]

use harbor_auth::{MAX_EXPIRES_IN, MIN_EXPIRES_IN, TokenResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = TokenResponse::from_slice(data) {
        assert!(r.expires_in() >= MIN_EXPIRES_IN && r.expires_in() <= MAX_EXPIRES_IN);
        let token = r.into_token(std::time::SystemTime::now());
        let _ = token.is_fresh(std::time::SystemTime::now());
    }
});
