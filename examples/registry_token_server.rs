//! A token service that a `docker-registry` (distribution) trusts: a small, deployable
//! alternative to cesanta/docker_auth, built on `harbor-auth`'s `server` feature.
//!
//! ```text
//! registry_token_server --htpasswd FILE --acl FILE [--state-dir DIR] [--addr HOST:PORT]
//!                       [--realm URL] [--service NAME] [--issuer NAME] [--kid libtrust|thumbprint]
//!                       [--x5c] [--ec] [--refresh-tokens SECONDS] [--demo]
//! ```
//!
//! - `--htpasswd`: users, as `htpasswd -B` writes them (bcrypt only).
//! - `--acl`: who may do what, one rule per line: `USER REPOSITORY-PATTERN ACTIONS`, e.g.
//!
//!   ```text
//!   # user   repository   actions
//!   alice    team/*       pull,push,delete
//!   +        team/*       pull          # + = any signed-in user
//!   *        public/*     pull          # * = anyone, also anonymous
//!   +        $user/*      pull,push     # $user = the signed-in user's name
//!   ```
//!
//!   A pattern is a repository name, or a prefix ending in `*`; patterns with `.`, `..` or empty
//!   segments are refused (and so are such repository names in scopes), so `team/*` never
//!   grants `team/../admin/app`. Rules add up; the token grants the intersection of what was
//!   asked and what the rules allow.
//! - `--state-dir`: holds `key.pem` (the signing key) and `cert.pem` (its self-signed
//!   certificate, the registry's `rootcertbundle`); created on first start (RSA 2048, or P-256
//!   with `--ec`). Default `./token-server-state`.
//! - `--addr` (default `127.0.0.1:5001`), `--realm` (default `http://ADDR/token`: put TLS in
//!   front for anything but loopback), `--service` (default `registry`), `--issuer` (default
//!   `registry-token-issuer`).
//! - `--kid`: `libtrust` for distribution 2.x (default), `thumbprint` for 3.x; `--x5c` adds the
//!   certificate to every token, which both versions accept.
//! - `--refresh-tokens SECONDS`: also hand out refresh tokens that live that long
//!   (`docker login`'s `offline_token=true`, OAuth2 `access_type=offline` and
//!   `grant_type=refresh_token`), so clients need not keep the password. They are stateless
//!   JWTs signed with `key.pem`: removing a user from the htpasswd file (and restarting)
//!   revokes theirs, replacing `key.pem` revokes all. Off by default.
//! - `--demo`: use a temporary state dir, user `demo`/`demo-password` and a demo ACL, ask this
//!   very server for a token, print its claims, and exit.
//!
//! On start it prints the `auth:` section to put into the registry's `config.yml`, then
//! `listening on http://ADDR`. Unlike docker_auth it always sends `expires_in` and `issued_at`,
//! and signs `kid`s that both registry generations understand.
//!
//! Password guessing is kept slow: at most as many bcrypt checks run at once as the machine
//! has cores (the rest wait), every check takes as long whether the user exists or not
//! (`Htpasswd`), and after three wrong passwords from one address its requests are answered
//! later and later (250 ms, doubling, at most 5 s) until a right one, or 15 minutes without
//! failure. Anonymous requests, answered `200` by default, forgive nothing.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use clap::Parser;
use harbor_auth::server::{
    Authorizer, Htpasswd, KeyIdFormat, KeyKind, SigningKey, TokenEndpoint, TokenIssuer,
};
use harbor_auth::{Action, ActionSet, Scope, ScopeSet};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How the key id (`kid`) of each token is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kid {
    /// distribution 2.x.
    Libtrust,
    /// distribution 3.x.
    Thumbprint,
}

