//! Lists the tags of a repository, following `Link` pages: the token-then-tags flow every
//! Harbor user scripts with curl.
//!
//! `registry_list_tags harbor.example/library/nginx [--username U --password P] [--page-size N]`

#[path = "registry_cli.rs"]
mod cli;

use std::process::ExitCode;

use futures_util::TryStreamExt as _;
use harbor_client::registry::Repository;

const USAGE: &str = "usage: registry_list_tags REPOSITORY [options]   (REPOSITORY = host[:port]/name)\n  --page-size N         tags per request (default: the registry's)";

#[tokio::main]
async fn main() -> ExitCode {
    let args = match cli::parse(USAGE, 1) {
        Ok(a) => a,
        Err(e) => return cli::usage_error(&e),
    };
    let repo: Repository = match args.positional[0].parse() {
        Ok(r) => r,
        Err(e) => return cli::fail(&e),
    };
    let client = match args.client(repo.registry()) {
        Ok(c) => c,
        Err(e) => return cli::usage_error(&e),
    };
    let mut tags = std::pin::pin!(client.list_tags_stream(&repo, args.page_size));
    loop {
        match tags.try_next().await {
            Ok(Some(t)) => println!("{t}"),
            Ok(None) => return ExitCode::SUCCESS,
            Err(e) => return cli::fail(&e),
        }
    }
}
