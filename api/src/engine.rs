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
}
