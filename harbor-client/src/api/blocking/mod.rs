//! A blocking [`HarborClient`]: the async client's API without `async`, as
//! `reqwest::blocking` does (feature `blocking`).
//!
//! Every method of [`crate::api::HarborClient`] exists here with the same name and
//! arguments and returns the result directly; each `_stream` method (over pages, or the
//! fan-out over repositories) becomes two: `_iter`, a [`StreamIter`] that fetches as it
//! advances, and `_all`, every item collected into a `Vec`. A test compares the two clients'
//! methods.
//!
//! ```no_run
//! use harbor_client::api::{ListProjectsParams, blocking::HarborClient};
//!
//! # fn run() -> harbor_client::Result<()> {
//! let client = HarborClient::new(
//!     harbor_client::HarborClient::builder("https://harbor.example.com")
//!         .credentials(harbor_client::transport::Credentials::basic("admin", "secret"))
//!         .build()?,
//! )?;
//! for project in client.list_projects_all(&ListProjectsParams::default())? {
//!     println!("{:?}", project.name);
//! }
//! # Ok(()) }
//! ```
//!
//! It runs a single-threaded tokio runtime of its own. On a thread inside a tokio runtime
//! context its methods fail with [`Error::Config`](crate::Error::Config) instead of
//! blocking: in an async task, and also in `tokio::task::spawn_blocking` and
//! `block_in_place` closures (tokio does not let a library tell those apart from an async
//! task). Use the async [`crate::api::HarborClient`] there, or call this client from a
//! plain thread (`std::thread::spawn`, or `std::thread::scope` inside `spawn_blocking`).

use std::future::Future;
use std::sync::Arc;

use crate::Result;
use crate::blocking_runtime::BlockingRuntime;

mod extras;
mod generated;

pub use extras::{ArtifactIter, StreamIter};

/// The blocking Harbor API client. Cheap to clone; clones share the runtime and the
/// connection pool.
#[derive(Debug, Clone)]
pub struct HarborClient {
    inner: crate::api::HarborClient,
    rt: Arc<BlockingRuntime>,
}

impl HarborClient {
    /// Wraps an async client (build it with [`crate::api::HarborClient::builder`]).
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) when the runtime cannot be created.
    pub fn new(client: crate::api::HarborClient) -> Result<Self> {
        Ok(HarborClient {
            inner: client,
            rt: BlockingRuntime::new("harbor_client::api::HarborClient")?,
        })
    }

    /// The async client inside, for futures run by [`HarborClient::block_on`] only (e.g.
    /// [`crate::api::HarborClient::raw`]).
    ///
    /// Its pooled connections are tasks of this client's own runtime, which runs only while
    /// one of its calls blocks: awaited on another runtime (your application's), a request
    /// that picks such a connection waits until the next blocking call, or its read timeout.
    /// For async code, build an async client of its own with
    /// [`crate::api::HarborClient::builder`].
    pub fn as_async(&self) -> &crate::api::HarborClient {
        &self.inner
    }

    /// The Harbor version the server reports, read once and cached: see
    /// [`crate::api::HarborClient::server_version`].
    ///
    /// # Errors
    ///
    /// As [`crate::api::HarborClient::server_version`], and [`Error::Config`](crate::Error::Config)
    /// inside an async runtime.
    pub fn server_version(&self) -> Result<Option<crate::api::HarborVersion>> {
        self.block_on(self.inner.server_version())?
    }

    /// Runs a future of the async client to completion.
    ///
    /// ```no_run
    /// # fn f(client: harbor_client::api::blocking::HarborClient) -> harbor_client::Result<()> {
    /// let v: serde_json::Value = client.block_on(
    ///     client.as_async().raw(http::Method::GET, "/p2p/preheat/providers").send_json(),
    /// )??;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) when called on a thread inside a tokio
    /// runtime context (see the [module docs](crate::api::blocking)).
    pub fn block_on<F: Future>(&self, future: F) -> Result<F::Output> {
        self.rt.block_on(future)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[tokio::test]
    async fn refuses_to_block_inside_a_runtime() {
        let inner = crate::api::HarborClient::builder("http://127.0.0.1:9")
            .build()
            .unwrap();
        let client = std::thread::spawn(move || HarborClient::new(inner).unwrap())
            .join()
            .unwrap();
        let err = client.block_on(async {}).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
        // The runtime must be dropped outside of this one.
        std::thread::spawn(move || drop(client)).join().unwrap();
    }
}
