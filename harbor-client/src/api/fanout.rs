//! Fan-out: every artifact of a project or of the whole Harbor, as one stream over
//! repositories × artifacts, with a cap on the repositories read at once.

use futures_util::StreamExt as _;
use futures_util::stream::{self, BoxStream};

use crate::Result;
use crate::api::client::HarborClient;
use crate::api::models::Artifact;
use crate::api::{ListAllRepositoriesParams, ListArtifactsParams, RepositoryName};

/// How to fan out over repositories: how many are read at once and what each artifact
/// carries.
///
/// ```
/// use harbor_client::api::FanOut;
/// let fan_out = FanOut::default().concurrency(8).with_scan_overview(true);
/// # let _ = fan_out;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct FanOut {
    concurrency: usize,
    artifacts: ListArtifactsParams,
}

impl Default for FanOut {
    /// Four repositories at once, artifacts as Harbor lists them by default.
    fn default() -> Self {
        FanOut {
            concurrency: 4,
            artifacts: ListArtifactsParams::default(),
        }
    }
}

impl FanOut {
    /// How many repositories are listed at once (at least 1; default 4). Memory stays
    /// bounded by this many pages of artifacts (100 each) plus one page of repositories.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Whether each artifact carries its vulnerability scan overview (severity and counts).
    pub fn with_scan_overview(mut self, on: bool) -> Self {
        self.artifacts = self.artifacts.with_scan_overview(on);
        self
    }

    /// The parameters of each repository's artifact listing (`q`, `with_tag`, ...; `page`
    /// and `page_size` are ignored).
    pub fn artifact_params(mut self, params: ListArtifactsParams) -> Self {
        self.artifacts = params;
        self
    }
}

/// An artifact found by a fan-out, with the repository it is in.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RepositoryArtifact {
    /// The project's name.
    pub project_name: String,
    /// The repository within the project.
    pub repository: RepositoryName,
    /// The artifact.
    pub artifact: Artifact,
}

impl HarborClient {
    /// Every artifact of every repository of the project `project_name`, streamed.
    ///
    /// Repositories are listed page by page and up to [`FanOut::concurrency`] of them have
    /// their artifacts listed at once; artifacts of different repositories interleave. Works
    /// with every Harbor 2.x (unlike `list_artifacts_of_project_stream`, Harbor 2.11+).
    ///
    /// ```no_run
    /// # async fn f(client: harbor_client::api::HarborClient) -> harbor_client::Result<()> {
    /// use futures_util::TryStreamExt as _;
    /// use harbor_client::api::FanOut;
    /// let mut artifacts =
    ///     client.artifacts_of_project_stream("team", FanOut::default().with_scan_overview(true));
    /// while let Some(a) = artifacts.try_next().await? {
    ///     println!("{}/{} {:?}", a.project_name, a.repository, a.artifact.digest);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The stream yields an [`Error`](crate::Error) for the repository listing or a
    /// repository's artifact listing that fails (a repository deleted meanwhile is a 404,
    /// [`Error::is_not_found`](crate::Error::is_not_found)), and goes on with the others;
    /// a failed repository listing ends it.
    pub fn artifacts_of_project_stream(
        &self,
        project_name: &str,
        fan_out: FanOut,
    ) -> BoxStream<'static, Result<RepositoryArtifact>> {
        let repositories = self.list_repositories_stream(project_name, &Default::default());
        self.fan_out(repositories, fan_out)
    }

    /// Every artifact of every repository of the whole Harbor (that the account may see),
    /// streamed; as [`HarborClient::artifacts_of_project_stream`] over
    /// `GET /repositories` (Harbor 2.3 and later).
    ///
    /// # Errors
    ///
    /// As [`HarborClient::artifacts_of_project_stream`].
    pub fn artifacts_of_system_stream(
        &self,
        fan_out: FanOut,
    ) -> BoxStream<'static, Result<RepositoryArtifact>> {
        let repositories =
            self.list_repositories_of_system_stream(&ListAllRepositoriesParams::default());
        self.fan_out(repositories, fan_out)
    }

    fn fan_out(
        &self,
        repositories: BoxStream<'static, Result<crate::api::models::Repository>>,
        fan_out: FanOut,
    ) -> BoxStream<'static, Result<RepositoryArtifact>> {
        let client = self.clone();
        let FanOut {
            concurrency,
            artifacts,
        } = fan_out;
        repositories
            .map(
                move |repo| -> BoxStream<'static, Result<RepositoryArtifact>> {
                    let split = repo.and_then(|r| {
                        crate::api::split_full_name(r.name.as_deref().unwrap_or_default())
                    });
                    match split {
                        Err(e) => stream::once(async move { Err(e) }).boxed(),
                        Ok((project_name, repository)) => client
                            .list_artifacts_stream(&project_name, &repository, &artifacts)
                            .map(move |artifact| {
                                Ok(RepositoryArtifact {
                                    project_name: project_name.clone(),
                                    repository: repository.clone(),
                                    artifact: artifact?,
                                })
                            })
                            .boxed(),
                    }
                },
            )
            .flatten_unordered(concurrency)
            .boxed()
    }
}
