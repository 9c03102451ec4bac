//! Lists every project of a Harbor, reading all pages.
//!
//! ```text
//! api_list_projects (--harbor URL | --api-root URL) [--query Q] [--json]
//! ```
//!
//! - `--harbor`: the Harbor URL (`https://harbor.example.com`; `/api/v2.0` is added).
//! - `--api-root`: the API root taken as is (e.g. a mock serving the spec without its base path).
//! - `--query`: a filter in Harbor's `q` syntax, e.g. `name=~team` (fuzzy) or `public=true`.
//! - `--json`: one JSON object per project instead of a table.
//!
//! Credentials come from the environment, never the command line: `HARBOR_USERNAME` and
//! `HARBOR_PASSWORD` (a user, a robot account `robot$name`, or an OIDC CLI secret);
//! anonymous without them (public projects only).
//!
//! Harbor answers 10 projects per page by default; this reads them all, 100 per request,
//! and prints the total Harbor reported.

use std::process::ExitCode;

use futures_util::TryStreamExt as _;
use harbor_client::HarborClient;
use harbor_client::api::{ListProjectsParams, Query};

const USAGE: &str = "usage: api_list_projects (--harbor URL | --api-root URL) [--query Q] [--json]";

struct Config {
    url: String,
    exact_root: bool,
    query: Option<String>,
    json: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
    let mut url = None;
    let mut exact_root = false;
    let mut query = None;
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
            "--query" => query = Some(value("--query")?),
            "--json" => json = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let url = url.ok_or("--harbor or --api-root is required")?;
    Ok(Some(Config {
        url,
        exact_root,
        query,
        json,
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
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(Some(c)) => c,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("api_list_projects: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("api_list_projects: {err}");
            ExitCode::from(1)
        }
    }
}
