//! Shared command-line handling for the `registry_*` examples: flags, credentials (a keychain
//! of docker's and podman's files and credential helpers, each registry getting its own, plus
//! the flags for the registry a command names), progress on a terminal, errors with their
//! causes.
#![allow(dead_code)]

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use harbor_client::registry::{ImageOptions, ProgressEvent, RegistryClient};
use harbor_client::transport::{Credentials, Keychain};

/// Parsed common flags plus the positional arguments.
pub(crate) struct Cli {
    pub(crate) positional: Vec<String>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) plain_http: bool,
    pub(crate) concurrency: usize,
    pub(crate) chunk_size: Option<u64>,
    pub(crate) page_size: Option<u32>,
    pub(crate) platform: Option<(String, String)>,
}

pub(crate) const COMMON_HELP: &str = "\
Options:
  --username USER       user name for the command's registry (registry_copy: the destination)
  --password PASS       password or robot secret (or set REGISTRY_PASSWORD)
                        Every other registry's credentials come from podman's auth.json
                        (REGISTRY_AUTH_FILE) and docker's config.json (DOCKER_CONFIG), each
                        sent to its own registry only; none means anonymous.
  --plain-http          use http:// for every registry (loopback always uses it)
  --concurrency N       blobs moved at once (default 4)
  --chunk-size BYTES    upload in chunks of this size (default: one streamed request)
  -h, --help            this help";

/// Parses `std::env::args`; `Err` carries a message for the user.
pub(crate) fn parse(usage: &str, positional: usize) -> Result<Cli, String> {
    let mut cli = Cli {
        positional: Vec::new(),
        username: None,
        password: std::env::var("REGISTRY_PASSWORD").ok(),
        plain_http: false,
        concurrency: 4,
        chunk_size: None,
        page_size: None,
        platform: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "-h" | "--help" => {
                println!("{usage}\n\n{COMMON_HELP}");
                std::process::exit(0);
            }
            "--username" => cli.username = Some(value("--username")?),
            "--password" => cli.password = Some(value("--password")?),
            "--plain-http" => cli.plain_http = true,
            "--concurrency" => {
                cli.concurrency = value("--concurrency")?
                    .parse()
                    .map_err(|_| "--concurrency needs a number".to_owned())?;
            }
            "--chunk-size" => {
                cli.chunk_size = Some(
                    value("--chunk-size")?
                        .parse()
                        .map_err(|_| "--chunk-size needs a number of bytes".to_owned())?,
                );
            }
            "--page-size" => {
                cli.page_size = Some(
                    value("--page-size")?
                        .parse()
                        .map_err(|_| "--page-size needs a number".to_owned())?,
                );
            }
            "--platform" => {
                let v = value("--platform")?;
                let (os, arch) = v
                    .split_once('/')
                    .ok_or_else(|| "--platform is OS/ARCH, e.g. linux/arm64".to_owned())?;
                cli.platform = Some((os.to_owned(), arch.to_owned()));
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n\n{usage}")),
            _ => cli.positional.push(a),
        }
    }
    if cli.positional.len() != positional {
        return Err(format!("expected {positional} argument(s)\n\n{usage}"));
    }
    Ok(cli)
}

impl Cli {
    /// The keychain: podman's and docker's files with their credential helpers (the same
    /// lookup as `docker pull`), and the flags' credentials bound to `flag_registry` only.
    pub(crate) fn keychain(&self, flag_registry: &str) -> Result<Keychain, String> {
        let mut keychain =
            Keychain::from_default_files().map_err(|e| format!("registry credentials: {e}"))?;
        if let Some(u) = &self.username {
            let p = self
                .password
                .clone()
                .ok_or_else(|| "--username needs --password (or REGISTRY_PASSWORD)".to_owned())?;
            keychain = keychain.with(flag_registry, Credentials::basic(u.clone(), p));
        }
        Ok(keychain)
    }

    /// A client whose flags' credentials are for `registry` (every registry's own come from
    /// the keychain).
    pub(crate) fn client(&self, registry: &str) -> Result<RegistryClient, String> {
        let mut b = RegistryClient::builder().keychain(self.keychain(registry)?);
        if self.plain_http {
            b = b.plain_http(true);
        }
        if let Some(c) = self.chunk_size {
            b = b.chunk_size(c);
        }
        b.build().map_err(|e| e.to_string())
    }

    /// Image options with progress shown on a terminal.
    pub(crate) fn image_options(&self) -> (ImageOptions, Option<ProgressPrinter>) {
        let mut opts = ImageOptions::default().concurrency(self.concurrency);
        if let Some((os, arch)) = &self.platform {
            opts = opts.platform(harbor_client::registry::Platform::new(
                os.clone(),
                arch.clone(),
            ));
        }
        if !std::io::stderr().is_terminal() {
            return (opts, None);
        }
        let done = Arc::new(AtomicU64::new(0));
        let total = Arc::new(AtomicU64::new(0));
        let (d, t) = (done.clone(), total.clone());
        let opts = opts.progress(Arc::new(move |e| match e {
            ProgressEvent::BlobStarted { size, .. } => {
                t.fetch_add(size, Ordering::Relaxed);
            }
            ProgressEvent::BlobBytes { bytes, .. } => {
                d.fetch_add(bytes, Ordering::Relaxed);
            }
            _ => {}
        }));
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let mib = |n: u64| n as f64 / (1024.0 * 1024.0);
                eprint!(
                    "\r{:>9.1} / {:.1} MiB",
                    mib(done.load(Ordering::Relaxed)),
                    mib(total.load(Ordering::Relaxed))
                );
            }
        });
        (opts, Some(ProgressPrinter(task)))
    }
}

/// Stops the progress line when dropped.
pub(crate) struct ProgressPrinter(tokio::task::JoinHandle<()>);

impl Drop for ProgressPrinter {
    fn drop(&mut self) {
        self.0.abort();
        eprintln!();
    }
}

/// Prints an error with its causes and returns a failure exit code.
pub(crate) fn fail(e: &dyn std::error::Error) -> ExitCode {
    eprintln!("error: {e}");
    let mut src = e.source();
    while let Some(s) = src {
        eprintln!("  caused by: {s}");
        src = s.source();
    }
    ExitCode::FAILURE
}

/// Prints a usage error.
pub(crate) fn usage_error(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}
