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

#[path = "harbor_cli.rs"]
mod harbor_cli;

use std::process::ExitCode;

use clap::Parser;
use futures_util::TryStreamExt as _;
use harbor_client::api::{ListProjectsParams, Query};

/// List every project of a Harbor, reading all pages.
///
/// Harbor answers 10 projects per page by default; this reads them all, 100 per request, and
/// prints the total Harbor reported.
#[derive(Debug, Parser)]
#[command(name = "api_list_projects", version)]
struct Config {
    #[command(flatten)]
    harbor: harbor_cli::HarborArgs,
    /// A filter in Harbor's `q` syntax, e.g. `name=~team` (fuzzy) or `public=true`.
    #[arg(long, value_name = "Q")]
    query: Option<String>,
    /// One JSON object per project instead of a table.
    #[arg(long)]
    json: bool,
}

async fn run(config: Config) -> harbor_client::Result<()> {
    let client = config.harbor.client()?;
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
    harbor_cli::init_logs();
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("api_list_projects: {err}");
            ExitCode::from(1)
        }
    }
}
