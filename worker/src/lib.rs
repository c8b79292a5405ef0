//! Herald's worker: carries out start/stop commands and runs posting cycles. Any number of
//! replicas consume the same queue; coordination keeps them from stepping on each other.
//!
//! What it guarantees: a cycle runs under a lease on one worker at a time; each session under an
//! exclusive lease (never two connections); at most `max_sessions_per_user_concurrent` sessions of
//! one tenant active at once across all workers (a permit semaphore); Telegram's waits honoured;
//! every group one post per cycle, also when a cycle is resumed after its worker died; counters
//! through the data manager's batched `add_stats`, each attempt counted once. It writes state
//! only through the data manager and the session pool, and never decides from anything but the
//! Telegram error class.
//!
//! # Layout
//! - [`command`]: start / stop.
//! - `cycle`: one cycle from claim to finish, including resuming a dead worker's.
//! - `session_steps`, `session_run`, `connect`, `act`: one session's posts within a cycle (the
//!   steps' order; what each step does; its connection; acting on an outcome's decision).
//! - [`plan`], [`outcome`]: pure decisions (groups, sessions, pacing; what an error means).
//! - `delivery`: exactly one post and one count per group per cycle (checkpoint, random id,
//!   send, count, resume), read top to bottom.
//! - `holds`: leases and permits of running cycles, renewed together while the worker lives.
//! - `presence`: the worker's announcement of itself (the console's list of workers).
//! - `polled_span`: a step's span (tenant, cycle, session), made for each poll of the step so
//!   that none exists while a step waits.
//! - [`WorkerError`]: why a session's run ended early, as the tenant's log says it.
//! - [`TelegramHealthCheck`]: an admin's health check of a pool session, under its lease.

mod act;
pub mod command;
mod connect;
mod credentials;
mod cycle;
mod delivery;
mod error;
mod health_check;
mod holds;
pub mod outcome;
mod pause;
pub mod plan;
mod polled_span;
mod presence;
mod session_run;
mod session_steps;

use std::sync::Arc;
use std::time::Duration;

pub use error::WorkerError;
pub use health_check::TelegramHealthCheck;
use herald_data::Store;
use herald_jobs::{Command, Coordination, Cycle, Handler, HandlerError, handler};
use herald_sessions::Pool;
use herald_telegram::Telegram;
use tokio_util::sync::CancellationToken;

pub use outcome::OutcomePolicy;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This process's name (unique per process): holder of its leases.
    pub holder: String,
    /// `HERALD_MAX_SESSIONS_PER_USER_CONCURRENT`.
    pub max_sessions_per_user_concurrent: u32,
    /// `HERALD_MIN_DELAY_BETWEEN_POSTS` / `_CYCLES` (seconds).
    pub min_delay_between_posts: u64,
    pub min_delay_between_cycles: u64,
    /// Leases (cycle, permits, sessions) last this long without renewal.
    pub lease_ttl: Duration,
    pub renew_every: Duration,
    /// How often a session waiting for a permit or a session lease asks again (waits end on
    /// the clock's one-second grid).
    pub permit_poll: Duration,
    /// How long a finished cycle waits for its counters to be durable before it ends.
    pub flush_wait: Duration,
    pub policy: OutcomePolicy,
}

impl WorkerConfig {
    pub fn new(holder: impl Into<String>) -> WorkerConfig {
        WorkerConfig {
            holder: holder.into(),
            max_sessions_per_user_concurrent: 7,
            min_delay_between_posts: 5,
            min_delay_between_cycles: 60,
            lease_ttl: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
            permit_poll: Duration::from_secs(1),
            flush_wait: Duration::from_secs(10),
            policy: OutcomePolicy::default(),
        }
    }
}

/// A worker: cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    pool: Pool,
    coord: Coordination,
    telegram: Arc<dyn Telegram>,
    config: WorkerConfig,
    /// `config.holder`, shared by every cycle's claim instead of copied into each.
    holder: Arc<str>,
    credentials: credentials::CredentialCache,
    renewer: Arc<holds::Renewer>,
    /// Cancelled when the process shuts down: cycles stop between posts and give their claim back.
    shutdown: CancellationToken,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("holder", &self.inner.config.holder)
            .finish_non_exhaustive()
    }
}

impl Worker {
    pub fn new(
        store: Store,
        pool: Pool,
        coord: Coordination,
        telegram: Arc<dyn Telegram>,
        config: WorkerConfig,
        shutdown: CancellationToken,
    ) -> Worker {
        let renewer = holds::Renewer::start(coord.clone(), config.lease_ttl, config.renew_every);
        presence::start(
            coord.clone(),
            &config.holder,
            Arc::downgrade(&renewer),
            (config.renew_every, config.lease_ttl),
            shutdown.clone(),
        );
        Worker {
            inner: Arc::new(Inner {
                renewer,
                store,
                pool,
                coord,
                telegram,
                holder: Arc::from(config.holder.as_str()),
                config,
                credentials: credentials::CredentialCache::default(),
                shutdown,
            }),
        }
    }

    /// Carries out a start or stop and sends the outcome to whoever waits for it.
    pub async fn handle_command(&self, command: Command) -> Result<(), HandlerError> {
        command::handle(self, command).await
    }

    /// Runs (or resumes) one cycle; a duplicate or stale job returns at once.
    pub fn run_cycle(
        &self,
        cycle: Cycle,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + use<> {
        cycle::run(self.clone(), cycle)
    }

    /// Queue handlers for [`herald_jobs::Queue::consume`].
    pub fn handlers(&self) -> (Handler<Command>, Handler<Cycle>) {
        let (a, b) = (self.clone(), self.clone());
        (
            handler(move |c: Command| {
                let worker = a.clone();
                async move { worker.handle_command(c).await }
            }),
            // The cycle's own future, not one around it: each running bot holds it.
            handler(move |c: Cycle| b.run_cycle(c)),
        )
    }
}
