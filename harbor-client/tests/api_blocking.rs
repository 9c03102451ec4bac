//! The blocking client does what the async one does, without a runtime of the caller's.

#![cfg(feature = "blocking")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{Request, Response};
use harbor_client::api::ListProjectsParams;
use harbor_client::api::blocking::HarborClient;

/// Serves 130 projects, paged, on a loopback port from a thread of its own.
fn serve() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().fallback(|req: Request<Body>| async move {
                let q = req.uri().query().unwrap_or_default().to_owned();
                let get = |k: &str, default: usize| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .find(|(n, _)| n == k)
                        .map_or(default, |(_, v)| v.parse::<usize>().unwrap())
                };
                let (page, size) = (get("page", 1), get("page_size", 10));
                let items: Vec<String> = ((page - 1) * size..(page * size).min(130))
                    .map(|i| format!(r#"{{"name":"p{i}"}}"#))
                    .collect();
                Response::builder()
                    .header("x-total-count", "130")
                    .header("content-type", "application/json")
                    .body(Body::from(format!("[{}]", items.join(","))))
                    .unwrap()
            });
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}", l.local_addr().unwrap()))
                .unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

#[test]
fn blocking_calls_and_pages() {
    let url = serve();
    let client =
        HarborClient::new(harbor_client::HarborClient::builder(&url).build().unwrap()).unwrap();
    let page = client
        .list_projects(&ListProjectsParams::default().page_size(10))
        .unwrap();
    assert_eq!((page.items.len(), page.total), (10, Some(130)));
    let all = client
        .list_projects_all(&ListProjectsParams::default())
        .unwrap();
    assert_eq!(all.len(), 130);
    assert_eq!(all[129].name.as_deref(), Some("p129"));

    // `_iter`: the same items, fetched as the iterator advances.
    let mut iter = client.list_projects_iter(&ListProjectsParams::default());
    let first = iter.next().unwrap().unwrap();
    assert_eq!(first.name.as_deref(), Some("p0"));
    let rest: Vec<_> = iter.collect::<harbor_client::Result<_>>().unwrap();
    assert_eq!(rest.len(), 129);
    assert_eq!(rest[128].name, all[129].name);
}
