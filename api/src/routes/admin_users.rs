//! Tenants for admins (Herald's additions): lifting a suspension, returning a stopped tenant's
//! sessions to the pool, unblocking a group. The console's buttons call these.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::body::Body;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct UnsuspendResponse {
    success: bool,
    message: String,
}

/// Lifts a suspension: the bot becomes stopped and its replacement budget starts afresh.
#[utoipa::path(post, path = "/api/admin/users/{user_id}/unsuspend", tag = "admin", params(("user_id" = String, Path)),
    responses((status = 200, body = UnsuspendResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn unsuspend(
    State(state): State<AppState>,
    _admin: Admin,
    Path(user_id): Path<String>,
) -> Result<axum::Json<UnsuspendResponse>, ApiError> {
    let user = super::user_id(&user_id)?;
    let lifted = state.inner.pool.unsuspend(&user).await?;
    if lifted {
        tracing::info!(user.id = %user, "suspension lifted");
        state.inner.store.log(
            &user,
            herald_data::Level::Info,
            "Suspension lifted by an admin; start the bot again",
        );
    }
    let message = if lifted {
        "Suspension lifted"
    } else {
        "User was not suspended"
    };
    Ok(axum::Json(UnsuspendResponse {
        success: true,
        message: message.into(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReleaseResponse {
    success: bool,
    message: String,
    /// The sessions returned to the pool.
    released: Vec<String>,
}

/// Herald's addition: returns a stopped (or suspended) tenant's sessions to the pool.
#[utoipa::path(post, path = "/api/admin/users/{user_id}/release", tag = "admin", params(("user_id" = String, Path)),
    responses((status = 200, body = ReleaseResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn release(
    State(state): State<AppState>,
    _admin: Admin,
    Path(user_id): Path<String>,
) -> Result<axum::Json<ReleaseResponse>, ApiError> {
    let user = super::user_id(&user_id)?;
    let released = state.inner.pool.release(&user).await?;
    tracing::info!(user.id = %user, sessions = released.len(), "sessions released");
    if !released.is_empty() {
        state.inner.store.log(
            &user,
            herald_data::Level::Info,
            &format!(
                "An admin returned {} session(s) to the pool; starting the bot assigns new ones",
                released.len()
            ),
        );
    }
    Ok(axum::Json(ReleaseResponse {
        success: true,
        message: format!("{} session(s) returned to the pool", released.len()),
        released,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UnblockRequest {
    /// The group as listed in the tenant's `blocked_groups`.
    group: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnblockResponse {
    success: bool,
    message: String,
}

/// Herald's addition: lets a tenant's sessions post to a blocked group again (from its next
/// cycle).
#[utoipa::path(post, path = "/api/admin/users/{user_id}/unblock-group", tag = "admin", params(("user_id" = String, Path)),
    request_body = UnblockRequest,
    responses((status = 200, body = UnblockResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn unblock_group(
    State(state): State<AppState>,
    _admin: Admin,
    Path(user_id): Path<String>,
    Body(request): Body<UnblockRequest>,
) -> Result<axum::Json<UnblockResponse>, ApiError> {
    let user = super::user_id(&user_id)?;
    let group = request.group.trim().to_owned();
    if group.is_empty() {
        return Err(ApiError::bad_request("group must not be empty"));
    }
    let unblocked = state.inner.pool.unblock_group(&user, &group).await?;
    if unblocked {
        tracing::info!(user.id = %user, group = %group, "group unblocked");
        state.inner.store.log(
            &user,
            herald_data::Level::Info,
            &format!("An admin unblocked {group}; it is posted to again from the next cycle"),
        );
    }
    let message = if unblocked {
        format!("{group} is posted to again from the next cycle")
    } else {
        format!("{group} was not blocked")
    };
    Ok(axum::Json(UnblockResponse {
        success: true,
        message,
    }))
}
