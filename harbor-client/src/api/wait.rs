//! Waiting for Harbor's jobs: start a scan, a replication, a GC, a retention run or a CVE
//! export and poll until it reaches a final status, with backoff and a deadline.
//!
//! The decisions are pure: whether a status is final ([`JobStatus::is_final`],
//! [`ReplicationStatus::is_final`]) and what to do after a poll ([`WaitPolicy::decide`]); the
//! `*_and_wait` methods of [`HarborClient`] only send the requests and sleep.

use std::time::Duration;

use http::Method;

use crate::api::client::{ApiRequest, Created, HarborClient};
use crate::api::models::{
    GCHistory, JobStatus, NativeReportSummary, ReplicationExecution, ReplicationStatus,
    RetentionExecution, ScanDataExportExecution, ScanDataExportRequest, ScanType, Schedule,
    ScheduleObj, ScheduleType, StartReplicationExecution, TriggerRetentionExecutionRequest,
};
use crate::api::{GetArtifactParams, ListRetentionExecutionsParams, Reference, RepositoryName};
use crate::{Error, Result};

/// How long and how often to poll a job: the first interval, growing by half each poll up
/// to a maximum, until a deadline.
///
/// The default polls after 1 s, then 1.5 s, 2.25 s, ... up to every 15 s, for 30 minutes.
///
/// ```
/// use std::time::Duration;
/// use harbor_client::api::WaitPolicy;
/// let policy = WaitPolicy::default()
///     .deadline(Duration::from_secs(600))
///     .interval(Duration::from_millis(500), Duration::from_secs(5));
/// assert_eq!(policy.delay(0), Duration::from_millis(500));
/// assert_eq!(policy.delay(100), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct WaitPolicy {
    first: Duration,
    max: Duration,
    deadline: Duration,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        WaitPolicy {
            first: Duration::from_secs(1),
            max: Duration::from_secs(15),
            deadline: Duration::from_secs(30 * 60),
        }
    }
}

/// What to do after a poll, as [`WaitPolicy::decide`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitStep {
    /// The status is final: return it.
    Done,
    /// Poll again after this long.
    PollAfter(Duration),
    /// The deadline passed with the job still running: give up.
    GiveUp,
}

impl WaitPolicy {
    /// The longest the whole wait may take (default 30 minutes). The job keeps running in
    /// Harbor when the wait gives up.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The first interval between polls and the largest one (defaults 1 s and 15 s).
    pub fn interval(mut self, first: Duration, max: Duration) -> Self {
        self.first = first;
        self.max = max.max(first);
        self
    }

    /// The pause after poll number `attempt` (from 0): the first interval grown by half per
    /// poll, capped at the maximum.
    pub fn delay(&self, attempt: u32) -> Duration {
        let mut d = self.first;
        for _ in 0..attempt.min(64) {
            d = d.saturating_add(d / 2);
            if d >= self.max {
                return self.max;
            }
        }
        d.min(self.max)
    }

    /// The decision after poll number `attempt`, `elapsed` after the wait began: done when
    /// the status is final, give up once the deadline has passed, otherwise poll again after
    /// [`WaitPolicy::delay`] (shortened so that the last poll falls on the deadline).
    pub fn decide(&self, is_final: bool, attempt: u32, elapsed: Duration) -> WaitStep {
        if is_final {
            return WaitStep::Done;
        }
        let Some(left) = self.deadline.checked_sub(elapsed).filter(|l| !l.is_zero()) else {
            return WaitStep::GiveUp;
        };
        WaitStep::PollAfter(self.delay(attempt).min(left))
    }
}

impl JobStatus {
    /// Whether the job has ended (`Success`, `Error`, `Stopped`). Any other status, an unknown
    /// one included, means it is still to run or running; a deadline bounds the wait.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            JobStatus::Success | JobStatus::Error | JobStatus::Stopped
        )
    }
}

impl ReplicationStatus {
    /// Whether the replication has ended (`Succeed`, `Failed`, `Stopped`).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ReplicationStatus::Succeed | ReplicationStatus::Failed | ReplicationStatus::Stopped
        )
    }
}

/// The end of a scan: its final status and the summary Harbor keeps on the artifact
/// (severity, counts, scanner); the full report is
/// [`HarborClient::get_vulnerabilities`](crate::api::HarborClient::get_vulnerabilities).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScanOutcome {
    /// The final status (`Success`, `Error` or `Stopped`).
    pub status: JobStatus,
    /// The scan overview entry of the artifact (severity, counts, scanner, times).
    pub summary: NativeReportSummary<'static>,
}

