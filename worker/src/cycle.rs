//! One cycle, from claim to finish. The cycle's lease (and every permit and session lease it
//! takes) is renewed while the worker lives; a resumed cycle re-counts what a dead worker counted
//! but never flushed, skips what it posted, and never posts a group whose send was in doubt. At
//! the end the counters are made durable before the cycle is finished and the next one scheduled
//! (`end + delay_between_cycles`), or the bot is `stopped` if a stop came meanwhile.

use std::sync::{Arc, Mutex};

use chrono::Utc;
use futures::FutureExt;
use herald_data::{BotStatus, ExecutionMode, FlushTicket, Level, Plan, UserId};
use herald_jobs::{Claim, Cycle, HandlerError, clock};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::delivery::Checkpoints;
use crate::holds::{Holds, Renewing};
use crate::polled_span::in_polled_span;
use crate::session_run::{SessionCtx, SessionJob, Tally};
use crate::{Worker, plan};

/// How a cycle ended for this worker.
enum Ending {
    /// Ran to its end: finish it, scheduling the next at this time (or not at all).
    Finished(Option<chrono::DateTime<Utc>>),
    /// Interrupted by shutdown: give the claim back so another worker resumes it now.
    Released,
    /// Another worker took it over: leave it alone.
    Lost,
}

/// The highest flush ticket of this worker's counts in one cycle.
#[derive(Debug, Default)]
pub(crate) struct Tickets(Mutex<Option<FlushTicket>>);

impl Tickets {
    pub(crate) fn note(&self, ticket: &FlushTicket) {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if last.as_ref().is_none_or(|t| t.seq < ticket.seq) {
            *last = Some(ticket.clone());
        }
    }

    fn last(&self) -> Option<FlushTicket> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A claimed cycle: who runs it and what its end needs. Boxed while its sessions post, so that
/// what waits between two posts is a pointer to it (BENCHMARKS.md, cost).
struct Claimed {
    worker: Worker,
    user: UserId,
    cycle_no: u64,
    started: std::time::Instant,
    holds: Arc<Holds>,
    lost: CancellationToken,
    /// Only a takeover abandons a send in flight; a shutdown lets it end and count.
    taken_over: CancellationToken,
    /// Renewed by the worker's one renewal task, with every other running cycle's holds, until
    /// this cycle ends: one timer and one batch of calls for all, not a loop per running bot.
    renewing: Renewing,
}

/// The cycle: claimed, prepared, its sessions run, finished. Every step but the sessions' runs
/// is boxed: a waiting cycle's future is as big as its biggest await, and these (Redis round
/// trips, file reads) would otherwise set that size for every running bot.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps each argument twice, as argument and local, for as long as it runs"
)]
pub(crate) fn run(
    worker: Worker,
    cycle: Cycle,
) -> impl Future<Output = Result<(), HandlerError>> + Send + 'static {
    async move {
        let in_span = || span(&cycle);
        let Some(claimed) = Box::pin(in_polled_span(in_span, claim(&worker, &cycle))).await? else {
            return Ok(());
        };
        let ending = match Box::pin(in_polled_span(in_span, prepare(&claimed))).await {
            Ok(mut work) => {
                let tally = run_sessions(&work.ctx, &mut work.jobs).await;
                let finish = finish(&claimed, &work.tickets, work.pause, tally);
                Box::pin(in_polled_span(in_span, finish)).await
            }
            Err(ending) => ending,
        };
        Box::pin(in_polled_span(in_span, claimed.end(ending))).await;
        Ok(())
    }
}

/// The span a step of the cycle runs in, so each line it logs names the tenant and the cycle.
/// Made for each poll of a step (`polled_span`), not held across its waits (a cycle's finish
/// waits for its counts to be durable) nor for the whole cycle. The sessions' runs have spans of
/// their own (`session_steps`). At ERROR level, as every span that names a tenant: a span's
/// level decides whether it exists at all, and the lines it frames must name their tenant under
/// any log filter an operator keeps.
fn span(cycle: &Cycle) -> tracing::Span {
    tracing::error_span!("cycle", user.id = %cycle.user_id, cycle = cycle.cycle_no)
}

