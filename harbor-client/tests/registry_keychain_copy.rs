//! One keychain, four real registries: two `docker-registry` with htpasswd (Basic) auth on
//! 127.0.0.1 and 127.0.0.2, two with token auth by two different issuers (each its own key
//! and token service) on 127.0.0.3 and 127.0.0.4. One docker `config.json` holds a password for
//! each, and each registry knows only its own user: an image copied and pulled across all four
//! only arrives if every side got its own credentials, and the token services record who
//! asked them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use base64::Engine as _;
use common::auth::{TokenSetup, start_with};
use common::{htpasswd_registry, make_image, noise};
use harbor_auth::docker_config::DockerConfig;
use harbor_client::registry::{ImageOptions, ImageReference, RegistryClient};
use harbor_client::transport::Keychain;

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// A docker `config.json` with `auth` entries (base64 `user:password`) per registry.
fn docker_config(dir: &std::path::Path, entries: &[(String, &str, &str)]) -> std::path::PathBuf {
    let auths: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .map(|(host, user, password)| {
            let auth =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            (host.clone(), serde_json::json!({ "auth": auth }))
        })
        .collect();
    let path = dir.join("config.json");
    std::fs::write(&path, serde_json::json!({ "auths": auths }).to_string()).unwrap();
    path
}

fn set(users: &[&str]) -> BTreeSet<String> {
    users.iter().map(|u| (*u).to_owned()).collect()
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_pull_across_four_registries_with_one_keychain() {
    let Some(basic_a) = htpasswd_registry(ip(1), ("alice", "alice-pw")).await else {
        return;
    };
    let Some(basic_b) = htpasswd_registry(ip(2), ("bob", "bob-pw")).await else {
        return;
    };
    let Some((token_c, issuer_c)) = start_with(TokenSetup {
        registry_ip: ip(3),
        realm_ip: ip(3),
        issuer: "issuer-c",
        user: ("carol", "carol-pw"),
        ..TokenSetup::default()
    })
    .await
    else {
        return;
    };
    let Some((token_d, issuer_d)) = start_with(TokenSetup {
        registry_ip: ip(4),
        realm_ip: ip(4),
        issuer: "issuer-d",
        user: ("dave", "dave-pw"),
        ..TokenSetup::default()
    })
    .await
    else {
        return;
    };

    let home = tempfile::tempdir().unwrap();
    let config = docker_config(
        home.path(),
        &[
            (basic_a.host(), "alice", "alice-pw"),
            (basic_b.host(), "bob", "bob-pw"),
            (token_c.host(), "carol", "carol-pw"),
            (format!("http://{}/v2/", token_d.host()), "dave", "dave-pw"),
        ],
    );
    let keychain = Keychain::new().with_config(DockerConfig::from_path(&config).unwrap());
    let client = RegistryClient::builder()
        .keychain(keychain)
        .build()
        .unwrap();
    let opts = ImageOptions::default().concurrency(3);

    // Into the first registry, then along the chain.
    let src = tempfile::tempdir().unwrap();
    let desc = make_image(
        src.path(),
        "v1",
        &[noise(120_000, 31), noise(4000, 32), noise(10, 33)],
    )
    .await;
    let at = |reg: &harbor_testkit::Registry, repo: &str| -> ImageReference {
        format!("{}/{repo}:v1", reg.host()).parse().unwrap()
    };
    let a = at(&basic_a, "team/app");
    assert_eq!(
        client.push_image(src.path(), &a, &opts).await.unwrap(),
        desc.digest
    );
    let b = at(&basic_b, "mirror/app");
    let c = at(&token_c, "carol/app");
    let d = at(&token_d, "dave/app");
    for (from, to) in [(&a, &b), (&b, &c), (&c, &d)] {
        let copied = client
            .copy_image(from, to, &opts)
            .await
            .unwrap_or_else(|e| panic!("copy {from} -> {to}: {e}"));
        assert_eq!(copied, desc.digest, "{from} -> {to}");
    }
    // Pull from every registry: the same image everywhere.
    for r in [&a, &b, &c, &d] {
        let out = tempfile::tempdir().unwrap();
        let got = client
            .pull_image(r, out.path(), &ImageOptions::default())
            .await
            .unwrap_or_else(|e| panic!("pull {r}: {e}"));
        assert_eq!(got.digest, desc.digest, "{r}");
    }

    // Each token service was asked by its own user only (and never by another registry's).
    assert_eq!(issuer_c.users_seen(), set(&["carol"]));
    assert_eq!(issuer_d.users_seen(), set(&["dave"]));

    // And the negative: a keychain without a registry's entry cannot write there, although it
    // holds passwords for the others, and none of those goes there instead.
    let without_b_and_d = Keychain::new().with_config(
        DockerConfig::from_path(&docker_config(
            home.path(),
            &[
                (basic_a.host(), "alice", "alice-pw"),
                (token_c.host(), "carol", "carol-pw"),
            ],
        ))
        .unwrap(),
    );
    let client = RegistryClient::builder()
        .keychain(without_b_and_d)
        .build()
        .unwrap();
    let e = client
        .copy_image(&a, &at(&basic_b, "other/app"), &opts)
        .await
        .unwrap_err();
    assert!(e.is_unauthorized(), "{e}");
    let e = client
        .copy_image(&c, &at(&token_d, "other/app"), &opts)
        .await
        .unwrap_err();
    assert!(e.is_unauthorized() || e.is_forbidden(), "{e}");
    let d_users = issuer_d.users_seen();
    assert!(
        !d_users.contains("carol") && !d_users.contains("alice"),
        "{d_users:?}"
    );
}
