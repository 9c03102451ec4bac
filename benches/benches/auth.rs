//! harbor-auth: parsers, the cache, and token issue/verify, each beside its floor in the same run.
//!
//! - `challenge_parse` / `scope_parse`: our parsers beside a byte scan of the same input (the
//!   least any parser must do).
//! - `cache_hit`: `TokenCache::get` on a warm cache of 100 tokens beside a `HashMap<String, _>`
//!   lookup by the same key text.
//! - `token_issue/{RS256,ES256}`: `TokenIssuer::issue` (claims JSON, base64url, signature) beside
//!   the raw aws-lc-rs signature over a signing input of the same length.
//! - `token_verify/{RS256,ES256}`: `TokenVerifier::verify` (kid lookup, header and claims
//!   decode, signature, claim checks, access check) beside the raw aws-lc-rs verification
//!   (`UnparsedPublicKey::verify`, which parses the key and verifies, as a one-shot caller does),
//!   and beside a pre-parsed key (`ParsedPublicKey::verify_sig`).
//!
//! Target: issue and verify at most 1.15x their raw operation.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature as sig;
use criterion::{Criterion, criterion_group, criterion_main};
use harbor_auth::server::{KeyKind, SigningKey, TokenIssuer, TokenVerifier};
use harbor_auth::{
    BoundCredentials, CacheKey, Challenge, Credentials, Scope, ScopeSet, Token, TokenCache,
};
use secrecy::ExposeSecret;

const CHALLENGE: &str = r#"Bearer realm="https://harbor.example.com/service/token",service="harbor-registry",scope="repository:library/alpine:pull,push repository:library/base:pull",error="insufficient_scope""#;
const SCOPE: &str = "repository:registry.example.com:5000/team/app/backend:pull,push";

fn scan(s: &str, b: u8) -> usize {
    s.bytes().filter(|&x| x == b).count()
}

