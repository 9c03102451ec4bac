//! Key ids are exact: the libtrust id and the JWK thumbprint of generated keys are computed a
//! second time, independently, with `openssl` and `python3`. (The RFC 7638 §3.1 vector is a
//! unit test in `src/server/keys.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use harbor_auth::server::{KeyKind, SigningKey};
use secrecy::ExposeSecret;

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The SubjectPublicKeyInfo DER as openssl derives it from the private key PEM.
fn openssl_spki(dir: &Path, key: &SigningKey) -> Vec<u8> {
    let pem = dir.join("key.pem");
    std::fs::write(&pem, key.to_pkcs8_pem().unwrap().expose_secret()).unwrap();
    run(Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&pem))
}

const PY_LIBTRUST: &str = r#"
import base64, hashlib, sys
d = hashlib.sha256(sys.stdin.buffer.read()).digest()[:30]
s = base64.b32encode(d).decode().rstrip('=')
print(':'.join(s[i:i + 4] for i in range(0, len(s), 4)), end='')
"#;

const PY_EC_THUMBPRINT: &str = r#"
import base64, hashlib, json, sys
spki = sys.stdin.buffer.read()
crv, n = (sys.argv[1], int(sys.argv[2]))
point = spki[-(2 * n + 1):]
assert point[0] == 4
b64 = lambda b: base64.urlsafe_b64encode(b.lstrip(b'\0')).decode().rstrip('=')
jwk = json.dumps({"crv": crv, "kty": "EC", "x": b64(point[1:1 + n]), "y": b64(point[1 + n:])}, separators=(',', ':'), sort_keys=True)
print(base64.urlsafe_b64encode(hashlib.sha256(jwk.encode()).digest()).decode().rstrip('='), end='')
"#;

fn python(script: &str, args: &[&str], input: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[harbor_testkit::needs("openssl", "python3")]
#[test]
fn libtrust_ids_and_thumbprints_match_an_independent_computation() {
    if common::tool("openssl").is_none() || common::tool("python3").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for kind in [KeyKind::Rsa, KeyKind::EcP256, KeyKind::EcP384] {
        let key = SigningKey::generate(kind).unwrap();
        let spki = openssl_spki(dir.path(), &key);
        assert_eq!(
            key.public_key().spki_der(),
            spki.as_slice(),
            "{kind:?}: SPKI encoding"
        );
        let expected = python(PY_LIBTRUST, &[], &spki);
        assert_eq!(key.public_key().libtrust_key_id(), expected, "{kind:?}");
        assert_eq!(expected.len(), 59);
        let (crv, n) = match kind {
            KeyKind::EcP256 => ("P-256", "32"),
            KeyKind::EcP384 => ("P-384", "48"),
            _ => continue,
        };
        let thumb = python(PY_EC_THUMBPRINT, &[crv, n], &spki);
        assert_eq!(
            key.public_key().jwk_thumbprint().unwrap(),
            thumb,
            "{kind:?}"
        );
    }
}