/// A token service that a `docker-registry` (distribution) trusts.
///
/// Users from an htpasswd file, rights from a small ACL file (`USER REPOSITORY-PATTERN
/// ACTIONS` per line; `+` any signed-in user, `*` anyone, `$user` the user's name). On start it
/// prints the `auth:` section for the registry's config.yml, then `listening on http://ADDR`.
#[derive(Debug, Parser)]
#[command(
    name = "registry_token_server",
    version,
    after_help = "Logs: RUST_LOG=harbor_auth=debug shows each token issued and each refusal \
                  (never a password or a token)."
)]
struct Config {
    /// Users, as `htpasswd -B` writes them (bcrypt only).
    #[arg(long, value_name = "FILE", required_unless_present = "demo")]
    htpasswd: Option<PathBuf>,
    /// Who may do what, one rule per line: USER REPOSITORY-PATTERN ACTIONS.
    #[arg(long, value_name = "FILE", required_unless_present = "demo")]
    acl: Option<PathBuf>,
    /// Holds key.pem (the signing key) and cert.pem (the registry's rootcertbundle); created on
    /// first start.
    #[arg(long, value_name = "DIR", default_value = "token-server-state")]
    state_dir: PathBuf,
    /// Where to listen (--demo: a free loopback port).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:5001")]
    addr: SocketAddr,
    /// The token URL clients are sent to [default: http://ADDR/token; put TLS in front for
    /// anything but loopback].
    #[arg(long, value_name = "URL")]
    realm: Option<String>,
    /// The service name the registry expects.
    #[arg(long, value_name = "NAME", default_value = "registry")]
    service: String,
    /// The tokens' issuer, as the registry's config names it.
    #[arg(long, value_name = "NAME", default_value = "registry-token-issuer")]
    issuer: String,
    /// The key id format: libtrust for distribution 2.x, thumbprint for 3.x.
    #[arg(long, value_enum, default_value_t = Kid::Libtrust)]
    kid: Kid,
    /// Add the certificate to every token (both registry versions accept it).
    #[arg(long)]
    x5c: bool,
    /// A P-256 key instead of RSA 2048 (when the state dir is created).
    #[arg(long)]
    ec: bool,
    /// Also hand out refresh tokens that live this many seconds (at least 60).
    #[arg(long, value_name = "SECONDS", value_parser = parse_refresh)]
    refresh_tokens: Option<std::time::Duration>,
    /// Temporary state, user demo/demo-password, a demo ACL: ask this very server for a token,
    /// print its claims, and exit.
    #[arg(long)]
    demo: bool,
}

fn parse_refresh(text: &str) -> Result<std::time::Duration, String> {
    text.parse::<u64>()
        .ok()
        .filter(|s| *s >= 60)
        .map(std::time::Duration::from_secs)
        .ok_or("a number of seconds, at least 60".to_owned())
}

/// The command line (`args` starts with the program's name).
fn parse_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Config, clap::Error> {
    let mut c = Config::try_parse_from(args)?;
    if c.demo {
        c.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    }
    Ok(c)
}

/// Installs the log subscriber: `RUST_LOG` (default `info`: refused passwords are shown).
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing_subscriber::filter::LevelFilter::INFO.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

/// Who a rule is for.
#[derive(Debug, Clone, PartialEq)]
enum Who {
    Anyone,
    SignedIn,
    User(String),
}

#[derive(Debug, Clone)]
struct Rule {
    who: Who,
    pattern: String,
    actions: ActionSet,
}

/// The ACL file as an [`Authorizer`].
#[derive(Debug, Clone)]
struct Acl(Vec<Rule>);

/// Whether a pattern's path (without its `*`) has no `.`, `..` or empty segment; `$user` stands
/// for a name and is fine.
fn clean_pattern(pattern: &str) -> bool {
    let path = pattern.strip_suffix('*').unwrap_or(pattern);
    let path = path.strip_suffix('/').unwrap_or(path);
    path.is_empty()
        || path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

impl Acl {
    fn parse(text: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [who, pattern, actions] = fields.as_slice() else {
                return Err(format!(
                    "ACL line {}: expected `USER REPOSITORY ACTIONS`",
                    i + 1
                ));
            };
            let who = match *who {
                "*" => Who::Anyone,
                "+" => Who::SignedIn,
                user => Who::User(user.to_owned()),
            };
            if !clean_pattern(pattern) {
                return Err(format!(
                    "ACL line {}: the pattern {pattern:?} has a '.', '..' or empty segment",
                    i + 1
                ));
            }
            let actions: ActionSet = actions
                .parse()
                .map_err(|e| format!("ACL line {}: {e}", i + 1))?;
            rules.push(Rule {
                who,
                pattern: (*pattern).to_owned(),
                actions,
            });
        }
        Ok(Self(rules))
    }
}

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

