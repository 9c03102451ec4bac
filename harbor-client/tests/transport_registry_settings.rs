//! Per-registry settings against real `docker-registry` instances: a mirror (with its own
//! credentials) tried before the origin for pulls; an insecure registry reached over plain HTTP
//! although HTTPS was asked; a registry with TLS and client-certificate auth reached with the CA
//! bundle and client certificate of its host from a `certs.d` directory, and refused without.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::Ipv4Addr;

use common::{htpasswd_registry, make_image, noise, registry, tool};
use harbor_client::registry::{ImageOptions, ImageReference, RegistryClient};
use harbor_client::transport::{Credentials, Keychain, Mirror, Registries, RegistrySettings};

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_is_tried_before_the_origin_for_pulls() {
    let Some(origin) = registry().await else {
        return;
    };
    let Some(mirror) = htpasswd_registry(Ipv4Addr::new(127, 0, 0, 2), ("m", "m-pw")).await else {
        return;
    };
    let keychain = Keychain::new().with(&mirror.host(), Credentials::basic("m", "m-pw"));
    let plain = RegistryClient::builder()
        .keychain(keychain.clone())
        .build()
        .unwrap();
    // v1 is on both (the mirror keeps it under proxy/), v2 on the origin only.
    let src = tempfile::tempdir().unwrap();
    let v1 = make_image(src.path(), "v1", &[noise(40_000, 61)]).await;
    let at = |host: String, repo: &str, tag: &str| -> ImageReference {
        format!("{host}/{repo}:{tag}").parse().unwrap()
    };
    let opts = ImageOptions::default();
    plain
        .push_image(src.path(), &at(origin.host(), "team/app", "v1"), &opts)
        .await
        .unwrap();
    plain
        .copy_image(
            &at(origin.host(), "team/app", "v1"),
            &at(mirror.host(), "proxy/team/app", "v1"),
            &opts,
        )
        .await
        .unwrap();
    let src2 = tempfile::tempdir().unwrap();
    let v2 = make_image(src2.path(), "v2", &[noise(30_000, 62)]).await;
    plain
        .push_image(src2.path(), &at(origin.host(), "team/app", "v2"), &opts)
        .await
        .unwrap();

    let settings = Registries::new().registry(
        RegistrySettings::new(&origin.host())
            .mirror(Mirror::new(&format!("{}/proxy", mirror.host()))),
    );
    let client = RegistryClient::builder()
        .keychain(keychain)
        .registries(settings)
        .build()
        .unwrap();
    // Not on the mirror: the origin answers.
    let out = tempfile::tempdir().unwrap();
    let got = client
        .pull_image(&at(origin.host(), "team/app", "v2"), out.path(), &opts)
        .await
        .unwrap();
    assert_eq!(got.digest, v2.digest);
    // With the origin gone, v1 still pulls: from the mirror, with the mirror's credentials.
    let origin_host = origin.host();
    drop(origin);
    let out = tempfile::tempdir().unwrap();
    let got = client
        .pull_image(
            &at(origin_host.clone(), "team/app", "v1"),
            out.path(),
            &opts,
        )
        .await
        .unwrap();
    assert_eq!(got.digest, v1.digest);
    // And v2, which only the origin had, fails now.
    let e = client
        .pull_image(&at(origin_host, "team/app", "v2"), out.path(), &opts)
        .await
        .unwrap_err();
    assert!(matches!(e, harbor_client::Error::Transport { .. }), "{e}");
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insecure_registry_falls_back_to_plain_http() {
    let Some(reg) = registry().await else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    let desc = make_image(src.path(), "v1", &[noise(20_000, 63)]).await;
    let r: ImageReference = format!("{}/team/app:v1", reg.host()).parse().unwrap();
    // HTTPS even on loopback: the registry speaks plain HTTP, so this fails...
    let https_only = RegistryClient::builder()
        .plain_http(false)
        .configure_transport(|t| t.retry_policy(harbor_client::transport::RetryPolicy::none()))
        .build()
        .unwrap();
    assert!(https_only.ping(&reg.host()).await.is_err());
    // ...unless the settings call the host insecure (as `insecure = true` in registries.conf).
    let conf = format!(
        "[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
        reg.host()
    );
    let insecure = RegistryClient::builder()
        .plain_http(false)
        .registries(Registries::from_toml(&conf).unwrap())
        .build()
        .unwrap();
    insecure
        .push_image(src.path(), &r, &ImageOptions::default())
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let got = insecure
        .pull_image(&r, out.path(), &ImageOptions::default())
        .await
        .unwrap();
    assert_eq!(got.digest, desc.digest);
}

/// A CA, a server certificate for `ip` and a client certificate, all PEM.
struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pki(ip: Ipv4Addr) -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "test registry CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let mut server = CertificateParams::new(vec![ip.to_string()]).unwrap();
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &ca).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, "harbor-client test");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &ca).unwrap();
    Pki {
        ca: ca.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    }
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_bundle_and_client_certificate_per_host() {
    let Some(bin) = tool("docker-registry") else {
        return;
    };
    let ip = Ipv4Addr::new(127, 0, 0, 3);
    let pki = pki(ip);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let (cert, key, ca) = (
        write("server.pem", &pki.server_cert),
        write("server.key", &pki.server_key),
        write("ca.pem", &pki.ca),
    );
    let http_tls = format!(
        "  tls:\n    certificate: {}\n    key: {}\n    clientcas:\n      - {}\n",
        cert.display(),
        key.display(),
        ca.display()
    );
    let reg = tokio::task::spawn_blocking(move || {
        harbor_testkit::Registry::start_configured(&bin, dir, ip, &http_tls, "")
    })
    .await
    .unwrap();

    // certs.d as podman and docker lay it out, and a registries.conf naming the host.
    let etc = tempfile::tempdir().unwrap();
    let host_dir = etc.path().join("certs.d").join(reg.host());
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("ca.crt"), &pki.ca).unwrap();
    std::fs::write(host_dir.join("client.cert"), &pki.client_cert).unwrap();
    std::fs::write(host_dir.join("client.key"), &pki.client_key).unwrap();
    let conf = etc.path().join("registries.conf");
    std::fs::write(
        &conf,
        format!("[[registry]]\nlocation = \"{}\"\n", reg.host()),
    )
    .unwrap();
    let settings = Registries::from_path(&conf)
        .unwrap()
        .with_certs_dir(&etc.path().join("certs.d"))
        .unwrap();
    let client = |settings: Registries| {
        RegistryClient::builder()
            .plain_http(false)
            .registries(settings)
            .configure_transport(|t| t.retry_policy(harbor_client::transport::RetryPolicy::none()))
            .build()
            .unwrap()
    };

    let good = client(settings);
    good.ping(&reg.host()).await.unwrap();
    let src = tempfile::tempdir().unwrap();
    let desc = make_image(src.path(), "v1", &[noise(10_000, 64)]).await;
    let r: ImageReference = format!("{}/team/app:v1", reg.host()).parse().unwrap();
    good.push_image(src.path(), &r, &ImageOptions::default())
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let got = good
        .pull_image(&r, out.path(), &ImageOptions::default())
        .await
        .unwrap();
    assert_eq!(got.digest, desc.digest);

    // The CA alone: the registry wants a client certificate.
    let ca_only = Registries::new().tls(
        &reg.host(),
        harbor_client::transport::HostTls::new().ca_pem(pki.ca.clone()),
    );
    assert!(client(ca_only).ping(&reg.host()).await.is_err());
    // Nothing: the server's certificate is not trusted.
    assert!(client(Registries::new()).ping(&reg.host()).await.is_err());
    // The settings are per host: another host does not get this client certificate.
    let elsewhere = Registries::new().tls(
        "127.0.0.9:1",
        harbor_client::transport::HostTls::new()
            .ca_pem(pki.ca.clone())
            .client_identity_pem(pki.client_cert.clone(), pki.client_key.clone().into_bytes()),
    );
    assert!(client(elsewhere).ping(&reg.host()).await.is_err());
}
