//! Coordination state shared by Herald's processes: leases, the per-user permit semaphore, the
//! schedule (`next_run_at`), cycles in flight and their checkpoints, session pauses, liveness and
//! command replies. One API, two backends: Redis for several processes, memory for one, each
//! implementing the [`backend`] traits (leases, cycles, notices) in files of its own.
//!
//! All of it may expire or be lost (a Redis restart): durable truth lives in the data files.
//! What is lost with it: which bots are scheduled (the scheduler then stops every bot, as after a
//! restart), leases (they were about to expire anyway) and checkpoints of cycles in flight (a
//! cycle re-run after losing its checkpoint could post a group twice; only a Redis restart in
//! the middle of a cycle does that). Methods never block on a lock held across an await.

mod backend;
mod memory;
mod packed;
mod presence;
mod redis;
mod reply;
mod types;
mod zset;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use self::backend::{Cycles, Leases, Notices};
use crate::JobsError;
use crate::command::CommandReply;
use crate::cycle::Cycle;

pub use self::presence::{Presence, Role};
pub use self::redis::RedisConfig;
pub use self::reply::ReplyWaiter;
pub use self::types::{
    CancelOutcome, Claim, CoordConfig, CycleState, Hold, InFlight, LEADER_KEY, Liveness, Name,
};

/// Handle to the coordination state; cheap to clone.
#[derive(Debug, Clone)]
pub struct Coordination {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Memory(Arc<memory::Memory>),
    Redis(Arc<redis::RedisCoord>),
}

/// Calls the backend's implementation of one of the [`backend`] traits' methods (awaited,
/// unless `sync`). A match rather than a `dyn` call, so each backend's future keeps its own
/// `Send`. The Redis backend's future is boxed: it holds a command being built and sent (about
/// 250 bytes for a checkpoint's write) and, inline, it would widen every future that calls
/// coordination, among them the post step every running bot holds while it posts
/// (BENCHMARKS.md, cost); one allocation is nothing beside a round trip to Redis.
macro_rules! delegate {
    ($self:ident, sync $method:ident ( $($arg:expr),* )) => {
        match &$self.backend {
            Backend::Memory(m) => m.$method($($arg),*),
            Backend::Redis(r) => r.$method($($arg),*),
        }
    };
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match &$self.backend {
            Backend::Memory(m) => m.$method($($arg),*).await,
            Backend::Redis(r) => Box::pin(r.$method($($arg),*)).await,
        }
    };
}

impl Coordination {
    /// State in this process only (`herald all` without Redis, tests).
    pub fn in_memory(config: CoordConfig) -> Coordination {
        Coordination {
            backend: Backend::Memory(Arc::new(memory::Memory::new(config))),
        }
    }

    /// State in Redis, shared by every process pointed at it. Fails with a clear error if Redis
    /// does not answer.
    pub async fn redis(redis: RedisConfig, config: CoordConfig) -> Result<Coordination, JobsError> {
        Ok(Coordination {
            backend: Backend::Redis(Arc::new(redis::RedisCoord::connect(redis, config).await?)),
        })
    }

