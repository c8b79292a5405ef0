//! The operator's plan group files (`data/groups/<plan>_groups.txt`) for admins: list, change
//! (replace, add, remove) and validate. Groups are checked with the Telegram layer's parse.

use axum::extract::{Query, State};
use herald_data::Plan;
use herald_post::Target;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::body::Body;
use crate::error::{ApiError, ErrorBody};
use crate::routes::bot_config::check_groups;
use crate::state::AppState;

fn plan(plan_type: &str) -> Result<Plan, ApiError> {
    match plan_type.to_ascii_uppercase().as_str() {
        "STARTER" => Ok(Plan::Starter),
        "ENTERPRISE" => Ok(Plan::Enterprise),
        _ => Err(ApiError::bad_request(
            "plan_type must be STARTER or ENTERPRISE",
        )),
    }
}

fn plan_name(plan: Plan) -> &'static str {
    match plan {
        Plan::Starter => "STARTER",
        Plan::Enterprise => "ENTERPRISE",
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PlanQuery {
    /// STARTER or ENTERPRISE.
    #[param(pattern = "^(STARTER|ENTERPRISE)$")]
    plan_type: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupsListResponse {
    success: bool,
    plan_type: String,
    groups: Vec<String>,
    count: usize,
    /// Relative to the data directory.
    file_path: String,
    file_exists: bool,
    file_size: u64,
}

/// A plan's groups.
#[utoipa::path(get, path = "/api/admin/groups/list", tag = "admin", params(PlanQuery),
    responses((status = 200, body = GroupsListResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<PlanQuery>,
) -> Result<axum::Json<GroupsListResponse>, ApiError> {
    let plan = plan(&q.plan_type)?;
    let file = state.inner.store.plan_groups(plan)?;
    Ok(axum::Json(GroupsListResponse {
        success: true,
        plan_type: plan_name(plan).into(),
        count: file.groups.len(),
        groups: file.groups.to_vec(),
        file_path: plan.relative_path(),
        file_exists: file.exists,
        file_size: file.size,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupsUpdateRequest {
    /// STARTER or ENTERPRISE.
    #[schema(pattern = "^(STARTER|ENTERPRISE)$")]
    plan_type: String,
    #[schema(max_items = 1000)]
    groups: Vec<String>,
    /// replace, add or remove.
    #[schema(pattern = "^(replace|add|remove)$")]
    action: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupsUpdateResponse {
    success: bool,
    plan_type: String,
    action: String,
    groups: Vec<String>,
    count: usize,
    added: usize,
    removed: usize,
}

/// Replaces, extends or trims a plan's group file (atomically).
#[utoipa::path(post, path = "/api/admin/groups/update", tag = "admin", request_body = GroupsUpdateRequest,
    responses((status = 200, body = GroupsUpdateResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    Body(r): Body<GroupsUpdateRequest>,
) -> Result<axum::Json<GroupsUpdateResponse>, ApiError> {
    let plan = plan(&r.plan_type)?;
    let given = check_groups(&r.groups)?;
    let current = state.inner.store.plan_groups(plan)?.groups.to_vec();
    let next: Vec<String> = match r.action.as_str() {
        "replace" => dedup(given),
        "add" => dedup(current.iter().cloned().chain(given).collect()),
        "remove" => current
            .iter()
            .filter(|g| !given.contains(g))
            .cloned()
            .collect(),
        _ => {
            return Err(ApiError::bad_request(
                "action must be replace, add or remove",
            ));
        }
    };
    let added = next.iter().filter(|g| !current.contains(g)).count();
    let removed = current.iter().filter(|g| !next.contains(g)).count();
    let store = state.inner.store.clone();
    let written = next.clone();
    tokio::task::spawn_blocking(move || store.write_plan_groups(plan, &written))
        .await
        .map_err(ApiError::internal)??;
    Ok(axum::Json(GroupsUpdateResponse {
        success: true,
        plan_type: plan_name(plan).into(),
        action: r.action,
        count: next.len(),
        groups: next,
        added,
        removed,
    }))
}

fn dedup(groups: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    groups
        .into_iter()
        .filter(|g| seen.insert(g.clone()))
        .collect()
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ValidateRequest {
    #[schema(max_items = 10_000)]
    groups: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvalidGroup {
    index: usize,
    group: String,
    error: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidateResponse {
    success: bool,
    valid_count: usize,
    invalid_count: usize,
    valid: Vec<String>,
    invalid: Vec<InvalidGroup>,
}

/// Says which groups are acceptable, and why the others are not.
#[utoipa::path(post, path = "/api/admin/groups/validate", tag = "admin", request_body = ValidateRequest,
    responses((status = 200, body = ValidateResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn validate(
    _admin: Admin,
    Body(r): Body<ValidateRequest>,
) -> Result<axum::Json<ValidateResponse>, ApiError> {
    if r.groups.len() > 10_000 {
        return Err(ApiError::bad_request("At most 10000 groups per validation"));
    }
    let (mut valid, mut invalid) = (Vec::new(), Vec::new());
    for (index, group) in r.groups.into_iter().enumerate() {
        match Target::parse(&group) {
            Ok(_) => valid.push(group.trim().to_owned()),
            Err(err) => invalid.push(InvalidGroup {
                index,
                group,
                error: err.to_string(),
            }),
        }
    }
    Ok(axum::Json(ValidateResponse {
        success: true,
        valid_count: valid.len(),
        invalid_count: invalid.len(),
        valid,
        invalid,
    }))
}
