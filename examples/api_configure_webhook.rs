//! Points a project's webhook at an `events_receiver`.
//!
//! ```text
//! api_configure_webhook (--harbor URL | --api-root URL) --project NAME --receiver URL
//!     [--auth-header VALUE] [--format Default|CloudEvents] [--events A,B,...] [--name NAME]
//!     [--skip-cert-verify] [--username USER]
//! ```
//!
//! Creates a webhook policy in the project that sends the chosen events to `--receiver`
//! with `Authorization: <auth header>` (Harbor signs nothing: this header is the only proof
//! a delivery comes from Harbor; run `events_receiver --auth-header` with the same value).
//! `--format CloudEvents` needs Harbor 2.8+. The default events are the ones a scan
//! gatekeeper and a deploy pipeline need: `PUSH_ARTIFACT`, `SCANNING_COMPLETED`,
//! `SCANNING_FAILED`, `DELETE_ARTIFACT`.
//!
//! The auth header may come from the env `HARBOR_WEBHOOK_AUTH` instead (better: no `ps` shows
//! it); credentials from `--username` (or `HARBOR_USERNAME`) and `HARBOR_PASSWORD` (a project
//! admin, or a robot allowed to create webhook policies). Prints the new policy's id.

#[path = "harbor_cli.rs"]
mod harbor_cli;

use std::process::ExitCode;

use clap::Parser;
use harbor_client::api::models::{
    WebhookEventType, WebhookPayloadFormat, WebhookPolicy, WebhookTargetObject,
};
use harbor_client::api::{ProjectRef, Secret};

const DEFAULT_EVENTS: &[WebhookEventType] = &[
    WebhookEventType::PushArtifact,
    WebhookEventType::ScanningCompleted,
    WebhookEventType::ScanningFailed,
    WebhookEventType::DeleteArtifact,
];

/// Point a project's webhook at an `events_receiver`.
///
/// Creates a webhook policy in the project that sends the chosen events to --receiver with
/// `Authorization: <auth header>`. Prints the new policy's id.
///
/// The account: a project admin, or a robot account allowed to create webhook policies.
#[derive(Debug, Parser)]
#[command(name = "api_configure_webhook", version)]
struct Config {
    #[command(flatten)]
    harbor: harbor_cli::HarborArgs,
    /// The project whose webhook this is.
    #[arg(long, value_name = "NAME")]
    project: String,
    /// The receiver's URL (http or https).
    #[arg(long, value_name = "URL", value_parser = parse_receiver)]
    receiver: String,
    /// The `Authorization` value Harbor sends (its only proof a delivery is Harbor's: run
    /// `events_receiver --auth-header` with the same).
    #[arg(
        long,
        env = "HARBOR_WEBHOOK_AUTH",
        hide_env_values = true,
        value_name = "VALUE"
    )]
    auth_header: Option<String>,
    /// The payload format: Default or CloudEvents (Harbor 2.8+).
    #[arg(long, value_name = "FORMAT", default_value_t = WebhookPayloadFormat::Default, value_parser = parse_format)]
    format: WebhookPayloadFormat,
    /// The event types, comma-separated.
    #[arg(
        long,
        value_name = "A,B,...",
        value_delimiter = ',',
        default_values_t = DEFAULT_EVENTS.to_vec(),
        value_parser = parse_event
    )]
    events: Vec<WebhookEventType>,
    /// The policy's name.
    #[arg(long, default_value = "harbor-sdk-events-receiver")]
    name: String,
    /// Let Harbor skip verifying the receiver's certificate.
    #[arg(long)]
    skip_cert_verify: bool,
}

fn parse_receiver(text: &str) -> Result<String, String> {
    if text.starts_with("http://") || text.starts_with("https://") {
        Ok(text.to_owned())
    } else {
        Err("must be an http(s) URL".to_owned())
    }
}

fn parse_format(text: &str) -> Result<WebhookPayloadFormat, String> {
    match text.to_ascii_lowercase().as_str() {
        "default" => Ok(WebhookPayloadFormat::Default),
        "cloudevents" => Ok(WebhookPayloadFormat::CloudEvents),
        _ => Err("use Default or CloudEvents".to_owned()),
    }
}

fn parse_event(text: &str) -> Result<WebhookEventType, String> {
    match text.trim() {
        "" => Err("an empty event type".to_owned()),
        e => Ok(WebhookEventType::from(e.to_ascii_uppercase())),
    }
}

async fn run(config: Config) -> harbor_client::Result<()> {
    let client = config.harbor.client()?;
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
    let config = Config::parse();
    harbor_cli::init_logs();
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("api_configure_webhook: {err}");
            ExitCode::from(1)
        }
    }
}
