//! Reacts to finished scans: above a severity, labels the artifact, deletes its tag, or
//! turns on the project's "prevent vulnerable images".
//!
//! ```text
//! scan_gatekeeper (--harbor URL | --api-root URL) [--addr HOST:PORT] [--auth-header VALUE]
//!     [--inbox SPEC] [--severity LEVEL] [--action label|delete-tag|prevent] [--label-id N]
//!     [--json] [--max-events N]
//! ```
//!
//! Point a webhook policy for `SCANNING_COMPLETED` at this endpoint (see
//! `api_configure_webhook`). For every artifact of such an event it reads the artifact's
//! vulnerability summary **through the API** (`with_scan_overview`; the event's own copy
//! may be stale or absent in older formats). The artifact is addressed by the **digest** the
//! event names, never by its tag: the tag may point to another artifact by now, and the
//! scanned one must still be judged (an event without a digest is an `error`). When the
//! severity is at least `--severity` (default `critical`; `none`, `unknown`, `negligible`,
//! `low`, `medium`, `high`), it:
//!
//! - `label` (default): adds the label `--label-id` to that digest;
//! - `delete-tag`: deletes the tag the event names from that digest (digest-only events are
//!   left alone; a tag moved to another artifact since is not touched);
//! - `prevent`: sets the project's `prevent_vul=true` with that severity, so Harbor refuses
//!   pulls of vulnerable images.
//!
//! It fails closed: an artifact without a successful scan never passes. No scan overview,
//! a scan `Error`ed or `Stopped`, or a `Success` without a severity (Harbor's `""`) is acted
//! on as above. A scan `Scheduled`, `Pending` or `Running` (a rescan started since the event)
//! prints `retry` and the delivery is tried again later; on its last attempt it is acted on.
//! Acting is idempotent, so a delivery handled again does no harm: a label the artifact has
//! already (Harbor's `409`) and a tag no longer on it (`404`) count as done.
//!
//! A gatekeeper must not miss a scan: every delivery is stored in a durable inbox
//! (`harbor-receiver`) **before** it is answered `200`, and answered `503` when it cannot be
//! stored, so Harbor (which never resends what it got a `2xx` for) delivers it again. Harbor's
//! retries of a stored delivery are recognised by their delivery key and handled once. The
//! API work happens in a worker; when an API call fails in a way that may pass (a timeout, a
//! `5xx`) or a scan is in progress, the delivery is tried again later, up to 5 attempts.
//!
//! - `--inbox`: `sqlite:PATH` (default `sqlite:scan_gatekeeper.db` in the working directory),
//!   `nats://HOST:PORT` (NATS JetStream, shared by several gatekeepers), or `memory` (what is
//!   accepted and not yet handled is **lost on exit**).
//! - One line per decision goes to stdout: `act ...`, `pass ...`, `retry ...` or `error ...`,
//!   the artifact written `project/repo:tag@digest`; with `--json` one JSON object per
//!   decision: `{"delivery_key", "attempt", "outcome", "artifact", "message"}`. The first
//!   line is `listening on http://ADDR`.
//! - `--max-events N` exits after N scan events are done (one to be tried again is not yet;
//!   for tests). Credentials:
//!   `HARBOR_USERNAME`/`HARBOR_PASSWORD`; the webhook secret: `--auth-header` or
//!   `HARBOR_WEBHOOK_AUTH`. Ctrl-C stops it gracefully.

#[path = "harbor_cli.rs"]
mod harbor_cli;

use std::fmt;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::error::ErrorKind;
use clap::{CommandFactory as _, Parser};
use harbor_client::HarborClient;
use harbor_client::api::models::{Label, NativeReportSummary, ProjectMetadata, ProjectReq};
use harbor_client::api::{ArtifactLocation, GetArtifactParams, ProjectRef, Severity};
use harbor_events::{Decoder, EventKind};
use harbor_receiver::{
    Delivery, HandlerError, InboxOptions, InboxSpec, Receiver, RetryPolicy, Worker,
};
use tokio::net::TcpListener;
use tokio::sync::watch;

const BODY_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Label(i64),
    DeleteTag,
    Prevent,
}

