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
//! and safe to run again: what exists already is kept (`Error::is_conflict`). Credentials
//! from `HARBOR_USERNAME`/`HARBOR_PASSWORD` (a system admin: creating projects and robots).
//! The robot's secret is shown once by Harbor; it is written to `--robot-secret-file` (mode
//! 0600), never printed.

use std::process::ExitCode;
use std::time::Duration;

use harbor_client::HarborClient;
use harbor_client::api::models::{
    ImmutableRule, ProjectReq, RetentionPolicy, RetentionRule, RobotCreate, RobotPermission,
    WebhookEventType, WebhookPolicy, WebhookTargetObject,
};
use harbor_client::api::{CreateProjectParams, Created, ImageReference, RepositoryName, WaitPolicy};

const USAGE: &str = "usage: api_provision_project (--harbor URL | --api-root URL) --project NAME [--quota-gib N] [--webhook URL] [--keep-latest N] [--scan REPO:TAG] [--robot-secret-file PATH]";

struct Config {
    url: String,
    exact_root: bool,
    project: String,
    quota_gib: i64,
    webhook: Option<String>,
    keep_latest: Option<i64>,
    scan: Option<(RepositoryName, ImageReference)>,
    robot_secret_file: Option<std::path::PathBuf>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
    let (mut url, mut exact_root, mut project) = (None, false, None);
    let (mut quota_gib, mut webhook, mut keep_latest, mut scan, mut secret_file) =
        (10, None, None, None, None);
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
            "--quota-gib" => {
                quota_gib = value("--quota-gib")?
                    .parse()
                    .map_err(|_| "--quota-gib needs a number")?;
            }
            "--webhook" => webhook = Some(value("--webhook")?),
            "--keep-latest" => {
                keep_latest = Some(
                    value("--keep-latest")?
                        .parse()
                        .map_err(|_| "--keep-latest needs a number")?,
                );
            }
            "--scan" => {
                let v = value("--scan")?;
                let (repo, tag) = v.rsplit_once(':').ok_or("--scan needs REPO:TAG")?;
                let repo: RepositoryName = repo.parse().map_err(|e| format!("--scan: {e}"))?;
                let tag = ImageReference::tag(tag).map_err(|e| format!("--scan: {e}"))?;
                scan = Some((repo, tag));
            }
            "--robot-secret-file" => secret_file = Some(value("--robot-secret-file")?.into()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(Config {
        url: url.ok_or("--harbor or --api-root is required")?,
        exact_root,
        project: project.ok_or("--project is required")?,
        quota_gib,
        webhook,
        keep_latest,
        scan,
        robot_secret_file: secret_file,
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
    let client = client(&config.url, config.exact_root)?;
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
    let project_id = client
        .get_project(name)
        .await?
        .project_id
        .unwrap_or_default();

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
    created_or_kept("retention", client.create_retention(&retention).await)?;

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
            outcome.summary.severity.as_deref().unwrap_or("unknown")
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
    options
        .open(path)
        .map_err(io)?
        .write_all(secret.as_bytes())
        .map_err(io)
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
            eprintln!("api_provision_project: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("api_provision_project: {err}");
            ExitCode::from(1)
        }
    }
}
