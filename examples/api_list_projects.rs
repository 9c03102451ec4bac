//! Lists every project of a Harbor, reading all pages.
//!
//! ```text
//! api_list_projects (--harbor URL | --api-root URL) [--username USER] [--query Q] [--json]
//! ```
//!
//! - `--harbor`: the Harbor URL (`https://harbor.example.com`; `/api/v2.0` is added).
//! - `--api-root`: the API root taken as is (e.g. a mock serving the spec without its base path).
//! - `--query`: a filter in Harbor's `q` syntax, e.g. `name=~team` (fuzzy) or `public=true`.
//! - `--json`: one JSON object per project instead of a table.
//!
//! Credentials: `--username` (or `HARBOR_USERNAME`) and `HARBOR_PASSWORD` (a user, a robot
//! account `robot$name`, or an OIDC CLI secret; `--password` exists, but the environment keeps
//! it out of `ps`); anonymous without them (public projects only).
//!
//! Harbor answers 10 projects per page by default; this reads them all, 100 per request,
//! and prints the total Harbor reported.

use std::process::ExitCode;

use clap::{ArgGroup, Parser};
use futures_util::TryStreamExt as _;
use harbor_client::HarborClient;
use harbor_client::api::{ListProjectsParams, Query};

/// List every project of a Harbor, reading all pages.
///
/// Harbor answers 10 projects per page by default; this reads them all, 100 per request, and
/// prints the total Harbor reported.
#[derive(Debug, Parser)]
#[command(
    name = "api_list_projects",
    version,
    group(ArgGroup::new("target").required(true).args(["harbor", "api_root"])),
    after_help = "Logs: RUST_LOG=harbor_client=debug shows each request and retry (never a secret)."
)]
struct Config {
    /// The Harbor URL (`https://harbor.example.com`; `/api/v2.0` is added).
    #[arg(long, value_name = "URL")]
    harbor: Option<String>,
    /// The API root taken as is (e.g. a mock serving the spec without its base path).
    #[arg(long, value_name = "URL")]
    api_root: Option<String>,
    /// A user, a robot account `robot$name`, or an OIDC user (anonymous without: public
    /// projects only).
    #[arg(
        long,
        env = "HARBOR_USERNAME",
        value_name = "USER",
        requires = "password"
    )]
    username: Option<String>,
    /// The password, robot secret or OIDC CLI secret; prefer the environment variable, which
    /// no `ps` shows.
    #[arg(
        long,
        env = "HARBOR_PASSWORD",
        hide_env_values = true,
        value_name = "PASS"
    )]
    password: Option<String>,
    /// A filter in Harbor's `q` syntax, e.g. `name=~team` (fuzzy) or `public=true`.
    #[arg(long, value_name = "Q")]
    query: Option<String>,
    /// One JSON object per project instead of a table.
    #[arg(long)]
    json: bool,
}

fn client(config: &Config) -> harbor_client::Result<HarborClient> {
    let mut builder = match (&config.harbor, &config.api_root) {
        (_, Some(root)) => HarborClient::builder_with_api_root(root),
        (Some(url), None) => HarborClient::builder(url),
        // clap requires one of the two.
        (None, None) => HarborClient::builder(""),
    };
    if let (Some(user), Some(password)) = (&config.username, &config.password) {
        builder = builder.credentials(harbor_client::transport::Credentials::basic(
            user.clone(),
            password.clone(),
        ));
    }
    builder.build()
}

/// Installs the log subscriber: `RUST_LOG` (default `warn`), to stderr, each request's span
/// printed when it closes.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing_subscriber::filter::LevelFilter::WARN.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

async fn run(config: Config) -> harbor_client::Result<()> {
    let client = client(&config)?;
    let mut params = ListProjectsParams::default().with_detail(true);
    if let Some(q) = &config.query {
        params = params.q(Query::from(q.as_str()));
    }
    // The first page tells the total; the stream then reads every page.
    let first = client.list_projects(&params.clone().page_size(1)).await?;
    let projects: Vec<_> = client.list_projects_stream(&params).try_collect().await?;
    for p in &projects {
        if config.json {
            match serde_json::to_string(p) {
                Ok(line) => println!("{line}"),
                Err(err) => eprintln!("cannot print a project as JSON: {err}"),
            }
        } else {
            let public = p
                .metadata
                .as_ref()
                .and_then(|m| m.public.as_deref())
                .unwrap_or("?");
            println!(
                "{}\tid={}\trepositories={}\tpublic={public}",
                p.name.as_deref().unwrap_or("?"),
                p.project_id
                    .map_or_else(|| "?".to_owned(), |id| id.to_string()),
                p.repo_count.unwrap_or(0),
            );
        }
    }
    if !config.json {
        let total = first
            .total
            .map_or_else(|| "unknown".to_owned(), |t| t.to_string());
        println!("{} projects (Harbor reports {total})", projects.len());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    init_logs();
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("api_list_projects: {err}");
            ExitCode::from(1)
        }
    }
}
