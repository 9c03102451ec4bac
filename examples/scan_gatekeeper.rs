//! Reacts to finished scans: above a severity, labels the artifact, deletes its tag, or
//! turns on the project's "prevent vulnerable images".
//!
//! ```text
//! scan_gatekeeper (--harbor URL | --api-root URL) [--addr HOST:PORT] [--auth-header VALUE]
//!     [--severity LEVEL] [--action label|delete-tag|prevent] [--label-id N] [--max-events N]
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
//! Every delivery is answered at once (Harbor gives up after 3 s and retries); the API work
//! happens in a worker. One line per decision goes to stdout: `act ...`, `pass ...` or
//! `error ...`. The first line is `listening on http://ADDR`. `--max-events N` exits after
//! N scan events (for tests). Credentials: `HARBOR_USERNAME`/`HARBOR_PASSWORD`; the
//! webhook secret: `--auth-header` or `HARBOR_WEBHOOK_AUTH`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use harbor_client::HarborClient;
use harbor_client::api::models::{Label, ProjectMetadata, ProjectReq};
use harbor_client::api::{ArtifactLocation, GetArtifactParams, ProjectRef, Severity};
use harbor_events::{Decoder, EventKind, Payload};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const USAGE: &str = "usage: scan_gatekeeper (--harbor URL | --api-root URL) [--addr HOST:PORT] [--auth-header VALUE] [--severity LEVEL] [--action label|delete-tag|prevent] [--label-id N] [--max-events N]";
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
    severity: Severity,
    action: Action,
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
        severity,
        action,
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

#[derive(Clone)]
struct App {
    decoder: Arc<Decoder>,
    queue: mpsc::Sender<Payload<'static>>,
}

async fn receive(
    State(app): State<App>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST")]).into_response();
    }
    match app.decoder.decode_with_headers(&headers, &body) {
        Ok(payload) => match app.queue.try_send(payload.into_owned()) {
            Ok(()) => StatusCode::OK.into_response(),
            Err(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "30")],
            )
                .into_response(),
        },
        Err(err) => {
            let status = err.status().unwrap_or(StatusCode::BAD_REQUEST);
            eprintln!("refused a delivery ({status}): {err}");
            (status, err.to_string()).into_response()
        }
    }
}

/// Decides about one artifact and acts; returns the line to print.
async fn judge(
    client: &HarborClient,
    at: &ArtifactLocation,
    tag: Option<&str>,
    config: &Config,
) -> String {
    let params = GetArtifactParams::default()
        .with_scan_overview(true)
        .with_tag(true);
    let artifact = match client
        .get_artifact(&at.project, &at.repository, &at.reference, &params)
        .await
    {
        Ok(a) => a,
        Err(err) => return format!("error {at}: cannot read the artifact: {err}"),
    };
    let Some(summary) = artifact.scan_summary() else {
        return format!("pass {at}: no scan overview");
    };
    let Some(found) = summary.severity.clone() else {
        return format!("pass {at}: the scan overview has no severity");
    };
    // A severity Harbor may add later ranks above Critical: it is acted on (fail closed).
    if !found.is_at_least(&config.severity) {
        return format!("pass {at}: severity {found} below {}", config.severity);
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
    match result {
        Ok(done) => format!("act {at}: severity {found} >= {}: {done}", config.severity),
        Err(err) => format!("error {at}: severity {found} >= {}: {err}", config.severity),
    }
}

async fn work(mut queue: mpsc::Receiver<Payload<'static>>, client: HarborClient, config: Config) {
    let mut handled = 0;
    while let Some(payload) = queue.recv().await {
        for event in payload.events() {
            if event.kind != EventKind::ScanningCompleted {
                continue;
            }
            for artifact in event.artifacts() {
                let line = match ArtifactLocation::try_from(&artifact) {
                    Ok(at) => judge(&client, &at, artifact.tag, &config).await,
                    Err(err) => format!("error: the event's artifact cannot be addressed: {err}"),
                };
                println!("{line}");
            }
            handled += 1;
            if config.max_events.is_some_and(|max| handled >= max) {
                return;
            }
        }
    }
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
    let (tx, rx) = mpsc::channel(1024);
    let app = App {
        decoder: Arc::new(decoder),
        queue: tx,
    };
    let router = Router::new()
        .fallback(receive)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(app);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    tokio::select! {
        () = work(rx, client, config) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    server.abort();
    ExitCode::SUCCESS
}
