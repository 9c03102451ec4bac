//! Fuzz the Docker `config.json` / podman `auth.json` reader: no input may panic, no lookup may
//! start a credential helper (the helper directories are empty), and no secret reaches a
//! message: the `Debug` of what parses, every lookup's answer and every error stay the same
//! when every secret in the file (`password`, `identitytoken`, `registrytoken`, the password
//! inside `auth`) is replaced by another.
#![no_main]

use base64::Engine as _;
use harbor_auth::docker_config::{DockerConfig, normalize_registry};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Everything a user can see of a parsed file: its `Debug`, and the answer (or error) of a
/// lookup for every key it names plus one it does not.
fn observe(bytes: &[u8]) -> String {
    match DockerConfig::from_slice(bytes) {
        Err(e) => format!("error: {e} / {e:?}"),
        Ok(config) => {
            let config = config.with_helper_dirs(Vec::new());
            let mut out = format!("{config:?}\n");
            let keys = serde_json::from_slice::<Value>(bytes)
                .ok()
                .map(|v| registries(&v))
                .unwrap_or_default();
            for key in keys.iter().map(String::as_str).chain(["unknown.example"]) {
                let _ = normalize_registry(key);
                let _ = config.helper_for(key);
                match config.credentials_for(key) {
                    Ok(c) => out.push_str(&format!("{key}: {c:?}\n")),
                    Err(e) => out.push_str(&format!("{key}: {e} / {e:?}\n")),
                }
            }
            out
        }
    }
}

/// The registry keys of `auths` and `credHelpers`.
fn registries(v: &Value) -> Vec<String> {
    ["auths", "credHelpers"]
        .iter()
        .filter_map(|k| v.get(k)?.as_object())
        .flat_map(|m| m.keys().cloned())
        .collect()
}

/// The same file with every secret replaced (non-empty stays non-empty, empty stays empty).
fn other_secrets(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(auths) = v.get_mut("auths").and_then(Value::as_object_mut) {
        for entry in auths.values_mut().filter_map(Value::as_object_mut) {
            for field in ["password", "identitytoken", "registrytoken"] {
                if let Some(Value::String(s)) = entry.get_mut(field) {
                    if !s.is_empty() {
                        *s = "other-secret".to_owned();
                    }
                }
            }
            if let Some(Value::String(auth)) = entry.get_mut("auth") {
                let b64 = base64::engine::general_purpose::STANDARD;
                let user_pass = b64
                    .decode(auth.trim())
                    .ok()
                    .and_then(|raw| String::from_utf8(raw).ok());
                if let Some((user, pass)) = user_pass.as_deref().and_then(|t| t.split_once(':')) {
                    let pass = if pass.is_empty() { "" } else { "other-secret" };
                    *auth = b64.encode(format!("{user}:{pass}"));
                }
            }
        }
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let _ = observe(data);
    // Compare through serde_json's own rendering, so that both sides have the same shape
    // (duplicate keys, whitespace) and only the secrets differ.
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let same = serde_json::to_vec(&doc).expect("a value renders");
    let other = serde_json::to_vec(&other_secrets(&doc)).expect("a value renders");
    assert_eq!(
        observe(&same),
        observe(&other),
        "a secret changed what a user sees"
    );
});