/// Claims the cycle and registers its holds for renewal; `None` when it is not this worker's
/// to run (claimed elsewhere, stale, or already running here).
async fn claim(worker: &Worker, cycle: &Cycle) -> Result<Option<Box<Claimed>>, HandlerError> {
    let w = &worker.inner;
    let Ok(user) = UserId::parse(&cycle.user_id) else {
        return Err(HandlerError::Abort {
            reason: format!("cycle for an unusable user id '{}'", cycle.user_id),
        });
    };
    match w
        .coord
        .claim_cycle(user.as_str(), cycle.cycle_no, &w.holder, w.config.lease_ttl)
        .await
    {
        Ok(Claim::Claimed) => {}
        Ok(_) => return Ok(None),
        Err(err) => {
            // The scheduler emits it again once the claim deadline passes.
            tracing::warn!(error = %err, "cannot claim a cycle");
            return Ok(None);
        }
    }
    let started = std::time::Instant::now();
    let lost = w.shutdown.child_token();
    let taken_over = CancellationToken::new();
    let holds = Holds::new(
        w.coord.clone(),
        user.as_str(),
        cycle.cycle_no,
        w.holder.clone(),
        lost.clone(),
        taken_over.clone(),
    );
    let Some(renewing) = w.renewer.register(holds.clone()) else {
        // Delivered twice (re-emitted while it waited in the queue), and this process's claim
        // succeeds each time: the run already going on is the one.
        tracing::debug!("cycle already running here");
        return Ok(None);
    };
    Ok(Some(Box::new(Claimed {
        worker: worker.clone(),
        user,
        cycle_no: cycle.cycle_no,
        started,
        holds,
        lost,
        taken_over,
        renewing,
    })))
}

impl Claimed {
    /// Stops the renewal and ends the claim as the cycle ended.
    async fn end(self: Box<Self>, ending: Ending) {
        let Claimed {
            worker,
            user,
            cycle_no,
            started,
            renewing,
            ..
        } = *self;
        drop(renewing);
        let (w, holder) = (&worker.inner, &worker.inner.config.holder);
        let result = match ending {
            Ending::Finished(next) => {
                let finished = w
                    .coord
                    .finish_cycle(user.as_str(), cycle_no, holder, next)
                    .await;
                // A stop asked while the cycle ran kept the finish from scheduling the next
                // one. Read after the finish: a stop whose `stopping` lands later finds no cycle
                // in flight and marks the bot stopped itself (`command::stop`).
                if let Ok(true) = finished
                    && w.store.user(user.as_str()).map(|u| u.bot_status)
                        == Some(BotStatus::Stopping)
                {
                    mark_stopped(&worker, &user).await;
                }
                finished.map(|_| ())
            }
            Ending::Released => w.coord.release_cycle(user.as_str(), cycle_no, holder).await,
            Ending::Lost => Ok(()),
        };
        if let Err(err) = result {
            tracing::warn!(error = %err, "cannot end the cycle; the scheduler will re-emit it");
        }
        metrics::histogram!("herald_cycle_duration_seconds")
            .record(started.elapsed().as_secs_f64());
    }
}

/// The operator's groups for the tenant's execution mode (empty when the file has none). An
/// unreadable file is an error, never "no plan groups": the tenant's own groups would then be
/// posted to in the plan's place.
pub(crate) fn plan_groups(
    worker: &Worker,
    record: &herald_data::User,
) -> Result<Arc<Vec<String>>, herald_data::DataError> {
    let plan_file = match record.execution_mode {
        ExecutionMode::Starter => Plan::Starter,
        ExecutionMode::Enterprise => Plan::Enterprise,
    };
    Ok(worker.inner.store.plan_groups(plan_file)?.groups)
}

/// What a cycle found to do: its sessions' jobs and what they share.
struct Work {
    ctx: Arc<SessionCtx>,
    jobs: Vec<SessionJob>,
    tickets: Arc<Tickets>,
    pause: std::time::Duration,
}

/// Reads the tenant's record, plan and checkpoints and splits the groups among the sessions;
/// the cycle's ending instead when there is nothing to post.
///
/// Long because it is the cycle's preconditions in the order they are judged (record, status,
/// plan, sessions, checkpoints), each an early ending, kept in one place to be read at once.
async fn prepare(claimed: &Claimed) -> Result<Box<Work>, Ending> {
    let Claimed {
        worker,
        user,
        cycle_no,
        holds,
        lost,
        taken_over,
        ..
    } = claimed;
    let cycle_no = *cycle_no;
    let w = &worker.inner;
    let Some(record) = w.store.user(user.as_str()) else {
        return Err(Ending::Finished(None));
    };
    match record.bot_status {
        BotStatus::Running => {}
        BotStatus::Stopping => return Err(Box::pin(stopped_now(worker, user)).await),
        _ => return Err(Ending::Finished(None)),
    }
    let pause = plan::cycle_pause(&record, w.config.min_delay_between_cycles);
    // Nothing to post this cycle: said in the tenant's log, and the next one comes as usual.
    let skipped = |why: &dyn std::fmt::Display| {
        w.store.log(
            user,
            Level::Warning,
            &format!("Cycle {cycle_no} skipped: {why}"),
        );
        Ending::Finished(Some(clock::now() + pause))
    };
    let plan_groups = match plan_groups(worker, &record) {
        Ok(groups) => groups,
        Err(err) => {
            tracing::error!(error = %err, "cannot read the plan's group file");
            return Err(skipped(&"the operator's group file cannot be read"));
        }
    };
    let (post, groups) = match plan::work_of(&record, &plan_groups) {
        Ok(work) => work,
        Err(why) => return Err(skipped(&why)),
    };
    let sessions = plan::usable_sessions(&record, clock::now());
    if sessions.is_empty() {
        return Err(skipped(&"no usable session (all parked or banned)"));
    }
    let checkpoints = Checkpoints {
        worker,
        user,
        cycle_no,
    };
    let entries = match checkpoints.resume().await {
        Ok(entries) => entries,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the cycle's checkpoint; retrying later");
            return Err(Ending::Released);
        }
    };
    // The groups' names stay in the record or the plan file the cycle shares; its jobs name
    // them by position.
    let jobs = plan::session_jobs(&groups, sessions, &entries);
    let tickets = Arc::new(Tickets::default());
    let ctx = Arc::new(SessionCtx {
        worker: worker.clone(),
        user: user.clone(),
        record,
        cycle_no,
        post,
        holds: holds.clone(),
        lost: lost.clone(),
        taken_over: taken_over.clone(),
        tickets: tickets.clone(),
        entries,
        groups,
    });
    Ok(Box::new(Work {
        ctx,
        jobs,
        tickets,
        pause,
    }))
}

