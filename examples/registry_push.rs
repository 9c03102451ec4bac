//! Pushes the image of an OCI image layout directory (the one named by the reference's tag in
//! `index.json`, or its only one). Prints the manifest digest.
//!
//! `registry_push ./app-layout 127.0.0.1:5000/team/app:v1`

#[path = "registry_cli.rs"]
mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use harbor_client::registry::ImageReference;

const USAGE: &str = "usage: registry_push DIR REFERENCE [options]";

#[tokio::main]
async fn main() -> ExitCode {
    let args = match cli::parse(USAGE, 2) {
        Ok(a) => a,
        Err(e) => return cli::usage_error(&e),
    };
    let dir = PathBuf::from(&args.positional[0]);
    let reference: ImageReference = match args.positional[1].parse() {
        Ok(r) => r,
        Err(e) => return cli::fail(&e),
    };
    let client = match args.client(reference.repository().registry()) {
        Ok(c) => c,
        Err(e) => return cli::usage_error(&e),
    };
    let (opts, progress) = args.image_options();
    let result = client.push_image(&dir, &reference, &opts).await;
    drop(progress);
    match result {
        Ok(d) => {
            println!("{d}");
            ExitCode::SUCCESS
        }
        Err(e) => cli::fail(&e),
    }
}
