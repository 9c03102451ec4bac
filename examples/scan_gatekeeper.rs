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
//! may be stale or absent in older formats) and, when the severity is at least `--severity`
//! (default `critical`; `none`, `unknown`, `negligible`, `low`, `medium`, `high`), it:
//!
//! - `label` (default): adds the label `--label-id` to the artifact;
//! - `delete-tag`: deletes the tag the event names (digest-only events are left alone);
//! - `prevent`: sets the project's `prevent_vul=true` with that severity, so Harbor refuses
//!   pulls of vulnerable images.
//!
//! A gatekeeper must not miss a scan: every delivery is stored in a durable inbox
//! (`harbor-receiver`) **before** it is answered `200`, and answered `503` when it cannot be
//! stored, so Harbor (which never resends what it got a `2xx` for) delivers it again. Harbor's
//! retries of a stored delivery are recognised by their delivery key and handled once. The
//! API work happens in a worker; when an API call fails in a way that may pass (a timeout, a
//! `5xx`), the delivery is tried again later, up to 5 attempts.
//!
//! - `--inbox`: `sqlite:PATH` (default `sqlite:scan_gatekeeper.db` in the working directory),
//!   `nats://HOST:PORT` (NATS JetStream, shared by several gatekeepers), or `memory` (what is
//!   accepted and not yet handled is **lost on exit**).
//! - One line per decision goes to stdout: `act ...`, `pass ...` or `error ...`; with `--json`
//!   one JSON object per decision: `{"delivery_key", "attempt", "outcome", "artifact",
//!   "message"}`. The first line is `listening on http://ADDR`.
//! - `--max-events N` exits after N scan events (for tests). Credentials:
//!   `HARBOR_USERNAME`/`HARBOR_PASSWORD`; the webhook secret: `--auth-header` or
//!   `HARBOR_WEBHOOK_AUTH`. Ctrl-C stops it gracefully.

use std::fmt;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use harbor_client::HarborClient;
use harbor_client::api::models::{Label, ProjectMetadata, ProjectReq};
use harbor_client::api::{ArtifactLocation, GetArtifactParams, ProjectRef, Severity};
use harbor_events::{Decoder, EventKind};
use harbor_receiver::{Delivery, HandlerError, InboxOptions, InboxSpec, Receiver, Worker};
use tokio::net::TcpListener;
use tokio::sync::watch;

const USAGE: &str = "usage: scan_gatekeeper (--harbor URL | --api-root URL) [--addr HOST:PORT] [--auth-header VALUE] [--inbox sqlite:PATH|nats://HOST:PORT|memory] [--severity LEVEL] [--action label|delete-tag|prevent] [--label-id N] [--json] [--max-events N]";
const BODY_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Label(i64),
    DeleteTag,
    Prevent,
}

struct Config {
    url: String,
    exact_root: bool,
    addr: SocketAddr,
    auth_header: Option<String>,
    inbox: InboxSpec,
    severity: Severity,
    action: Action,
    json: bool,
    max_events: Option<usize>,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    let level = Severity::from_text(s);
    if level.is_other() {
        return Err(format!(
            "--severity {s:?}: use none, unknown, negligible, low, medium, high or critical"
        ));
    }
    Ok(level)
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
    let mut url = None;
    let mut exact_root = false;
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 8081));
    let mut auth_header = std::env::var("HARBOR_WEBHOOK_AUTH").ok();
    let mut severity = Severity::Critical;
    let mut action = "label".to_owned();
    let mut label_id = None;
    let mut max_events = None;
    let mut inbox = InboxSpec::Sqlite("scan_gatekeeper.db".into());
    let mut json = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--harbor" => url = Some(value("--harbor")?),
            "--api-root" => {
                url = Some(value("--api-root")?);
                exact_root = true;
            }
            "--addr" => {
                let text = value("--addr")?;
                addr = text
                    .parse()
                    .map_err(|_| format!("--addr {text:?} is not HOST:PORT"))?;
            }
            "--auth-header" => auth_header = Some(value("--auth-header")?),
            "--inbox" => {
                let text = value("--inbox")?;
                inbox = text.parse().map_err(|e| format!("--inbox: {e}"))?;
            }
            "--json" => json = true,
            "--severity" => severity = parse_severity(&value("--severity")?)?,
            "--action" => action = value("--action")?,
            "--label-id" => {
                let text = value("--label-id")?;
                label_id = Some(
                    text.parse::<i64>()
                        .map_err(|_| format!("--label-id {text:?} is not a number"))?,
                );
            }
            "--max-events" => {
                let text = value("--max-events")?;
                max_events = Some(
                    text.parse::<usize>()
                        .map_err(|_| format!("--max-events {text:?} is not a number"))?,
                );
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let action = match action.as_str() {
        "label" => Action::Label(label_id.ok_or("--action label needs --label-id")?),
        "delete-tag" => Action::DeleteTag,
        "prevent" => Action::Prevent,
        other => {
            return Err(format!(
                "--action {other:?}: use label, delete-tag or prevent"
            ));
        }
    };
    Ok(Some(Config {
        url: url.ok_or("--harbor or --api-root is required")?,
        exact_root,
        addr,
        auth_header,
        inbox,
        severity,
        action,
        json,
        max_events,
    }))
}