fn parsers(c: &mut Criterion) {
    let mut g = c.benchmark_group("challenge_parse");
    g.bench_function("floor_byte_scan", |b| {
        b.iter(|| scan(black_box(CHALLENGE), b'"'))
    });
    g.bench_function("harbor_auth", |b| {
        b.iter(|| Challenge::parse_all(black_box(CHALLENGE)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("scope_parse");
    g.bench_function("floor_byte_scan", |b| {
        b.iter(|| scan(black_box(SCOPE), b':'))
    });
    g.bench_function("harbor_auth", |b| {
        b.iter(|| black_box(SCOPE).parse::<Scope>().unwrap())
    });
    g.finish();
}

fn cache(c: &mut Criterion) {
    let cache = TokenCache::new();
    let mut map = HashMap::new();
    let now = std::time::SystemTime::now();
    let robot = BoundCredentials::new(
        "harbor.example.com",
        Credentials::robot("robot$team+ci", "secret").unwrap(),
    );
    let keys: Vec<CacheKey> = (0..100)
        .map(|i| {
            let k = CacheKey::new(
                "https://harbor.example.com/service/token",
                "harbor-registry",
                ScopeSet::push(&format!("team/app{i}")).unwrap(),
                &robot,
            );
            let token = Token::new(format!("token-{i}").into(), now, Duration::from_secs(1800));
            cache.insert(k.clone(), token.clone());
            map.insert(
                format!(
                    "{}|{}|{}|{}|{}",
                    k.registry(),
                    k.realm(),
                    k.service(),
                    k.credentials().username(),
                    k.scopes()
                ),
                token,
            );
            k
        })
        .collect();
    let probe = &keys[42];
    let probe_text = format!(
        "{}|{}|{}|{}|{}",
        probe.registry(),
        probe.realm(),
        probe.service(),
        probe.credentials().username(),
        probe.scopes()
    );
    let mut g = c.benchmark_group("cache_hit");
    g.bench_function("floor_hashmap_string_key", |b| {
        b.iter(|| map.get(black_box(probe_text.as_str())).cloned().unwrap())
    });
    g.bench_function("token_cache_get", |b| {
        b.iter(|| cache.get(black_box(probe)).unwrap())
    });
    g.finish();
}

struct Raw {
    kind: KeyKind,
    pkcs8: Vec<u8>,
}

type RawSigner = Box<dyn Fn(&[u8]) -> Vec<u8>>;

fn raw_sign(raw: &Raw) -> RawSigner {
    let rng = SystemRandom::new();
    match raw.kind {
        KeyKind::Rsa => {
            let k = sig::RsaKeyPair::from_pkcs8(&raw.pkcs8).unwrap();
            Box::new(move |msg| {
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(&sig::RSA_PKCS1_SHA256, &rng, msg, &mut out).unwrap();
                out
            })
        }
        _ => {
            let k =
                sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &raw.pkcs8)
                    .unwrap();
            Box::new(move |msg| k.sign(&rng, msg).unwrap().as_ref().to_vec())
        }
    }
}

fn tokens(c: &mut Criterion) {
    let access: ScopeSet = "repository:library/alpine:pull,push repository:library/base:pull"
        .parse()
        .unwrap();
    for (name, kind, alg) in [
        (
            "RS256",
            KeyKind::Rsa,
            &sig::RSA_PKCS1_2048_8192_SHA256 as &'static dyn sig::VerificationAlgorithm,
        ),
        ("ES256", KeyKind::EcP256, &sig::ECDSA_P256_SHA256_FIXED),
    ] {
        let key = SigningKey::generate(kind).unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        let pkcs8 = rustls_pem_to_der(pem.expose_secret());
        let raw = Raw { kind, pkcs8 };
        let kid = key.public_key().libtrust_key_id();
        let public = key.public_key().clone();
        let spki = public.spki_der().to_vec();
        let issuer = TokenIssuer::builder(key, "harbor-token-issuer")
            .build()
            .unwrap();
        let verifier = TokenVerifier::builder("harbor-token-issuer", "harbor-registry")
            .key(&kid, public)
            .build()
            .unwrap();
        let token = issuer
            .issue("robot$team+ci", "harbor-registry", &access)
            .unwrap();
        let token = token.token().expose_secret().to_owned();
        let (signing_input, sig_b64) = token.rsplit_once('.').unwrap();
        let signature = base64_url(sig_b64);
        let sign = raw_sign(&raw);
        let wanted = ScopeSet::pull("library/alpine").unwrap();

        let mut g = c.benchmark_group(format!("token_issue/{name}"));
        g.bench_function("raw_aws_lc_sign", |b| {
            b.iter(|| sign(black_box(signing_input.as_bytes())))
        });
        g.bench_function("token_issuer_issue", |b| {
            b.iter(|| {
                issuer
                    .issue(black_box("robot$team+ci"), "harbor-registry", &access)
                    .unwrap()
            })
        });
        g.finish();

        let parsed = sig::ParsedPublicKey::new(alg, &spki).unwrap();
        let mut g = c.benchmark_group(format!("token_verify/{name}"));
        g.bench_function("raw_aws_lc_verify", |b| {
            b.iter(|| {
                sig::UnparsedPublicKey::new(alg, &spki)
                    .verify(black_box(signing_input.as_bytes()), &signature)
                    .unwrap()
            })
        });
        g.bench_function("raw_aws_lc_verify_preparsed", |b| {
            b.iter(|| {
                parsed
                    .verify_sig(black_box(signing_input.as_bytes()), &signature)
                    .unwrap()
            })
        });
        g.bench_function("token_verifier_verify", |b| {
            b.iter(|| verifier.verify(black_box(&token), &wanted).unwrap())
        });
        g.finish();
    }
}

fn base64_url(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn rustls_pem_to_der(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = parsers, cache, tokens
}
criterion_main!(benches);
