//! Tenants for admins: lifting a suspension (Herald's addition).

use axum::extract::{Path, State};
use herald_data::UserId;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Admin;
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
    admin: Admin,
    Path(user_id): Path<String>,
) -> Result<axum::Json<UnsuspendResponse>, ApiError> {
    let user = UserId::parse(&user_id)
        .map_err(|e| ApiError::bad_request(format!("Invalid user_id: {e}")))?;
    let lifted = state.inner.pool.unsuspend(&user).await?;
    if lifted {
        tracing::info!(user.id = %user, admin = %admin.who(), "suspension lifted");
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
