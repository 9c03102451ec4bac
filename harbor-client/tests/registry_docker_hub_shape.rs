//! Docker Hub's shape on loopback: a real `docker-registry` with token auth on 127.0.0.7 whose
//! token realm lives on another host, 127.0.0.8, and credentials filed under Docker Hub's index
//! key (`https://index.docker.io/v1/`) in a docker `config.json`. With the known-registry data
//! pointed at these addresses, a pull works with the credentials by default, as `docker pull`
//! does against `registry-1.docker.io` and `auth.docker.io`; without it the other-host realm
//! gets no credentials and the error says how to trust it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::Ipv4Addr;

use common::auth::{TokenSetup, start_with};
use common::{make_image, noise};
use harbor_auth::docker_config::DockerConfig;
use harbor_client::registry::{ImageOptions, ImageReference, RegistryClient};
use harbor_client::transport::{Keychain, KnownRegistry};

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_shaped_registry_pulls_with_credentials_by_default() {
    let Some((reg, realm)) = start_with(TokenSetup {
        registry_ip: Ipv4Addr::new(127, 0, 0, 7),
        realm_ip: Ipv4Addr::new(127, 0, 0, 8),
        issuer: "hub-issuer",
        user: ("hubuser", "hub-pw"),
        ..TokenSetup::default()
    })
    .await
    else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.json");
    // `docker login` writes Hub credentials under the index key.
    std::fs::write(
        &config,
        r#"{"auths":{"https://index.docker.io/v1/":{"auth":"aHVidXNlcjpodWItcHc="}}}"#,
    )
    .unwrap();
    let hub_on_loopback = KnownRegistry::new("docker.io")
        .alias(&reg.host())
        .with_credential_key("https://index.docker.io/v1/")
        .trust_realm("127.0.0.8");
    let keychain = Keychain::new()
        .known_registries(vec![hub_on_loopback])
        .with_config(DockerConfig::from_path(&config).unwrap());
    let client = RegistryClient::builder()
        .keychain(keychain)
        .build()
        .unwrap();

    let src = tempfile::tempdir().unwrap();
    let desc = make_image(src.path(), "v1", &[noise(50_000, 41)]).await;
    let image: ImageReference = format!("{}/library/app:v1", reg.host()).parse().unwrap();
    client
        .push_image(src.path(), &image, &ImageOptions::default())
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let got = client
        .pull_image(&image, out.path(), &ImageOptions::default())
        .await
        .unwrap();
    assert_eq!(got.digest, desc.digest);
    assert_eq!(
        realm.users_seen(),
        ["hubuser".to_owned()].into_iter().collect(),
        "the realm on the other host got the Hub credentials, and only those"
    );

    // Without the data that ties the realm host to the registry, the credentials stay home.
    let plain = RegistryClient::builder()
        .keychain(Keychain::new().with(
            &reg.host(),
            harbor_client::transport::Credentials::basic("hubuser", "hub-pw"),
        ))
        .build()
        .unwrap();
    let before = realm.users.lock().unwrap().len();
    let e = plain
        .pull_image(&image, out.path(), &ImageOptions::default())
        .await
        .unwrap_err();
    assert!(e.is_unauthorized(), "{e}");
    assert!(e.to_string().contains("trust it for this registry"), "{e}");
    assert_eq!(
        realm.users.lock().unwrap().len(),
        before,
        "nothing was sent"
    );
}
