//! Robot accounts v1: `/projects/{project_name_or_id}/robots`, for the Harbor 2.2 to 2.12
//! servers that still have it. Harbor 2.13 removed it: to a server that says it runs 2.13 or
//! later, each method fails with [`Error::RemovedFromServer`](crate::Error::RemovedFromServer)
//! before sending anything (see [`VersionCheck`](crate::api::VersionCheck)). New code should
//! use the v2 robots (`/robots`, [`HarborClient::create_robot`]).

use crate::api::PathSegment as _;
use http::Method;

use crate::Result;
use crate::api::client::{ApiRequest, HarborClient};
use crate::api::models::{Robot, RobotCreateV1, RobotCreated};
use crate::api::names::ProjectRef;
use crate::api::page::{Page, paginate};
use crate::api::version::HarborVersion;

/// The first Harbor release without the robot v1 API.
const REMOVED_IN: HarborVersion = HarborVersion::new(2, 13, 0);

fn robots_path(project: &ProjectRef, robot_id: Option<i64>) -> String {
    match robot_id {
        Some(id) => format!("/projects/{}/robots/{id}", project.path_segment()),
        None => format!("/projects/{}/robots", project.path_segment()),
    }
}

impl HarborClient {
    /// One page of a project's v1 robot accounts (Harbor 2.2 to 2.12).
    ///
    /// # Errors
    ///
    /// As any call; [`Error::RemovedFromServer`](crate::Error::RemovedFromServer) from Harbor
    /// 2.13 on.
    pub async fn list_project_robots_v1(
        &self,
        project: impl Into<ProjectRef>,
        page: i64,
        page_size: i64,
    ) -> Result<Page<Robot>> {
        self.require_not_removed(REMOVED_IN, "ListRobotV1").await?;
        let project = project.into();
        let mut req = ApiRequest::new(Method::GET, robots_path(&project, None));
        req.project_header(&project);
        req.query("page", page);
        req.query("page_size", page_size);
        self.send_page(req).await
    }

    /// Every v1 robot account of a project, over all pages.
    ///
    /// # Errors
    ///
    /// The stream yields the first page that fails, then ends.
    pub fn list_project_robots_v1_stream(
        &self,
        project: impl Into<ProjectRef>,
    ) -> futures_util::stream::BoxStream<'static, Result<Robot>> {
        let project = project.into();
        let client = self.clone();
        paginate(move |page, page_size| {
            let client = client.clone();
            let project = project.clone();
            async move {
                client
                    .list_project_robots_v1(project, page, page_size)
                    .await
            }
        })
    }

    /// Creates a v1 robot account in a project (`access` entries with resources such as
    /// `/project/1/repository` and actions `pull`/`push`); the answer holds its secret.
    ///
    /// # Errors
    ///
    /// As any call; [`Error::RemovedFromServer`](crate::Error::RemovedFromServer) from Harbor
    /// 2.13 on.
    pub async fn create_project_robot_v1(
        &self,
        project: impl Into<ProjectRef>,
        body: &RobotCreateV1,
    ) -> Result<RobotCreated> {
        self.require_not_removed(REMOVED_IN, "CreateRobotV1")
            .await?;
        let project = project.into();
        let mut req = ApiRequest::new(Method::POST, robots_path(&project, None));
        req.project_header(&project);
        req.json(body)?;
        self.send_json(req).await
    }

    /// A v1 robot account of a project.
    ///
    /// # Errors
    ///
    /// As any call, a 404 naming the robot;
    /// [`Error::RemovedFromServer`](crate::Error::RemovedFromServer) from Harbor 2.13 on.
    pub async fn get_project_robot_v1(
        &self,
        project: impl Into<ProjectRef>,
        robot_id: i64,
    ) -> Result<Robot> {
        self.require_not_removed(REMOVED_IN, "GetRobotByIDV1")
            .await?;
        let project = project.into();
        let mut req = ApiRequest::new(Method::GET, robots_path(&project, Some(robot_id)));
        req.project_header(&project);
        self.send_json(req).await
    }

    /// Updates a v1 robot account (to disable it: `disable: true`).
    ///
    /// # Errors
    ///
    /// As any call; [`Error::RemovedFromServer`](crate::Error::RemovedFromServer) from Harbor
    /// 2.13 on.
    pub async fn update_project_robot_v1(
        &self,
        project: impl Into<ProjectRef>,
        robot_id: i64,
        body: &Robot,
    ) -> Result<()> {
        self.require_not_removed(REMOVED_IN, "UpdateRobotV1")
            .await?;
        let project = project.into();
        let mut req = ApiRequest::new(Method::PUT, robots_path(&project, Some(robot_id)));
        req.project_header(&project);
        req.json(body)?;
        self.send_empty(req).await
    }

    /// Deletes a v1 robot account.
    ///
    /// # Errors
    ///
    /// As any call; [`Error::RemovedFromServer`](crate::Error::RemovedFromServer) from Harbor
    /// 2.13 on.
    pub async fn delete_project_robot_v1(
        &self,
        project: impl Into<ProjectRef>,
        robot_id: i64,
    ) -> Result<()> {
        self.require_not_removed(REMOVED_IN, "DeleteRobotV1")
            .await?;
        let project = project.into();
        let mut req = ApiRequest::new(Method::DELETE, robots_path(&project, Some(robot_id)));
        req.project_header(&project);
        self.send_empty(req).await
    }
}