impl Authorizer for Acl {
    fn allowed(&self, subject: Option<&str>, asked: &ScopeSet) -> ScopeSet {
        let mut out = ScopeSet::new();
        for scope in asked.iter() {
            if scope.resource().resource_type() != "repository" {
                continue; // e.g. registry:catalog:* is never granted here
            }
            let name = scope.resource().name();
            for rule in &self.0 {
                let applies = match (&rule.who, subject) {
                    (Who::Anyone, _) | (Who::SignedIn, Some(_)) => true,
                    (Who::User(u), Some(s)) => u == s,
                    _ => false,
                };
                let pattern = match subject {
                    // A user name is one segment: `$user` never stands for a path.
                    Some(s) if rule.pattern.contains("$user") && !clean_user(s) => continue,
                    Some(s) => rule.pattern.replace("$user", s),
                    None if rule.pattern.contains("$user") => continue,
                    None => rule.pattern.clone(),
                };
                if applies && matches(&pattern, name) {
                    out.insert(scope.with_actions(rule.actions.clone()));
                }
            }
        }
        out
    }
}

/// Whether a user name can stand in a path pattern as one segment.
fn clean_user(user: &str) -> bool {
    !user.is_empty() && user != "." && user != ".." && !user.contains(['/', '*'])
}

/// Wrong passwords per client address, to answer a guesser later and later.
#[derive(Debug, Default)]
struct Failures(Mutex<HashMap<IpAddr, (u32, Instant)>>);

/// Failures that are free; then the delay doubles from this.
const FREE_FAILURES: u32 = 3;
const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(5);
/// A quiet address is forgiven after this long.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// The most addresses remembered (the quietest is forgotten first).
const MAX_ADDRESSES: usize = 65_536;

