//! The scheduler: one active instance per deployment (a lease; others stand by and take over
//! when it lapses) turns due `next_run_at`s into cycle jobs.
//!
//! Each wake-up costs work in proportion to the users due, not to all users: due users move from
//! the schedule to "in flight" in one atomic step and are pushed to the queue in one round trip,
//! and cycles whose claim lapsed (a worker died) are emitted again. It sleeps until the earliest
//! `next_run_at` (at most `tick`) and is woken at once when a schedule changes, so a user due now
//! starts within milliseconds. On becoming leader after a restart or a takeover (coordination
//! state not its own), it stops every running bot in one write and says why in each tenant's log:
//! tenants start their bots again themselves. It never runs a cycle and never touches Telegram.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use herald_data::{BotStatus, Level, Store, UpdateError, UserId};
use herald_jobs::{Coordination, JobsError, Presence, Queue, Role, clock};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use herald_jobs::LEADER_KEY;

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// This process's name (unique per process).
    pub holder: String,
    /// `HERALD_TICK_MS`: the longest sleep between checks.
    pub tick: Duration,
    /// How long leadership lasts without renewal; a standby takes over after it.
    pub lease_ttl: Duration,
    /// How often cycles whose claim lapsed are looked for.
    pub stall_check: Duration,
    /// Cycles emitted per round trip.
    pub batch: usize,
}

