//! Shared command-line parts of the examples that call Harbor's API (`api_*` and
//! `scan_gatekeeper`): where Harbor is, the account, the client they make, a log subscriber.

use clap::ArgGroup;
use harbor_client::HarborClient;
use harbor_client::transport::Credentials;

/// How every example that calls Harbor's API reaches it. The role the account needs is in
/// each command's own help.
#[derive(Debug, clap::Args)]
#[command(
    group(ArgGroup::new("target").required(true).args(["harbor", "api_root"])),
    after_help = "Logs: RUST_LOG=harbor_client=debug shows each request and retry (never a secret)."
)]
pub(crate) struct HarborArgs {
    /// The Harbor URL (`https://harbor.example.com`; `/api/v2.0` is added).
    #[arg(long, value_name = "URL")]
    pub(crate) harbor: Option<String>,
    /// The API root taken as is (e.g. a mock serving the spec without its base path).
    #[arg(long, value_name = "URL")]
    pub(crate) api_root: Option<String>,
    /// A user, a robot account `robot$name`, or an OIDC user (anonymous without: public
    /// projects only).
    #[arg(
        long,
        env = "HARBOR_USERNAME",
        value_name = "USER",
        requires = "password"
    )]
    pub(crate) username: Option<String>,
    /// The password, robot secret or OIDC CLI secret; prefer the environment variable, which
    /// no `ps` shows.
    #[arg(
        long,
        env = "HARBOR_PASSWORD",
        hide_env_values = true,
        value_name = "PASS"
    )]
    pub(crate) password: Option<String>,
}

impl HarborArgs {
    /// The API client these flags describe.
    pub(crate) fn client(&self) -> harbor_client::Result<HarborClient> {
        let mut builder = match (&self.harbor, &self.api_root) {
            (_, Some(root)) => HarborClient::builder_with_api_root(root),
            (Some(url), None) => HarborClient::builder(url),
            // clap requires one of the two.
            (None, None) => HarborClient::builder(""),
        };
        if let (Some(user), Some(password)) = (&self.username, &self.password) {
            builder = builder.credentials(Credentials::basic(user.clone(), password.clone()));
        }
        builder.build()
    }
}

/// Installs the log subscriber: `RUST_LOG` (default `warn`), to stderr, each request's span
/// printed when it closes.
pub(crate) fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing_subscriber::filter::LevelFilter::WARN.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}
