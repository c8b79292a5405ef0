//! `GET /api/admin/console/tenants`: tenants a page at a time (filtered by stored status and by
//! a piece of the id), each with what an operator acts on: status (CRASHED told apart from
//! running by the engine's liveness, as `/api/bot/status` does), sessions, next run, blocked
//! groups with their reasons, replacements in the last 24 h, counters. And a tenant's last hour
//! and log lines, `GET /api/admin/console/tenants/{user_id}/activity`. Reads only.

use axum::extract::{Path, Query, State};
use chrono::{DateTime, TimeDelta, Utc};
use herald_data::{BotStatus, User, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::activity::{MinuteView, tenant_minutes};
use crate::auth::Admin;
use crate::error::{ApiError, ErrorBody};
use crate::routes::bot_control::{intent, liveness};
use crate::state::AppState;

const PER_PAGE_DEFAULT: usize = 50;
const PER_PAGE_MAX: usize = 200;
/// Log lines read for a tenant's hour: seven sessions posting every five seconds write about
/// 5,000 lines an hour.
const LOG_LINES_READ: usize = 6_000;
const LOG_LINES_SHOWN: usize = 50;

#[derive(Debug, Deserialize, IntoParams)]
pub struct TenantQuery {
    /// From 1.
    page: Option<usize>,
    /// At most 200; 50 when absent.
    per_page: Option<usize>,
    /// running, stopping, stopped or suspended; all when absent or empty.
    status: Option<String>,
    /// A piece of the user id.
    q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BlockedView {
    group: String,
    reason: String,
    at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParkedSessionView {
    session: String,
    until: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantRow {
    user_id: String,
    /// running, stopping, stopped, suspended or crashed.
    status: String,
    /// running, sleeping or idle.
    cycle_state: String,
    sessions: Vec<String>,
    next_run_at: Option<DateTime<Utc>>,
    blocked_groups: Vec<BlockedView>,
    parked_sessions: Vec<ParkedSessionView>,
    replacements_today: usize,
    suspended_reason: Option<String>,
    posts: u64,
    success: u64,
    failures: u64,
    flood_waits: u64,
    last_activity: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantPage {
    success: bool,
    page: usize,
    per_page: usize,
    /// Tenants that match the filter.
    total: usize,
    pages: usize,
    tenants: Vec<TenantRow>,
}

fn status_filter(status: Option<&str>) -> Result<Option<BotStatus>, ApiError> {
    Ok(match status.unwrap_or("") {
        "" => None,
        "running" => Some(BotStatus::Running),
        "stopping" => Some(BotStatus::Stopping),
        "stopped" => Some(BotStatus::Stopped),
        "suspended" => Some(BotStatus::Suspended),
        other => {
            return Err(ApiError::bad_request(format!(
                "Invalid status {other:?}: expected running, stopping, stopped or suspended"
            )));
        }
    })
}

/// Herald's addition: a page of tenants for the operator's console.
#[utoipa::path(get, path = "/api/admin/console/tenants", tag = "console", params(TenantQuery),
    responses((status = 200, body = TenantPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn tenants(
    State(state): State<AppState>,
    _admin: Admin,
    Query(query): Query<TenantQuery>,
) -> Result<axum::Json<TenantPage>, ApiError> {
    let wanted = status_filter(query.status.as_deref())?;
    let per_page = query
        .per_page
        .unwrap_or(PER_PAGE_DEFAULT)
        .clamp(1, PER_PAGE_MAX);
    let page = query.page.unwrap_or(1).max(1);
    let needle = query.q.as_deref().unwrap_or("").trim();
    let users = state.inner.store.users_recent();
    let matching = users.users.iter().filter(|(id, u)| {
        wanted.is_none_or(|w| u.bot_status == w) && (needle.is_empty() || id.contains(needle))
    });
    let skip = (page - 1).saturating_mul(per_page);
    let (mut total, mut shown) = (0, Vec::with_capacity(per_page));
    for (id, user) in matching {
        if total >= skip && shown.len() < per_page {
            shown.push((id.clone(), user.clone()));
        }
        total += 1;
    }
    let now = Utc::now();
    let rows = futures::future::join_all(
        shown
            .into_iter()
            .map(|(id, user)| row(&state, id, user, now)),
    )
    .await;
    Ok(axum::Json(TenantPage {
        success: true,
        page,
        per_page,
        total,
        pages: total.div_ceil(per_page),
        tenants: rows,
    }))
}

async fn row(
    state: &AppState,
    id: String,
    user: std::sync::Arc<User>,
    now: DateTime<Utc>,
) -> TenantRow {
    let (status, cycle_state, next_run_at) = match UserId::parse(&id) {
        Ok(uid) => {
            let live = liveness(state, &uid, &user).await;
            let status = match (user.bot_status, live.status) {
                (BotStatus::Running | BotStatus::Stopping, "CRASHED") => "crashed",
                _ => intent(&user),
            };
            (status, live.cycle_state, live.next_run_at)
        }
        // An id the API would refuse cannot be asked about; shown as stored.
        Err(_) => (intent(&user), "idle", None),
    };
    let stats = state.inner.store.stats(&id);
    let day_ago = now - TimeDelta::hours(24);
    TenantRow {
        status: status.into(),
        cycle_state: cycle_state.into(),
        sessions: user.assigned_sessions.clone(),
        next_run_at,
        blocked_groups: user
            .blocked_groups
            .iter()
            .map(|b| BlockedView {
                group: b.group.clone(),
                reason: b.reason.clone(),
                at: b.at,
            })
            .collect(),
        parked_sessions: user
            .parked_sessions
            .iter()
            .filter(|(_, until)| **until > now)
            .map(|(session, until)| ParkedSessionView {
                session: session.clone(),
                until: *until,
            })
            .collect(),
        replacements_today: user.replacements.iter().filter(|at| **at > day_ago).count(),
        suspended_reason: user.suspended_reason.clone(),
        posts: stats.total_posts,
        success: stats.total_success,
        failures: stats.total_failures,
        flood_waits: stats.total_flood_waits,
        last_activity: stats.last_activity,
        user_id: id,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantActivity {
    success: bool,
    user_id: String,
    /// The last hour, a minute each, oldest first, counted from the tenant's log.
    minutes: Vec<MinuteView>,
    /// The log's last lines.
    log: Vec<String>,
}

/// Herald's addition: one tenant's last hour and log lines, for the operator's console.
#[utoipa::path(get, path = "/api/admin/console/tenants/{user_id}/activity", tag = "console", params(("user_id" = String, Path)),
    responses((status = 200, body = TenantActivity), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn tenant_activity(
    State(state): State<AppState>,
    _admin: Admin,
    Path(user_id): Path<String>,
) -> Result<axum::Json<TenantActivity>, ApiError> {
    let user = crate::routes::user_id(&user_id)?;
    state.tenant_record(&user)?;
    let mut lines = state.log_tail(&user, LOG_LINES_READ).await;
    let minutes = tenant_minutes(&lines, Utc::now());
    let log = lines.split_off(lines.len().saturating_sub(LOG_LINES_SHOWN));
    Ok(axum::Json(TenantActivity {
        success: true,
        user_id,
        minutes,
        log,
    }))
}
