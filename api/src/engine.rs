//! The API's port to the engine: what it asks of the workers and the scheduler, without knowing
//! how jobs travel (Redis or in-process). The binary wires the real queue and coordination in;
//! the API never calls a worker directly. What crosses the port is the job layer's own types
//! ([`CommandAction`], [`CommandOutcome`], [`Liveness`]): the API builds and reads them, it never
//! maps them into twins of its own.

use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_data::UserId;
use herald_jobs::{CommandAction, CommandOutcome, Liveness};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineHealth {
    pub scheduler_running: bool,
    /// Jobs waiting and in flight, for `/metrics`.
    pub queued_jobs: u64,
    pub in_flight_cycles: u64,
}

/// What the operator's console shows of the engine: who runs, which sessions wait out a flood
/// wait, which cycles are in flight. The records are coordination's own ([`herald_jobs`]).
#[derive(Debug, Clone, Default)]
pub struct EngineActivity {
    /// Live workers and schedulers, schedulers first (the leader first).
    pub processes: Vec<herald_jobs::Presence>,
    /// Sessions in a pause now, with its end, soonest first.
    pub flood_waits: Vec<(String, DateTime<Utc>)>,
    pub in_flight_count: u64,
    /// Up to [`IN_FLIGHT_LISTED`] of the cycles in flight, by user.
    pub in_flight: Vec<(String, herald_jobs::InFlight)>,
}

/// How many cycles in flight [`EnginePort::activity`] lists (the count covers all).
pub const IN_FLIGHT_LISTED: usize = 100;

/// The engine's coordination (Redis, or the in-process state) could not answer.
#[derive(Debug, thiserror::Error)]
#[error("the engine is unavailable: {0}")]
pub struct EngineError(#[from] pub herald_jobs::JobsError);

/// What the API needs from the engine.
#[async_trait::async_trait]
pub trait EnginePort: Send + Sync + 'static {
    /// Enqueues the command and waits up to `wait` for the worker's outcome; `None` when it did
    /// not come in time (the API then answers 202).
    async fn command(
        &self,
        user: &UserId,
        action: CommandAction,
        wait: Duration,
    ) -> Result<Option<CommandOutcome>, EngineError>;

    async fn liveness(&self, user: &UserId) -> Result<Liveness, EngineError>;

    async fn health(&self) -> Result<EngineHealth, EngineError>;

    async fn activity(&self) -> Result<EngineActivity, EngineError>;
}