/// What to do with an artifact at or above the severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ActionName {
    /// Add the label --label-id to the scanned digest.
    Label,
    /// Delete the tag the event names from the scanned digest (digest-only events are left
    /// alone).
    DeleteTag,
    /// Set the project's `prevent_vul=true` with that severity.
    Prevent,
}

/// React to finished scans: above a severity, label the artifact, delete its tag, or turn on
/// the project's "prevent vulnerable images".
///
/// Point a webhook policy for SCANNING_COMPLETED at this endpoint (see api_configure_webhook).
/// The artifact is judged by the digest the event names; no successful scan is never a pass.
/// Every delivery is stored in a durable inbox before it is answered 200; one line per
/// decision goes to stdout (`act ...`, `pass ...`, `retry ...`, `error ...`), after
/// `listening on http://ADDR`.
///
/// The account: a user or robot account allowed to read artifacts and to act.
#[derive(Debug, Parser)]
#[command(
    name = "scan_gatekeeper",
    version,
    after_help = "Logs: RUST_LOG=harbor_client=debug,harbor_receiver=debug shows each request, \
                  retry and delivery (never a secret)."
)]
struct Args {
    #[command(flatten)]
    harbor: harbor_cli::HarborArgs,
    /// Where to listen.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8081")]
    addr: SocketAddr,
    /// The exact `Authorization` value to require (the webhook policy's auth header).
    #[arg(
        long,
        env = "HARBOR_WEBHOOK_AUTH",
        hide_env_values = true,
        value_name = "VALUE"
    )]
    auth_header: Option<String>,
    /// The inbox: sqlite:PATH, nats://HOST:PORT (shared by several gatekeepers) or memory
    /// (what is accepted and not yet handled is lost on exit).
    #[arg(long, value_name = "SPEC", default_value = "sqlite:scan_gatekeeper.db", value_parser = parse_inbox)]
    inbox: InboxSpec,
    /// The lowest severity acted on: none, unknown, negligible, low, medium, high, critical.
    #[arg(long, value_name = "LEVEL", default_value = "critical", value_parser = parse_severity)]
    severity: Severity,
    /// What to do.
    #[arg(long, value_enum, default_value_t = ActionName::Label)]
    action: ActionName,
    /// The label --action label adds (its id in Harbor).
    #[arg(long, value_name = "N")]
    label_id: Option<i64>,
    /// One JSON object per decision: {"delivery_key", "attempt", "outcome", "artifact", "message"}.
    #[arg(long)]
    json: bool,
    /// Exit after N scan events are done (for tests).
    #[arg(long, value_name = "N")]
    max_events: Option<usize>,
}

struct Config {
    args: Args,
    action: Action,
    /// The worker's retry policy: its last attempt is where a scan in progress fails closed.
    retry: RetryPolicy,
}

impl std::ops::Deref for Config {
    type Target = Args;

    fn deref(&self) -> &Args {
        &self.args
    }
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    let level = Severity::from_text(s);
    if level.is_other() {
        return Err("use none, unknown, negligible, low, medium, high or critical".to_owned());
    }
    Ok(level)
}

fn parse_inbox(text: &str) -> Result<InboxSpec, String> {
    text.parse()
        .map_err(|e: harbor_receiver::Error| e.to_string())
}

/// The command line; `--action label` needs `--label-id`.
fn parse_args() -> Config {
    let args = Args::parse();
    let action = match (args.action, args.label_id) {
        (ActionName::Label, Some(id)) => Action::Label(id),
        (ActionName::Label, None) => Args::command()
            .error(
                ErrorKind::MissingRequiredArgument,
                "--action label needs --label-id",
            )
            .exit(),
        (ActionName::DeleteTag, _) => Action::DeleteTag,
        (ActionName::Prevent, _) => Action::Prevent,
    };
    Config {
        args,
        action,
        retry: RetryPolicy::default(),
    }
}

/// The artifact a scan event is about: addressed by the digest that was scanned, never by
/// the tag (which may point elsewhere by now); the tag is kept for `delete-tag` and display.
struct Scanned<'e> {
    /// `project/repository@digest`.
    at: ArtifactLocation,
    /// The tag the event names, if any.
    tag: Option<&'e str>,
}