impl Failures {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (u32, Instant)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How long to wait before answering `ip`.
    fn delay(&self, ip: IpAddr) -> Duration {
        let mut map = self.map();
        map.retain(|_, (_, last)| last.elapsed() < FORGET_AFTER);
        match map.get(&ip) {
            Some((n, _)) if *n >= FREE_FAILURES => {
                let doublings = (*n - FREE_FAILURES).min(10);
                (FIRST_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
            }
            _ => Duration::ZERO,
        }
    }

    fn record(&self, ip: IpAddr, failed: bool) {
        let mut map = self.map();
        if failed {
            if map.len() >= MAX_ADDRESSES
                && !map.contains_key(&ip)
                && let Some(quietest) = map.iter().min_by_key(|(_, (_, t))| *t).map(|(k, _)| *k)
            {
                map.remove(&quietest);
            }
            let e = map.entry(ip).or_insert((0, Instant::now()));
            e.0 = e.0.saturating_add(1);
            e.1 = Instant::now();
        } else {
            map.remove(&ip);
        }
    }
}

/// Whether a token request presents a secret: a password or token in `Authorization`, or a
/// form (`POST`, the OAuth2 grants of a password or refresh token). An anonymous `GET` proves
/// nothing, so its `200` must not forgive a guesser.
fn presents_secret<B>(req: &Request<B>) -> bool {
    req.headers()
        .contains_key(axum::http::header::AUTHORIZATION)
        || req.method() == axum::http::Method::POST
}

/// What an answer tells [`Failures`]: `Some(true)` a wrong secret, `Some(false)` a right one,
/// `None` nothing (an anonymous success, or another error).
fn verdict(status: u16, presented_secret: bool) -> Option<bool> {
    match status {
        401 => Some(true),
        200 if presented_secret => Some(false),
        _ => None,
    }
}

/// What every token request shares.
#[derive(Clone)]
struct App {
    endpoint: TokenEndpoint,
    /// Bounds the bcrypt checks running at once.
    bcrypt: Arc<Semaphore>,
    failures: Arc<Failures>,
}

/// Loads or creates the signing key and its certificate.
fn load_state(dir: &Path, ec: bool) -> Result<(SigningKey, String, PathBuf), String> {
    let key_path = dir.join("key.pem");
    let cert_path = dir.join("cert.pem");
    if !key_path.exists() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let key = SigningKey::generate(if ec { KeyKind::EcP256 } else { KeyKind::Rsa })
            .map_err(|e| e.to_string())?;
        let pem = key.to_pkcs8_pem().map_err(|e| e.to_string())?;
        let rc_key = rcgen::KeyPair::from_pem(pem.expose_secret()).map_err(|e| e.to_string())?;
        let mut params = rcgen::CertificateParams::new(vec!["registry-token-signer".to_owned()])
            .map_err(|e| e.to_string())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "registry token signer");
        params.not_after = rcgen::date_time_ymd(2099, 12, 31);
        let cert = params.self_signed(&rc_key).map_err(|e| e.to_string())?;
        write_private(&key_path, pem.expose_secret())?;
        std::fs::write(&cert_path, cert.pem())
            .map_err(|e| format!("cannot write {}: {e}", cert_path.display()))?;
        eprintln!("created {} and {}", key_path.display(), cert_path.display());
    }
    let pem = std::fs::read_to_string(&key_path)
        .map_err(|e| format!("cannot read {}: {e}", key_path.display()))?;
    let cert = std::fs::read_to_string(&cert_path)
        .map_err(|e| format!("cannot read {}: {e}", cert_path.display()))?;
    let key = SigningKey::from_pem(&pem).map_err(|e| e.to_string())?;
    Ok((key, cert, cert_path))
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

