//! A loopback HTTP server that records requests and answers with a closure.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, Response};
use harbor_client::api::HarborClient;
use harbor_client::transport::RetryPolicy;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query exactly as sent (still percent-encoded).
    pub uri: String,
    pub headers: HeaderMap,
}

pub type Responder = Arc<dyn Fn(&Seen, usize) -> Response<Body> + Send + Sync>;

/// A loopback HTTP server that records requests and answers with `respond`.
pub struct Recorder {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    pub async fn start(
        respond: impl Fn(&Seen, usize) -> Response<Body> + Send + Sync + 'static,
    ) -> Recorder {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let respond: Responder = Arc::new(respond);
        let seen2 = seen.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let seen = seen2.clone();
            let respond = respond.clone();
            async move {
                let s = Seen {
                    method: req.method().to_string(),
                    uri: req.uri().to_string(),
                    headers: req.headers().clone(),
                };
                let n = {
                    let mut v = seen.lock().unwrap();
                    v.push(s.clone());
                    v.len()
                };
                respond(&s, n)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Recorder {
            url: format!("http://{addr}"),
            seen,
            task,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn client(&self) -> HarborClient {
        HarborClient::builder(&self.url)
            .credentials(harbor_client::transport::Credentials::basic(
                "admin",
                "Harbor12345",
            ))
            .retry_policy(RetryPolicy::default().with_base_delay(Duration::from_millis(1)))
            .build()
            .unwrap()
    }
}

pub fn json(status: u16, body: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

pub fn query_param(uri: &str, name: &str) -> Option<String> {
    let q = uri.split_once('?')?.1;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
