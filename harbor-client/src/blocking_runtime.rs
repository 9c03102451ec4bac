//! The runtime behind the blocking clients (feature `blocking`):
//! `api::blocking::HarborClient` and `registry::blocking::RegistryClient` each build one, and
//! their clones share it. Neither client owns it: it lives here, beside both.

use std::future::Future;
use std::sync::Arc;

use crate::{Error, Result};

/// A current-thread tokio runtime (IO and timers on), as `reqwest::blocking` uses, with
/// the guard that refuses to block inside an async runtime.
///
/// Several threads may call [`BlockingRuntime::block_on`] at once (tokio hands the
/// driver from one to the next). Dropping it never blocks, so the last clone may go away
/// anywhere, even inside an async runtime.
#[derive(Debug)]
pub(crate) struct BlockingRuntime {
    rt: Option<tokio::runtime::Runtime>,
    /// The async client to use instead, named in the inside-a-runtime error.
    async_client: &'static str,
}

impl BlockingRuntime {
    /// Builds the runtime; `async_client` is the path of the async client to name when
    /// the blocking one is used inside an async runtime.
    pub(crate) fn new(async_client: &'static str) -> Result<Arc<Self>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Config {
                message: "the blocking client's runtime could not be created".into(),
                source: Some(Box::new(e)),
            })?;
        Ok(Arc::new(BlockingRuntime {
            rt: Some(rt),
            async_client,
        }))
    }

    /// Runs `future` to completion on this runtime.
    ///
    /// Fails with [`Error::Config`] instead of blocking whenever the calling thread is inside
    /// a tokio runtime context (`Handle::try_current()` is `Ok`): an async task (blocking
    /// would stall the caller's executor, or make tokio panic), a progress callback of a
    /// blocking client (its own runtime: a deadlock), and also the closures of
    /// `tokio::task::spawn_blocking` and `tokio::task::block_in_place`. Those two could
    /// block safely, but tokio does not let a library tell them from an async task, and
    /// guessing wrong stalls or deadlocks; the message says what to do instead.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> Result<F::Output> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::Config {
                message: format!(
                    "a blocking client cannot be used on a thread inside a tokio runtime \
                     context: an async task, a blocking client's progress callback, and also \
                     `tokio::task::spawn_blocking` and `block_in_place` closures (tokio does \
                     not tell them apart); use {} there (awaited, or with \
                     `Handle::block_on` inside `spawn_blocking`), or call the blocking client \
                     from a plain thread, e.g. `std::thread::scope` inside `spawn_blocking`",
                    self.async_client
                ),
                source: None,
            });
        }
        match &self.rt {
            Some(rt) => Ok(rt.block_on(future)),
            None => Err(Error::Config {
                message: "the blocking client's runtime is shut down".into(),
                source: None,
            }),
        }
    }
}

impl Drop for BlockingRuntime {
    fn drop(&mut self) {
        // A plain drop waits for the runtime's tasks and panics inside an async context;
        // there is nothing left to wait for once the last client is gone.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
