//! Lists the tags of a repository, following `Link` pages: the token-then-tags flow every
//! Harbor user scripts with curl.
//!
//! `registry_list_tags harbor.example/library/nginx [--username U] [--page-size N]`

#[path = "registry_cli.rs"]
mod cli;

use std::process::ExitCode;

use clap::Parser;
use futures_util::TryStreamExt as _;
use harbor_client::registry::Repository;

/// List the tags of a repository, every page.
#[derive(Debug, Parser)]
#[command(name = "registry_list_tags", version)]
struct Args {
    /// The repository, `host[:port]/name`.
    repository: Repository,
    /// Tags per request (default: the registry's).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    page_size: Option<u32>,
    #[command(flatten)]
    registry: cli::RegistryArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    cli::init_logs();
    let client = match args.registry.client(args.repository.registry(), None) {
        Ok(c) => c,
        Err(e) => return cli::fail(&e),
    };
    let mut tags = std::pin::pin!(client.list_tags_stream(&args.repository, args.page_size));
    loop {
        match tags.try_next().await {
            Ok(Some(t)) => println!("{t}"),
            Ok(None) => return ExitCode::SUCCESS,
            Err(e) => return cli::fail(&e),
        }
    }
}