impl SchedulerConfig {
    pub fn new(holder: impl Into<String>) -> SchedulerConfig {
        SchedulerConfig {
            holder: holder.into(),
            tick: Duration::from_millis(2000),
            lease_ttl: Duration::from_secs(10),
            stall_check: Duration::from_secs(1),
            batch: 1000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Jobs(#[from] JobsError),
    #[error("cannot stop the bots after a restart: {0}")]
    Data(#[source] herald_data::DataError),
}

#[derive(Debug, Clone)]
pub struct Scheduler {
    coord: Coordination,
    queue: Queue,
    store: Store,
    config: SchedulerConfig,
    /// The largest lag emitted since the last announcement, in ms plus one (0: none).
    lag_ms: Arc<AtomicU64>,
}

impl Scheduler {
    pub fn new(
        coord: Coordination,
        queue: Queue,
        store: Store,
        config: SchedulerConfig,
    ) -> Scheduler {
        Scheduler {
            coord,
            queue,
            store,
            config,
            lag_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Leads or stands by until `shutdown`; then gives leadership up so a standby takes over at
    /// once. Redis outages are waited out, never fatal. Its lines carry the scheduler's holder
    /// through its span (one for the run: a scheduler is one loop).
    #[tracing::instrument(name = "scheduler", level = "error", skip_all, fields(holder = %self.config.holder))]
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut leading = false;
        let mut renewed = Instant::now();
        let mut stall_checked = Instant::now();
        let mut presence =
            Presence::new(&self.config.holder, Role::Scheduler, self.config.lease_ttl);
        tracing::info!("scheduler started; competing for leadership");
        while !shutdown.is_cancelled() {
            if !leading || renewed.elapsed() >= self.config.lease_ttl / 3 {
                match self.lead(leading).await {
                    Ok(now_leading) => {
                        if now_leading {
                            renewed = Instant::now();
                        }
                        leading = now_leading;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "scheduler cannot reach coordination; retrying");
                        leading = false;
                    }
                }
                self.announce(&mut presence, leading).await;
            }
            if !leading {
                self.pause(self.config.lease_ttl / 3, &shutdown).await;
                continue;
            }
            let check_stalled = stall_checked.elapsed() >= self.config.stall_check;
            if check_stalled {
                stall_checked = Instant::now();
            }
            match self.step(check_stalled).await {
                Ok(Some(sleep)) => self.sleep(sleep, &shutdown).await,
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "scheduler step failed; retrying");
                    self.pause(Duration::from_millis(500), &shutdown).await;
                }
            }
        }
        if leading {
            let _ = self
                .coord
                .lease_release(LEADER_KEY, &self.config.holder)
                .await;
        }
        tracing::info!("scheduler stopped");
    }

    /// Says who this scheduler is, whether it leads and its largest lag since it last said so
    /// (the console's view; it guards nothing, so a failure is only logged).
    async fn announce(&self, presence: &mut Presence, leading: bool) {
        presence.leader = leading;
        presence.lag_ms = self.lag_ms.swap(0, Ordering::Relaxed).checked_sub(1);
        presence.seen(self.config.lease_ttl);
        if let Err(err) = self.coord.announce(presence).await {
            tracing::warn!(error = %err, "cannot announce this scheduler; trying again");
        }
    }

    /// Takes or keeps leadership; on taking it over, applies the restart rule.
    async fn lead(&self, leading: bool) -> Result<bool, SchedulerError> {
        let ttl = self.config.lease_ttl;
        let holder = &self.config.holder;
        if leading {
            if self.coord.lease_renew(LEADER_KEY, holder, ttl).await? {
                return Ok(true);
            }
            tracing::warn!("scheduler lost its leadership");
        }
        if !self.coord.lease_acquire(LEADER_KEY, holder, ttl).await? {
            return Ok(false);
        }
        if self.coord.epoch().await?.as_deref() != Some(holder.as_str()) {
            self.stop_all_bots().await?;
            self.coord.set_epoch(holder).await?;
        }
        tracing::info!("scheduler is now the leader");
        Ok(true)
    }

    /// The restart rule: every bot that was running or stopping becomes stopped, in one write.
    async fn stop_all_bots(&self) -> Result<(), SchedulerError> {
        self.coord.clear_schedule().await?;
        let stopped = self
            .store
            .update_users(|doc| {
                let mut stopped = Vec::new();
                for (id, user) in doc.users.iter_mut() {
                    if matches!(user.bot_status, BotStatus::Running | BotStatus::Stopping) {
                        std::sync::Arc::make_mut(user).bot_status = BotStatus::Stopped;
                        stopped.push(id.clone());
                    }
                }
                Ok::<_, std::convert::Infallible>(stopped)
            })
            .await
            .map_err(|e| match e {
                UpdateError::Data(err) => SchedulerError::Data(err),
                UpdateError::Rejected(never) => match never {},
            })?;
        for id in &stopped {
            tracing::warn!(user.id = %id, "bot stopped: Herald restarted; the tenant must start it again");
            if let Ok(user) = UserId::parse(id) {
                self.store.log(
                    &user,
                    Level::Warning,
                    "Bot stopped because Herald restarted; press start to run it again",
                );
            }
        }
        if !stopped.is_empty() {
            tracing::info!(
                bots = stopped.len(),
                "stopped every running bot after a restart"
            );
        }
        Ok(())
    }

    /// One pass: emits due (and, if asked, stalled) cycles. Returns how long to sleep, or `None`
    /// to go again at once (a full batch means more are due).
    pub async fn step(&self, check_stalled: bool) -> Result<Option<Duration>, SchedulerError> {
        let now = clock::now();
        let due = self.coord.take_due(now, self.config.batch).await?;
        if !due.is_empty() {
            self.queue.push_cycles(&due).await?;
            for cycle in &due {
                let lag = (now - cycle.due_at).to_std().unwrap_or_default();
                metrics::histogram!("herald_scheduler_lag_seconds").record(lag.as_secs_f64());
                let ms = u64::try_from(lag.as_millis()).unwrap_or(u64::MAX - 1);
                self.lag_ms.fetch_max(ms + 1, Ordering::Relaxed);
            }
            metrics::counter!("herald_cycles_emitted_total").increment(due.len() as u64);
        }
        if check_stalled {
            let stalled = self.coord.take_stalled(now, self.config.batch).await?;
            if !stalled.is_empty() {
                tracing::warn!(
                    cycles = stalled.len(),
                    "re-emitting cycles whose worker stopped answering"
                );
                self.queue.push_cycles(&stalled).await?;
                metrics::counter!("herald_cycles_reemitted_total").increment(stalled.len() as u64);
            }
        }
        if due.len() == self.config.batch {
            return Ok(None);
        }
        let until_next = match self.coord.earliest().await? {
            Some(at) => clock::until(at),
            None => self.config.tick,
        };
        Ok(Some(
            until_next
                .min(self.config.tick)
                .min(self.config.lease_ttl / 3),
        ))
    }

    /// Sleeps until the earliest due time, or until the schedule changes.
    async fn sleep(&self, max: Duration, shutdown: &CancellationToken) {
        if max.is_zero() {
            return;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            () = self.coord.wait_for_change(max) => {}
        }
    }

    async fn pause(&self, d: Duration, shutdown: &CancellationToken) {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            () = tokio::time::sleep(d) => {}
        }
    }
}
