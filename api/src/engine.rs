//! The API's port to the engine: what it asks of the workers and the scheduler, without knowing
//! how jobs travel (Redis or in-process). The binary wires the real queue and coordination in;
//! the API never calls a worker directly.

use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_data::{ExecutionMode, UserId};

/// A start or stop, as the tenant asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotCommand {
    Start {
        /// `plan_limits.max_sessions` from the token, if any.
        sessions_wanted: Option<u32>,
        execution_mode: Option<ExecutionMode>,
        total_cycle_minutes: Option<u32>,
    },
    Stop,
}

/// The worker's answer to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandOutcome {
    Running {
        sessions: Vec<String>,
        execution_mode: ExecutionMode,
    },
    /// A cycle is in flight; the bot stops when it ends.
    Stopping,
    Stopped,
    Refused {
        reason: Refusal,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No session could be had (409).
    NoSessions,
    /// The tenant is suspended (409).
    Suspended,
    UserNotFound,
    Invalid,
    Internal,
}

/// What a bot is doing right now, as coordination sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CycleState {
    /// A worker is running its cycle.
    Running,
    /// Scheduled, waiting for `next_run_at`.
    Sleeping,
    /// Neither.
    Idle,
}

impl CycleState {
    pub fn as_str(self) -> &'static str {
        match self {
            CycleState::Running => "running",
            CycleState::Sleeping => "sleeping",
            CycleState::Idle => "idle",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotView {
    pub cycle_state: CycleState,
    /// The last sign of life of whoever is responsible for the bot now (the worker running its
    /// cycle, or the scheduler while it sleeps).
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub next_run_at: Option<DateTime<Utc>>,
}

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

#[derive(Debug, thiserror::Error)]
#[error("the engine is unavailable: {0}")]
pub struct EngineError(pub String);

/// What the API needs from the engine.
#[async_trait::async_trait]
pub trait EnginePort: Send + Sync + 'static {
    /// Enqueues the command and waits up to `wait` for the worker's outcome; `None` when it did
    /// not come in time (the API then answers 202).
    async fn command(
        &self,
        user: &UserId,
        command: BotCommand,
        wait: Duration,
    ) -> Result<Option<CommandOutcome>, EngineError>;

    async fn bot_view(&self, user: &UserId) -> Result<BotView, EngineError>;

    async fn health(&self) -> Result<EngineHealth, EngineError>;

    async fn activity(&self) -> Result<EngineActivity, EngineError>;
}
