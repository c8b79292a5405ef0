//! Start and stop. Start refuses a tenant with nothing to post or nowhere to post it, assigns
//! sessions if the tenant has none (the pool refuses cleanly when none can be had), marks the bot
//! running and makes its first cycle due now; a refused start consumes no session. Stop takes the bot
//! off the schedule; with a cycle in flight it is `stopping` until that cycle ends, else
//! `stopped` at once. Both are idempotent, and commands of one tenant run one at a time across
//! all workers (a short lease), so a start and a stop never interleave.

use std::sync::Arc;
use std::time::Duration;

use herald_data::{BotStatus, ExecutionMode, Level, UserId};
use herald_jobs::{
    CancelOutcome, Command, CommandAction, CommandOutcome, CommandReply, HandlerError,
    RefusalReason, clock,
};
use herald_sessions::SessionsError;

use crate::{Worker, cycle, plan};

const COMMAND_LEASE: Duration = Duration::from_secs(30);
/// The old backend's window for starter mode when the tenant gives none.
const DEFAULT_STARTER_MINUTES: u32 = 60;

/// In a span naming the tenant and the request, so every line the command logs names both.
#[tracing::instrument(name = "command", level = "error", skip_all, fields(user.id = %command.user_id, request = %command.request_id))]
pub(crate) async fn handle(worker: &Worker, command: Command) -> Result<(), HandlerError> {
    let w = &worker.inner;
    let outcome = match UserId::parse(&command.user_id) {
        Err(reason) => refused(RefusalReason::Invalid, reason),
        Ok(user) => {
            let lease = format!("command:{user}");
            let holder = format!("{}/{}", w.config.holder, command.request_id);
            if !acquire(worker, &lease, &holder).await {
                return Err(HandlerError::Retry {
                    after: Duration::from_secs(1),
                    reason: "another command of this tenant is running".into(),
                });
            }
            let outcome = match &command.action {
                CommandAction::Start {
                    sessions_wanted,
                    execution_mode,
                    total_cycle_minutes,
                } => {
                    start(
                        worker,
                        &user,
                        *sessions_wanted,
                        *execution_mode,
                        *total_cycle_minutes,
                    )
                    .await
                }
                CommandAction::Stop => stop(worker, &user).await,
            };
            let _ = w.coord.lease_release(&lease, &holder).await;
            outcome
        }
    };
    tracing::info!(outcome = ?outcome, "command handled");
    let reply = CommandReply {
        request_id: command.request_id,
        outcome,
    };
    w.coord
        .reply(&reply)
        .await
        .map_err(|e| HandlerError::Retry {
            after: Duration::from_secs(1),
            reason: format!("cannot send the reply: {e}"),
        })
}

