//! Copies an image (every platform of an index) between repositories or registries: blobs are
//! mounted on the same registry, else streamed from source to destination without touching
//! the disk. Prints the manifest digest (unchanged: the bytes are copied as they are).
//!
//! `registry_copy 127.0.0.1:5000/team/app:v1 127.0.0.1:5001/mirror/app:v1`
//!
//! `--username`/`--password` apply to both sides; otherwise each side's credentials come from
//! the docker config.

#[path = "registry_cli.rs"]
mod cli;

use std::process::ExitCode;

use harbor_client::registry::{ImageReference, RegistryClient};
use harbor_client::transport::Credentials;

const USAGE: &str = "usage: registry_copy SOURCE DESTINATION [options]";

#[tokio::main]
async fn main() -> ExitCode {
    let args = match cli::parse(USAGE, 2) {
        Ok(a) => a,
        Err(e) => return cli::usage_error(&e),
    };
    let (src, dst): (ImageReference, ImageReference) =
        match (args.positional[0].parse(), args.positional[1].parse()) {
            (Ok(s), Ok(d)) => (s, d),
            (Err(e), _) | (_, Err(e)) => return cli::fail(&e),
        };
    // One client; credentials are per transport, so a cross-registry copy with different
    // accounts uses the docker config's entry of the destination when no flags are given.
    let creds: Credentials = match args.credentials(dst.repository().registry()) {
        Ok(c) => c,
        Err(e) => return cli::usage_error(&e),
    };
    let mut b = RegistryClient::builder().credentials(creds);
    if args.plain_http {
        b = b.plain_http(true);
    }
    if let Some(c) = args.chunk_size {
        b = b.chunk_size(c);
    }
    let client = match b.build() {
        Ok(c) => c,
        Err(e) => return cli::fail(&e),
    };
    let (opts, progress) = args.image_options();
    let result = client.copy_image(&src, &dst, &opts).await;
    drop(progress);
    match result {
        Ok(d) => {
            println!("{d}");
            ExitCode::SUCCESS
        }
        Err(e) => cli::fail(&e),
    }
}