    pub fn is_redis(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    // ---- leases ----

    /// Takes or renews an exclusive lease; true when `holder` holds it now.
    pub async fn lease_acquire(
        &self,
        key: impl Name,
        holder: impl Name,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        delegate!(self, lease_acquire(key, holder, ttl))
    }

    /// Extends a held lease; false if it was lost.
    pub async fn lease_renew(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        delegate!(self, lease_renew(key, holder, ttl))
    }

    /// Renews many holds in one go (one lock, or one Redis round trip) by `ttl`: for each, in
    /// order, whether it was still held (a refused one is not taken back).
    pub async fn renew_holds(&self, holds: &[Hold], ttl: Duration) -> Result<Vec<bool>, JobsError> {
        delegate!(self, renew_holds(holds, ttl))
    }

    pub async fn lease_release(&self, key: &str, holder: &str) -> Result<(), JobsError> {
        delegate!(self, lease_release(key, holder))
    }

    /// When the lease's holder last renewed it (the scheduler leader's heartbeat).
    pub async fn lease_renewed_at(&self, key: &str) -> Result<Option<DateTime<Utc>>, JobsError> {
        delegate!(self, lease_renewed_at(key))
    }

    // ---- counting semaphore ----

    /// Takes one of `limit` permits under `key` (idempotent per holder); false when all are taken.
    pub async fn permit_acquire(
        &self,
        key: impl Name,
        holder: impl Name,
        limit: u32,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        delegate!(self, permit_acquire(key, holder, limit, ttl))
    }

    pub async fn permit_renew(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        delegate!(self, permit_renew(key, holder, ttl))
    }

    pub async fn permit_release(&self, key: &str, holder: &str) -> Result<(), JobsError> {
        delegate!(self, permit_release(key, holder))
    }

    pub async fn permit_count(&self, key: &str) -> Result<u32, JobsError> {
        delegate!(self, permit_count(key))
    }

    // ---- schedule ----

    /// Sets the user's `next_run_at` and wakes a waiting scheduler.
    pub async fn schedule(&self, user: &str, at: DateTime<Utc>) -> Result<(), JobsError> {
        delegate!(self, schedule(user, at))
    }

    pub async fn unschedule(&self, user: &str) -> Result<bool, JobsError> {
        delegate!(self, unschedule(user))
    }

    pub async fn next_run(&self, user: &str) -> Result<Option<DateTime<Utc>>, JobsError> {
        delegate!(self, next_run(user))
    }

    pub async fn earliest(&self) -> Result<Option<DateTime<Utc>>, JobsError> {
        delegate!(self, earliest())
    }

    /// Returns when the schedule changes or after `max`, whichever is first. Meant for one waiter
    /// (the scheduler): a change while nobody waits is remembered, so it is never missed.
    pub async fn wait_for_change(&self, max: Duration) {
        delegate!(self, wait_for_change(max))
    }

    /// Atomically moves up to `limit` due users from the schedule to "in flight", each with its
    /// next cycle number. Work is proportional to the users due.
    pub async fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Cycle>, JobsError> {
        delegate!(self, take_due(now, limit))
    }

    /// Removes every user from the schedule (after a restart every bot is stopped).
    pub async fn clear_schedule(&self) -> Result<(), JobsError> {
        delegate!(self, clear_schedule())
    }

    // ---- cycles in flight ----

    pub async fn claim_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: impl Name,
        ttl: Duration,
    ) -> Result<Claim, JobsError> {
        delegate!(self, claim_cycle(user, cycle_no, holder, ttl))
    }

