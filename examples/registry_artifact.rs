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

use clap::Parser;
use harbor_client::registry::{Artifact, ArtifactFile, ImageReference, TITLE};

/// Attach a file to an image as an OCI artifact, then list the image's referrers of its type.
#[derive(Debug, Parser)]
#[command(name = "registry_artifact", version)]
struct Args {
    /// The image to attach to, `host[:port]/name:tag` or `...@sha256:...`.
    image: ImageReference,
    /// The file to attach (titled with its file name).
    file: PathBuf,
    /// The artifact type, e.g. `application/spdx+json` or `application/vnd.cyclonedx+json`.
    artifact_type: String,
    #[command(flatten)]
    registry: cli::RegistryArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    cli::init_logs();
    let Args {
        image,
        file,
        artifact_type,
        registry,
    } = args;
    let client = match registry.client(image.repository().registry(), None) {
        Ok(c) => c,
        Err(e) => return cli::fail(&e),
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