async fn acquire(worker: &Worker, lease: &str, holder: &str) -> bool {
    for _ in 0..50 {
        if let Ok(true) = worker
            .inner
            .coord
            .lease_acquire(lease, holder, COMMAND_LEASE)
            .await
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

fn refused(reason: RefusalReason, message: impl Into<String>) -> CommandOutcome {
    CommandOutcome::Refused {
        reason,
        message: message.into(),
    }
}

/// Judged as the first cycle will judge it, with the mode this start sets, before any session
/// is consumed: a bot that could only skip its cycles is not started.
fn check_work(
    worker: &Worker,
    record: &herald_data::User,
    mode: Option<ExecutionMode>,
) -> Result<(), CommandOutcome> {
    let mut planned = record.clone();
    if let Some(mode) = mode {
        planned.execution_mode = mode;
    }
    let plan_groups = match crate::cycle::plan_groups(worker, &planned) {
        Ok(groups) => groups,
        Err(err) => {
            tracing::error!(error = %err, "cannot read the plan's group file");
            return Err(refused(
                RefusalReason::Internal,
                "Could not start the bot; try again",
            ));
        }
    };
    plan::work_of(&Arc::new(planned), &plan_groups)
        .map(|_| ())
        .map_err(|why| refused(RefusalReason::Invalid, why.to_string()))
}

/// Why the pool gave the tenant no sessions, as the start's answer says it.
fn pool_refusal(err: SessionsError) -> CommandOutcome {
    match err {
        SessionsError::NoSessions { reason } => {
            tracing::warn!(reason, "start refused: no session");
            refused(
                RefusalReason::NoSessions,
                format!("No sessions available: {reason}"),
            )
        }
        SessionsError::Suspended { reason } => refused(
            RefusalReason::Suspended,
            format!("Bot is suspended: {reason}"),
        ),
        SessionsError::UserNotFound => refused(RefusalReason::UserNotFound, "User not found"),
        err => {
            tracing::error!(error = %err, "start failed");
            refused(RefusalReason::Internal, "Could not start the bot")
        }
    }
}

async fn start(
    worker: &Worker,
    user: &UserId,
    wanted: Option<u32>,
    mode: Option<ExecutionMode>,
    minutes: Option<u32>,
) -> CommandOutcome {
    let w = &worker.inner;
    let Some(record) = w.store.user(user.as_str()) else {
        return refused(RefusalReason::UserNotFound, "User not found");
    };
    if let Err(refusal) = check_work(worker, &record, mode) {
        return refusal;
    }
    let assignment = match w.pool.ensure_sessions(user, wanted).await {
        Ok(assignment) => assignment,
        Err(err) => return pool_refusal(err),
    };
    let updated = w
        .store
        .update_user(user, move |u| {
            u.bot_status = BotStatus::Running;
            if let Some(mode) = mode {
                u.execution_mode = mode;
            }
            if let Some(minutes) = minutes.filter(|m| *m > 0) {
                u.total_cycle_minutes = Some(minutes);
            }
            if u.execution_mode == ExecutionMode::Starter && u.total_cycle_minutes.is_none() {
                u.total_cycle_minutes = Some(DEFAULT_STARTER_MINUTES);
            }
            Ok::<_, ()>(u.execution_mode)
        })
        .await;
    let execution_mode = match updated {
        Ok(mode) => mode,
        Err(err) => {
            tracing::error!(error = ?err, "cannot mark the bot running");
            return refused(RefusalReason::Internal, "Could not start the bot");
        }
    };
    // First cycle due now, unless one is running (a stop asked of it is withdrawn) or already
    // scheduled: a second start is harmless.
    if let Err(err) = w.coord.resume(user.as_str(), clock::now()).await {
        tracing::error!(error = %err, "cannot schedule the first cycle");
        return refused(
            RefusalReason::Internal,
            "Could not schedule the bot; try again",
        );
    }
    w.store.log(
        user,
        Level::Info,
        &format!(
            "Bot started with {} session(s), {} mode",
            assignment.sessions.len(),
            execution_mode.as_str()
        ),
    );
    CommandOutcome::Running {
        sessions: assignment.sessions,
        execution_mode,
    }
}

async fn stop(worker: &Worker, user: &UserId) -> CommandOutcome {
    let w = &worker.inner;
    if w.store.user(user.as_str()).is_none() {
        return refused(RefusalReason::UserNotFound, "User not found");
    }
    let in_flight = match w.coord.cancel(user.as_str()).await {
        Ok(CancelOutcome::InFlight) => true,
        Ok(_) => false,
        Err(err) => {
            tracing::error!(error = %err, "cannot stop the bot");
            return refused(RefusalReason::Internal, "Could not stop the bot; try again");
        }
    };
    let status = if in_flight {
        BotStatus::Stopping
    } else {
        BotStatus::Stopped
    };
    let updated = w
        .store
        .update_user(user, move |u| {
            // A suspension stays a suspension; stopping a stopped bot changes nothing.
            if u.bot_status != BotStatus::Suspended && u.bot_status != BotStatus::Stopped {
                u.bot_status = status;
            }
            Ok::<_, ()>(u.bot_status)
        })
        .await;
    match updated {
        Ok(BotStatus::Stopping) => {
            // The cycle may have ended since the cancel, reading `running` before this write:
            // then nothing else would ever make the bot `stopped`. (Its end may have just done
            // it too: either way the bot is stopped.)
            if cycle_has_ended(worker, user).await {
                cycle::mark_stopped(worker, user).await;
                if w.store.user(user.as_str()).map(|u| u.bot_status) == Some(BotStatus::Stopped) {
                    return CommandOutcome::Stopped;
                }
            }
            w.store.log(
                user,
                Level::Info,
                "Bot stopping: the current cycle finishes first",
            );
            CommandOutcome::Stopping
        }
        Ok(_) => {
            w.store.log(user, Level::Info, "Bot stopped");
            CommandOutcome::Stopped
        }
        Err(err) => {
            tracing::error!(error = ?err, "cannot mark the bot stopped");
            refused(RefusalReason::Internal, "Could not stop the bot; try again")
        }
    }
}

/// Whether no cycle of the tenant is in flight any more. One that ended after the stop's
/// cancel scheduled nothing (`Coordination::cancel`). Unknown counts as running: the bot stays
/// `stopping`, which a second stop ends.
async fn cycle_has_ended(worker: &Worker, user: &UserId) -> bool {
    match worker.inner.coord.in_flight(user.as_str()).await {
        Ok(in_flight) => in_flight.is_none(),
        Err(err) => {
            tracing::error!(error = %err, "cannot tell whether the stopped bot's cycle has ended");
            false
        }
    }
}