    pub async fn renew_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        delegate!(self, renew_cycle(user, cycle_no, holder, ttl))
    }

    /// Ends a cycle: out of flight, checkpoint deleted, and scheduled at `next_run_at` if given
    /// and no stop came while it ran ([`Coordination::cancel`]). False if `holder` no longer
    /// owned it (nothing changed).
    pub async fn finish_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Result<bool, JobsError> {
        delegate!(self, finish_cycle(user, cycle_no, holder, next_run_at))
    }

    /// Gives up a claim without finishing (graceful shutdown): the scheduler re-emits the cycle at
    /// once and its checkpoint is kept for whoever resumes it.
    pub async fn release_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
    ) -> Result<(), JobsError> {
        delegate!(self, release_cycle(user, cycle_no, holder))
    }

    /// In-flight cycles whose claim deadline passed (never claimed, or holder gone): their
    /// deadline is pushed out by the claim timeout, their holder cleared, and they are returned
    /// with the same cycle number for the scheduler to emit again.
    pub async fn take_stalled(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Cycle>, JobsError> {
        delegate!(self, take_stalled(now, limit))
    }

    pub async fn in_flight(&self, user: &str) -> Result<Option<InFlight>, JobsError> {
        delegate!(self, in_flight(user))
    }

    pub async fn in_flight_count(&self) -> Result<u64, JobsError> {
        delegate!(self, in_flight_count())
    }

    /// Stop: takes the user off the schedule if it is there, and says whether a cycle is running.
    /// A running cycle is marked so that its finish schedules no next one, whenever it ends:
    /// a stop that comes while the cycle decides its next run is not undone by that decision.
    pub async fn cancel(&self, user: &str) -> Result<CancelOutcome, JobsError> {
        delegate!(self, cancel(user))
    }

    /// Start: withdraws a stop asked of the cycle in flight, so that its finish schedules the
    /// next one; with no cycle in flight, makes one due at `at` unless one is scheduled. One
    /// step, so a cycle finishing meanwhile never leaves a started bot with nothing scheduled.
    pub async fn resume(&self, user: &str, at: DateTime<Utc>) -> Result<(), JobsError> {
        delegate!(self, resume(user, at))
    }

    // ---- checkpoints ----

    pub async fn checkpoint_put(
        &self,
        user: &str,
        cycle_no: u64,
        key: &str,
        value: &str,
    ) -> Result<(), JobsError> {
        delegate!(self, checkpoint_put(user, cycle_no, key, value))
    }

    pub async fn checkpoint_get_all(
        &self,
        user: &str,
        cycle_no: u64,
    ) -> Result<Vec<(String, String)>, JobsError> {
        delegate!(self, checkpoint_get_all(user, cycle_no))
    }

    // ---- session pauses ----

    /// The session posts nothing before `until` (the later of this and any earlier pause).
    pub async fn pause_session(
        &self,
        session: &str,
        until: DateTime<Utc>,
    ) -> Result<(), JobsError> {
        delegate!(self, pause_session(session, until))
    }

    pub async fn session_paused_until(
        &self,
        session: &str,
    ) -> Result<Option<DateTime<Utc>>, JobsError> {
        delegate!(self, session_paused_until(session))
    }

    /// Sessions waiting out a pause now, soonest first.
    pub async fn paused_sessions(&self) -> Result<Vec<(String, DateTime<Utc>)>, JobsError> {
        delegate!(self, paused_sessions())
    }

    // ---- presence (who runs: the console's and the metrics' view) ----

    /// Records a process's announcement (see [`Presence`]).
    pub async fn announce(&self, presence: &Presence) -> Result<(), JobsError> {
        delegate!(self, announce(presence))
    }

    /// The processes whose last announcement has not lapsed: schedulers first, leader first.
    pub async fn presences(&self) -> Result<Vec<Presence>, JobsError> {
        delegate!(self, presences())
    }

    /// Up to `limit` users with a cycle in flight, earliest claim deadline first.
    pub async fn in_flight_users(&self, limit: usize) -> Result<Vec<String>, JobsError> {
        delegate!(self, in_flight_users(limit))
    }

    // ---- liveness ----

    pub async fn liveness(&self, user: &str, leader_key: &str) -> Result<Liveness, JobsError> {
        let in_flight = self.in_flight(user).await?;
        let next_run_at = self.next_run(user).await?;
        let (cycle_state, last_heartbeat) = match (in_flight, next_run_at) {
            (Some(cycle), _) => (CycleState::Running, cycle.last_renewed_at),
            (None, Some(_)) => (
                CycleState::Sleeping,
                self.lease_renewed_at(leader_key).await?,
            ),
            (None, None) => (CycleState::Idle, None),
        };
        Ok(Liveness {
            cycle_state,
            last_heartbeat,
            next_run_at,
        })
    }

    // ---- command replies ----

    pub async fn reply(&self, reply: &CommandReply) -> Result<(), JobsError> {
        delegate!(self, reply(reply))
    }

    /// Registers interest in a reply before the command is sent; await the returned waiter.
    pub fn expect_reply(&self, request_id: &str) -> ReplyWaiter {
        let (tx, rx) = tokio::sync::oneshot::channel();
        delegate!(self, sync register_waiter(request_id, tx));
        ReplyWaiter {
            coord: self.clone(),
            request_id: request_id.to_owned(),
            rx,
        }
    }

    async fn stored_reply(&self, request_id: &str) -> Result<Option<CommandReply>, JobsError> {
        delegate!(self, stored_reply(request_id))
    }

    fn forget_waiter(&self, request_id: &str) {
        delegate!(self, sync forget_waiter(request_id))
    }

    // ---- epoch ----

    /// Who last led the scheduler while this coordination state lived; `None` after it was lost.
    pub async fn epoch(&self) -> Result<Option<String>, JobsError> {
        delegate!(self, epoch())
    }

    pub async fn set_epoch(&self, holder: &str) -> Result<(), JobsError> {
        delegate!(self, set_epoch(holder))
    }
}
