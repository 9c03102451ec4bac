//! Pushes the image of an OCI image layout directory (the one named by the reference's tag in
//! `index.json`, or its only one). Prints the manifest digest; on a terminal, one bar per blob
//! under a total bar (else one summary line on stderr).
//!
//! `registry_push ./app-layout 127.0.0.1:5000/team/app:v1`

#[path = "registry_cli.rs"]
mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use harbor_client::registry::{ImageOptions, ImageReference};

/// Push the image of an OCI image layout directory to a registry.
#[derive(Debug, Parser)]
#[command(name = "registry_push", version)]
struct Args {
    /// The OCI image layout directory to read.
    dir: PathBuf,
    /// Where to push, `host[:port]/name:tag`.
    reference: ImageReference,
    /// Upload each blob in chunks of this many bytes (default: one streamed request).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    chunk_size: Option<u64>,
    #[command(flatten)]
    transfer: cli::TransferArgs,
    #[command(flatten)]
    registry: cli::RegistryArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    cli::init_logs();
    let registry = args.reference.repository().registry();
    let client = match args.registry.client(registry, args.chunk_size) {
        Ok(c) => c,
        Err(e) => return cli::fail(&e),
    };
    let opts = ImageOptions::default().concurrency(args.transfer.concurrency.into());
    let transfer = cli::Transfer::new("pushed");
    let result = client
        .push_image(&args.dir, &args.reference, &transfer.options(opts))
        .await;
    transfer.done(result)
}
