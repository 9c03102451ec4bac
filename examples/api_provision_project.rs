//! Provisions a project end to end: the project (quota, scan on push), a CI robot that may
//! pull and push there, a webhook, a retention policy, an immutability rule, and a scan of
//! an artifact that waits for the result.
//!
//! ```text
//! api_provision_project (--harbor URL | --api-root URL) --project NAME
//!     [--quota-gib N] [--webhook URL] [--keep-latest N] [--scan REPO:TAG]
//!     [--robot-secret-file PATH]
//! ```
//!
//! Every step is one typed expression (the request-body builders of `harbor_client::api`)
//! and safe to run again: what exists already is kept (`Error::is_conflict`), except the
//! retention policy. Harbor binds one per project and refuses a second with `400` (not
//! `409`), so the project's `retention_id` metadata is read first: the policy it names is
//! updated (`PUT /retentions/{id}`) to the one asked for, and one is created only when
//! there is none. Credentials
//! from `HARBOR_USERNAME`/`HARBOR_PASSWORD` (a system admin: creating projects and robots).
//! The robot's secret is shown once by Harbor; it is written to `--robot-secret-file` (mode
//! 0600), never printed.

#[path = "harbor_cli.rs"]
mod harbor_cli;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use harbor_client::api::models::{
    ImmutableRule, ProjectReq, RetentionPolicy, RetentionRule, RobotCreate, RobotPermission,
    WebhookEventType, WebhookPolicy, WebhookTargetObject,
};
use harbor_client::api::{CreateProjectParams, Created, Reference, RepositoryName, WaitPolicy};

/// Provision a Harbor project end to end: quota, a CI robot, a webhook, retention,
/// immutability, and a scan it waits for. Safe to run again.
///
/// The account: a system admin (creating projects and robots).
#[derive(Debug, Parser)]
#[command(name = "api_provision_project", version)]
struct Config {
    #[command(flatten)]
    harbor: harbor_cli::HarborArgs,
    /// The project to create (or keep).
    #[arg(long, value_name = "NAME")]
    project: String,
    /// The project's storage quota in GiB.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    quota_gib: i64,
    /// A webhook receiver URL for push and scan events.
    #[arg(long, value_name = "URL")]
    webhook: Option<String>,
    /// Also keep the latest N pushed artifacts of every repository.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
    keep_latest: Option<i64>,
    /// Scan this artifact and wait for the result, `REPO:TAG`.
    #[arg(long, value_name = "REPO:TAG", value_parser = parse_scan)]
    scan: Option<(RepositoryName, Reference)>,
    /// Where to write the robot's secret (mode 0600); it is never printed.
    #[arg(long, value_name = "PATH")]
    robot_secret_file: Option<std::path::PathBuf>,
}

fn parse_scan(text: &str) -> Result<(RepositoryName, Reference), String> {
    let (repo, tag) = text.rsplit_once(':').ok_or("expected REPO:TAG")?;
    let repo: RepositoryName = repo.parse().map_err(|e| format!("{e}"))?;
    let tag = Reference::tag(tag).map_err(|e| format!("{e}"))?;
    Ok((repo, tag))
}

/// "created" or "exists already": a conflict is not a failure when provisioning again.
fn created_or_kept(
    step: &str,
    result: harbor_client::Result<Created>,
) -> harbor_client::Result<()> {
    match result {
        Ok(c) => println!(
            "{step}: created{}",
            c.id().map(|id| format!(" (id {id})")).unwrap_or_default()
        ),
        Err(e) if e.is_conflict() => println!("{step}: exists already, kept"),
        Err(e) => return Err(e),
    }
    Ok(())
}

async fn run(config: Config) -> harbor_client::Result<()> {
    let client = config.harbor.client()?;
    let name = config.project.as_str();

    // 1. The project: a quota, and every push scanned.
    let project = ProjectReq::new(name)
        .storage_limit(config.quota_gib << 30)
        .auto_scan(true);
    created_or_kept(
        "project",
        client
            .create_project(&project, &CreateProjectParams::default())
            .await,
    )?;
    let project = client.get_project(name).await?;
    let project_id = project.project_id.unwrap_or_default();
    let retention_id = project
        .metadata
        .as_ref()
        .and_then(|m| m.retention_id.as_deref())
        .map(|id| {
            id.parse::<i64>().map_err(|_| {
                // Harbor writes the id of the bound policy there, a number.
                harbor_client::Error::Protocol {
                    message: format!(
                        "project {name}: metadata retention_id {id:?} is not a policy id"
                    ),
                }
            })
        })
        .transpose()?;

    // 2. A robot for CI: pull and push in this project only.
    let robot = RobotCreate::project("ci", RobotPermission::project(name).pull().push())
        .description("CI pipeline of this project");
    match client.create_robot(&robot).await {
        Ok(created) => {
            let robot_name = created.name.unwrap_or_default();
            match (&config.robot_secret_file, &created.secret) {
                (Some(path), Some(secret)) => {
                    write_secret(path, secret.expose_secret())?;
                    println!("robot: {robot_name}, secret written to {}", path.display());
                }
                _ => println!("robot: {robot_name} (secret not saved: pass --robot-secret-file)"),
            }
        }
        Err(e) if e.is_conflict() => println!("robot: exists already, kept"),
        Err(e) => return Err(e),
    }

    // 3. A webhook to CI on pushes and finished scans.
    if let Some(url) = &config.webhook {
        let hook = WebhookPolicy::new("ci")
            .target(WebhookTargetObject::http(url))
            .events([
                WebhookEventType::PushArtifact,
                WebhookEventType::ScanningCompleted,
            ]);
        created_or_kept("webhook", client.create_webhook_policy(name, &hook).await)?;
    }

    // 4. Retention, nightly: release tags forever, and the latest N pushes if asked.
    let mut retention = RetentionPolicy::for_project(project_id)
        .rule(RetentionRule::always().tags("v*"))
        .schedule("0 0 0 * * *");
    if let Some(n) = config.keep_latest {
        retention = retention.rule(RetentionRule::latest_pushed(n));
    }
    // Harbor answers a second policy for a project with 400, not 409: update the bound one.
    match retention_id {
        Some(id) => {
            client.update_retention(id, &retention).await?;
            println!("retention: exists already (id {id}), updated");
        }
        None => created_or_kept("retention", client.create_retention(&retention).await)?,
    }

    // 5. Release tags cannot be overwritten or deleted.
    let immutable = ImmutableRule::new().tags("v*");
    created_or_kept(
        "immutability",
        client.create_immutable_rule(name, &immutable).await,
    )?;

    // 6. Scan an artifact and wait for the verdict.
    if let Some((repo, tag)) = &config.scan {
        let policy = WaitPolicy::default().deadline(Duration::from_secs(600));
        let outcome = client
            .scan_artifact_and_wait(name, repo, tag, policy)
            .await?;
        println!(
            "scan of {name}/{repo}:{tag}: {} (severity {})",
            outcome.status,
            outcome
                .summary
                .severity
                .as_ref()
                .map_or("unknown", |s| s.as_str())
        );
    }
    Ok(())
}

fn write_secret(path: &std::path::Path, secret: &str) -> harbor_client::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let io = |e| harbor_client::Error::Io {
        path: Some(path.to_path_buf()),
        source: e,
    };
    let mut file = options.open(path).map_err(io)?;
    // `mode` applies only to a new file: an existing one is made private before the
    // secret goes in (truncating it left it empty).
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(io)?;
    file.write_all(secret.as_bytes()).map_err(io)
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    harbor_cli::init_logs();
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("api_provision_project: {err}");
            ExitCode::from(1)
        }
    }
}
