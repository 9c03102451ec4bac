//! Copies an image (every platform of an index) between repositories or registries: blobs are
//! mounted on the same registry, else streamed from source to destination without touching
//! the disk. Prints the manifest digest (unchanged: the bytes are copied as they are).
//!
//! `registry_copy 127.0.0.1:5000/team/app:v1 127.0.0.1:5001/mirror/app:v1`
//!
//! Each side authenticates with its own credentials from the keychain (podman's `auth.json`,
//! docker's `config.json`, credential helpers): the source's password never reaches the
//! destination nor the other way round. `--username`/`--password` are the destination's.

#[path = "registry_cli.rs"]
mod cli;

use std::process::ExitCode;

use harbor_client::registry::ImageReference;

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
    // One client, one keychain: every request gets the credentials of its own registry.
    let client = match args.client(dst.repository().registry()) {
        Ok(c) => c,
        Err(e) => return cli::usage_error(&e),
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