impl<'e> Scanned<'e> {
    /// The digest location of an event's artifact.
    ///
    /// # Errors
    ///
    /// A message when the event names no digest (which artifact was scanned is unknown),
    /// or when its repository or digest is invalid.
    fn of(artifact: &harbor_events::Artifact<'e>) -> Result<Scanned<'e>, String> {
        if artifact.digest.is_none() {
            return Err("the event names no digest: which artifact was scanned is unknown".into());
        }
        let mut by_digest = *artifact;
        by_digest.tag = None;
        let at = ArtifactLocation::try_from(&by_digest)
            .map_err(|err| format!("the event's artifact cannot be addressed: {err}"))?;
        Ok(Scanned {
            at,
            tag: artifact.tag,
        })
    }
}

impl fmt::Display for Scanned<'_> {
    /// `project/repository:tag@digest`, or `project/repository@digest` without a tag.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = &self.at;
        match self.tag {
            Some(tag) => write!(f, "{}/{}:{tag}@{}", at.project, at.repository, at.reference),
            None => write!(f, "{at}"),
        }
    }
}

/// What an artifact's scan overview lets the gatekeeper decide.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ScanState {
    /// A successful scan with this overall severity.
    Scanned(Severity),
    /// A scan is scheduled, pending or running (a rescan since the event): it may pass.
    InProgress(String),
    /// No verdict: no overview, a failed or stopped scan, or a successful one without a
    /// severity. Never a pass.
    NoVerdict(String),
}

/// The state of the artifact's scan, from its preferred scan summary (pure).
fn scan_state(summary: Option<&NativeReportSummary<'_>>) -> ScanState {
    let Some(summary) = summary else {
        return ScanState::NoVerdict("no scan overview".to_owned());
    };
    match (summary.scan_status.as_ref(), &summary.severity) {
        ("Success", Some(found)) => ScanState::Scanned(found.clone()),
        ("Success", None) => ScanState::NoVerdict("the scan reports no severity".to_owned()),
        (status @ ("Scheduled" | "Pending" | "Running"), _) => {
            ScanState::InProgress(format!("scan status {status}"))
        }
        (status, _) => ScanState::NoVerdict(format!("scan status {status:?}")),
    }
}

/// One decision about one artifact: what is printed.
struct Decision {
    /// `act`, `pass`, `retry` or `error`.
    outcome: &'static str,
    /// `project/repository:tag@digest`, when the artifact could be addressed.
    artifact: Option<String>,
    message: String,
    /// The delivery is tried again later: an error that may pass (timeout, 5xx) or a scan
    /// in progress.
    retryable: bool,
}

impl Decision {
    fn new(outcome: &'static str, at: &Scanned<'_>, message: String) -> Decision {
        Decision {
            outcome,
            artifact: Some(at.to_string()),
            message,
            retryable: false,
        }
    }

