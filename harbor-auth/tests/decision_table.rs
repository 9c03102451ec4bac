//! The decision after a `401`, one row per registry quirk. Each row names the situation, the
//! request, the challenges, what the request carried and which credentials are bound to which
//! registry; the expected decision is spelled out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use harbor_auth::decision::{Decision, GiveUp, MAX_AUTH_ROUNDS, Presented, Refusal, decide};
use harbor_auth::{
    BoundCredentials, Challenge, Credentials, Keychain, KnownRegistry, Lookup, RealmPolicy,
    ScopeSet,
};
use url::Url;

const HARBOR: &str = "https://harbor.example/v2/team/app/manifests/v1";
const HARBOR_REALM: &str =
    r#"Bearer realm="https://harbor.example/service/token",service="harbor-registry""#;

fn scopes(s: &str) -> ScopeSet {
    s.parse().unwrap()
}

fn basic() -> Credentials {
    Credentials::basic("alice", "pw")
}

fn token(scopes_: &str, fresh: bool) -> Presented {
    Presented::Token {
        realm: "https://harbor.example/service/token".to_owned(),
        scopes: scopes(scopes_),
        fresh,
    }
}

/// What the keychain would bind for the request's host.
fn bound(keychain: &Keychain, url: &str) -> BoundCredentials {
    let url = Url::parse(url).unwrap();
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap()),
        None => url.host_str().unwrap().to_owned(),
    };
    match keychain.lookup(&host, None) {
        Lookup::Ready(b) => b,
        other => panic!("{other:?}"),
    }
}

