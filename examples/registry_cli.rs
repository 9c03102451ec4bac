//! Shared command-line parts of the `registry_*` examples: the registry flags (credentials for
//! the registry a command names, every other registry's from a keychain of docker's and
//! podman's files and credential helpers), a log subscriber, progress bars on a terminal (a
//! summary line elsewhere), errors with their causes.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use harbor_client::registry::{ImageOptions, Platform, ProgressEvent, RegistryClient};
use harbor_client::transport::{Credentials, Keychain};
use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressStyle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// How every `registry_*` example reaches its registry.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Credentials of every other registry come from podman's auth.json (REGISTRY_AUTH_FILE) and
docker's config.json (DOCKER_CONFIG) with their credential helpers, each sent to its own
registry only; none means anonymous.

Logs: RUST_LOG=harbor_client=debug,harbor_auth=debug shows each request, challenge, token
fetch and retry (never a secret).")]
pub(crate) struct RegistryArgs {
    /// User name for the command's registry (registry_copy: the destination's).
    #[arg(
        long,
        env = "REGISTRY_USERNAME",
        value_name = "USER",
        requires = "password"
    )]
    pub(crate) username: Option<String>,
    /// Password or robot secret for --username; prefer the environment variable, which no
    /// `ps` shows.
    #[arg(
        long,
        env = "REGISTRY_PASSWORD",
        hide_env_values = true,
        value_name = "PASS"
    )]
    pub(crate) password: Option<String>,
    /// Use http:// for every registry (loopback always does).
    #[arg(long)]
    pub(crate) plain_http: bool,
}

/// The options of whole-image transfers (pull, push, copy).
#[derive(Debug, clap::Args)]
pub(crate) struct TransferArgs {
    /// Blobs moved at once.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) concurrency: u16,
}

/// `--platform OS/ARCH[/VARIANT]`, e.g. `linux/arm64`.
pub(crate) fn parse_platform(text: &str) -> Result<Platform, String> {
    let mut parts = text.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(os), Some(arch), variant, None) if !os.is_empty() && !arch.is_empty() => {
            let mut platform = Platform::new(os, arch);
            platform.variant = variant.filter(|v| !v.is_empty()).map(str::to_owned);
            Ok(platform)
        }
        _ => Err("use OS/ARCH or OS/ARCH/VARIANT, e.g. linux/arm64".to_owned()),
    }
}

impl RegistryArgs {
    /// The keychain: podman's and docker's files with their credential helpers (the same
    /// lookup as `docker pull`), and the flags' credentials bound to `flag_registry` only.
    fn keychain(&self, flag_registry: &str) -> harbor_client::Result<Keychain> {
        let mut keychain = Keychain::from_default_files()?;
        // clap makes --username require --password (or REGISTRY_PASSWORD).
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            keychain = keychain.with(flag_registry, Credentials::basic(u.clone(), p.clone()));
        }
        Ok(keychain)
    }

    /// A client whose flags' credentials are for `registry` (every registry's own come from
    /// the keychain); `chunk_size` splits uploads.
    pub(crate) fn client(
        &self,
        registry: &str,
        chunk_size: Option<u64>,
    ) -> harbor_client::Result<RegistryClient> {
        let mut b = RegistryClient::builder().keychain(self.keychain(registry)?);
        if self.plain_http {
            b = b.plain_http(true);
        }
        if let Some(c) = chunk_size {
            b = b.chunk_size(c);
        }
        // Where blobs were seen, kept between runs so a repeat copy mounts (as skopeo's
        // blob-info cache does): $XDG_CACHE_HOME/harbor-sdk, else ~/.cache/harbor-sdk.
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")));
        if let Some(dir) = cache {
            b = b.blob_cache_dir(dir.join("harbor-sdk"));
        }
        b.build()
    }
}

/// Where bars are drawn, when they are (set once, before the log subscriber writes).
static BARS: OnceLock<MultiProgress> = OnceLock::new();

/// Installs the log subscriber: `RUST_LOG` (default `warn`), to stderr, each request's span
/// printed when it closes (method, URL, status, time). Lines are written above the bars.
pub(crate) fn init_logs() {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::WARN.into())
        .from_env_lossy();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(|| LogWriter)
        .try_init();
}

/// Writes a log line to stderr, hiding the bars while it does.
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match BARS.get() {
            Some(bars) => bars.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// What a transfer did so far: bars on a terminal, counters always.
#[derive(Clone)]
pub(crate) struct Transfer {
    inner: Arc<TransferInner>,
}

struct TransferInner {
    verb: &'static str,
    started: Instant,
    bytes: AtomicU64,
    blobs: AtomicU64,
    skipped: AtomicU64,
    mounted: AtomicU64,
    /// `None` when stderr is not a terminal: nothing is drawn.
    bars: Option<Bars>,
}

struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    blobs: Mutex<HashMap<String, ProgressBar>>,
}

