//! A client for the Harbor 1.x API (`/api`, Harbor 1.9 and 1.10): projects, repositories,
//! tags, labels, scans and webhook policies.
//!
//! ```no_run
//! use harbor_client::api::v1::HarborV1Client;
//!
//! # async fn run() -> harbor_client::Result<()> {
//! let client = HarborV1Client::builder("https://old-harbor.example.com")
//!     .credentials(harbor_client::transport::Credentials::basic("admin", "secret"))
//!     .build_v1()?;
//! for tag in client.list_tags("library/nginx").await? {
//!     println!("{:?} {:?}", tag.name, tag.digest);
//! }
//! # Ok(()) }
//! ```
//!
//! 1.x differs from v2.0 in ways this client handles:
//!
//! - **projects are addressed by numeric id** (`/api/projects/{id}`);
//! - **repository names are not encoded**: the routes are splats
//!   (`/api/repositories/library/team/app/tags`), so [`RepositoryName`] values go into the
//!   path as they are (their grammar holds no character that needs escaping);
//! - **no artifacts**: tags are the unit, and scans, labels and reports hang off tags;
//! - page size defaults to 500 there (maximum 500); `X-Total-Count` and `Link` as in v2;
//! - errors are mostly `{"code": <status>, "message": "…"}` sent as `text/plain`, sometimes
//!   bare text: both end up in [`Error::Api`](crate::Error::Api)'s body excerpt;
//! - webhook event types are camelCase (`pushImage`, `scanningCompleted`, ...).

mod models;

pub use models::{
    V1Label, V1Project, V1ProjectReq, V1Repository, V1Tag, V1Vulnerability, V1WebhookPolicy,
    V1WebhookTarget,
};

use futures_util::stream::BoxStream;
use http::Method;

use crate::Result;
use crate::api::client::{ApiRequest, Created, HarborClient, HarborClientBuilder};
use crate::api::names::RepositoryName;
use crate::api::page::{Page, paginate};

/// The Harbor 1.x API client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HarborV1Client {
    inner: HarborClient,
}

macro_rules! setters {
    ($name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        impl $name {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                #[must_use]
                pub fn $field(mut self, value: impl Into<$ty>) -> Self {
                    self.$field = Some(value.into());
                    self
                }
            )*
        }
    };
}

/// Filters of [`HarborV1Client::list_projects`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct V1ListProjectsParams {
    /// Projects whose name contains this.
    pub name: Option<String>,
    /// Only public (`true`) or private (`false`) projects.
    pub public: Option<bool>,
    /// Projects of this owner (user name).
    pub owner: Option<String>,
    /// The page (1-based).
    pub page: Option<i64>,
    /// The page size (Harbor 1.x: default and maximum 500).
    pub page_size: Option<i64>,
}
setters!(V1ListProjectsParams {
    name: String,
    public: bool,
    owner: String,
    page: i64,
    page_size: i64
});

/// Filters of [`HarborV1Client::list_repositories`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct V1ListRepositoriesParams {
    /// Repositories whose name contains this (1.x's `q` is a plain substring).
    pub q: Option<String>,
    /// Sort keys, e.g. `-creation_time`.
    pub sort: Option<String>,
    /// Only repositories with this label.
    pub label_id: Option<i64>,
    /// The page (1-based).
    pub page: Option<i64>,
    /// The page size.
    pub page_size: Option<i64>,
}
setters!(V1ListRepositoriesParams {
    q: String,
    sort: String,
    label_id: i64,
    page: i64,
    page_size: i64
});

impl HarborClientBuilder {
    /// Builds a client for the Harbor 1.x API at `<url>/api` (a `/api/v2.0` suffix given to
    /// the builder is dropped).
    ///
    /// # Errors
    ///
    /// As [`HarborClientBuilder::build`].
    pub fn build_v1(self) -> Result<HarborV1Client> {
        let v2 = self.build()?;
        let mut root = v2.api_root().clone();
        let path = root.path().trim_end_matches('/').to_owned();
        let base = path.strip_suffix("/v2.0").unwrap_or(&path).to_owned();
        let base = if base.ends_with("/api") {
            base
        } else {
            format!("{base}/api")
        };
        root.set_path(&base);
        Ok(HarborV1Client {
            inner: HarborClient::builder_with_api_root(root.as_str())
                .transport(v2.transport().clone())
                .build()?,
        })
    }
}

fn repo_path(repo: &str) -> Result<String> {
    // Validated by the same grammar; the splat route takes it unencoded.
    Ok(RepositoryName::new(repo)?.as_str().to_owned())
}

fn tag_path(tag: &str) -> Result<String> {
    Ok(crate::api::Reference::tag(tag)?.as_str().to_owned())
}

impl HarborV1Client {
    /// A builder; finish it with [`HarborClientBuilder::build_v1`].
    pub fn builder(url: impl Into<String>) -> HarborClientBuilder {
        HarborClient::builder(url)
    }

