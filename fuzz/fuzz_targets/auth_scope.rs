//! Fuzz the scope grammar: no input may panic; what parses round-trips through `Display`, and
//! a set covers itself.
#![no_main]

use harbor_auth::{Scope, ScopeSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(scope) = text.parse::<Scope>() {
        assert_eq!(
            scope
                .to_string()
                .parse::<Scope>()
                .expect("formatted scope parses"),
            scope
        );
    }
    if let Ok(set) = text.parse::<ScopeSet>() {
        assert_eq!(
            set.to_string()
                .parse::<ScopeSet>()
                .expect("formatted set parses"),
            set
        );
        assert!(set.covers(&set));
        assert!(set.covers(&set.intersection(&set)));
    }
});
