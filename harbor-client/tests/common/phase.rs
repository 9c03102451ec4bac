//! A request-aware fault proxy: reads the HTTP/1.1 requests passing through it to cut a
//! connection at a named phase of a transfer (the nth `PATCH`, mid-body or before its answer),
//! optionally holding the connection there or throttling the upload. Used by the fault
//! matrix and the streamed-upload fault tests.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// The hard bound on every case: a hang fails the test instead of stalling CI.
pub const HARD_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a case under [`HARD_TIMEOUT`].
pub async fn bounded<T>(case: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(HARD_TIMEOUT, case)
        .await
        .expect("the case hung: no outcome within the hard timeout")
}

pub const POST: (&str, &str) = ("POST", "/blobs/uploads/");
pub const PATCH: (&str, &str) = ("PATCH", "/blobs/uploads/");
pub const PUT_BLOB: (&str, &str) = ("PUT", "/blobs/uploads/");
pub const PUT_MANIFEST: (&str, &str) = ("PUT", "/manifests/");
pub const GET_MANIFEST: (&str, &str) = ("GET", "/manifests/");
pub const GET_BLOB: (&str, &str) = ("GET", "/blobs/sha256:");

pub fn phase((method, path): (&'static str, &'static str), nth: usize, cut: Cut) -> Phase {
    Phase {
        method,
        path,
        nth,
        cut,
    }
}

// ---------------------------------------------------------------------------------------------

/// Where in the matched request's exchange the connection is cut.
#[derive(Debug, Clone, Copy)]
pub enum Cut {
    /// After this many bytes of the request body went to the registry.
    Body(u64),
    /// After this many bytes of the answer came back (0: the registry got the whole request,
    /// the client gets nothing).
    Answer(u64),
}

/// One fault: the connection carrying the `nth` request (1-based) whose method is `method`
/// and whose path contains `path` is cut at `cut`, once.
#[derive(Debug, Clone, Copy)]
pub struct Phase {
    pub method: &'static str,
    pub path: &'static str,
    pub nth: usize,
    pub cut: Cut,
}

/// Holds a connection at its cut point until the test releases it (to restart the registry
/// while an upload is under way).
#[derive(Default)]
pub struct Hold {
    pub reached: Notify,
    pub release: Notify,
}

/// What the proxy shares between its connections.
struct Rule {
    phase: Option<Phase>,
    /// Requests matching the phase's method and path so far.
    matched: AtomicUsize,
    /// How often the cut happened (0 or 1).
    fired: AtomicU64,
    hold: Option<Arc<Hold>>,
    /// Client-to-registry bytes per second, when throttled.
    up_rate: Option<u64>,
}

/// A loopback TCP proxy that reads the HTTP/1.1 requests passing through it (heads and
/// `Content-Length` bodies) to cut a connection at a named phase of a transfer. The
/// request-aware sibling of `common::FaultProxy`, whose faults count bytes only.
pub struct PhaseProxy {
    pub addr: std::net::SocketAddr,
    rule: Arc<Rule>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PhaseProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Per connection: answer bytes so far and where to cut them.
struct Conn {
    down_total: AtomicU64,
    down_cut_at: AtomicU64,
}

impl PhaseProxy {
    pub async fn start(target: std::net::SocketAddr, phase: Option<Phase>) -> PhaseProxy {
        Self::start_with(target, phase, None, None).await
    }

    pub async fn start_with(
        target: std::net::SocketAddr,
        phase: Option<Phase>,
        hold: Option<Arc<Hold>>,
        up_rate: Option<u64>,
    ) -> PhaseProxy {
        // Throttled or held, the proxy takes little into its socket: what the client has
        // written is then close to what went on (a slow link buffers little either).
        let listener = if up_rate.is_some() || hold.is_some() {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.set_recv_buffer_size(64 * 1024).unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            socket.listen(64).unwrap()
        } else {
            TcpListener::bind("127.0.0.1:0").await.unwrap()
        };
        let addr = listener.local_addr().unwrap();
        let rule = Arc::new(Rule {
            phase,
            matched: AtomicUsize::new(0),
            fired: AtomicU64::new(0),
            hold,
            up_rate,
        });
        let r = rule.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let rule = r.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let conn = Arc::new(Conn {
                        down_total: AtomicU64::new(0),
                        down_cut_at: AtomicU64::new(u64::MAX),
                    });
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        () = upstream(cr, sw, conn.clone(), rule.clone()) => {}
                        () = downstream(sr, cw, conn, rule) => {}
                    }
                });
            }
        });
        PhaseProxy { addr, rule, task }
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn fired(&self) -> u64 {
        self.rule.fired.load(Ordering::SeqCst)
    }
}

impl Rule {
    /// Counts the cut, and waits for the test's release when the connection is held.
    async fn fire(&self) {
        self.fired.fetch_add(1, Ordering::SeqCst);
        if let Some(h) = &self.hold {
            h.reached.notify_one();
            h.release.notified().await;
        }
    }

    /// Whether a request head is the one to cut.
    fn matches(&self, method: &str, path: &str) -> Option<Cut> {
        let p = self.phase?;
        if method != p.method || !path.contains(p.path) {
            return None;
        }
        let n = self.matched.fetch_add(1, Ordering::SeqCst) + 1;
        (n == p.nth).then_some(p.cut)
    }
}

