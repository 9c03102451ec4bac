//! Attaches a file to an image as an artifact (ORAS style: an OCI manifest with an
//! `artifactType`, the file titled with its name, the image as its `subject`), then lists
//! the image's referrers of that type. Prints the artifact's digest, then one line per
//! referrer: `DIGEST ARTIFACT_TYPE TITLE...`.
//!
//! `registry_artifact 127.0.0.1:5000/team/app:v1 ./sbom.spdx.json application/spdx+json`
//!
//! On a registry without a referrers API (distribution 2.8, older Harbor) the client keeps
//! the `sha256-<hex>` referrers tag index itself, so `cosign`, `oras discover` and Harbor see
//! the attachment either way.

#[path = "registry_cli.rs"]
mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use harbor_client::registry::{Artifact, ArtifactFile, ImageReference, TITLE};

const USAGE: &str = "usage: registry_artifact IMAGE FILE ARTIFACT_TYPE [options]\n  IMAGE          the image to attach to (host[:port]/name:tag or @digest)\n  FILE           the file to attach (named by its file name)\n  ARTIFACT_TYPE  e.g. application/spdx+json, application/vnd.cyclonedx+json";

#[tokio::main]
async fn main() -> ExitCode {
    let args = match cli::parse(USAGE, 3) {
        Ok(a) => a,
        Err(e) => return cli::usage_error(&e),
    };
    let image: ImageReference = match args.positional[0].parse() {
        Ok(r) => r,
        Err(e) => return cli::fail(&e),
    };
    let file = PathBuf::from(&args.positional[1]);
    let artifact_type = args.positional[2].clone();
    let client = match args.client(image.repository().registry()) {
        Ok(c) => c,
        Err(e) => return cli::usage_error(&e),
    };
    let run = async {
        let subject = client.head_manifest(&image).await?;
        let artifact = Artifact::new(&artifact_type)
            .file(ArtifactFile::from_path(&file, &artifact_type)?)
            .subject(subject.clone());
        let pushed = client
            .push_artifact(image.repository(), &artifact, None)
            .await?;
        println!("{}", pushed.digest);
        let referrers = client
            .referrers(image.repository(), &subject.digest, Some(&artifact_type))
            .await?;
        for r in referrers.manifests {
            // The referrers list carries manifest annotations only: read each manifest for
            // its files' titles.
            let m = client
                .get_manifest(&ImageReference::with_digest(
                    image.repository().clone(),
                    r.digest.clone(),
                ))
                .await?;
            let titles: Vec<String> = match m.parse()? {
                harbor_client::registry::Manifest::Image(i) => i
                    .layers
                    .iter()
                    .filter_map(|l| l.annotations.get(TITLE).cloned())
                    .collect(),
                _ => Vec::new(),
            };
            println!(
                "{} {} {}",
                r.digest,
                r.artifact_type.as_deref().unwrap_or("-"),
                titles.join(" ")
            );
        }
        Ok::<_, harbor_client::Error>(())
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => cli::fail(&e),
    }
}
