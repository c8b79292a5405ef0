//! The admins' health check of pool sessions: each asked of the configured checker
//! ([`herald_sessions::SessionChecker`]) within the request's time, a bounded number at once.
//! It reports; it never moves or bans a session (the admin decides).

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use herald_sessions::{HealthReport, SessionHealth};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::admin_sessions::location;
use crate::auth::Admin;
use crate::body::Body;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct HealthCheckRequest {
    #[schema(max_items = 100)]
    session_filenames: Vec<String>,
}

/// Sessions checked at once by one health-check request.
const HEALTH_CHECKS_AT_ONCE: usize = 16;

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResult {
    /// active, banned, frozen or dead.
    status: String,
    /// Herald's addition: a running bot holds the session, so it was not connected a second
    /// time (Telegram kills a key used from two connections); `status` is `active`.
    in_use: bool,
    location: String,
    checked_at: DateTime<Utc>,
    /// Herald's addition: why, when not active (a session that did not answer in time is
    /// reported dead with that reason, since nothing shows it works).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthCheckResponse {
    success: bool,
    results: BTreeMap<String, HealthResult>,
}

/// Asks Telegram (through the configured backend, with a timeout) whether sessions still work:
/// up to 16 at once within the request's time, each under its session's lease (a session a
/// running bot holds is reported `in_use`, never connected twice) and with its bound API pair.
#[utoipa::path(post, path = "/api/admin/sessions/health-check", tag = "admin", request_body = HealthCheckRequest,
    responses((status = 200, body = HealthCheckResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn health_check(
    State(state): State<AppState>,
    _admin: Admin,
    Body(r): Body<HealthCheckRequest>,
) -> Result<axum::Json<HealthCheckResponse>, ApiError> {
    if r.session_filenames.len() > 100 {
        return Err(ApiError::bad_request(
            "At most 100 sessions per health check",
        ));
    }
    // Concurrently, within the request's own time: each check gets at most the configured
    // timeout and never more than what is left.
    let config = &state.inner.config;
    let deadline = tokio::time::Instant::now()
        + config
            .request_timeout
            .saturating_sub(std::time::Duration::from_secs(2));
    let checks = r.session_filenames.into_iter().map(|name| {
        let state = state.clone();
        async move {
            let located = state.inner.pool.locate(&name)?;
            let file = state.inner.pool.current_file(&name)?;
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let timeout = state.inner.config.health_check_timeout.min(left);
            let report = match file {
                None => HealthReport {
                    health: SessionHealth::Dead,
                    reason: Some("no session file".into()),
                },
                Some(path) => {
                    tokio::time::timeout(timeout, state.inner.checker.check(&name, &path))
                        .await
                        .unwrap_or_else(|_| HealthReport {
                            health: SessionHealth::Dead,
                            reason: Some(format!("no answer within {} s", timeout.as_secs())),
                        })
                }
            };
            let result = HealthResult {
                status: report.health.as_str().into(),
                in_use: report.health == SessionHealth::InUse,
                location: location(located.place.as_ref()),
                checked_at: Utc::now(),
                reason: report.reason,
            };
            Ok::<_, ApiError>((name, result))
        }
    });
    let results: BTreeMap<String, HealthResult> = futures::stream::iter(checks)
        .buffer_unordered(HEALTH_CHECKS_AT_ONCE)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    Ok(axum::Json(HealthCheckResponse {
        success: true,
        results,
    }))
}