    fn error(at: &Scanned<'_>, message: String, err: &harbor_client::Error) -> Decision {
        Decision {
            retryable: err.is_retryable(),
            ..Decision::new("error", at, message)
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.artifact {
            Some(artifact) => write!(f, "{} {artifact}: {}", self.outcome, self.message),
            None => write!(f, "{}: {}", self.outcome, self.message),
        }
    }
}

/// Decides about one artifact and acts. `last_attempt`: the delivery will not be tried
/// again, so a scan still in progress fails closed.
async fn judge(
    client: &HarborClient,
    scanned: &Scanned<'_>,
    last_attempt: bool,
    config: &Config,
) -> Decision {
    let at = &scanned.at;
    let params = GetArtifactParams::default()
        .with_scan_overview(true)
        .with_tag(true);
    let artifact = match client
        .get_artifact(&at.project, &at.repository, &at.reference, &params)
        .await
    {
        Ok(a) => a,
        Err(err) => {
            return Decision::error(scanned, format!("cannot read the artifact: {err}"), &err);
        }
    };
    // No successful scan is never a pass: it is acted on (fail closed), except a scan in
    // progress, which is looked at again while the delivery has attempts left.
    let reason = match scan_state(artifact.scan_summary()) {
        // A severity Harbor may add later ranks above Critical: it is acted on (fail closed).
        ScanState::Scanned(found) if found.is_at_least(&config.severity) => {
            format!("severity {found} >= {}", config.severity)
        }
        ScanState::Scanned(found) => {
            let message = format!("severity {found} below {}", config.severity);
            return Decision::new("pass", scanned, message);
        }
        ScanState::InProgress(state) if !last_attempt => {
            return Decision {
                retryable: true,
                ..Decision::new("retry", scanned, format!("{state}: tried again later"))
            };
        }
        ScanState::InProgress(state) => {
            format!("{state} on the last attempt, no verdict (fail closed)")
        }
        ScanState::NoVerdict(why) => format!("{why}, no verdict (fail closed)"),
    };
    let result = match config.action {
        Action::Label(id) => {
            let mut label = Label::default();
            label.id = Some(id);
            match client
                .add_artifact_label(&at.project, &at.repository, &at.reference, &label)
                .await
            {
                Ok(()) => Ok(format!("labelled with label {id}")),
                // "label %d is already added to the artifact %d": a retry, or a rescan.
                Err(err) if err.is_conflict() => Ok(format!("label {id} was there already")),
                Err(err) => Err(err),
            }
        }
        // The tag is deleted from the scanned digest only: a tag moved to another artifact
        // since the scan is left alone (Harbor answers 404, as for a tag already deleted).
        Action::DeleteTag => match scanned.tag {
            Some(tag) => match client
                .delete_tag(&at.project, &at.repository, &at.reference, tag)
                .await
            {
                Ok(()) => Ok(format!("deleted tag {tag}")),
                Err(err) if err.is_not_found() => {
                    Ok(format!("tag {tag} was not on this artifact (any more)"))
                }
                Err(err) => Err(err),
            },
            None => Ok("no tag in the event, nothing deleted".to_owned()),
        },
        Action::Prevent => {
            let mut metadata = ProjectMetadata::default();
            metadata.prevent_vul = Some("true".into());
            metadata.severity = Some(config.severity.as_project_metadata().into());
            let mut req = ProjectReq::default();
            req.metadata = Some(metadata);
            client
                .update_project(ProjectRef::name(&at.project), &req)
                .await
                .map(|()| {
                    format!(
                        "project {} now prevents pulls at severity {}",
                        at.project,
                        config.severity.as_project_metadata()
                    )
                })
        }
    };
    match result {
        Ok(done) => Decision::new("act", scanned, format!("{reason}: {done}")),
        Err(err) => Decision::error(scanned, format!("{reason}: {err}"), &err),
    }
}

/// The worker's handler: every artifact of every scan event of one delivery.
async fn handle(
    delivery: Delivery,
    client: &HarborClient,
    config: &Config,
    handled: &AtomicUsize,
    stop: &watch::Sender<bool>,
) -> Result<(), HandlerError> {
    let events = delivery.events().map_err(HandlerError::permanent)?;
    let last_attempt = config.retry.is_last_attempt(delivery.attempt());
    let (mut retry, mut scan_events) = (0, 0);
    for event in events {
        if event.kind != EventKind::ScanningCompleted {
            continue;
        }
        scan_events += 1;
        for artifact in event.artifacts() {
            let decision = match Scanned::of(&artifact) {
                Ok(scanned) => judge(client, &scanned, last_attempt, config).await,
                Err(message) => Decision {
                    outcome: "error",
                    artifact: None,
                    message,
                    retryable: false,
                },
            };
            retry += usize::from(decision.retryable);
            if config.json {
                let line = serde_json::json!({
                    "delivery_key": delivery.key().as_str(),
                    "attempt": delivery.attempt(),
                    "outcome": decision.outcome,
                    "artifact": decision.artifact,
                    "message": decision.message,
                });
                println!("{line}");
            } else {
                println!("{decision}");
            }
        }
    }
    if retry > 0 && !last_attempt {
        return Err(HandlerError::retry(format!(
            "{retry} artifact(s) hit an API error that may pass or a scan in progress"
        )));
    }
    // Only finished events count towards --max-events: one to be tried again is not done.
    let count = handled.fetch_add(scan_events, Ordering::Relaxed) + scan_events;
    if scan_events > 0 && config.max_events.is_some_and(|max| count >= max) {
        let _ = stop.send(true);
    }
    if retry > 0 {
        return Err(HandlerError::retry(format!(
            "{retry} artifact(s) hit an API error that may pass, on the last attempt"
        )));
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = parse_args();
    harbor_cli::init_logs();
    let client = match config.harbor.client() {
        Ok(c) => c,
        Err(err) => {
            eprintln!("scan_gatekeeper: {err}");
            return ExitCode::from(2);
        }
    };
    let inbox = match config.inbox.open(&InboxOptions::new()).await {
        Ok(inbox) => inbox,
        Err(err) => {
            eprintln!("scan_gatekeeper: {err}");
            return ExitCode::from(1);
        }
    };
    let mut decoder = Decoder::new().max_body_bytes(BODY_LIMIT);
    if let Some(secret) = &config.auth_header {
        decoder = decoder.auth_header(secret.clone());
    }
    let listener = match TcpListener::bind(config.addr).await {
        Ok(l) => l,
        Err(err) => {
            eprintln!("scan_gatekeeper: cannot listen on {}: {err}", config.addr);
            return ExitCode::from(1);
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on http://{addr}"),
        Err(err) => {
            eprintln!("scan_gatekeeper: {err}");
            return ExitCode::from(1);
        }
    }
    let (stop, stopped) = watch::channel(false);
    let on_stop = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let server = tokio::spawn(
        Receiver::new(decoder, inbox.clone()).serve(listener, on_stop(stopped.clone())),
    );
    let stop = Arc::new(stop);
    let retry = config.retry;
    let (config, handled) = (Arc::new(config), Arc::new(AtomicUsize::new(0)));
    let handler = {
        let stop = stop.clone();
        move |delivery: Delivery| {
            let (client, config) = (client.clone(), config.clone());
            let (handled, stop) = (handled.clone(), stop.clone());
            async move { handle(delivery, &client, &config, &handled, &stop).await }
        }
    };
    let worker = tokio::spawn(
        Worker::new(inbox.clone())
            .retry_policy(retry)
            .run(handler, on_stop(stopped.clone())),
    );
    let mut stopped = stopped;
    tokio::select! {
        _ = stopped.wait_for(|stop| *stop) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let _ = stop.send(true);
    // Requests in flight are stored and answered; the handler in flight finishes.
    let mut code = ExitCode::SUCCESS;
    if !matches!(server.await, Ok(Ok(()))) {
        eprintln!("scan_gatekeeper: the server stopped with an error");
        code = ExitCode::from(1);
    }
    if worker.await.is_err() {
        code = ExitCode::from(1);
    }
    if let Err(err) = inbox.close().await {
        eprintln!("scan_gatekeeper: closing the inbox: {err}");
        code = ExitCode::from(1);
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(status: &'static str, severity: Option<Severity>) -> NativeReportSummary<'static> {
        let mut s = NativeReportSummary::default();
        s.scan_status = status.into();
        s.severity = severity;
        s
    }

    #[test]
    fn only_a_successful_scan_gives_a_verdict() {
        use ScanState::{InProgress, NoVerdict, Scanned};
        let high = Some(Severity::High);
        let rows: [(Option<NativeReportSummary<'static>>, ScanState); 8] = [
            (None, NoVerdict("no scan overview".into())),
            (
                Some(summary("Success", high.clone())),
                Scanned(Severity::High),
            ),
            (
                Some(summary("Success", None)),
                NoVerdict("the scan reports no severity".into()),
            ),
            (
                Some(summary("Error", None)),
                NoVerdict("scan status \"Error\"".into()),
            ),
            (
                Some(summary("Stopped", high.clone())),
                NoVerdict("scan status \"Stopped\"".into()),
            ),
            (
                Some(summary("Running", None)),
                InProgress("scan status Running".into()),
            ),
            (
                Some(summary("Pending", None)),
                InProgress("scan status Pending".into()),
            ),
            (
                Some(summary("Scheduled", high)),
                InProgress("scan status Scheduled".into()),
            ),
        ];
        for (input, want) in rows {
            assert_eq!(scan_state(input.as_ref()), want, "{input:?}");
        }
    }
}