fn client(url: &str, exact_root: bool) -> harbor_client::Result<HarborClient> {
    let mut builder = if exact_root {
        HarborClient::builder_with_api_root(url)
    } else {
        HarborClient::builder(url)
    };
    if let (Ok(user), Ok(password)) = (
        std::env::var("HARBOR_USERNAME"),
        std::env::var("HARBOR_PASSWORD"),
    ) {
        builder = builder.credentials(harbor_client::transport::Credentials::basic(user, password));
    }
    builder.build()
}

/// One decision about one artifact: what is printed.
struct Decision {
    /// `act`, `pass` or `error`.
    outcome: &'static str,
    /// `project/repository:reference`, when the artifact could be addressed.
    artifact: Option<String>,
    message: String,
    /// An error that may pass (timeout, 5xx): the delivery is tried again later.
    retryable: bool,
}

impl Decision {
    fn new(outcome: &'static str, at: &ArtifactLocation, message: String) -> Decision {
        Decision {
            outcome,
            artifact: Some(at.to_string()),
            message,
            retryable: false,
        }
    }

    fn error(at: &ArtifactLocation, message: String, err: &harbor_client::Error) -> Decision {
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

/// Decides about one artifact and acts.
async fn judge(
    client: &HarborClient,
    at: &ArtifactLocation,
    tag: Option<&str>,
    config: &Config,
) -> Decision {
    let params = GetArtifactParams::default()
        .with_scan_overview(true)
        .with_tag(true);
    let artifact = match client
        .get_artifact(&at.project, &at.repository, &at.reference, &params)
        .await
    {
        Ok(a) => a,
        Err(err) => {
            return Decision::error(at, format!("cannot read the artifact: {err}"), &err);
        }
    };
    let Some(summary) = artifact.scan_summary() else {
        return Decision::new("pass", at, "no scan overview".to_owned());
    };
    let Some(found) = summary.severity.clone() else {
        return Decision::new("pass", at, "the scan overview has no severity".to_owned());
    };
    // A severity Harbor may add later ranks above Critical: it is acted on (fail closed).
    if !found.is_at_least(&config.severity) {
        let message = format!("severity {found} below {}", config.severity);
        return Decision::new("pass", at, message);
    }
    let result = match config.action {
        Action::Label(id) => {
            let mut label = Label::default();
            label.id = Some(id);
            client
                .add_artifact_label(&at.project, &at.repository, &at.reference, &label)
                .await
                .map(|()| format!("labelled with label {id}"))
        }
        Action::DeleteTag => match tag {
            Some(tag) => client
                .delete_tag(&at.project, &at.repository, &at.reference, tag)
                .await
                .map(|()| format!("deleted tag {tag}")),
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
    let reason = format!("severity {found} >= {}", config.severity);
    match result {
        Ok(done) => Decision::new("act", at, format!("{reason}: {done}")),
        Err(err) => Decision::error(at, format!("{reason}: {err}"), &err),
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
    let mut retry = 0;
    for event in events {
        if event.kind != EventKind::ScanningCompleted {
            continue;
        }
        for artifact in event.artifacts() {
            let decision = match ArtifactLocation::try_from(&artifact) {
                Ok(at) => judge(client, &at, artifact.tag, config).await,
                Err(err) => Decision {
                    outcome: "error",
                    artifact: None,
                    message: format!("the event's artifact cannot be addressed: {err}"),
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
        let count = handled.fetch_add(1, Ordering::Relaxed) + 1;
        if config.max_events.is_some_and(|max| count >= max) {
            let _ = stop.send(true);
        }
    }
    if retry > 0 {
        return Err(HandlerError::retry(format!(
            "{retry} artifact(s) hit an API error that may pass"
        )));
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(Some(c)) => c,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("scan_gatekeeper: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let client = match client(&config.url, config.exact_root) {
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
        decoder = decoder.expect_authorization(secret.clone());
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
    let (config, handled) = (Arc::new(config), Arc::new(AtomicUsize::new(0)));
    let handler = {
        let stop = stop.clone();
        move |delivery: Delivery| {
            let (client, config) = (client.clone(), config.clone());
            let (handled, stop) = (handled.clone(), stop.clone());
            async move { handle(delivery, &client, &config, &handled, &stop).await }
        }
    };
    let worker = tokio::spawn(Worker::new(inbox.clone()).run(handler, on_stop(stopped.clone())));
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
