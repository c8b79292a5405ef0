//! The values coordination hands out and takes: what a claim or a cancel found, a cycle in
//! flight, a bot's liveness, the holds a worker renews, the names it passes, and the tunables.
//! Plain data: nothing here talks to a backend.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The outcome of [`Coordination::claim_cycle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This holder now owns the cycle under a lease.
    Claimed,
    /// Another live holder owns it: drop the job.
    HeldByOther,
    /// The cycle is finished or superseded: drop the job.
    NotInFlight,
}

/// A cycle in flight, as [`Coordination::in_flight`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub cycle_no: u64,
    pub holder: Option<String>,
    pub last_renewed_at: Option<DateTime<Utc>>,
    pub due_at: DateTime<Utc>,
}

/// What [`Coordination::cancel`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The user was scheduled and no longer is.
    WasScheduled,
    /// A cycle is running; it ends by itself.
    InFlight,
    /// Neither scheduled nor running.
    Idle,
}

/// The lease every scheduler competes for; its renewal time is also the heartbeat of every
/// sleeping bot (the API reads it for [`Coordination::liveness`]).
pub const LEADER_KEY: &str = "scheduler";

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
    /// As the status routes show it (`cycle_state`).
    pub fn as_str(self) -> &'static str {
        match self {
            CycleState::Running => "running",
            CycleState::Sleeping => "sleeping",
            CycleState::Idle => "idle",
        }
    }
}

/// What the API needs to tell RUNNING from CRASHED, and when the bot posts next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    pub cycle_state: CycleState,
    /// The last sign of life of whoever is responsible for the bot now: the cycle's last lease
    /// renewal (running), or the scheduler's (sleeping).
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// When its next cycle is due, if it is scheduled.
    pub next_run_at: Option<DateTime<Utc>>,
}

/// Something a worker holds in coordination and keeps only by renewing it before its ttl lapses.
/// Its names are shared strings: a cycle's holds are cloned into every renewal round, and a
/// session's permit and lease name the same holder (BENCHMARKS.md, cost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// The claim on a cycle in flight ([`Coordination::claim_cycle`]).
    Cycle {
        user: Arc<str>,
        cycle_no: u64,
        holder: Arc<str>,
    },
    /// One permit of a counting semaphore ([`Coordination::permit_acquire`]).
    Permit { key: Arc<str>, holder: Arc<str> },
    /// An exclusive lease ([`Coordination::lease_acquire`]).
    Lease { key: Arc<str>, holder: Arc<str> },
}

/// A key or a holder's name as a caller passes it: a plain string, or one it shares already (a
/// [`Hold`]'s), which the in-memory backend keeps as it is rather than copying it into each
/// record (BENCHMARKS.md, cost).
pub trait Name {
    fn as_str(&self) -> &str;
    fn to_shared(&self) -> Arc<str>;
}

impl Name for &str {
    fn as_str(&self) -> &str {
        self
    }
    fn to_shared(&self) -> Arc<str> {
        Arc::from(*self)
    }
}

impl Name for &String {
    fn as_str(&self) -> &str {
        self
    }
    fn to_shared(&self) -> Arc<str> {
        Arc::from(self.as_str())
    }
}

impl Name for &Arc<str> {
    fn as_str(&self) -> &str {
        self
    }
    fn to_shared(&self) -> Arc<str> {
        Arc::clone(self)
    }
}

/// Tunables shared by both backends.
#[derive(Debug, Clone)]
pub struct CoordConfig {
    /// How long an emitted cycle may wait for a worker's claim, or a claimed one for its lease's
    /// renewal, before the scheduler emits it again.
    pub claim_timeout: Duration,
    /// How long checkpoints and replies survive at most (a safety net; normally deleted).
    pub checkpoint_ttl: Duration,
    pub reply_ttl: Duration,
}

impl Default for CoordConfig {
    fn default() -> Self {
        CoordConfig {
            claim_timeout: Duration::from_secs(30),
            checkpoint_ttl: Duration::from_secs(2 * 24 * 3600),
            reply_ttl: Duration::from_secs(60),
        }
    }
}
