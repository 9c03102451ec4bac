//! Every public future of the `fetch` module is `Send`, so a client built on it can be used from
//! `tokio::spawn` and in `Send` streams. A regression is a compile error of this file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use harbor_auth::fetch::TokenFetcher;
use harbor_auth::{BoundCredentials, Challenge, Credentials, ScopeSet, TokenCache};

fn assert_send<T: Send>(_: &T) {}

#[test]
fn fetch_and_fetch_cached_futures_are_send() {
    let fetcher = TokenFetcher::new(reqwest::Client::new());
    let cache = TokenCache::new();
    let challenge = Challenge::parse_all(
        r#"Bearer realm="https://harbor.example/service/token",service="harbor-registry""#,
    )
    .unwrap()
    .remove(0);
    let scopes = ScopeSet::pull("library/alpine").unwrap();
    let registry = url::Url::parse("https://harbor.example/").unwrap();
    // Every credential kind takes a different path (GET, password POST, refresh POST).
    for creds in [
        Credentials::Anonymous,
        Credentials::basic("alice", "pw"),
        Credentials::identity_token(Some("alice".into()), "idt"),
        Credentials::bearer("ready"),
    ] {
        let bound = BoundCredentials::new(registry.as_str(), creds);
        let fut = fetcher.fetch(&challenge, &scopes, &bound);
        assert_send(&fut);
        drop(fut); // never polled: no IO
        let fut = fetcher.fetch_cached(&cache, &challenge, &scopes, &bound);
        assert_send(&fut);
        drop(fut);
    }
}