/// Runs each session's share and adds up what they did. A lone session runs in this task
/// rather than in one of its own: one task less per running bot (memory with 10,000 bots,
/// BENCHMARKS.md). A panic is contained as a spawned run's would be.
async fn run_sessions(ctx: &Arc<SessionCtx>, jobs: &mut Vec<SessionJob>) -> Tally {
    let mut tally = Tally::default();
    if jobs.len() == 1 {
        // The job moves into its run, and the list's buffer goes now rather than when the
        // cycle ends.
        let Some(job) = std::mem::take(jobs).pop() else {
            return tally;
        };
        let run = ctx.clone().run(job);
        match std::panic::AssertUnwindSafe(run).catch_unwind().await {
            Ok(t) => tally.add(&t),
            Err(_) => tracing::error!(user.id = %ctx.user, "a session run panicked"),
        }
        return tally;
    }
    let mut runs = JoinSet::new();
    for job in jobs.drain(..) {
        runs.spawn(ctx.clone().run(job));
    }
    while let Some(run) = runs.join_next().await {
        match run {
            Ok(t) => tally.add(&t),
            Err(err) => {
                tracing::error!(user.id = %ctx.user, error = %err, "a session run panicked")
            }
        }
    }
    tally
}

/// After the session runs: the counters made durable (or left queued, said), the cycle logged,
/// and how it ends.
async fn finish(
    claimed: &Claimed,
    tickets: &Tickets,
    pause: std::time::Duration,
    tally: Tally,
) -> Ending {
    let Claimed {
        worker,
        user,
        cycle_no,
        lost,
        ..
    } = claimed;
    let w = &worker.inner;
    if lost.is_cancelled() {
        return if w.shutdown.is_cancelled() {
            Ending::Released
        } else {
            Ending::Lost
        };
    }
    if let Some(ticket) = tickets.last()
        && tokio::time::timeout(
            w.config.flush_wait,
            // The next cycle is due after `pause`: a bot that runs cycles back to back hurries
            // the flush rather than waiting out the interval.
            w.store.wait_flushed(&ticket, pause),
        )
        .await
        .is_err()
    {
        tracing::warn!("counters not yet durable at the end of the cycle; they stay queued");
    }
    w.store.log(
        user,
        Level::Info,
        &format!(
            "Cycle {cycle_no} finished: {} sent, {} failed, {} skipped",
            tally.sent, tally.failed, tally.skipped
        ),
    );
    metrics::counter!("herald_cycles_total").increment(1);
    match w.store.user(user.as_str()).map(|u| u.bot_status) {
        // A stop asked of this cycle, before this read or after it, keeps the finish from
        // scheduling the next one (`Coordination::cancel`); the end then marks the bot stopped.
        Some(BotStatus::Running | BotStatus::Stopping) => {
            Ending::Finished(Some(clock::now() + pause))
        }
        _ => Ending::Finished(None),
    }
}

/// A stop came while the cycle ran (or before it started): the bot is now stopped.
async fn stopped_now(worker: &Worker, user: &UserId) -> Ending {
    mark_stopped(worker, user).await;
    Ending::Finished(None)
}

/// A `stopping` bot becomes `stopped`; any other status stays.
pub(crate) async fn mark_stopped(worker: &Worker, user: &UserId) {
    let stopped = worker
        .inner
        .store
        .update_user(user, |u| {
            let was_stopping = u.bot_status == BotStatus::Stopping;
            if was_stopping {
                u.bot_status = BotStatus::Stopped;
            }
            Ok::<_, ()>(was_stopping)
        })
        .await;
    match stopped {
        Ok(true) => worker.inner.store.log(user, Level::Info, "Bot stopped"),
        Ok(false) => {}
        Err(err) => tracing::error!(error = ?err, "cannot mark the bot stopped"),
    }
}