/// The final status of a scan overview: the status when every report has ended.
fn overview_status(summaries: &[&NativeReportSummary<'_>]) -> Option<JobStatus> {
    let statuses: Vec<JobStatus> = summaries
        .iter()
        .map(|s| JobStatus::from(s.scan_status.as_ref()))
        .collect();
    if statuses.is_empty() || !statuses.iter().all(|s| s.is_final()) {
        return None;
    }
    // The worst outcome wins: an error, then a stop, then success.
    [JobStatus::Error, JobStatus::Stopped, JobStatus::Success]
        .into_iter()
        .find(|w| statuses.contains(w))
}

impl HarborClient {
    /// Polls `fetch` under `policy` until `status` says final; `what` names the job in the
    /// timeout error.
    async fn poll_until<T, F, Fut>(
        &self,
        policy: WaitPolicy,
        what: String,
        mut fetch: F,
        status: impl Fn(&T) -> (bool, String),
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let start = tokio::time::Instant::now();
        let mut attempt = 0_u32;
        loop {
            let value = fetch().await?;
            let (is_final, text) = status(&value);
            match policy.decide(is_final, attempt, start.elapsed()) {
                WaitStep::Done => return Ok(value),
                WaitStep::PollAfter(d) => tokio::time::sleep(d).await,
                WaitStep::GiveUp => {
                    return Err(Error::WaitTimedOut {
                        what,
                        waited: start.elapsed(),
                        last_status: text,
                    });
                }
            }
            attempt = attempt.saturating_add(1);
        }
    }

    /// Scans an artifact with the project's scanner and waits for the scan to end; the
    /// answer has the summary (severity, counts), the full report is one
    /// [`HarborClient::get_vulnerabilities`] away.
    ///
    /// A scan that ends in `Error` or `Stopped` is returned, not an error: look at
    /// [`ScanOutcome::status`].
    ///
    /// When Harbor refuses the new scan with 409 Conflict because an earlier scan of the
    /// artifact has not ended (the usual case right after a push to a project with
    /// `auto_scan`), no scan is started and that earlier scan is awaited instead, under the
    /// same policy.
    ///
    /// ```no_run
    /// # async fn f(client: harbor_client::api::HarborClient) -> harbor_client::Result<()> {
    /// use harbor_client::api::{Reference, RepositoryName, WaitPolicy};
    /// let repo: RepositoryName = "app".parse()?;
    /// let outcome = client
    ///     .scan_artifact_and_wait("team", &repo, &Reference::tag("v1")?, WaitPolicy::default())
    ///     .await?;
    /// println!("{:?}: {:?}", outcome.status, outcome.summary.severity);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`HarborClient::scan_artifact`] and [`HarborClient::get_artifact`];
    /// [`Error::WaitTimedOut`] when the scan has not ended by the policy's deadline.
    pub async fn scan_artifact_and_wait(
        &self,
        project_name: &str,
        repository: &RepositoryName,
        reference: &Reference,
        policy: WaitPolicy,
    ) -> Result<ScanOutcome> {
        // Harbor answers 409 ("a previous scan process is Running") while an earlier scan of
        // the artifact has not ended, e.g. the one `auto_scan` started on push: that scan is
        // the one to wait for.
        match self
            .scan_artifact(project_name, repository, reference, None::<&ScanType>)
            .await
        {
            Err(e) if e.is_conflict() => {
                tracing::debug!(
                    "a scan of {project_name}/{repository}@{reference} is already running; waiting for it"
                );
            }
            other => other?,
        }
        let params = GetArtifactParams::default().with_scan_overview(true);
        let artifact = self
            .poll_until(
                policy,
                format!("the scan of {project_name}/{repository}@{reference}"),
                || self.get_artifact(project_name, repository, reference, &params),
                |a| {
                    let summaries: Vec<&NativeReportSummary<'_>> =
                        a.scan_overview.iter().flat_map(|o| o.values()).collect();
                    let status = overview_status(&summaries);
                    let text = summaries
                        .first()
                        .map(|s| s.scan_status.as_ref())
                        .filter(|s| !s.is_empty())
                        .map_or_else(|| "not scanned yet".to_owned(), str::to_owned);
                    (status.is_some(), text)
                },
            )
            .await?;
        let summaries: Vec<&NativeReportSummary<'_>> = artifact
            .scan_overview
            .iter()
            .flat_map(|o| o.values())
            .collect();
        let status = overview_status(&summaries).unwrap_or(JobStatus::Error);
        let summary = summaries.first().map(|s| (*s).clone()).unwrap_or_default();
        Ok(ScanOutcome { status, summary })
    }

    /// Starts the replication policy `policy_id` and waits for the execution to end; the
    /// answer is the final execution (`status` `Succeed`, `Failed` or `Stopped`, with counts).
    ///
    /// # Errors
    ///
    /// As [`HarborClient::start_replication`] and [`HarborClient::get_replication_execution`];
    /// [`Error::Protocol`] when Harbor does not say the new execution's id;
    /// [`Error::WaitTimedOut`] at the deadline.
    pub async fn start_replication_and_wait(
        &self,
        policy_id: i64,
        policy: WaitPolicy,
    ) -> Result<ReplicationExecution> {
        let body = StartReplicationExecution {
            policy_id: Some(policy_id),
        };
        let id = created_id(
            &self.start_replication(&body).await?,
            "replication execution",
        )?;
        self.poll_until(
            policy,
            format!("replication execution {id}"),
            || self.get_replication_execution(id),
            |e| status_of(e.status.as_ref(), ReplicationStatus::is_final),
        )
        .await
    }

    /// Runs garbage collection now and waits for it to end; the answer is the final GC job
    /// (`job_status` `Success`, `Error` or `Stopped`).
    ///
    /// # Errors
    ///
    /// As [`HarborClient::create_gc_schedule`] and [`HarborClient::get_gc`];
    /// [`Error::Protocol`] when Harbor does not say the job's id; [`Error::WaitTimedOut`] at
    /// the deadline.
    pub async fn run_gc_and_wait(
        &self,
        delete_untagged: bool,
        policy: WaitPolicy,
    ) -> Result<GCHistory> {
        let body = Schedule {
            schedule: Some(ScheduleObj {
                r#type: Some(ScheduleType::Manual),
                ..ScheduleObj::default()
            }),
            parameters: Some(
                [
                    ("delete_untagged".to_owned(), delete_untagged.into()),
                    ("dry_run".to_owned(), false.into()),
                ]
                .into(),
            ),
            ..Schedule::default()
        };
        let id = created_id(&self.create_gc_schedule(&body).await?, "GC job")?;
        self.poll_until(
            policy,
            format!("GC job {id}"),
            || self.get_gc(id),
            |g| status_of(g.job_status.as_ref(), JobStatus::is_final),
        )
        .await
    }

    /// Runs the retention policy `retention_id` (for real, or as a dry run) and waits for the
    /// execution to end; the answer is the final execution.
    ///
    /// # Errors
    ///
    /// As [`HarborClient::trigger_retention_execution`] and
    /// [`HarborClient::list_retention_executions`]; [`Error::Protocol`] when Harbor does not
    /// say the execution's id; [`Error::WaitTimedOut`] at the deadline.
    pub async fn run_retention_and_wait(
        &self,
        retention_id: i64,
        dry_run: bool,
        policy: WaitPolicy,
    ) -> Result<RetentionExecution> {
        // The generated method returns the body; the execution's id is in `Location`.
        let mut req = ApiRequest::new(
            Method::POST,
            format!("/retentions/{retention_id}/executions"),
        );
        req.json(&TriggerRetentionExecutionRequest {
            dry_run: Some(dry_run),
        })?;
        let resp = self.execute(req).await?;
        let location = resp
            .headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let id = created_id(&Created::with_id_location(location), "retention execution")?;
        let params = ListRetentionExecutionsParams::default().page_size(100);
        self.poll_until(
            policy,
            format!("retention execution {id}"),
            || async {
                let page = self
                    .list_retention_executions(retention_id, &params)
                    .await?;
                Ok(page.items.into_iter().find(|e| e.id == Some(id)))
            },
            |e: &Option<RetentionExecution>| match e {
                Some(e) => status_of(e.status.as_ref(), JobStatus::is_final),
                None => (false, "not listed yet".to_owned()),
            },
        )
        .await?
        .ok_or_else(|| Error::protocol("the retention execution vanished"))
    }

    /// Exports CVE data (`X-Scan-Data-Type` `scan_data_type`, e.g. the generic report MIME
    /// type) and waits for the export to end; download the file with
    /// [`HarborClient::download_scan_data`] when its status is `Success`.
    ///
    /// # Errors
    ///
    /// As [`HarborClient::export_scan_data`] and
    /// [`HarborClient::get_scan_data_export_execution`]; [`Error::Protocol`] when Harbor does
    /// not say the execution's id; [`Error::WaitTimedOut`] at the deadline.
    pub async fn export_scan_data_and_wait(
        &self,
        scan_data_type: &str,
        criteria: &ScanDataExportRequest,
        policy: WaitPolicy,
    ) -> Result<ScanDataExportExecution> {
        let job = self.export_scan_data(scan_data_type, criteria).await?;
        let id = job
            .id
            .ok_or_else(|| Error::protocol("the CVE export answer has no execution id"))?;
        self.poll_until(
            policy,
            format!("CVE export {id}"),
            || self.get_scan_data_export_execution(id),
            |e| status_of(e.status.as_ref(), JobStatus::is_final),
        )
        .await
    }
}

fn status_of<S: std::fmt::Display>(status: Option<&S>, is_final: fn(&S) -> bool) -> (bool, String) {
    match status {
        Some(s) => (is_final(s), s.to_string()),
        None => (false, "no status yet".to_owned()),
    }
}

fn created_id(created: &Created, what: &str) -> Result<i64> {
    created.id().ok_or_else(|| {
        Error::protocol(format!(
            "Harbor did not say the new {what}'s id (Location {:?})",
            created.location
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_delay_grows_by_half_and_stops_at_the_maximum() {
        let p = WaitPolicy::default().interval(ms(100), ms(300));
        let delays: Vec<_> = (0..5).map(|a| p.delay(a)).collect();
        assert_eq!(delays, [ms(100), ms(150), ms(225), ms(300), ms(300)]);
        assert_eq!(p.delay(u32::MAX), ms(300));
        // A maximum below the first interval is raised to it.
        assert_eq!(
            WaitPolicy::default().interval(ms(50), ms(10)).delay(3),
            ms(50)
        );
    }

    #[test]
    fn the_decision_is_done_poll_or_give_up() {
        let p = WaitPolicy::default()
            .interval(ms(100), ms(1000))
            .deadline(ms(1000));
        for (is_final, attempt, elapsed, want) in [
            (true, 0, ms(0), WaitStep::Done),
            (true, 9, ms(5000), WaitStep::Done),
            (false, 0, ms(0), WaitStep::PollAfter(ms(100))),
            (false, 2, ms(500), WaitStep::PollAfter(ms(225))),
            // The last poll falls on the deadline.
            (false, 10, ms(900), WaitStep::PollAfter(ms(100))),
            (false, 1, ms(1000), WaitStep::GiveUp),
            (false, 1, ms(4000), WaitStep::GiveUp),
        ] {
            assert_eq!(
                p.decide(is_final, attempt, elapsed),
                want,
                "{attempt} {elapsed:?}"
            );
        }
    }

    #[test]
    fn final_statuses() {
        let finals: Vec<_> = JobStatus::KNOWN.iter().filter(|s| s.is_final()).collect();
        assert_eq!(
            finals,
            [&JobStatus::Stopped, &JobStatus::Error, &JobStatus::Success]
        );
        assert!(!JobStatus::from("Cancelled-in-a-newer-harbor").is_final());
        let finals: Vec<_> = ReplicationStatus::KNOWN
            .iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(
            finals,
            [
                &ReplicationStatus::Succeed,
                &ReplicationStatus::Failed,
                &ReplicationStatus::Stopped
            ]
        );
    }

    #[test]
    fn a_scan_ends_when_every_report_has_ended_and_the_worst_wins() {
        let s = |status: &'static str| {
            let mut summary = NativeReportSummary::default();
            summary.scan_status = status.into();
            summary
        };
        let (ok, err, run) = (s("Success"), s("Error"), s("Running"));
        assert_eq!(overview_status(&[&ok]), Some(JobStatus::Success));
        assert_eq!(overview_status(&[&ok, &err]), Some(JobStatus::Error));
        assert_eq!(overview_status(&[&ok, &run]), None);
        assert_eq!(overview_status(&[]), None);
        assert_eq!(overview_status(&[&NativeReportSummary::default()]), None);
    }
}
