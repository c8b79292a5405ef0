//! The DC as a whole: accepting connections, faults switched at run time, shutdown.
//!
//! Owns [`TestDc`] (the configured DC, cheap to clone), [`serve`] (the accept loop, one
//! task per connection, mini-redis style: a cancellation token to stop and a task
//! tracker whose emptying says every connection ended) and [`RunningDc`] (a DC bound to a
//! port for a test). Must never block the runtime and never stop serving because one
//! connection or one accept failed.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::conn::serve_connection;
use crate::shared::{DcStats, Shared};
use crate::{Faults, KeyStore, TestDcError, World};

/// Longest wait for open connections to finish after shutdown was asked.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);
/// Pause after a failed accept (e.g. out of file descriptors) before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// A local data centre: known keys, the world behind it, and its faults.
#[derive(Clone)]
pub struct TestDc {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TestDc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDc")
            .field("keys", &self.shared.keys)
            .field("faults", &self.faults())
            .finish_non_exhaustive()
    }
}

impl TestDc {
    /// A healthy DC serving `keys`, with outcomes decided by `world`.
    pub fn new(keys: KeyStore, world: Arc<dyn World>) -> Self {
        Self {
            shared: Arc::new(Shared::new(keys, world, Faults::default())),
        }
    }

    /// The same DC with these faults.
    pub fn with_faults(self, faults: Faults) -> Self {
        self.set_faults(faults);
        self
    }

    /// Replaces the faults; live connections see the change at their next decision.
    pub fn set_faults(&self, faults: Faults) {
        if let Ok(mut current) = self.shared.faults.write() {
            *current = faults;
        }
    }

    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// What the DC has seen so far.
    pub fn stats(&self) -> DcStats {
        self.shared.counters.snapshot()
    }

    /// Binds `addr` (use port 0 in tests) and serves on it until the returned handle is
    /// stopped or dropped.
    pub async fn bind(
        &self,
        addr: impl ToSocketAddrs + std::fmt::Debug,
    ) -> Result<RunningDc, TestDcError> {
        let shown = format!("{addr:?}");
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| TestDcError::Bind {
                addr: shown,
                source,
            })?;
        let local = listener.local_addr().map_err(TestDcError::LocalAddr)?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(
            listener,
            self.clone(),
            stop.clone().cancelled_owned(),
        ));
        Ok(RunningDc {
            addr: local,
            stop,
            task: Some(task),
        })
    }
}

/// Serves `dc` on `listener` until `shutdown` completes, then closes every connection
/// and waits (up to a deadline) for their tasks to end.
pub async fn serve(listener: TcpListener, dc: TestDc, shutdown: impl Future<Output = ()>) {
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Small request/answer packets: do not wait to coalesce them.
                    let _ = stream.set_nodelay(true);
                    tracker.spawn(serve_connection(stream, Arc::clone(&dc.shared), stop.child_token()));
                }
                Err(error) => {
                    tracing::warn!(%error, "testdc accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    stop.cancel();
    tracker.close();
    if tokio::time::timeout(DRAIN_DEADLINE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = tracker.len(),
            "testdc connections still open after the drain deadline"
        );
    }
}

/// A DC serving on a local port. Dropping it stops the DC (without waiting).
#[derive(Debug)]
pub struct RunningDc {
    addr: SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl RunningDc {
    /// Where the DC listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops accepting, closes every connection and waits for them to end.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningDc {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
