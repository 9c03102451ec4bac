//! The blocking twins of the hand-written async methods (reports, build history, waits,
//! fan-out); the generated ones are in the sibling modules. The parity test
//! (`tests/api_blocking_parity.rs`) checks that every async method has its twin.

use std::sync::Arc;

use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;

use super::HarborClient;
use crate::Result;
use crate::api::models::{
    GCHistory, ReplicationExecution, RetentionExecution, Robot, RobotCreateV1, RobotCreated,
    ScanDataExportExecution, ScanDataExportRequest,
};
use crate::api::{
    BuildHistoryEntry, FanOut, Reference, RepositoryArtifact, RepositoryName, ScanOutcome,
    VulnerabilityReports, WaitPolicy,
};
use crate::blocking_runtime::BlockingRuntime;

impl HarborClient {
    /// The vulnerability reports of an artifact: see
    /// [`crate::api::HarborClient::get_vulnerabilities`].
    ///
    /// # Errors
    ///
    /// As the async method, and [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn get_vulnerabilities(
        &self,
        project_name: &str,
        repository: &RepositoryName,
        reference: &Reference,
    ) -> Result<VulnerabilityReports> {
        self.block_on(
            self.inner
                .get_vulnerabilities(project_name, repository, reference),
        )?
    }

    /// The vulnerability reports of an artifact in the given MIME types: see
    /// [`crate::api::HarborClient::get_vulnerabilities_as`].
    ///
    /// # Errors
    ///
    /// As the async method, and [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn get_vulnerabilities_as(
        &self,
        project_name: &str,
        repository: &RepositoryName,
        reference: &Reference,
        accept: &[&str],
    ) -> Result<VulnerabilityReports> {
        self.block_on(self.inner.get_vulnerabilities_as(
            project_name,
            repository,
            reference,
            accept,
        ))?
    }

    /// The build history of an image: see [`crate::api::HarborClient::get_build_history`].
    ///
    /// # Errors
    ///
    /// As the async method, and [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn get_build_history(
        &self,
        project_name: &str,
        repository: &RepositoryName,
        reference: &Reference,
    ) -> Result<Vec<BuildHistoryEntry>> {
        self.block_on(
            self.inner
                .get_build_history(project_name, repository, reference),
        )?
    }

    /// Scans an artifact and waits for the scan to end: see
    /// [`crate::api::HarborClient::scan_artifact_and_wait`].
    ///
    /// # Errors
    ///
    /// As the async method, and [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn scan_artifact_and_wait(
        &self,
        project_name: &str,
        repository: &RepositoryName,
        reference: &Reference,
        policy: WaitPolicy,
    ) -> Result<ScanOutcome> {
        self.block_on(self.inner.scan_artifact_and_wait(
            project_name,
            repository,
            reference,
            policy,
        ))?
    }

    /// Starts a replication and waits for it to end: see
    /// [`crate::api::HarborClient::start_replication_and_wait`].
    ///
    /// # Errors
    ///
    /// As the async method, and [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn start_replication_and_wait(
        &self,
        policy_id: i64,
        policy: WaitPolicy,
    ) -> Result<ReplicationExecution> {
        self.block_on(self.inner.start_replication_and_wait(policy_id, policy))?
    }

    /// Runs GC and waits for it to end: see [`crate::api::HarborClient::run_gc_and_wait`].
    ///
    /// # Errors
    ///
    /// As the async method, and [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn run_gc_and_wait(&self, delete_untagged: bool, policy: WaitPolicy) -> Result<GCHistory> {
        self.block_on(self.inner.run_gc_and_wait(delete_untagged, policy))?
    }

    /// Runs a retention policy and waits for it to end: see
    /// [`crate::api::HarborClient::run_retention_and_wait`].
    ///
    /// # Errors
    ///
    /// As the async method, and [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn run_retention_and_wait(
        &self,
        retention_id: i64,
        dry_run: bool,
        policy: WaitPolicy,
    ) -> Result<RetentionExecution> {
        self.block_on(
            self.inner
                .run_retention_and_wait(retention_id, dry_run, policy),
        )?
    }

    /// Exports CVE data and waits for the export to end: see
    /// [`crate::api::HarborClient::export_scan_data_and_wait`].
    ///
    /// # Errors
    ///
    /// As the async method, and [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn export_scan_data_and_wait(
        &self,
        scan_data_type: &str,
        criteria: &ScanDataExportRequest,
        policy: WaitPolicy,
    ) -> Result<ScanDataExportExecution> {
        self.block_on(
            self.inner
                .export_scan_data_and_wait(scan_data_type, criteria, policy),
        )?
    }

    /// Every artifact of a project, as an iterator that lists repositories concurrently
    /// underneath: see [`crate::api::HarborClient::artifacts_of_project_stream`].
    ///
    /// # Errors
    ///
    /// The iterator yields the errors of the stream, and goes on after them.
    pub fn artifacts_of_project_iter(&self, project_name: &str, fan_out: FanOut) -> ArtifactIter {
        StreamIter::new(
            self.inner
                .artifacts_of_project_stream(project_name, fan_out),
            self.rt.clone(),
        )
    }

    /// Every artifact of a project, collected into a `Vec`: see
    /// [`HarborClient::artifacts_of_project_iter`].
    ///
    /// # Errors
    ///
    /// The first error of the stream (the iterator would go on after it), and
    /// [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn artifacts_of_project_all(
        &self,
        project_name: &str,
        fan_out: FanOut,
    ) -> Result<Vec<RepositoryArtifact>> {
        self.artifacts_of_project_iter(project_name, fan_out)
            .collect()
    }

    /// Every artifact of the whole Harbor, as an iterator: see
    /// [`crate::api::HarborClient::artifacts_of_system_stream`].
    ///
    /// # Errors
    ///
    /// The iterator yields the errors of the stream, and goes on after them.
    pub fn artifacts_of_system_iter(&self, fan_out: FanOut) -> ArtifactIter {
        StreamIter::new(
            self.inner.artifacts_of_system_stream(fan_out),
            self.rt.clone(),
        )
    }

    /// Every artifact of the whole Harbor, collected into a `Vec`: see
    /// [`HarborClient::artifacts_of_system_iter`].
    ///
    /// # Errors
    ///
    /// The first error of the stream (the iterator would go on after it), and
    /// [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn artifacts_of_system_all(&self, fan_out: FanOut) -> Result<Vec<RepositoryArtifact>> {
        self.artifacts_of_system_iter(fan_out).collect()
    }
}

