//! Pulls an image into an OCI image layout directory: index → platform manifest → config →
//! layers, streamed to disk and verified. Prints the manifest digest.
//!
//! `registry_pull 127.0.0.1:5000/team/app:v1 ./app-layout [--platform linux/arm64]`

#[path = "registry_cli.rs"]
mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use harbor_client::registry::ImageReference;

const USAGE: &str = "usage: registry_pull REFERENCE DIR [options]\n  --platform OS/ARCH    the platform to take from an index (default: this machine's)";

#[tokio::main]
async fn main() -> ExitCode {
    let args = match cli::parse(USAGE, 2) {
        Ok(a) => a,
        Err(e) => return cli::usage_error(&e),
    };
    let reference: ImageReference = match args.positional[0].parse() {
        Ok(r) => r,
        Err(e) => return cli::fail(&e),
    };
    let dir = PathBuf::from(&args.positional[1]);
    let client = match args.client(reference.repository().registry()) {
        Ok(c) => c,
        Err(e) => return cli::usage_error(&e),
    };
    let (opts, progress) = args.image_options();
    let result = client.pull_image(&reference, &dir, &opts).await;
    drop(progress);
    match result {
        Ok(desc) => {
            println!("{}", desc.digest);
            ExitCode::SUCCESS
        }
        Err(e) => cli::fail(&e),
    }
}
