//! `/api/sync/state`: everything the frontend's dashboard needs in one call, served from the data
//! manager's cached copies, the engine's liveness and the log's tail; no data file is parsed.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::routes::bot_control::{intent, liveness};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct BlockedGroupView {
    group: String,
    reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncUser {
    bot_status: String,
    is_active: bool,
    assigned_sessions: Vec<String>,
    api_pairs: Vec<u32>,
    groups: Vec<String>,
    post_type: String,
    post_content: String,
    delay_between_posts: u64,
    delay_between_cycles: u64,
    banned_sessions: Vec<String>,
    execution_mode: String,
    /// Herald's addition: when the next cycle is due.
    next_run_at: Option<DateTime<Utc>>,
    /// Herald's addition: groups no session of this tenant posts to any more, and why.
    blocked_groups: Vec<BlockedGroupView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncStats {
    total_posts: u64,
    total_success: u64,
    total_failures: u64,
    total_flood_waits: u64,
    total_messages_sent: u64,
    /// Percent of attempts that succeeded, two decimals.
    success_rate: f64,
    last_activity: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResponse {
    success: bool,
    user: SyncUser,
    stats: SyncStats,
    /// The last 100 lines of the tenant's log, as one string.
    logs: String,
}

/// The caller's whole dashboard state.
#[utoipa::path(get, path = "/api/sync/state", tag = "sync",
    responses((status = 200, body = SyncResponse), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn sync_state(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<axum::Json<SyncResponse>, ApiError> {
    let user = state.tenant_record(&tenant.user)?;
    let live = liveness(&state, &tenant.user, &user).await;
    let stats = state.inner.store.stats(tenant.user.as_str());
    let mut logs = state.log_tail(&tenant.user, 100).await.join("\n");
    if !logs.is_empty() {
        logs.push('\n');
    }
    Ok(axum::Json(SyncResponse {
        success: true,
        user: SyncUser {
            bot_status: intent(&user).into(),
            is_active: live.status == "RUNNING",
            assigned_sessions: user.assigned_sessions.clone(),
            api_pairs: user.api_pairs.clone(),
            groups: user.groups.clone(),
            post_type: user.post_type.as_str().into(),
            post_content: user.post_content.clone(),
            delay_between_posts: user.delay_between_posts,
            delay_between_cycles: user.delay_between_cycles,
            banned_sessions: user.banned_sessions.clone(),
            execution_mode: user.execution_mode.as_str().into(),
            next_run_at: live.next_run_at,
            blocked_groups: user
                .blocked_groups
                .iter()
                .map(|b| BlockedGroupView {
                    group: b.group.clone(),
                    reason: b.reason.clone(),
                })
                .collect(),
        },
        stats: SyncStats {
            total_posts: stats.total_posts,
            total_success: stats.total_success,
            total_failures: stats.total_failures,
            total_flood_waits: stats.total_flood_waits,
            total_messages_sent: stats.total_messages_sent,
            success_rate: stats.success_rate(),
            last_activity: stats.last_activity,
        },
        logs,
    }))
}
