//! The `reqwest` clients of a transport: the default one, one per host with its own TLS
//! settings (CA bundle, client certificate), and one that skips certificate checks for hosts
//! marked insecure. Each has its token fetcher, so a token realm is spoken to with the TLS
//! settings of its own host.

use std::time::Duration;

use harbor_auth::RealmPolicy;
use harbor_auth::fetch::TokenFetcher;
use http::HeaderValue;
use url::Url;

use super::registries::{HostTls, Registries};
use crate::error::{Error, Result};

/// The OAuth2 `client_id` the transport sends in the refresh-token POST.
const CLIENT_ID: &str = "harbor-client";

/// One client, its twin for requests with a body, and the token fetcher on the first.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    /// The same settings without `reqwest`'s read timeout, which counts from the start of a
    /// request and would cut an upload that keeps moving: requests with a body go through
    /// this one, held to an idle timeout of their own (see `stall`).
    pub(crate) upload: reqwest::Client,
    pub(crate) fetcher: TokenFetcher,
}

impl Client {
    fn new((http, upload): (reqwest::Client, reqwest::Client), policy: &RealmPolicy) -> Self {
        Self {
            fetcher: TokenFetcher::new(http.clone())
                .with_policy(policy.clone())
                .with_client_id(CLIENT_ID),
            http,
            upload,
        }
    }
}

/// Every client of a transport.
#[derive(Debug)]
pub(crate) struct Clients {
    default: Client,
    per_host: Vec<(String, Client)>,
    insecure: Option<Client>,
    registries: Registries,
}

/// The settings every built client shares.
pub(crate) struct Base {
    pub(crate) user_agent: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
    #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
    pub(crate) danger_accept_invalid_certs: bool,
    #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
    pub(crate) root_certificates: Vec<reqwest::Certificate>,
}

fn config(message: String, source: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Config {
        message,
        source: Some(Box::new(source)),
    }
}

impl Base {
    /// The client and its twin without a read timeout, both with `configure` applied.
    fn pair(
        &self,
        configure: impl Fn(reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder>,
        what: &str,
    ) -> Result<(reqwest::Client, reqwest::Client)> {
        let http = build(
            configure(self.builder()?.read_timeout(self.read_timeout))?,
            what,
        )?;
        let upload = build(configure(self.builder()?)?, what)?;
        Ok((http, upload))
    }

    fn builder(&self) -> Result<reqwest::ClientBuilder> {
        let ua = HeaderValue::from_str(&self.user_agent).map_err(|e| {
            config(
                format!(
                    "user agent {:?} is not a valid header value",
                    self.user_agent
                ),
                e,
            )
        })?;
        let b = reqwest::Client::builder()
            .user_agent(ua)
            .connect_timeout(self.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none());
        #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
        let b = self.root_certificates.iter().cloned().fold(
            b.danger_accept_invalid_certs(self.danger_accept_invalid_certs),
            reqwest::ClientBuilder::add_root_certificate,
        );
        Ok(b)
    }
}

fn build(b: reqwest::ClientBuilder, what: &str) -> Result<reqwest::Client> {
    b.build()
        .map_err(|e| config(format!("the HTTP client {what} could not be built"), e))
}

/// Applies one host's TLS settings.
#[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
fn with_tls(
    mut b: reqwest::ClientBuilder,
    host: &str,
    tls: &HostTls,
) -> Result<reqwest::ClientBuilder> {
    use secrecy::ExposeSecret as _;
    for pem in &tls.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| config(format!("the CA bundle for {host} is not PEM"), e))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if let (Some(cert), Some(key)) = (&tls.client_cert_pem, &tls.client_key_pem) {
        #[cfg(feature = "native-tls")]
        let identity = reqwest::Identity::from_pkcs8_pem(cert, key.expose_secret());
        #[cfg(not(feature = "native-tls"))]
        let identity = {
            let mut both = cert.clone();
            both.push(b'\n');
            both.extend_from_slice(key.expose_secret());
            reqwest::Identity::from_pem(&both)
        };
        let identity = identity.map_err(|e| {
            config(
                format!(
                    "the client certificate for {host} (PEM certificate and PKCS#8 key) is unusable"
                ),
                e,
            )
        })?;
        b = b.identity(identity);
    }
    Ok(b)
}

#[cfg(not(any(feature = "rustls-tls", feature = "native-tls")))]
fn with_tls(_: reqwest::ClientBuilder, host: &str, _: &HostTls) -> Result<reqwest::ClientBuilder> {
    Err(Error::Config {
        message: format!(
            "TLS settings for {host} need a TLS feature of harbor-client (rustls-tls or native-tls)"
        ),
        source: None,
    })
}

impl Clients {
    /// Builds the clients: `custom` replaces the default one (then no per-host TLS settings
    /// are possible).
    pub(crate) fn build(
        base: &Base,
        custom: Option<reqwest::Client>,
        registries: Registries,
        policy: &RealmPolicy,
    ) -> Result<Self> {
        let default = match custom {
            Some(c) => {
                if !registries.host_tls().is_empty() {
                    return Err(Error::Config {
                        message: "per-host TLS settings need the transport to build its own \
                                  HTTP clients; drop TransportBuilder::http_client"
                            .into(),
                        source: None,
                    });
                }
                // The caller's client carries its own settings, for uploads too.
                (c.clone(), c)
            }
            None => base.pair(Ok, "")?,
        };
        let mut per_host = Vec::new();
        for (host, tls) in registries.host_tls() {
            let configure = |b| {
                let b = with_tls(b, host, tls)?;
                #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
                let b = b.danger_accept_invalid_certs(registries.is_insecure(host));
                Ok(b)
            };
            per_host.push((
                host.clone(),
                Client::new(base.pair(configure, &format!("for {host}"))?, policy),
            ));
        }
        #[cfg(any(feature = "rustls-tls", feature = "native-tls"))]
        let insecure = if registries.any_insecure() {
            Some(Client::new(
                base.pair(
                    |b| Ok(b.danger_accept_invalid_certs(true)),
                    "for insecure registries",
                )?,
                policy,
            ))
        } else {
            None
        };
        // Without TLS there is nothing to skip: insecure hosts only fall back to HTTP.
        #[cfg(not(any(feature = "rustls-tls", feature = "native-tls")))]
        let insecure = None;
        Ok(Self {
            default: Client::new(default, policy),
            per_host,
            insecure,
            registries,
        })
    }

    /// The client for a request to `url`.
    pub(crate) fn for_url(&self, url: &Url) -> &Client {
        let Some(host) = authority(url) else {
            return &self.default;
        };
        if let Some((_, c)) = self.per_host.iter().find(|(h, _)| *h == host) {
            return c;
        }
        match &self.insecure {
            Some(c) if self.registries.is_insecure(&host) => c,
            _ => &self.default,
        }
    }

    /// The default client.
    pub(crate) fn default_client(&self) -> &Client {
        &self.default
    }

    /// The settings the clients were built from.
    pub(crate) fn registries(&self) -> &Registries {
        &self.registries
    }
}

/// `host[:port]` of a URL, lower case, the port only when it is not the scheme's default.
pub(crate) fn authority(url: &Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}