impl Transfer {
    /// A transfer named by `verb` (`pulled`, `pushed`, `copied`); bars when stderr is a terminal.
    pub(crate) fn new(verb: &'static str) -> Transfer {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = BARS.get_or_init(MultiProgress::new).clone();
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(style(
                "{prefix:>12.bold} [{elapsed_precise}] [{wide_bar:.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ));
            overall.set_prefix("total");
            overall.enable_steady_tick(Duration::from_millis(200));
            Bars {
                multi,
                overall,
                blobs: Mutex::new(HashMap::new()),
            }
        });
        Transfer {
            inner: Arc::new(TransferInner {
                verb,
                started: Instant::now(),
                bytes: AtomicU64::new(0),
                blobs: AtomicU64::new(0),
                skipped: AtomicU64::new(0),
                mounted: AtomicU64::new(0),
                bars,
            }),
        }
    }

    /// `options` reporting to this transfer.
    pub(crate) fn options(&self, options: ImageOptions) -> ImageOptions {
        let this = self.clone();
        options.progress(Arc::new(move |event| this.on(&event)))
    }

    fn on(&self, event: &ProgressEvent) {
        let t = &self.inner;
        match event {
            ProgressEvent::BlobStarted { digest, size } => {
                t.blobs.fetch_add(1, Ordering::Relaxed);
                if let Some(b) = &t.bars {
                    b.overall.inc_length(*size);
                    let bar = b.multi.insert_before(&b.overall, ProgressBar::new(*size));
                    bar.set_style(style(
                        "{prefix:>12} [{bar:30.green/white}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} eta {eta}",
                    ));
                    bar.set_prefix(short(digest.as_ref()));
                    b.map().insert(digest.to_string(), bar);
                }
            }
            ProgressEvent::BlobBytes { digest, bytes } => {
                t.bytes.fetch_add(*bytes, Ordering::Relaxed);
                if let Some(b) = &t.bars {
                    b.overall.inc(*bytes);
                    if let Some(bar) = b.map().get(&digest.to_string()) {
                        bar.inc(*bytes);
                    }
                }
            }
            ProgressEvent::BlobDone { digest } => self.line(digest.as_ref(), "done"),
            ProgressEvent::BlobSkipped { digest } => {
                t.skipped.fetch_add(1, Ordering::Relaxed);
                self.line(digest.as_ref(), "already exists");
            }
            ProgressEvent::BlobMounted { digest } => {
                t.mounted.fetch_add(1, Ordering::Relaxed);
                self.line(digest.as_ref(), "mounted");
            }
            ProgressEvent::ManifestDone { digest } => {
                self.line(digest.as_ref(), "manifest done");
            }
            _ => {}
        }
    }

    /// Ends the blob's bar (or makes one line for a blob that moved no bytes) with `message`.
    fn line(&self, digest: &str, message: &'static str) {
        let Some(b) = &self.inner.bars else { return };
        let bar = b.map().remove(digest).unwrap_or_else(|| {
            let bar = b.multi.insert_before(&b.overall, ProgressBar::new(0));
            bar.set_style(style("{prefix:>12} {msg}"));
            bar.set_prefix(short(digest));
            bar
        });
        if bar.length().unwrap_or(0) > 0 {
            bar.set_style(style("{prefix:>12} {msg} ({total_bytes})"));
        }
        bar.finish_with_message(message);
    }

    /// Ends the bars and prints the summary line in place of the total bar:
    /// `pulled 4 blobs, 0 already there, 0 mounted: 63.00 MiB in 6.5s, 9.63 MiB/s`.
    fn finish(&self) {
        let t = &self.inner;
        let elapsed = t.started.elapsed();
        let bytes = t.bytes.load(Ordering::Relaxed);
        let rate = bytes as f64 / elapsed.as_secs_f64().max(0.001);
        let line = format!(
            "{} {} blobs, {} already there, {} mounted: {} in {:.1?}, {}/s",
            t.verb,
            t.blobs.load(Ordering::Relaxed),
            t.skipped.load(Ordering::Relaxed),
            t.mounted.load(Ordering::Relaxed),
            HumanBytes(bytes),
            elapsed,
            HumanBytes(rate as u64),
        );
        match &t.bars {
            Some(b) => {
                b.overall.set_style(style("{msg}"));
                b.overall.finish_with_message(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// Ends the transfer: on success the summary, then `digest` on stdout; else the error.
    pub(crate) fn done(
        &self,
        result: harbor_client::Result<harbor_client::registry::Digest>,
    ) -> ExitCode {
        match result {
            Ok(digest) => {
                self.finish();
                println!("{digest}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                self.abandon();
                fail(&e)
            }
        }
    }

    /// Removes the bars without a summary (the transfer failed).
    fn abandon(&self) {
        if let Some(b) = &self.inner.bars {
            for bar in b.map().drain().map(|(_, bar)| bar) {
                bar.abandon();
            }
            b.overall.abandon();
        }
    }
}

impl Bars {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, ProgressBar>> {
        self.blobs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The first 12 hex digits of a digest, as `docker pull` shows it.
fn short(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
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