/// `Expect::Token(scopes, with_credentials, evict)`.
#[derive(Debug)]
enum Expect {
    Basic,
    Bare,
    Token(&'static str, bool, bool),
    Stop(fn(&GiveUp) -> bool),
}

struct Row {
    quirk: &'static str,
    url: &'static str,
    challenges: &'static str,
    presented: Presented,
    needed: &'static str,
    keychain: Keychain,
    policy: RealmPolicy,
    rounds: u32,
    expect: Expect,
}

fn row(quirk: &'static str, url: &'static str, challenges: &'static str) -> Row {
    Row {
        quirk,
        url,
        challenges,
        presented: Presented::Nothing,
        needed: "repository:team/app:pull",
        keychain: Keychain::new().with("harbor.example", basic()),
        policy: RealmPolicy::new(),
        rounds: 0,
        expect: Expect::Stop(|_| false),
    }
}

impl Row {
    fn presented(mut self, p: Presented) -> Self {
        self.presented = p;
        self
    }
    fn needed(mut self, n: &'static str) -> Self {
        self.needed = n;
        self
    }
    fn keychain(mut self, k: Keychain) -> Self {
        self.keychain = k;
        self
    }
    fn policy(mut self, p: RealmPolicy) -> Self {
        self.policy = p;
        self
    }
    fn rounds(mut self, r: u32) -> Self {
        self.rounds = r;
        self
    }
    fn expect(mut self, e: Expect) -> Self {
        self.expect = e;
        self
    }
}

fn rows() -> Vec<Row> {
    use Expect::*;
    let anonymous = Keychain::new();
    let hub_user = Keychain::new().with("https://index.docker.io/v1/", basic());
    vec![
        row("Bearer challenge, nothing sent: token for needed + challenged scopes", HARBOR,
            r#"Bearer realm="https://harbor.example/service/token",service="harbor-registry",scope="repository:team/app:pull""#)
            .needed("repository:team/app:pull repository:team/base:pull")
            .expect(Token("repository:team/app:pull repository:team/base:pull", true, false)),
        row("insufficient_scope after a cached token: evict, merge, fetch", HARBOR,
            r#"Bearer realm="https://harbor.example/service/token",service="harbor-registry",scope="repository:team/app:pull,push",error="insufficient_scope""#)
            .presented(token("repository:team/app:pull", false))
            .expect(Token("repository:team/app:pull,push", true, true)),
        row("insufficient_scope after a fresh token of the same scopes (Harbor granted empty access): stop", HARBOR,
            r#"Bearer realm="https://harbor.example/service/token",service="harbor-registry",scope="repository:team/app:pull",error="insufficient_scope""#)
            .presented(token("repository:team/app:pull", true))
            .expect(Stop(|g| *g == GiveUp::TokenRefused)),
        row("invalid_token after a cached token (expired, revoked): evict and fetch again", HARBOR,
            r#"Bearer realm="https://harbor.example/service/token",service="harbor-registry",scope="repository:team/app:pull",error="invalid_token""#)
            .presented(token("repository:team/app:pull", false))
            .expect(Token("repository:team/app:pull", true, true)),
        row("invalid_token after a token fetched just now: stop", HARBOR,
            r#"Bearer realm="https://harbor.example/service/token",service="harbor-registry",error="invalid_token""#)
            .presented(token("repository:team/app:pull", true))
            .expect(Stop(|g| *g == GiveUp::TokenRefused)),
        row("Harbor's Basic after Bearer, Basic credentials held: Basic", HARBOR,
            r#"Basic realm="harbor""#)
            .presented(token("repository:team/app:pull", false))
            .expect(Basic),
        row("Harbor's Basic after Bearer, anonymous: retry bare for the Bearer challenge", HARBOR,
            r#"Basic realm="harbor""#)
            .presented(token("repository:team/app:pull", false))
            .keychain(anonymous.clone())
            .expect(Bare),
        row("Harbor's catalog wants Basic: Basic", "https://harbor.example/v2/_catalog",
            r#"Basic realm="harbor""#)
            .needed("registry:catalog:*")
            .expect(Basic),
        row("catalog wants Basic, anonymous: stop", "https://harbor.example/v2/_catalog",
            r#"Basic realm="harbor""#)
            .needed("registry:catalog:*")
            .keychain(anonymous.clone())
            .expect(Stop(|g| *g == GiveUp::NoUsableCredentials)),
        row("Basic refused: stop", HARBOR, r#"Basic realm="registry""#)
            .presented(Presented::Basic)
            .expect(Stop(|g| *g == GiveUp::CredentialsRefused)),
        row("preemptive Basic on a token registry: the Bearer challenge follows", HARBOR, HARBOR_REALM)
            .presented(Presented::Basic)
            .expect(Token("repository:team/app:pull", true, false)),
        row("Docker Hub: the realm on auth.docker.io is trusted for Hub credentials",
            "https://registry-1.docker.io/v2/library/alpine/manifests/latest",
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#)
            .needed("repository:library/alpine:pull")
            .keychain(hub_user.clone())
            .expect(Token("repository:library/alpine:pull", true, false)),
        row("Docker Hub's realm named by another registry gets no credentials",
            "https://quay.example/v2/team/app/manifests/v1",
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io""#)
            .keychain(Keychain::new().with("quay.example", basic()))
            .expect(Stop(|g| matches!(g, GiveUp::RealmNotTrusted { .. }))),
        row("a realm on a hostile host with credentials: stop, nothing sent", HARBOR,
            r#"Bearer realm="https://collector.evil.example/token",service="x""#)
            .expect(Stop(|g| matches!(g, GiveUp::RealmNotTrusted { .. }))),
        row("a realm on another host, deliberately trusted for this registry", HARBOR,
            r#"Bearer realm="https://auth.harbor.example/token",service="x""#)
            .keychain(Keychain::new().with("harbor.example", basic()).trust_realm("harbor.example", "auth.harbor.example"))
            .expect(Token("repository:team/app:pull", true, false)),
        row("a realm on another host, anonymous: an anonymous token", HARBOR,
            r#"Bearer realm="https://auth.other.example/token",service="x""#)
            .keychain(anonymous.clone())
            .expect(Token("repository:team/app:pull", false, false)),
        row("a hostile registry's Basic challenge: its host has no credentials", "https://evil.example/v2/x/manifests/v1",
            r#"Basic realm="give me your password""#)
            .expect(Stop(|g| *g == GiveUp::NoUsableCredentials)),
        row("a hostile registry's realm on its own host: an anonymous token only", "https://evil.example/v2/x/manifests/v1",
            r#"Bearer realm="https://evil.example/token",service="x""#)
            .expect(Token("repository:team/app:pull", false, false)),
        row("plain-http realm off loopback: refused", HARBOR,
            r#"Bearer realm="http://harbor.example/service/token",service="harbor-registry""#)
            .expect(Stop(|g| matches!(g, GiveUp::RealmRejected { .. }))),
        row("plain-http realm on a host the policy lists as insecure", HARBOR,
            r#"Bearer realm="http://harbor.example/service/token",service="harbor-registry""#)
            .policy(RealmPolicy::new().insecure_host("harbor.example"))
            .expect(Token("repository:team/app:pull", true, false)),
        row("a realm with user info: refused", HARBOR,
            r#"Bearer realm="https://u:p@harbor.example/service/token",service="harbor-registry""#)
            .expect(Stop(|g| matches!(g, GiveUp::RealmRejected { .. }))),
        row("a realm that is no URL: refused", HARBOR, r#"Bearer realm="/service/token""#)
            .expect(Stop(|g| matches!(g, GiveUp::RealmRejected { .. }))),
        row("a static bearer token refused: stop", HARBOR, HARBOR_REALM)
            .presented(Presented::StaticBearer)
            .keychain(Keychain::new().with("harbor.example", Credentials::bearer("t")))
            .expect(Stop(|g| *g == GiveUp::StaticTokenRefused)),
        row("an identity token cannot answer Basic: stop", HARBOR, r#"Basic realm="harbor""#)
            .keychain(Keychain::new().with("harbor.example", Credentials::identity_token(None, "idt")))
            .expect(Stop(|g| *g == GiveUp::NoUsableCredentials)),
        row("an identity token goes to its registry's realm", HARBOR, HARBOR_REALM)
            .keychain(Keychain::new().with("harbor.example", Credentials::identity_token(None, "idt")))
            .expect(Token("repository:team/app:pull", true, false)),
        row("Bearer without realm and Basic offered: Basic", HARBOR, r#"Bearer service="x", Basic realm="r""#)
            .expect(Basic),
        row("a 401 without challenge: stop", HARBOR, "")
            .expect(Stop(|g| *g == GiveUp::NoChallenge)),
        row("rounds exhausted: stop", HARBOR, HARBOR_REALM)
            .rounds(MAX_AUTH_ROUNDS)
            .expect(Stop(|g| *g == GiveUp::RoundsExhausted)),
        row("a Docker-Hub-shaped registry on loopback, credentials under the index key",
            "http://127.0.0.7:5000/v2/library/x/manifests/v1",
            r#"Bearer realm="http://127.0.0.8:5001/token",service="hub""#)
            .needed("repository:library/x:pull")
            .keychain(Keychain::new()
                .known_registries(vec![KnownRegistry::new("docker.io").alias("127.0.0.7:5000")
                    .with_credential_key("https://index.docker.io/v1/").trust_realm("127.0.0.8")])
                .with("https://index.docker.io/v1/", basic()))
            .expect(Token("repository:library/x:pull", true, false)),
    ]
}

#[test]
fn every_quirk_has_its_decision() {
    for r in rows() {
        let url = Url::parse(r.url).unwrap();
        let challenges = if r.challenges.is_empty() {
            Vec::new()
        } else {
            Challenge::parse_all(r.challenges).unwrap()
        };
        let credentials = bound(&r.keychain, r.url);
        let needed = scopes(r.needed);
        let got = decide(&Refusal {
            url: &url,
            challenges: &challenges,
            presented: &r.presented,
            needed: &needed,
            credentials: &credentials,
            policy: &r.policy,
            rounds: r.rounds,
        });
        let ok = match (&r.expect, &got) {
            (Expect::Basic, Decision::RetryWithBasic) => true,
            (Expect::Bare, Decision::RetryWithoutAuthorization) => true,
            (Expect::Token(s, creds, evict), Decision::RetryWithToken(plan)) => {
                plan.scopes == scopes(s)
                    && plan.with_credentials == *creds
                    && plan.evict_presented == *evict
                    && plan.challenge.scope_param().is_none()
                    && plan.challenge.error().is_none()
            }
            (Expect::Stop(f), Decision::GiveUp(g)) => f(g),
            _ => false,
        };
        assert!(ok, "{}: expected {:?}, got {got:?}", r.quirk, r.expect);
    }
}

#[test]
fn credentials_bound_to_another_registry_are_never_offered() {
    // A binding for harbor.example applied to a request to evil.example (a transport bug, or
    // a redirect): treated as anonymous.
    let creds = BoundCredentials::new("harbor.example", basic());
    let url = Url::parse("https://evil.example/v2/x/manifests/v1").unwrap();
    let needed = ScopeSet::new();
    let policy = RealmPolicy::new();
    for (header, want_creds) in [
        (r#"Basic realm="x""#, None),
        (r#"Bearer realm="https://evil.example/token""#, Some(false)),
    ] {
        let challenges = Challenge::parse_all(header).unwrap();
        let got = decide(&Refusal {
            url: &url,
            challenges: &challenges,
            presented: &Presented::Nothing,
            needed: &needed,
            credentials: &creds,
            policy: &policy,
            rounds: 0,
        });
        match (want_creds, got) {
            (None, Decision::GiveUp(GiveUp::NoUsableCredentials)) => {}
            (Some(w), Decision::RetryWithToken(plan)) => assert_eq!(plan.with_credentials, w),
            (_, other) => panic!("{header}: {other:?}"),
        }
    }
}

#[test]
fn give_up_messages_say_what_to_do_and_hold_no_secret() {
    let g = GiveUp::RealmNotTrusted {
        realm: "https://auth.example/token".to_owned(),
    };
    assert!(g.is_realm_problem());
    let text = g.to_string();
    assert!(text.contains("Keychain::trust_realm"), "{text}");
    assert!(!GiveUp::CredentialsRefused.is_realm_problem());
}
