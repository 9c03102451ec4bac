//! Pulls an image into an OCI image layout directory: index → platform manifest → config →
//! layers, streamed to disk and verified. Prints the manifest digest; on a terminal, one bar per
//! layer under a total bar (else one summary line on stderr).
//!
//! `registry_pull 127.0.0.1:5000/team/app:v1 ./app-layout [--platform linux/arm64 | --all-platforms]`

#[path = "registry_cli.rs"]
mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use harbor_client::registry::{ImageOptions, ImageReference, Platform};

/// Pull an image into an OCI image layout directory, verifying every digest.
#[derive(Debug, Parser)]
#[command(name = "registry_pull", version)]
struct Args {
    /// The image, `host[:port]/name:tag` or `...@sha256:...`.
    reference: ImageReference,
    /// The OCI image layout directory to write (created when missing).
    dir: PathBuf,
    /// The platform to take from an index: OS/ARCH[/VARIANT] (default: this machine's).
    #[arg(long, value_name = "OS/ARCH", value_parser = cli::parse_platform)]
    platform: Option<Platform>,
    /// Every platform of an index: the layout keeps the whole index.
    #[arg(long, conflicts_with = "platform")]
    all_platforms: bool,
    #[command(flatten)]
    transfer: cli::TransferArgs,
    #[command(flatten)]
    registry: cli::RegistryArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    cli::init_logs();
    let client = match args
        .registry
        .client(args.reference.repository().registry(), None)
    {
        Ok(c) => c,
        Err(e) => return cli::fail(&e),
    };
    let mut opts = ImageOptions::default().concurrency(args.transfer.concurrency.into());
    if let Some(p) = args.platform {
        opts = opts.platform(p);
    } else if args.all_platforms {
        opts = opts.all_platforms();
    }
    let transfer = cli::Transfer::new("pulled");
    let result = client
        .pull_image(&args.reference, &args.dir, &transfer.options(opts))
        .await;
    transfer.done(result.map(|desc| desc.digest))
}
