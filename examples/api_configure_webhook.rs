//! Points a project's webhook at an `events_receiver`.
//!
//! ```text
//! api_configure_webhook (--harbor URL | --api-root URL) --project NAME --receiver URL
//!     [--auth-header VALUE] [--format Default|CloudEvents] [--events A,B,...] [--name NAME]
//!     [--skip-cert-verify]
//! ```
//!
//! Creates a webhook policy in the project that sends the chosen events to `--receiver`
//! with `Authorization: <auth header>` (Harbor signs nothing: this header is the only proof
//! a delivery comes from Harbor; run `events_receiver --auth-header` with the same value).
//! `--format CloudEvents` needs Harbor 2.8+. The default events are the ones a scan
//! gatekeeper and a deploy pipeline need: `PUSH_ARTIFACT`, `SCANNING_COMPLETED`,
//! `SCANNING_FAILED`, `DELETE_ARTIFACT`.
//!
//! The auth header may come from the env `HARBOR_WEBHOOK_AUTH` instead; credentials from
//! `HARBOR_USERNAME`/`HARBOR_PASSWORD` (a project admin, or a robot allowed to create
//! webhook policies). Prints the new policy's id.

use std::process::ExitCode;

use harbor_client::HarborClient;
use harbor_client::api::models::{
    WebhookEventType, WebhookPayloadFormat, WebhookPolicy, WebhookTargetObject,
};
use harbor_client::api::{ProjectRef, Secret};

const USAGE: &str = "usage: api_configure_webhook (--harbor URL | --api-root URL) --project NAME --receiver URL [--auth-header VALUE] [--format Default|CloudEvents] [--events A,B,...] [--name NAME] [--skip-cert-verify]";

const DEFAULT_EVENTS: &[WebhookEventType] = &[
    WebhookEventType::PushArtifact,
    WebhookEventType::ScanningCompleted,
    WebhookEventType::ScanningFailed,
    WebhookEventType::DeleteArtifact,
];

struct Config {
    url: String,
    exact_root: bool,
    project: String,
    receiver: String,
    auth_header: Option<String>,
    format: WebhookPayloadFormat,
    events: Vec<WebhookEventType>,
    name: String,
    skip_cert_verify: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
    let mut url = None;
    let mut exact_root = false;
    let mut project = None;
    let mut receiver = None;
    let mut auth_header = std::env::var("HARBOR_WEBHOOK_AUTH").ok();
    let mut format = WebhookPayloadFormat::Default;
    let mut events: Vec<WebhookEventType> = DEFAULT_EVENTS.to_vec();
    let mut name = "harbor-sdk-events-receiver".to_owned();
    let mut skip_cert_verify = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--harbor" => url = Some(value("--harbor")?),
            "--api-root" => {
                url = Some(value("--api-root")?);
                exact_root = true;
            }
            "--project" => project = Some(value("--project")?),
            "--receiver" => receiver = Some(value("--receiver")?),
            "--auth-header" => auth_header = Some(value("--auth-header")?),
            "--format" => {
                format = match value("--format")?.to_ascii_lowercase().as_str() {
                    "default" => WebhookPayloadFormat::Default,
                    "cloudevents" => WebhookPayloadFormat::CloudEvents,
                    other => return Err(format!("--format {other:?}: use Default or CloudEvents")),
                }
            }
            "--events" => {
                events = value("--events")?
                    .split(',')
                    .map(|e| e.trim().to_ascii_uppercase())
                    .filter(|e| !e.is_empty())
                    .map(WebhookEventType::from)
                    .collect();
                if events.is_empty() {
                    return Err("--events needs at least one event type".into());
                }
            }
            "--name" => name = value("--name")?,
            "--skip-cert-verify" => skip_cert_verify = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let receiver = receiver.ok_or("--receiver is required")?;
    if !(receiver.starts_with("http://") || receiver.starts_with("https://")) {
        return Err(format!("--receiver {receiver:?} must be an http(s) URL"));
    }
    Ok(Some(Config {
        url: url.ok_or("--harbor or --api-root is required")?,
        exact_root,
        project: project.ok_or("--project is required")?,
        receiver,
        auth_header,
        format,
        events,
        name,
        skip_cert_verify,
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

async fn run(config: Config) -> harbor_client::Result<()> {
    let client = client(&config.url, config.exact_root)?;
    let project = ProjectRef::name(&config.project);

    // Warn about event types this Harbor does not know (older versions lack some).
    let supported = client.get_supported_webhook_event_types(&project).await?;
    let known = supported.event_type.unwrap_or_default();
    for e in &config.events {
        if !known.is_empty() && !known.contains(e) {
            eprintln!("warning: Harbor does not list {e} among its webhook event types {known:?}");
        }
    }

    let mut target = WebhookTargetObject::http(&config.receiver)
        .skip_cert_verify(config.skip_cert_verify)
        .payload_format(config.format.clone());
    if let Some(header) = &config.auth_header {
        target = target.auth_header(Secret::from(header.as_str()));
    }
    let policy = WebhookPolicy::new(&config.name)
        .description("Created by the harbor-sdk api_configure_webhook example")
        .target(target)
        .events(config.events.iter().cloned());

    let created = client.create_webhook_policy(&project, &policy).await?;
    let id = created
        .id()
        .map_or_else(|| "(no id in Location)".to_owned(), |id| id.to_string());
    println!(
        "created webhook policy {id} in project {}: {} -> {} ({} payloads{})",
        config.project,
        config
            .events
            .iter()
            .map(WebhookEventType::as_str)
            .collect::<Vec<_>>()
            .join(","),
        config.receiver,
        config.format,
        if config.auth_header.is_some() {
            ", with auth header"
        } else {
            ""
        }
    );
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
            eprintln!("api_configure_webhook: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("api_configure_webhook: {err}");
            ExitCode::from(1)
        }
    }
}
