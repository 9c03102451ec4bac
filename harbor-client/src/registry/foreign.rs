//! Foreign (non-distributable) layers fetched from their `urls`, when an image transfer is
//! asked to ([`ImageOptions::fetch_foreign_layers`](super::ImageOptions::fetch_foreign_layers)).
//!
//! A foreign layer's URLs name a host of the layer's publisher, not a registry: the requests
//! carry no credentials at all (not those of the source or destination registry, whatever
//! the keychain holds for that host), only `http` and `https` URLs are tried, and the bytes
//! are verified against the descriptor's size and digest as they stream.

use std::future::Future;

use url::Url;

use super::RegistryClient;
use super::blob::BlobStream;
use super::manifest::Descriptor;
use crate::error::{Error, Result, display_url};

/// The URLs of a foreign layer worth trying: `http` and `https` only. The others are
/// returned as they were written, for the error message.
fn usable_urls(d: &Descriptor) -> (Vec<Url>, Vec<String>) {
    let mut usable = Vec::new();
    let mut refused = Vec::new();
    for u in &d.urls {
        match Url::parse(u) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                usable.push(url);
            }
            Ok(url) => refused.push(display_url(&url)),
            Err(_) => refused.push("(not a URL)".to_owned()),
        }
    }
    (usable, refused)
}

impl RegistryClient {
    /// Runs `attempt` on the download of each usable URL of `d` in turn until one succeeds.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignLayerUnavailable`] when none does, naming the URLs tried and the last
    /// failure.
    pub(crate) async fn fetch_foreign_urls<F, Fut>(&self, d: &Descriptor, attempt: F) -> Result<()>
    where
        F: Fn(BlobStream) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        let (usable, mut tried) = usable_urls(d);
        let mut last = (!tried.is_empty()).then(|| {
            Error::invalid(
                "foreign layer URL",
                d.digest.as_str(),
                "only http and https URLs are fetched",
            )
        });
        for url in usable {
            tried.push(display_url(&url));
            let result = async {
                let stream = self.get_foreign_blob(&url, &d.digest).await?;
                attempt(stream).await
            }
            .await;
            match result {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::debug!(url = %display_url(&url), error = %e, "foreign layer URL failed");
                    last = Some(e);
                }
            }
        }
        Err(Error::ForeignLayerUnavailable {
            digest: d.digest.to_string(),
            urls: tried,
            last: last.map(Box::new),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Digest, MediaType};

    #[test]
    fn only_http_and_https_urls_are_tried() {
        let mut d = Descriptor::new(
            MediaType::DOCKER_FOREIGN_LAYER_GZIP,
            Digest::sha256_of(b"x"),
            1,
        );
        d.urls = vec![
            "https://go.microsoft.com/fwlink/?linkid=1".to_owned(),
            "file:///etc/passwd".to_owned(),
            "ftp://mirror.example/layer".to_owned(),
            "http://user:secret@mirror.example/layer".to_owned(),
            "not a url".to_owned(),
        ];
        let (usable, refused) = usable_urls(&d);
        let usable: Vec<&str> = usable.iter().map(Url::as_str).collect();
        assert_eq!(
            usable,
            [
                "https://go.microsoft.com/fwlink/?linkid=1",
                "http://user:secret@mirror.example/layer"
            ]
        );
        assert_eq!(refused.len(), 3);
        assert!(refused.iter().all(|r| !r.contains("secret")));
        assert!(d.is_foreign());
    }
}
