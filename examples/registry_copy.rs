//! Copies an image (every platform of an index) between repositories or registries: blobs are
//! mounted on the same registry, else streamed from source to destination without touching
//! the disk. Prints the manifest digest (unchanged: the bytes are copied as they are); on a
//! terminal, one bar per blob under a total bar (else one summary line on stderr).
//!
//! `registry_copy 127.0.0.1:5000/team/app:v1 127.0.0.1:5001/mirror/app:v1`
//!
//! Each side authenticates with its own credentials from the keychain (podman's `auth.json`,
//! docker's `config.json`, credential helpers): the source's password never reaches the
//! destination nor the other way round. `--username`/`--password` are the destination's.

#[path = "registry_cli.rs"]
mod cli;

use std::process::ExitCode;

use clap::Parser;
use harbor_client::registry::{ImageOptions, ImageReference};

/// Copy an image between repositories or registries, each side with its own credentials.
#[derive(Debug, Parser)]
#[command(name = "registry_copy", version)]
struct Args {
    /// The image to copy, `host[:port]/name:tag` or `...@sha256:...`.
    source: ImageReference,
    /// Where to copy it, `host[:port]/name:tag`.
    destination: ImageReference,
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
    // One client, one keychain: every request gets the credentials of its own registry.
    let registry = args.destination.repository().registry();
    let client = match args.registry.client(registry, args.chunk_size) {
        Ok(c) => c,
        Err(e) => return cli::fail(&e),
    };
    let opts = ImageOptions::default().concurrency(args.transfer.concurrency.into());
    let transfer = cli::Transfer::new("copied");
    let result = client
        .copy_image(&args.source, &args.destination, &transfer.options(opts))
        .await;
    transfer.done(result)
}