/// The method, path, `Content-Length` and whether the body is chunked, of a request head.
fn parse_head(head: &[u8]) -> (String, String, u64, bool) {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    let (mut len, mut chunked) = (0, false);
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                len = v.parse().unwrap_or(0);
            } else if k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked") {
                chunked = true;
            }
        }
    }
    (method, path, len, chunked)
}

/// The next bytes from `r`; at its end (or an error) `w` is shut down and `None` returned.
async fn read_or_close(
    r: &mut OwnedReadHalf,
    w: &mut OwnedWriteHalf,
    buf: &mut [u8],
) -> Option<usize> {
    match r.read(buf).await {
        Ok(0) | Err(_) => {
            let _ = w.shutdown().await;
            None
        }
        Ok(n) => Some(n),
    }
}

/// Client to registry: passes heads and bodies, cutting where the rule says.
async fn upstream(mut r: OwnedReadHalf, mut w: OwnedWriteHalf, conn: Arc<Conn>, rule: Arc<Rule>) {
    let mut head = Vec::new();
    // Inside a body: bytes of it still to come, and bytes to pass before the cut.
    let mut body_left = 0u64;
    let mut cut_after: Option<u64> = None;
    // A chunked body is passed without further parsing.
    let mut parsing = true;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let Some(n) = read_or_close(&mut r, &mut w, &mut buf).await else {
            return;
        };
        if let Some(rate) = rule.up_rate {
            tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
        }
        let mut i = 0;
        while i < n {
            if !parsing {
                if w.write_all(&buf[i..n]).await.is_err() {
                    return;
                }
                break;
            }
            if body_left == 0 {
                head.push(buf[i]);
                i += 1;
                if !head.ends_with(b"\r\n\r\n") {
                    continue;
                }
                let (method, path, len, chunked) = parse_head(&head);
                if w.write_all(&head).await.is_err() {
                    return;
                }
                head.clear();
                parsing = !chunked;
                body_left = len;
                match rule.matches(&method, &path) {
                    Some(Cut::Body(k)) => cut_after = Some(k),
                    Some(Cut::Answer(m)) => {
                        let at = conn.down_total.load(Ordering::SeqCst) + m;
                        conn.down_cut_at.store(at, Ordering::SeqCst);
                    }
                    None => {}
                }
                if cut_after == Some(0) {
                    rule.fire().await;
                    return;
                }
                continue;
            }
            let room = (n - i) as u64;
            let take = body_left.min(room).min(cut_after.unwrap_or(u64::MAX)) as usize;
            if w.write_all(&buf[i..i + take]).await.is_err() {
                return;
            }
            i += take;
            body_left -= take as u64;
            if let Some(k) = cut_after.as_mut() {
                *k -= take as u64;
                if *k == 0 {
                    rule.fire().await;
                    return;
                }
            }
            if body_left == 0 {
                cut_after = None;
            }
        }
    }
}

/// Registry to client: passes the answers, cutting where the matched request said.
async fn downstream(mut r: OwnedReadHalf, mut w: OwnedWriteHalf, conn: Arc<Conn>, rule: Arc<Rule>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let Some(n) = read_or_close(&mut r, &mut w, &mut buf).await else {
            return;
        };
        let total = conn.down_total.load(Ordering::SeqCst);
        let cut_at = conn.down_cut_at.load(Ordering::SeqCst);
        if total + n as u64 > cut_at {
            let keep = (cut_at - total) as usize;
            let _ = w.write_all(&buf[..keep]).await;
            rule.fire().await;
            return;
        }
        if w.write_all(&buf[..n]).await.is_err() {
            return;
        }
        conn.down_total.fetch_add(n as u64, Ordering::SeqCst);
    }
}

/// A registry with token auth whose tokens it accepts for about 2 s while the token answer
/// says they live for a minute (the issuer's clock runs 60 s + lifetime - 2 s behind; the
/// registry allows 60 s of leeway), reached through a proxy passing 1 MB/s upstream: a 3 MB
/// upload outlives its token. With its token service.
pub async fn short_token_registry() -> (
    harbor_testkit::Registry,
    super::auth::TokenService,
    PhaseProxy,
) {
    let lifetime = Duration::from_secs(60);
    let clock = Arc::new(super::auth::BehindClock(
        Duration::from_secs(60) + lifetime - Duration::from_secs(2),
    ));
    let (reg, svc) = super::auth::start(Some(clock), lifetime)
        .await
        .expect("checked by `needs`");
    let proxy = PhaseProxy::start_with(reg.addr, None, None, Some(1_000_000)).await;
    (reg, svc, proxy)
}

/// The upload that started at `started` outlived its token, and a new one was issued.
pub fn assert_renewed(svc: &super::auth::TokenService, started: std::time::Instant) {
    assert!(
        started.elapsed() > Duration::from_millis(2500),
        "the upload outlived its token: {:?}",
        started.elapsed()
    );
    assert!(
        svc.count() >= 2,
        "the token was renewed: {} requests",
        svc.count()
    );
}
