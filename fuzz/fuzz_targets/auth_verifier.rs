//! Fuzz `TokenVerifier::verify` with arbitrary tokens, and with a real token whose bytes are
//! mutated: no input may panic, and no mutated token other than the original verifies.
#![no_main]

use std::sync::OnceLock;

use harbor_auth::ScopeSet;
use harbor_auth::server::{KeyKind, SigningKey, TokenIssuer, TokenVerifier};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;

struct Fixture {
    verifier: TokenVerifier,
    token: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = SigningKey::generate(KeyKind::EcP256).expect("key");
        let kid = key.public_key().libtrust_key_id();
        let verifier = TokenVerifier::builder("iss", "svc")
            .key(&kid, key.public_key().clone())
            .build()
            .expect("verifier");
        let issuer = TokenIssuer::builder(key, "iss").build().expect("issuer");
        let token = issuer
            .issue("fuzz", "svc", &ScopeSet::pull("a/b").expect("scope"))
            .expect("token")
            .token()
            .expose_secret()
            .to_owned();
        Fixture { verifier, token }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = f.verifier.verify(text, &ScopeSet::new());
    }
    // Mutate the real token: XOR bytes at positions the input chooses.
    let mut bytes = f.token.clone().into_bytes();
    for pair in data.chunks(2) {
        if let [pos, x] = pair {
            let i = usize::from(*pos) * bytes.len() / 256;
            if let Some(b) = bytes.get_mut(i) {
                *b ^= x;
            }
        }
    }
    if let Ok(text) = String::from_utf8(bytes) {
        if text != f.token && f.verifier.verify(&text, &ScopeSet::new()).is_ok() {
            // Base64 has slack bits: a changed last character can decode to the same bytes.
            let decode = |t: &str| {
                t.split('.')
                    .map(|p| {
                        use base64::Engine as _;
                        base64::engine::general_purpose::URL_SAFE_NO_PAD
                            .decode(p)
                            .ok()
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(decode(&text), decode(&f.token), "a mutated token verified");
        }
    }
});