async fn token(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return axum::http::StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let req = Request::from_parts(parts, bytes);
    // A guesser waits before anything is checked (without holding a bcrypt slot).
    let delay = app.failures.delay(peer.ip());
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    // bcrypt takes tens of milliseconds: keep it off the async workers, a bounded few at once.
    let Ok(_permit) = app.bcrypt.acquire().await else {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let endpoint = app.endpoint.clone();
    let presented = presents_secret(&req);
    match tokio::task::spawn_blocking(move || endpoint.handle(&req)).await {
        Ok(resp) => {
            if let Some(failed) = verdict(resp.status().as_u16(), presented) {
                app.failures.record(peer.ip(), failed);
            }
            resp.map(Body::from).into_response()
        }
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn run(config: Config) -> Result<(), String> {
    let demo_dir = if config.demo {
        Some(tempfile::tempdir().map_err(|e| e.to_string())?)
    } else {
        None
    };
    let state_dir = demo_dir
        .as_ref()
        .map_or(config.state_dir.clone(), |d| d.path().join("state"));
    let (key, cert_pem, cert_path) = load_state(&state_dir, config.ec)?;

    let (users, acl) = if config.demo {
        let users = Htpasswd::parse(
            &Htpasswd::hash_line("demo", "demo-password", 10).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        (
            users,
            Acl::parse("demo demo/* pull,push,delete\n* public/* pull\n")?,
        )
    } else {
        let (Some(h), Some(a)) = (&config.htpasswd, &config.acl) else {
            return Err("--htpasswd and --acl are required".to_owned());
        };
        let users = Htpasswd::from_path(h).map_err(|e| e.to_string())?;
        let acl_text =
            std::fs::read_to_string(a).map_err(|e| format!("cannot read {}: {e}", a.display()))?;
        (users, Acl::parse(&acl_text)?)
    };

    let mut builder = TokenIssuer::builder(key, &config.issuer).key_id(match config.kid {
        Kid::Libtrust => KeyIdFormat::Libtrust,
        Kid::Thumbprint => KeyIdFormat::Thumbprint,
    });
    if config.x5c {
        let der =
            harbor_auth::server::certificates_from_pem(&cert_pem).map_err(|e| e.to_string())?;
        builder = builder.x5c(der.iter().map(|c| c.to_vec()).collect());
    }
    let issuer = builder.build().map_err(|e| e.to_string())?;
    let mut endpoint = TokenEndpoint::new(issuer, &config.service)
        .with_credentials(users)
        .with_authorizer(acl);
    if let Some(lifetime) = config.refresh_tokens {
        endpoint = endpoint
            .with_refresh_tokens(lifetime)
            .map_err(|e| e.to_string())?;
    }

    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let realm = config
        .realm
        .clone()
        .unwrap_or_else(|| format!("http://{addr}/token"));
    println!(
        "# put this into the registry's config.yml:\nauth:\n  token:\n    realm: {realm}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}",
        config.service,
        config.issuer,
        cert_path.display()
    );
    println!("listening on http://{addr}");

    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let app = App {
        endpoint,
        bcrypt: Arc::new(Semaphore::new(cores)),
        failures: Arc::new(Failures::default()),
    };
    let router = Router::new()
        .route("/token", axum::routing::get(token).post(token))
        .with_state(app);
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });

    if config.demo {
        let result = demo(&realm, &config.service).await;
        server.abort();
        return result;
    }
    server
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("server failed: {e}"))
}

async fn demo(realm: &str, service: &str) -> Result<(), String> {
    use harbor_auth::fetch::TokenFetcher;
    use harbor_auth::{BoundCredentials, Challenge, Credentials, RealmPolicy};

    let challenge = Challenge::bearer(realm, service, &ScopeSet::new());
    // Credentials bound to the registry this realm serves (here: the realm's own host).
    let registry = url::Url::parse(realm).map_err(|e| e.to_string())?;
    let registry = registry.host_str().unwrap_or_default();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let fetcher = TokenFetcher::new(client).with_policy(RealmPolicy::new());
    let asked: ScopeSet = [
        Scope::repository("demo/app", [Action::Pull, Action::Push]).map_err(|e| e.to_string())?,
        Scope::pull("someone-else/app").map_err(|e| e.to_string())?,
    ]
    .into_iter()
    .collect();
    for (who, creds) in [
        ("demo", Credentials::basic("demo", "demo-password")),
        ("anonymous", Credentials::Anonymous),
    ] {
        let resp = fetcher
            .fetch(&challenge, &asked, &BoundCredentials::new(registry, creds))
            .await
            .map_err(|e| e.to_string())?;
        let payload = resp
            .token()
            .expose_secret()
            .split('.')
            .nth(1)
            .map(str::to_owned)
            .unwrap_or_default();
        use base64::Engine as _;
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|e| e.to_string())?;
        let claims: serde_json::Value =
            serde_json::from_slice(&claims).map_err(|e| e.to_string())?;
        println!(
            "{who} asked for `{asked}`, was granted {} (expires in {} s)",
            claims["access"],
            resp.expires_in().as_secs()
        );
    }
    let wrong = fetcher
        .fetch(
            &challenge,
            &asked,
            &BoundCredentials::new(registry, Credentials::basic("demo", "wrong")),
        )
        .await;
    println!(
        "a wrong password gets: {}",
        wrong.err().map(|e| e.to_string()).unwrap_or_default()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    init_logs();
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("registry_token_server: {message}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_rules() {
        let acl = Acl::parse(
            "alice team/* pull,push\n+ $user/* pull,push,delete # own\n* public/* pull\n",
        )
        .unwrap();
        let asked: ScopeSet = "repository:team/a:pull,push,delete repository:public/x:pull,push repository:bob/y:pull registry:catalog:*"
            .parse()
            .unwrap();
        let grant = |who| acl.allowed(who, &asked).intersection(&asked).to_string();
        assert_eq!(
            grant(Some("alice")),
            "registry:catalog: repository:bob/y: repository:public/x:pull repository:team/a:pull,push"
        );
        assert_eq!(
            grant(Some("bob")),
            "registry:catalog: repository:bob/y:pull repository:public/x:pull repository:team/a:"
        );
        assert_eq!(
            grant(None),
            "registry:catalog: repository:bob/y: repository:public/x:pull repository:team/a:"
        );
        assert!(Acl::parse("alice team/*").is_err());
        assert!(Acl::parse("alice team/* PULL").is_err());
    }

    #[test]
    fn acl_patterns_cannot_walk_out_of_their_prefix() {
        for bad in [
            "alice team/../* pull",
            "alice ../* pull",
            "alice team/./app pull",
            "alice team//* pull",
            "+ $user/../admin/* pull",
        ] {
            let e = Acl::parse(bad).unwrap_err();
            assert!(e.contains("line 1"), "{bad}: {e}");
        }
        assert!(Acl::parse("* * pull\n+ $user/* pull\nalice team/app..v2 pull").is_ok());
        // A user name with a slash never stands for a path in `$user`.
        let acl = Acl::parse("+ $user/* pull").unwrap();
        let asked: ScopeSet = "repository:team/app:pull".parse().unwrap();
        assert!(acl.allowed(Some("team"), &asked).covers(&asked));
        assert!(
            acl.allowed(
                Some("x/team"),
                &"repository:x/team/app:pull".parse().unwrap()
            )
            .is_empty()
        );
    }

    #[test]
    fn repeated_failures_are_answered_later_and_later() {
        let f = Failures::default();
        let ip = IpAddr::from([127, 0, 0, 9]);
        let other = IpAddr::from([127, 0, 0, 10]);
        let mut delays = Vec::new();
        for _ in 0..8 {
            delays.push(f.delay(ip));
            f.record(ip, true);
        }
        assert_eq!(&delays[..3], &[Duration::ZERO; 3]);
        assert_eq!(delays[3], Duration::from_millis(250));
        assert_eq!(delays[4], Duration::from_millis(500));
        assert_eq!(delays[7], Duration::from_secs(4));
        f.record(ip, true);
        f.record(ip, true);
        assert_eq!(f.delay(ip), MAX_DELAY);
        assert_eq!(f.delay(other), Duration::ZERO, "per address");
        f.record(ip, false);
        assert_eq!(f.delay(ip), Duration::ZERO, "a right password forgives");
    }

    #[test]
    fn only_a_right_secret_forgives() {
        let get = |auth: bool| {
            let mut req = Request::get("/token?service=registry");
            if auth {
                req = req.header("authorization", "Basic YTpi");
            }
            presents_secret(&req.body(()).unwrap())
        };
        let post = presents_secret(&Request::post("/token").body(()).unwrap());
        assert!(get(true) && post && !get(false));
        assert_eq!(verdict(401, true), Some(true));
        assert_eq!(verdict(401, false), Some(true));
        assert_eq!(verdict(200, true), Some(false));
        assert_eq!(
            verdict(200, false),
            None,
            "an anonymous token forgives nothing"
        );
        assert_eq!(verdict(400, true), None);
    }

    #[test]
    fn refresh_tokens_flag() {
        let parse = |extra: &[&str]| {
            let args = ["registry_token_server", "--demo"].iter().chain(extra);
            parse_args(args.map(std::ffi::OsString::from)).map(|c| c.refresh_tokens)
        };
        assert_eq!(parse(&[]).ok(), Some(None));
        assert_eq!(
            parse(&["--refresh-tokens", "86400"]).ok(),
            Some(Some(std::time::Duration::from_secs(86400)))
        );
        assert!(parse(&["--refresh-tokens", "59"]).is_err());
        assert!(parse(&["--refresh-tokens", "a day"]).is_err());
        assert!(parse(&["--refresh-tokens"]).is_err());
    }
}
