//! The queue: the API pushes commands, the scheduler pushes cycles, workers consume both. Redis
//! Streams when Redis is configured, tokio channels in one process.
//!
//! Delivery: a command is acknowledged after its handler ran, so a worker killed mid-command has
//! it delivered again (commands are idempotent). A cycle is acknowledged as soon as a worker
//! takes it: recovering a cycle whose worker died is coordination's job (the scheduler re-emits
//! cycles whose claim lapsed, and the claim drops duplicates), which keeps minutes-long cycles
//! from ever being redelivered to a second live worker.
//!
//! Handlers never express waits as errors: `HandlerError::Retry` is for failures worth another try,
//! bounded by `ConsumerLimits::max_attempts`; `HandlerError::Abort` drops the job with a log line.

mod memory;
mod redis;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::command::Command;
use crate::coord::RedisConfig;
use crate::cycle::Cycle;
use crate::{HandlerError, JobsError};

/// A job handler: takes the job, resolves when done.
pub type Handler<T> =
    Arc<dyn Fn(T) -> Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>> + Send + Sync>;

/// How much a consumer runs at once, and how it stops.
#[derive(Debug, Clone)]
pub struct ConsumerLimits {
    pub commands: usize,
    /// Cycles are mostly waiting between posts: thousands can run at once.
    pub cycles: usize,
    /// On shutdown, how long running handlers may take to finish.
    pub drain_deadline: Duration,
    /// Attempts of a job whose handler asks for a retry.
    pub max_attempts: u32,
    /// A command delivered this long ago and never acknowledged belongs to a dead worker and is
    /// taken over (Redis only).
    pub command_claim_idle: Duration,
}

impl Default for ConsumerLimits {
    fn default() -> Self {
        ConsumerLimits {
            commands: 64,
            cycles: 10_000,
            drain_deadline: Duration::from_secs(30),
            max_attempts: 3,
            command_claim_idle: Duration::from_secs(30),
        }
    }
}

/// Jobs waiting and being handled, for `/metrics` and the health view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub commands_waiting: u64,
    pub cycles_waiting: u64,
    /// Delivered but not acknowledged (commands being handled).
    pub pending: u64,
}

/// What travels: the job and how many times it was tried.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Envelope<T> {
    pub(crate) attempt: u32,
    pub(crate) job: T,
}

#[derive(Debug, Clone)]
pub struct Queue {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Memory(Arc<memory::MemoryQueue>),
    Redis(Arc<redis::RedisQueue>),
}

impl Queue {
    pub fn in_memory() -> Queue {
        Queue {
            backend: Backend::Memory(Arc::new(memory::MemoryQueue::new())),
        }
    }

    /// Connects to Redis and makes sure the streams and consumer groups exist.
    pub async fn redis(config: &RedisConfig) -> Result<Queue, JobsError> {
        Ok(Queue {
            backend: Backend::Redis(Arc::new(redis::RedisQueue::connect(config).await?)),
        })
    }

    pub async fn push_command(&self, command: &Command) -> Result<(), JobsError> {
        let envelope = Envelope {
            attempt: 1,
            job: command.clone(),
        };
        match &self.backend {
            Backend::Memory(q) => q.push_command(envelope),
            Backend::Redis(q) => q.push_commands(&[envelope]).await,
        }
    }

    /// Pushes many cycles in one round trip.
    pub async fn push_cycles(&self, cycles: &[Cycle]) -> Result<(), JobsError> {
        if cycles.is_empty() {
            return Ok(());
        }
        let envelopes: Vec<Envelope<Cycle>> = cycles
            .iter()
            .map(|c| Envelope {
                attempt: 1,
                job: c.clone(),
            })
            .collect();
        match &self.backend {
            Backend::Memory(q) => q.push_cycles(envelopes),
            Backend::Redis(q) => q.push_cycles(&envelopes).await,
        }
    }

    pub async fn depth(&self) -> Result<QueueDepth, JobsError> {
        match &self.backend {
            Backend::Memory(q) => Ok(q.depth()),
            Backend::Redis(q) => q.depth().await,
        }
    }

    /// Runs both consumers until `shutdown` is cancelled, then lets running handlers finish within
    /// `limits.drain_deadline`. In memory, only one consumer may run per queue.
    pub async fn consume(
        &self,
        on_command: Handler<Command>,
        on_cycle: Handler<Cycle>,
        limits: ConsumerLimits,
        shutdown: CancellationToken,
    ) -> Result<(), JobsError> {
        match &self.backend {
            Backend::Memory(q) => {
                q.clone()
                    .consume(on_command, on_cycle, limits, shutdown)
                    .await
            }
            Backend::Redis(q) => {
                q.clone()
                    .consume(on_command, on_cycle, limits, shutdown)
                    .await
            }
        }
    }
}

/// Runs one job through its handler and says whether (and after how long) it should run again.
pub(crate) async fn run_job<T: Clone + Send + Sync>(
    handler: &Handler<T>,
    envelope: &Envelope<T>,
    max_attempts: u32,
    kind: &str,
) -> Option<Duration> {
    match handler(envelope.job.clone()).await {
        Ok(()) => None,
        Err(HandlerError::Retry { after, reason }) if envelope.attempt < max_attempts => {
            tracing::warn!(
                kind,
                attempt = envelope.attempt,
                reason,
                "job failed; will retry"
            );
            Some(after)
        }
        Err(err) => {
            tracing::error!(kind, attempt = envelope.attempt, error = %err, "job dropped");
            None
        }
    }
}

/// Builds a [`Handler`] from an async closure.
pub fn handler<T, F, Fut>(f: F) -> Handler<T>
where
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    Arc::new(move |job| Box::pin(f(job)))
}
