//! Fuzz the htpasswd reader of harbor-auth's token endpoint (what `Htpasswd::parse` does
//! before its bcrypt work): no input may panic; each user is a non-empty name without `:`;
//! and the bcrypt cost the file makes `parse` pay for its timing dummy is one that finishes
//! (at most 17, `htpasswd -B -C`'s maximum: each step doubles the time, and 31 takes days).
#![no_main]

use harbor_auth::server::Htpasswd;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((users, cost)) = Htpasswd::fuzz_read(text) {
        for user in &users {
            assert!(!user.is_empty() && !user.contains(':'), "user {user:?}");
        }
        assert!(
            (4..=17).contains(&cost),
            "parse would hash its dummy at cost {cost}"
        );
    }
});
