//! A loopback proxy in front of Prism, for what Prism's static examples cannot show (a scan
//! still running, a `409`, a project with a retention policy): every request still goes to
//! Prism, which validates it against Harbor's spec, and a test's rule may then change the
//! answer the example gets.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};

/// An answer: from Prism, or as the rule changed it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// Harbor's error envelope with `status` and `code`.
    pub fn harbor_error(status: u16, code: &str, message: &str) -> Answer {
        let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
        Answer {
            status,
            body: body.to_string(),
        }
    }

    /// The JSON body changed by `edit` (the body as is when it is not JSON).
    pub fn edit_json(mut self, edit: impl FnOnce(&mut serde_json::Value)) -> Answer {
        if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&self.body) {
            edit(&mut value);
            self.body = value.to_string();
        }
        self
    }
}

/// What a test does with Prism's answer: `(method, path, answer) -> answer`.
type Rule = dyn Fn(&str, &str, Answer) -> Answer + Send + Sync;

struct Shared {
    upstream: String,
    client: reqwest::Client,
    rule: Box<Rule>,
    requests: Mutex<Vec<String>>,
}

/// The proxy on a loopback port; stopped on drop.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`, the API root to give the example.
    pub url: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A proxy to `upstream` (Prism's URL) answering what `rule` makes of Prism's answers.
    pub fn start(
        upstream: &str,
        rule: impl Fn(&str, &str, Answer) -> Answer + Send + Sync + 'static,
    ) -> Proxy {
        let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            rule: Box::new(rule),
            requests: Mutex::new(Vec::new()),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        // Its own thread and runtime: the tests block on the example's output meanwhile.
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Proxy {
            url,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The requests it received so far, as `METHOD /path` (no query), in order.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let path = parts.uri.path().to_owned();
    let target = parts
        .uri
        .path_and_query()
        .map_or(path.clone(), |p| p.as_str().to_owned());
    let method = parts.method.clone();
    shared
        .requests
        .lock()
        .unwrap()
        .push(format!("{method} {path}"));
    let mut upstream = shared
        .client
        .request(method.clone(), format!("{}{target}", shared.upstream));
    for (name, value) in &parts.headers {
        if name != HOST && name != CONTENT_LENGTH {
            upstream = upstream.header(name, value);
        }
    }
    let answered = upstream.body(body).send().await.unwrap();
    let headers = answered.headers().clone();
    let prism = Answer {
        status: answered.status().as_u16(),
        body: answered.text().await.unwrap(),
    };
    let answer = (shared.rule)(method.as_str(), &path, prism);
    let mut response = Response::builder().status(answer.status);
    for (name, value) in &headers {
        if name != CONTENT_LENGTH && name != TRANSFER_ENCODING && name != CONNECTION {
            response = response.header(name, value);
        }
    }
    response.body(Body::from(answer.body)).unwrap()
}
