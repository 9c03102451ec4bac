//! Property tests for every parser: no input panics, and what we format parses back equal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use harbor_auth::{Challenge, Scheme, Scope, ScopeSet, TokenResponse};
use proptest::prelude::*;

fn challenge() -> impl Strategy<Value = Challenge> {
    (
        prop_oneof![
            Just(Scheme::Bearer),
            Just(Scheme::Basic),
            "[A-Za-z][A-Za-z0-9-]{0,8}".prop_map(Scheme::Other)
        ],
        proptest::collection::vec(("[a-z][a-z0-9_-]{0,8}", "[ -~]{0,24}"), 0..5),
    )
        .prop_map(|(scheme, params)| {
            params
                .into_iter()
                .fold(Challenge::new(scheme), |c, (n, v)| c.with_param(&n, &v))
        })
}

fn scope() -> impl Strategy<Value = Scope> {
    (
        "[a-z0-9]{1,10}",
        proptest::option::of("[a-z0-9]{1,6}"),
        "([a-z0-9.-]{1,10}(:[0-9]{1,5})?/)?[a-z0-9][a-z0-9._-]{0,9}(/[a-z0-9][a-z0-9._-]{0,9}){0,2}",
        proptest::collection::vec(
            prop_oneof![
                Just("pull"),
                Just("push"),
                Just("delete"),
                Just("*"),
                Just("scanner-pull")
            ],
            0..4,
        ),
    )
        .prop_map(|(ty, class, name, actions)| {
            let ty = match class {
                Some(c) => format!("{ty}({c})"),
                None => ty,
            };
            format!("{ty}:{name}:{}", actions.join(","))
                .parse()
                .unwrap()
        })
}

proptest! {
    #[test]
    fn challenge_parser_never_panics(s in "\\PC{0,80}") {
        let _ = Challenge::parse_all(&s);
    }

    #[test]
    fn challenge_parser_never_panics_on_header_like_input(s in "[ -~]{0,80}") {
        if let Ok(cs) = Challenge::parse_all(&s) {
            // Whatever parsed formats to something that parses the same.
            let again = Challenge::parse_all(&harbor_auth::format_challenges(&cs)).unwrap();
            prop_assert_eq!(again, cs);
        }
    }

    #[test]
    fn challenges_round_trip(cs in proptest::collection::vec(challenge(), 1..4)) {
        let text = harbor_auth::format_challenges(&cs);
        prop_assert_eq!(Challenge::parse_all(&text).unwrap(), cs);
    }

    #[test]
    fn scopes_round_trip(s in scope()) {
        let text = s.to_string();
        prop_assert_eq!(text.parse::<Scope>().unwrap(), s);
    }

    #[test]
    fn scope_parser_never_panics(s in "\\PC{0,60}") {
        if let Ok(parsed) = s.parse::<Scope>() {
            prop_assert_eq!(parsed.to_string().parse::<Scope>().unwrap(), parsed);
        }
    }

    #[test]
    fn scope_sets_merge_canonically(a in proptest::collection::vec(scope(), 0..6), b in proptest::collection::vec(scope(), 0..6)) {
        let sa: ScopeSet = a.iter().cloned().collect();
        let sb: ScopeSet = b.iter().cloned().collect();
        prop_assert_eq!(sa.to_string().parse::<ScopeSet>().unwrap(), sa.clone());
        let mut ab = sa.clone();
        ab.merge(&sb);
        let mut ba = sb.clone();
        ba.merge(&sa);
        prop_assert_eq!(ab.to_string(), ba.to_string());
        prop_assert!(ab.covers(&sa) && ab.covers(&sb));
        // The grant rule never grants more than asked.
        prop_assert!(sb.covers(&sa.intersection(&sb)));
    }

    #[test]
    fn token_response_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = TokenResponse::from_slice(&b);
    }

    #[test]
    fn token_response_lifetime_floor(token in "[A-Za-z0-9._-]{1,40}", expires in proptest::option::of(-1e6f64..1e9), empty_access in any::<bool>()) {
        let mut body = serde_json::json!({"token": token});
        if let Some(e) = expires {
            body["expires_in"] = serde_json::json!(e);
        }
        if empty_access {
            body["access_token"] = serde_json::json!("");
        }
        let r = TokenResponse::from_slice(body.to_string().as_bytes()).unwrap();
        prop_assert!(r.expires_in().as_secs() >= 60);
        prop_assert!(r.expires_in() <= harbor_auth::MAX_EXPIRES_IN);
        use secrecy::ExposeSecret;
        prop_assert_eq!(r.token().expose_secret(), token.as_str());
    }
}