/// The artifacts of a fan-out, fetched as the iterator advances (memory stays bounded as in
/// the async stream).
pub type ArtifactIter = StreamIter<RepositoryArtifact>;

/// The items of an async `_stream` method, as an iterator that fetches them (page by page, or
/// from a fan-out) as it advances: what the blocking `_iter` methods return. Inside an async
/// runtime it yields one [`Error::Config`](crate::Error::Config), then ends.
pub struct StreamIter<T> {
    stream: Option<BoxStream<'static, Result<T>>>,
    rt: Arc<BlockingRuntime>,
}

impl<T> std::fmt::Debug for StreamIter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamIter")
            .field("done", &self.stream.is_none())
            .finish_non_exhaustive()
    }
}

impl<T> StreamIter<T> {
    pub(crate) fn new(stream: BoxStream<'static, Result<T>>, rt: Arc<BlockingRuntime>) -> Self {
        StreamIter {
            stream: Some(stream),
            rt,
        }
    }
}

impl<T> Iterator for StreamIter<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        let stream = self.stream.as_mut()?;
        match self.rt.block_on(stream.next()) {
            Ok(Some(item)) => Some(item),
            Ok(None) => {
                self.stream = None;
                None
            }
            // Inside an async runtime: say so once, then end.
            Err(e) => {
                self.stream = None;
                Some(Err(e))
            }
        }
    }
}

impl<T> std::iter::FusedIterator for StreamIter<T> {}

impl HarborClient {
    /// One page of a project's v1 robot accounts: see
    /// [`crate::api::HarborClient::list_project_robots_v1`].
    ///
    /// # Errors
    ///
    /// As the async method, and [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn list_project_robots_v1(
        &self,
        project: impl Into<crate::api::ProjectRef>,
        page: i64,
        page_size: i64,
    ) -> Result<crate::api::Page<Robot>> {
        self.block_on(self.inner.list_project_robots_v1(project, page, page_size))?
    }

    /// Every v1 robot account of a project, fetched page by page as the iterator advances:
    /// see [`crate::api::HarborClient::list_project_robots_v1_stream`].
    ///
    /// # Errors
    ///
    /// The iterator yields the first page that fails, then ends.
    pub fn list_project_robots_v1_iter(
        &self,
        project: impl Into<crate::api::ProjectRef>,
    ) -> StreamIter<Robot> {
        StreamIter::new(
            self.inner.list_project_robots_v1_stream(project),
            self.rt.clone(),
        )
    }

    /// Every v1 robot account of a project: see
    /// [`crate::api::HarborClient::list_project_robots_v1_stream`].
    ///
    /// # Errors
    ///
    /// The first page that fails.
    pub fn list_project_robots_v1_all(
        &self,
        project: impl Into<crate::api::ProjectRef>,
    ) -> Result<Vec<Robot>> {
        use futures_util::TryStreamExt as _;
        self.block_on(
            self.inner
                .list_project_robots_v1_stream(project)
                .try_collect(),
        )?
    }

    /// Creates a v1 robot account: see [`crate::api::HarborClient::create_project_robot_v1`].
    ///
    /// # Errors
    ///
    /// As the async method, and [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn create_project_robot_v1(
        &self,
        project: impl Into<crate::api::ProjectRef>,
        body: &RobotCreateV1,
    ) -> Result<RobotCreated> {
        self.block_on(self.inner.create_project_robot_v1(project, body))?
    }

    /// A v1 robot account: see [`crate::api::HarborClient::get_project_robot_v1`].
    ///
    /// # Errors
    ///
    /// As the async method, and [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn get_project_robot_v1(
        &self,
        project: impl Into<crate::api::ProjectRef>,
        robot_id: i64,
    ) -> Result<Robot> {
        self.block_on(self.inner.get_project_robot_v1(project, robot_id))?
    }

    /// Updates a v1 robot account: see [`crate::api::HarborClient::update_project_robot_v1`].
    ///
    /// # Errors
    ///
    /// As the async method, and [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn update_project_robot_v1(
        &self,
        project: impl Into<crate::api::ProjectRef>,
        robot_id: i64,
        body: &Robot,
    ) -> Result<()> {
        self.block_on(self.inner.update_project_robot_v1(project, robot_id, body))?
    }

    /// Deletes a v1 robot account: see [`crate::api::HarborClient::delete_project_robot_v1`].
    ///
    /// # Errors
    ///
    /// As the async method, and [`Error::Config`](crate::Error::Config) inside an async runtime.
    pub fn delete_project_robot_v1(
        &self,
        project: impl Into<crate::api::ProjectRef>,
        robot_id: i64,
    ) -> Result<()> {
        self.block_on(self.inner.delete_project_robot_v1(project, robot_id))?
    }
}
