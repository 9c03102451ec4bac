//! Typed artifact additions besides the vulnerability report: the build history.

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::api::client::{ApiRequest, HarborClient};
use crate::api::names::{PathSegment, Reference, RepositoryName, encode_segment};

/// One step of an image's build history (the `build_history` addition), as in the image
/// config's `history`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BuildHistoryEntry {
    /// When the step ran, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction that created it (`/bin/sh -c #(nop) CMD ["nginx"]` ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Whether the step added no layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
    /// The author, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// A comment, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl HarborClient {
    /// The build history of an image artifact (the `build_history` addition, typed; the
    /// spec declares additions as strings). See [`HarborClient::get_addition`] for the
    /// others, as raw bytes.
    ///
    /// # Errors
    ///
    /// Fails with [`Error`](crate::Error) when the request cannot be sent, Harbor answers
    /// with a non-success status (404 for non-image artifacts), or the answer does not decode.
    pub async fn get_build_history(
        &self,
        project_name: &str,
        repository: &RepositoryName,
        reference: &Reference,
    ) -> Result<Vec<BuildHistoryEntry>> {
        let path = format!(
            "/projects/{}/repositories/{}/artifacts/{}/additions/build_history",
            encode_segment(project_name),
            repository.path_segment(),
            reference.path_segment()
        );
        self.send_json(ApiRequest::new(http::Method::GET, path))
            .await
    }
}
