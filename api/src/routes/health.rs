//! Health, without a token (the old frontend's admin dashboard calls all of these): `/health`
//! for load balancers, `/api/health` for the whole service (503 when degraded), `/api/bot/health`
//! for the pool's numbers. Never a secret or a path in an answer.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_data::BotStatus;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Ok {
    ok: bool,
}

/// Liveness of this API process.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Ok)))]
pub async fn ok() -> axum::Json<Ok> {
    axum::Json(Ok { ok: true })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceHealth {
    /// healthy, read_only or degraded.
    status: String,
    scheduler_running: bool,
    active_users: usize,
    read_only_mode: bool,
    read_only_reason: Option<String>,
}

/// The service: data files writable, engine reachable, a scheduler leading.
#[utoipa::path(get, path = "/api/health", tag = "health", responses((status = 200, body = ServiceHealth), (status = 503, body = ServiceHealth)))]
pub async fn service(State(state): State<AppState>) -> Response {
    let read_only_reason = state.inner.store.read_only();
    let engine = state.inner.engine.health().await;
    let scheduler_running = engine.as_ref().is_ok_and(|h| h.scheduler_running);
    let active_users = state
        .inner
        .store
        .users()
        .users
        .values()
        .filter(|u| u.bot_status == BotStatus::Running)
        .count();
    let (status, code) = match (&engine, &read_only_reason) {
        (Err(err), _) => {
            tracing::warn!(error = %err, "health: the engine is unreachable");
            ("degraded", StatusCode::SERVICE_UNAVAILABLE)
        }
        (Ok(_), _) if !scheduler_running => ("degraded", StatusCode::SERVICE_UNAVAILABLE),
        (Ok(_), Some(_)) => ("read_only", StatusCode::OK),
        (Ok(_), None) => ("healthy", StatusCode::OK),
    };
    let body = ServiceHealth {
        status: status.into(),
        scheduler_running,
        active_users,
        read_only_mode: read_only_reason.is_some(),
        read_only_reason,
    };
    (code, axum::Json(body)).into_response()
}

/// The same as `/api/health` (the old frontend calls both spellings).
#[utoipa::path(get, path = "/api/health/", tag = "health", responses((status = 200, body = ServiceHealth), (status = 503, body = ServiceHealth)))]
pub async fn service_slash(state: State<AppState>) -> Response {
    service(state).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PoolHealth {
    active_sessions: usize,
    banned_sessions: usize,
    last_cycle_time: Option<chrono::DateTime<chrono::Utc>>,
    last_error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BotHealth {
    success: bool,
    health: PoolHealth,
}

/// Sessions of running bots, banned sessions, and the latest activity of any tenant.
#[utoipa::path(get, path = "/api/bot/health", tag = "health", responses((status = 200, body = BotHealth)))]
pub async fn bots(State(state): State<AppState>) -> axum::Json<BotHealth> {
    let users = state.inner.store.users_recent();
    let active_sessions = users
        .users
        .values()
        .filter(|u| u.bot_status == BotStatus::Running)
        .map(|u| u.assigned_sessions.len())
        .sum();
    let banned_sessions = users
        .users
        .values()
        .map(|u| u.banned_sessions.len())
        .sum::<usize>()
        + users.unowned_bans.len();
    let last_cycle_time = state
        .inner
        .store
        .all_stats()
        .users
        .values()
        .filter_map(|s| s.last_activity)
        .max();
    let last_error = state.inner.store.read_only();
    axum::Json(BotHealth {
        success: true,
        health: PoolHealth {
            active_sessions,
            banned_sessions,
            last_cycle_time,
            last_error,
        },
    })
}
