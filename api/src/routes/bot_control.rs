//! Start, stop and what the bot is doing. Start and stop go to a worker as a command and answer
//! with its outcome when it comes within `command_wait`, else 202. RUNNING / STOPPED / CRASHED
//! is derived from the stored intent and the engine's liveness: a bot whose cycle runs, or that
//! sleeps under a live scheduler, is RUNNING however long its cycle; CRASHED only when nobody
//! vouches for it within `heartbeat_ttl`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use herald_data::{BotStatus, User, UserId};
use herald_jobs::{CommandAction, CommandOutcome, CycleState, RefusalReason};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Tenant, plan_allows_start};
use crate::body::optional;
use crate::error::{ApiError, ErrorBody};
use crate::routes::bot_config::{MAX_DELAY, parse_mode};
use crate::state::AppState;
use crate::tenants::mode_for_plan;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StartRequest {
    /// `starter` or `enterprise`; defaults to the plan's (`plan_limits.plan_type`) or the stored one.
    #[schema(pattern = "^(starter|enterprise)$")]
    execution_mode: Option<String>,
    /// Starter mode: spread a cycle's posts over this many minutes (at most a week).
    #[schema(minimum = 1, maximum = 10_080)]
    total_cycle_minutes: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StartResponse {
    success: bool,
    message: String,
    /// `running`, or `starting` (202) when the worker has not answered yet.
    status: String,
    /// Sessions the bot runs with.
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_mode: Option<String>,
}

/// Starts the caller's bot: sessions are assigned if it has none, the first cycle is due now.
#[utoipa::path(post, path = "/api/bot/start", tag = "bot", request_body(content = Option<StartRequest>),
    responses((status = 200, body = StartResponse), (status = 202, body = StartResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn start(
    State(state): State<AppState>,
    tenant: Tenant,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: StartRequest = optional(&body)?;
    plan_allows_start(&tenant.claims)?;
    if let Some(reason) = state.inner.store.read_only() {
        return Err(ApiError::from(herald_data::DataError::ReadOnly { reason }));
    }
    let user = state.tenant_record(&tenant.user)?;
    let limits = tenant.claims.plan_limits.clone().unwrap_or_default();
    let mode = match &request.execution_mode {
        Some(mode) => Some(parse_mode(mode)?),
        None => limits.plan_type.as_deref().map(mode_for_plan),
    };
    if request.total_cycle_minutes == Some(0) {
        return Err(ApiError::bad_request(
            "total_cycle_minutes must be greater than 0",
        ));
    }
    // Like the delays, at most a week: a longer window (u32 minutes reach 8,000 years) would
    // leave a running bot that never posts.
    if request
        .total_cycle_minutes
        .is_some_and(|m| u64::from(m) * 60 > MAX_DELAY)
    {
        return Err(ApiError::bad_request(format!(
            "total_cycle_minutes must be at most {} (a week)",
            MAX_DELAY / 60
        )));
    }
    let command = CommandAction::Start {
        sessions_wanted: limits.max_sessions,
        execution_mode: mode,
        total_cycle_minutes: request.total_cycle_minutes,
    };
    let outcome = state
        .inner
        .engine
        .command(&tenant.user, command, state.inner.config.command_wait)
        .await
        .map_err(ApiError::engine_unavailable)?;
    match outcome {
        Some(CommandOutcome::Running {
            sessions,
            execution_mode,
        }) => Ok(axum::Json(StartResponse {
            success: true,
            message: "Bot started".into(),
            status: "running".into(),
            sessions: Some(sessions.len()),
            execution_mode: Some(execution_mode.as_str().into()),
        })
        .into_response()),
        Some(CommandOutcome::Refused { reason, message }) => Err(refusal(reason, message)),
        Some(other) => Err(ApiError::internal(format!(
            "unexpected answer to start: {other:?}"
        ))),
        None => Ok((
            StatusCode::ACCEPTED,
            axum::Json(StartResponse {
                success: true,
                message: "Bot is starting".into(),
                status: "starting".into(),
                sessions: None,
                execution_mode: Some(mode.unwrap_or(user.execution_mode).as_str().into()),
            }),
        )
            .into_response()),
    }
}

fn refusal(reason: RefusalReason, message: String) -> ApiError {
    match reason {
        RefusalReason::NoSessions => ApiError::new(StatusCode::CONFLICT, "no_sessions", message),
        RefusalReason::Suspended => ApiError::new(StatusCode::CONFLICT, "suspended", message),
        RefusalReason::UserNotFound => ApiError::user_not_found(),
        RefusalReason::Invalid => ApiError::bad_request(message),
        RefusalReason::Internal => ApiError::unavailable(message),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StopResponse {
    success: bool,
    message: String,
    /// `stopping` while the cycle in flight finishes, then `stopped`.
    status: String,
}

/// Stops the caller's bot after the cycle in flight.
#[utoipa::path(post, path = "/api/bot/stop", tag = "bot",
    responses((status = 200, body = StopResponse), (status = 202, body = StopResponse), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn stop(State(state): State<AppState>, tenant: Tenant) -> Result<Response, ApiError> {
    state.tenant_record(&tenant.user)?;
    let outcome = state
        .inner
        .engine
        .command(
            &tenant.user,
            CommandAction::Stop,
            state.inner.config.command_wait,
        )
        .await
        .map_err(ApiError::engine_unavailable)?;
    let (code, message, status) = match outcome {
        Some(CommandOutcome::Stopped) => (StatusCode::OK, "Bot stopped", "stopped"),
        Some(CommandOutcome::Stopping) => (
            StatusCode::OK,
            "Bot stopping: the current cycle finishes first",
            "stopping",
        ),
        Some(CommandOutcome::Refused { reason, message }) => return Err(refusal(reason, message)),
        Some(other) => {
            return Err(ApiError::internal(format!(
                "unexpected answer to stop: {other:?}"
            )));
        }
        None => (StatusCode::ACCEPTED, "Bot is stopping", "stopping"),
    };
    Ok((
        code,
        axum::Json(StopResponse {
            success: true,
            message: message.into(),
            status: status.into(),
        }),
    )
        .into_response())
}

/// What the status routes show about liveness.
pub(crate) struct Liveness {
    pub(crate) status: &'static str,
    pub(crate) is_fresh: bool,
    pub(crate) last_heartbeat: Option<DateTime<Utc>>,
    pub(crate) cycle_state: &'static str,
    pub(crate) next_run_at: Option<DateTime<Utc>>,
}

pub(crate) async fn liveness(state: &AppState, user_id: &UserId, user: &User) -> Liveness {
    let view = match state.inner.engine.liveness(user_id).await {
        Ok(view) => Some(view),
        Err(err) => {
            tracing::warn!(user.id = %user_id, error = %err, "cannot see the engine; the bot's liveness is unknown");
            None
        }
    };
    let last_heartbeat = view.as_ref().and_then(|v| v.last_heartbeat);
    let ttl = chrono::Duration::from_std(state.inner.config.heartbeat_ttl)
        .unwrap_or(chrono::Duration::seconds(30));
    let is_fresh = last_heartbeat.is_some_and(|at| Utc::now() - at < ttl);
    let intends_to_run = matches!(user.bot_status, BotStatus::Running | BotStatus::Stopping);
    let cycle_state = view.as_ref().map_or(CycleState::Idle, |v| v.cycle_state);
    let status = match (intends_to_run, is_fresh && cycle_state != CycleState::Idle) {
        (false, _) => "STOPPED",
        (true, true) => "RUNNING",
        (true, false) => "CRASHED",
    };
    Liveness {
        status,
        is_fresh,
        last_heartbeat,
        cycle_state: cycle_state.as_str(),
        next_run_at: view.and_then(|v| v.next_run_at),
    }
}

pub(crate) fn intent(user: &User) -> &'static str {
    match user.bot_status {
        BotStatus::Stopped => "stopped",
        BotStatus::Running => "running",
        BotStatus::Stopping => "stopping",
        BotStatus::Suspended => "suspended",
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusResponse {
    success: bool,
    /// RUNNING, STOPPED or CRASHED.
    status: String,
    /// The stored bot_status.
    intent: String,
    is_active: bool,
    is_fresh: bool,
    last_heartbeat: Option<DateTime<Utc>>,
    /// running, sleeping or idle.
    cycle_state: String,
    sessions: usize,
    groups: usize,
    messages_sent: u64,
    total_success: u64,
    total_failures: u64,
}

/// The caller's bot status (RUNNING / STOPPED / CRASHED) and counters.
#[utoipa::path(get, path = "/api/bot/status", tag = "bot",
    responses((status = 200, body = StatusResponse), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn status(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<axum::Json<StatusResponse>, ApiError> {
    let user = state.tenant_record(&tenant.user)?;
    let live = liveness(&state, &tenant.user, &user).await;
    let stats = state.inner.store.stats(tenant.user.as_str());
    Ok(axum::Json(StatusResponse {
        success: true,
        status: live.status.into(),
        intent: intent(&user).into(),
        is_active: live.status == "RUNNING",
        is_fresh: live.is_fresh,
        last_heartbeat: live.last_heartbeat,
        cycle_state: live.cycle_state.into(),
        sessions: user.assigned_sessions.len(),
        groups: user.groups.len(),
        messages_sent: stats.total_messages_sent,
        total_success: stats.total_success,
        total_failures: stats.total_failures,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StateStats {
    total_messages_sent: u64,
    total_success: u64,
    total_failures: u64,
    total_flood_waits: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StateResponse {
    success: bool,
    status: String,
    intent: String,
    is_active: bool,
    is_fresh: bool,
    last_heartbeat: Option<DateTime<Utc>>,
    cycle_state: String,
    /// Running but unable to post (no session, group or post).
    is_idle: bool,
    last_error_reason: Option<String>,
    post_type: String,
    post_content: String,
    groups: Vec<String>,
    sessions: usize,
    stats: StateStats,
}

/// The caller's bot state, configuration and counters.
#[utoipa::path(get, path = "/api/bot/state", tag = "bot",
    responses((status = 200, body = StateResponse), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn bot_state(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<axum::Json<StateResponse>, ApiError> {
    let user = state.tenant_record(&tenant.user)?;
    let live = liveness(&state, &tenant.user, &user).await;
    let stats = state.inner.store.stats(tenant.user.as_str());
    let unable = if user.assigned_sessions.is_empty() {
        Some("No sessions assigned")
    } else if user.groups.is_empty() {
        Some("No groups configured")
    } else if user.post_content.is_empty() {
        Some("No post content configured")
    } else {
        None
    };
    let last_error_reason = match live.status {
        "CRASHED" => Some("Worker crashed or stopped unexpectedly".to_owned()),
        _ if user.bot_status == BotStatus::Suspended => user.suspended_reason.clone(),
        _ if stats.total_success == 0 && stats.total_failures > 0 => {
            Some(unable.unwrap_or("Execution failures detected").to_owned())
        }
        _ => None,
    };
    Ok(axum::Json(StateResponse {
        success: true,
        status: live.status.into(),
        intent: intent(&user).into(),
        is_active: live.status == "RUNNING",
        is_fresh: live.is_fresh,
        last_heartbeat: live.last_heartbeat,
        cycle_state: live.cycle_state.into(),
        is_idle: live.status == "RUNNING" && unable.is_some(),
        last_error_reason,
        post_type: user.post_type.as_str().into(),
        post_content: user.post_content.clone(),
        groups: user.groups.clone(),
        sessions: user.assigned_sessions.len(),
        stats: StateStats {
            total_messages_sent: stats.total_messages_sent,
            total_success: stats.total_success,
            total_failures: stats.total_failures,
            total_flood_waits: stats.total_flood_waits,
        },
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LogsQuery {
    /// Lines from the end, 1 to 1000 (default 100).
    lines: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogsData {
    adbot_id: String,
    logs: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogsResponse {
    success: bool,
    data: LogsData,
}

/// The caller's own log, whatever bot id the path names (the id is echoed back); 404 for a
/// tenant Herald has not seen.
#[utoipa::path(get, path = "/api/bot/logs/{id}", tag = "bot", params(("id" = String, Path, description = "the frontend's bot id"), LogsQuery),
    responses((status = 200, body = LogsResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn logs(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<axum::Json<LogsResponse>, ApiError> {
    state.tenant_record(&tenant.user)?;
    let lines = query.lines.unwrap_or(100).clamp(1, 1000);
    let logs = state.log_tail(&tenant.user, lines).await;
    Ok(axum::Json(LogsResponse {
        success: true,
        data: LogsData { adbot_id: id, logs },
    }))
}
