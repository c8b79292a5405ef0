//! The API's port to the engine: what it asks of the workers and the scheduler, without knowing
//! how jobs travel (Redis or in-process). [`JobsEngine`] is the port over the job layer, built by
//! the binary from its queue and coordination; the API never calls a worker directly. What
//! crosses the port is the job layer's own types ([`CommandAction`], [`CommandOutcome`],
//! [`Liveness`]): the API builds and reads them, it never maps them into twins of its own.

use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_data::UserId;
use herald_jobs::{
    Command, CommandAction, CommandOutcome, Coordination, LEADER_KEY, Liveness, Queue, clock,
};

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

/// The port over the job layer: commands go on the queue, and their replies, liveness, health
/// and activity come from coordination (Redis, or the one process's memory).
#[derive(Debug)]
pub struct JobsEngine {
    pub coord: Coordination,
    pub queue: Queue,
    /// A scheduler that renewed its lease within this is running.
    pub scheduler_ttl: Duration,
}

#[async_trait::async_trait]
impl EnginePort for JobsEngine {
    async fn command(
        &self,
        user: &UserId,
        action: CommandAction,
        wait: Duration,
    ) -> Result<Option<CommandOutcome>, EngineError> {
        let command = Command::new(user.as_str(), action);
        let waiter = self.coord.expect_reply(&command.request_id);
        self.queue.push_command(&command).await?;
        let reply = waiter.wait(wait).await?;
        Ok(reply.map(|r| r.outcome))
    }

    async fn liveness(&self, user: &UserId) -> Result<Liveness, EngineError> {
        self.coord
            .liveness(user.as_str(), LEADER_KEY)
            .await
            .map_err(EngineError::from)
    }

    async fn health(&self) -> Result<EngineHealth, EngineError> {
        let renewed = self.coord.lease_renewed_at(LEADER_KEY).await?;
        let ttl = chrono::Duration::from_std(self.scheduler_ttl).unwrap_or_default();
        let depth = self.queue.depth().await?;
        Ok(EngineHealth {
            scheduler_running: renewed.is_some_and(|at| clock::now() - at < ttl),
            queued_jobs: depth.commands_waiting + depth.cycles_waiting,
            in_flight_cycles: self.coord.in_flight_count().await?,
        })
    }

    async fn activity(&self) -> Result<EngineActivity, EngineError> {
        let c = &self.coord;
        let (processes, flood_waits, in_flight_count, users) = tokio::try_join!(
            c.presences(),
            c.paused_sessions(),
            c.in_flight_count(),
            c.in_flight_users(IN_FLIGHT_LISTED),
        )?;
        let cycles = futures::future::try_join_all(users.iter().map(|u| c.in_flight(u))).await?;
        let in_flight = users
            .into_iter()
            .zip(cycles)
            // A cycle that finished between the two reads is no longer in flight.
            .filter_map(|(user, cycle)| Some((user, cycle?)))
            .collect();
        Ok(EngineActivity {
            processes,
            flood_waits,
            in_flight_count,
            in_flight,
        })
    }
}