    /// The API root (`…/api`).
    pub fn api_root(&self) -> &url::Url {
        self.inner.api_root()
    }

    /// Lists projects (one page).
    ///
    /// # Errors
    ///
    /// [`crate::Error`] when the request fails, Harbor answers an error, or the answer does not decode.
    pub async fn list_projects(&self, params: &V1ListProjectsParams) -> Result<Page<V1Project>> {
        let mut req = ApiRequest::new(Method::GET, "/projects".into());
        opt(&mut req, "name", &params.name);
        opt(&mut req, "public", &params.public);
        opt(&mut req, "owner", &params.owner);
        opt(&mut req, "page", &params.page);
        opt(&mut req, "page_size", &params.page_size);
        self.inner.send_page(req).await
    }

    /// Every project, over all pages.
    ///
    /// # Errors
    ///
    /// The stream yields the first page that fails, then ends.
    pub fn list_projects_stream(
        &self,
        params: &V1ListProjectsParams,
    ) -> BoxStream<'static, Result<V1Project>> {
        let (client, params) = (self.clone(), params.clone());
        paginate(move |page, size| {
            let (client, params) = (client.clone(), params.clone().page(page).page_size(size));
            async move { client.list_projects(&params).await }
        })
    }

    /// Gets a project by id.
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::list_projects`].
    pub async fn get_project(&self, project_id: i64) -> Result<V1Project> {
        self.inner
            .send_json(ApiRequest::new(
                Method::GET,
                format!("/projects/{project_id}"),
            ))
            .await
    }

    /// Creates a project; the new id is in [`Created::id`].
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::list_projects`] (409 when the name is taken).
    pub async fn create_project(&self, body: &V1ProjectReq) -> Result<Created> {
        let mut req = ApiRequest::new(Method::POST, "/projects".into());
        req.json(body)?;
        self.inner.send_created(req).await
    }

    /// Deletes a project (412 while it still holds repositories).
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::list_projects`].
    pub async fn delete_project(&self, project_id: i64) -> Result<()> {
        self.inner
            .send_empty(ApiRequest::new(
                Method::DELETE,
                format!("/projects/{project_id}"),
            ))
            .await
    }

    /// Lists a project's repositories (one page).
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::list_projects`].
    pub async fn list_repositories(
        &self,
        project_id: i64,
        params: &V1ListRepositoriesParams,
    ) -> Result<Page<V1Repository>> {
        let mut req = ApiRequest::new(Method::GET, "/repositories".into());
        req.query("project_id", project_id);
        opt(&mut req, "q", &params.q);
        opt(&mut req, "sort", &params.sort);
        opt(&mut req, "label_id", &params.label_id);
        opt(&mut req, "page", &params.page);
        opt(&mut req, "page_size", &params.page_size);
        self.inner.send_page(req).await
    }

    /// Deletes a repository (`project/repo`) with all its tags.
    ///
    /// # Errors
    ///
    /// [`crate::Error::InvalidInput`] for an invalid name; else as [`HarborV1Client::list_projects`].
    pub async fn delete_repository(&self, repository: &str) -> Result<()> {
        let path = format!("/repositories/{}", repo_path(repository)?);
        self.inner
            .send_empty(ApiRequest::new(Method::DELETE, path))
            .await
    }

    /// Lists the tags of a repository (`project/repo`), with details.
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::delete_repository`].
    pub async fn list_tags(&self, repository: &str) -> Result<Vec<V1Tag>> {
        let path = format!("/repositories/{}/tags", repo_path(repository)?);
        let mut req = ApiRequest::new(Method::GET, path);
        req.query("detail", true);
        self.inner.send_json(req).await
    }

    /// Gets one tag.
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::delete_repository`]; [`crate::Error::InvalidInput`] for an invalid tag.
    pub async fn get_tag(&self, repository: &str, tag: &str) -> Result<V1Tag> {
        let path = format!(
            "/repositories/{}/tags/{}",
            repo_path(repository)?,
            tag_path(tag)?
        );
        self.inner
            .send_json(ApiRequest::new(Method::GET, path))
            .await
    }

    /// Deletes a tag (and, in 1.x, the manifest it points to).
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::get_tag`].
    pub async fn delete_tag(&self, repository: &str, tag: &str) -> Result<()> {
        let path = format!(
            "/repositories/{}/tags/{}",
            repo_path(repository)?,
            tag_path(tag)?
        );
        self.inner
            .send_empty(ApiRequest::new(Method::DELETE, path))
            .await
    }

    /// Lists labels: `scope` is `g` (global) or `p` (with `project_id`).
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::list_projects`].
    pub async fn list_labels(
        &self,
        scope: &str,
        project_id: Option<i64>,
        name: Option<&str>,
    ) -> Result<Page<V1Label>> {
        let mut req = ApiRequest::new(Method::GET, "/labels".into());
        req.query("scope", scope);
        opt(&mut req, "project_id", &project_id);
        opt(&mut req, "name", &name);
        self.inner.send_page(req).await
    }

    /// Adds a label to a tag.
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::get_tag`].
    pub async fn add_tag_label(&self, repository: &str, tag: &str, label_id: i64) -> Result<()> {
        let path = format!(
            "/repositories/{}/tags/{}/labels",
            repo_path(repository)?,
            tag_path(tag)?
        );
        let mut req = ApiRequest::new(Method::POST, path);
        req.json(&serde_json::json!({ "id": label_id }))?;
        self.inner.send_empty(req).await
    }

    /// Removes a label from a tag.
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::get_tag`].
    pub async fn remove_tag_label(&self, repository: &str, tag: &str, label_id: i64) -> Result<()> {
        let path = format!(
            "/repositories/{}/tags/{}/labels/{label_id}",
            repo_path(repository)?,
            tag_path(tag)?
        );
        self.inner
            .send_empty(ApiRequest::new(Method::DELETE, path))
            .await
    }

    /// Starts a scan of a tag.
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::get_tag`].
    pub async fn scan_tag(&self, repository: &str, tag: &str) -> Result<()> {
        let path = format!(
            "/repositories/{}/tags/{}/scan",
            repo_path(repository)?,
            tag_path(tag)?
        );
        self.inner
            .send_empty(ApiRequest::new(Method::POST, path))
            .await
    }

    /// The scan report of a tag (Harbor 1.10: a JSON object keyed by report MIME type).
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::get_tag`].
    pub async fn get_scan_report(&self, repository: &str, tag: &str) -> Result<serde_json::Value> {
        let path = format!(
            "/repositories/{}/tags/{}/scan",
            repo_path(repository)?,
            tag_path(tag)?
        );
        self.inner
            .send_json(ApiRequest::new(Method::GET, path))
            .await
    }

    /// The vulnerabilities of a tag (Harbor 1.9 with Clair; 503 when Clair is absent).
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::get_tag`].
    pub async fn get_vulnerability_details(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Vec<V1Vulnerability>> {
        let path = format!(
            "/repositories/{}/tags/{}/vulnerability/details",
            repo_path(repository)?,
            tag_path(tag)?
        );
        self.inner
            .send_json(ApiRequest::new(Method::GET, path))
            .await
    }

    /// Lists a project's webhook policies.
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::list_projects`].
    pub async fn list_webhook_policies(&self, project_id: i64) -> Result<Vec<V1WebhookPolicy>> {
        let path = format!("/projects/{project_id}/webhook/policies");
        self.inner
            .send_json(ApiRequest::new(Method::GET, path))
            .await
    }

    /// Creates a webhook policy; the new id is in [`Created::id`].
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::list_projects`].
    pub async fn create_webhook_policy(
        &self,
        project_id: i64,
        policy: &V1WebhookPolicy,
    ) -> Result<Created> {
        let mut req = ApiRequest::new(
            Method::POST,
            format!("/projects/{project_id}/webhook/policies"),
        );
        req.json(policy)?;
        self.inner.send_created(req).await
    }

    /// Gets a webhook policy.
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::list_projects`].
    pub async fn get_webhook_policy(
        &self,
        project_id: i64,
        policy_id: i64,
    ) -> Result<V1WebhookPolicy> {
        let path = format!("/projects/{project_id}/webhook/policies/{policy_id}");
        self.inner
            .send_json(ApiRequest::new(Method::GET, path))
            .await
    }

    /// Replaces a webhook policy.
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::list_projects`].
    pub async fn update_webhook_policy(
        &self,
        project_id: i64,
        policy_id: i64,
        policy: &V1WebhookPolicy,
    ) -> Result<()> {
        let path = format!("/projects/{project_id}/webhook/policies/{policy_id}");
        let mut req = ApiRequest::new(Method::PUT, path);
        req.json(policy)?;
        self.inner.send_empty(req).await
    }

    /// Deletes a webhook policy.
    ///
    /// # Errors
    ///
    /// As [`HarborV1Client::list_projects`].
    pub async fn delete_webhook_policy(&self, project_id: i64, policy_id: i64) -> Result<()> {
        let path = format!("/projects/{project_id}/webhook/policies/{policy_id}");
        self.inner
            .send_empty(ApiRequest::new(Method::DELETE, path))
            .await
    }

    /// A request to any other 1.x path (relative to `/api`), as [`HarborClient::raw`].
    pub fn raw(&self, method: Method, path: &str) -> crate::api::RawRequest {
        self.inner.raw(method, path)
    }
}

fn opt<T: ToString>(req: &mut ApiRequest, name: &str, value: &Option<T>) {
    if let Some(v) = value {
        req.query(name, v.to_string());
    }
}
