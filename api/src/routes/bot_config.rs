//! A tenant's configuration: register, execution mode, post, groups, delays. Validation is the
//! Telegram layer's parse (the same one the worker uses), and a refused change stores nothing.

use axum::body::Bytes;
use axum::extract::State;
use herald_data::{ExecutionMode, PostKind, User};
use herald_post::{Post, Target};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::Tenant;
use crate::body::{Body, optional};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::tenants::Registration;

/// Most groups one tenant may configure.
pub const MAX_GROUPS: usize = 1000;
/// Longest delay accepted, in seconds (a week).
pub(crate) const MAX_DELAY: u64 = 7 * 24 * 3600;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RegisterRequest {
    email: Option<String>,
    plan_status: Option<String>,
    /// An object (`max_sessions`, `plan_type`, ...), stored as given; anything else is refused
    /// rather than written into users.json where the frontend expects an object.
    #[schema(value_type = Option<Object>)]
    plan_limits: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    success: bool,
    message: String,
    user_id: String,
    /// `new` or `existing`.
    status: String,
}

/// Creates the caller's record with the old backend's defaults (an existing one is kept).
#[utoipa::path(post, path = "/api/bot/register-user", tag = "bot", request_body(content = Option<RegisterRequest>),
    responses((status = 200, body = RegisterResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn register_user(
    State(state): State<AppState>,
    tenant: Tenant,
    body: Bytes,
) -> Result<axum::Json<RegisterResponse>, ApiError> {
    let request: RegisterRequest = optional(&body)?;
    let from_token = Registration::from_claims(&tenant.claims);
    let registration = Registration {
        plan_status: request.plan_status.or(from_token.plan_status),
        plan_limits: request
            .plan_limits
            .map(Value::Object)
            .or(from_token.plan_limits),
        email: request.email,
    };
    let ((), created) = state
        .configure(&tenant.user, registration, |_| Ok(()))
        .await?;
    let (message, status) = if created {
        ("User registered", "new")
    } else {
        ("User already registered", "existing")
    };
    Ok(axum::Json(RegisterResponse {
        success: true,
        message: message.into(),
        user_id: tenant.user.to_string(),
        status: status.into(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ExecutionModeRequest {
    /// `starter` or `enterprise`.
    #[schema(pattern = "^(starter|enterprise)$")]
    execution_mode: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionModeResponse {
    success: bool,
    message: String,
    execution_mode: String,
}

pub(crate) fn parse_mode(mode: &str) -> Result<ExecutionMode, ApiError> {
    match mode {
        "starter" => Ok(ExecutionMode::Starter),
        "enterprise" => Ok(ExecutionMode::Enterprise),
        other => Err(ApiError::bad_request(format!(
            "Invalid execution_mode: {other}. Must be 'starter' or 'enterprise'"
        ))),
    }
}

/// Sets the caller's execution mode (registering the tenant first if Herald has not seen it).
#[utoipa::path(post, path = "/api/bot/update-execution-mode", tag = "bot", request_body = ExecutionModeRequest,
    responses((status = 200, body = ExecutionModeResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_execution_mode(
    State(state): State<AppState>,
    tenant: Tenant,
    Body(request): Body<ExecutionModeRequest>,
) -> Result<axum::Json<ExecutionModeResponse>, ApiError> {
    let mode = request
        .execution_mode
        .ok_or_else(|| ApiError::bad_request("execution_mode is required in request body"))?;
    let mode = parse_mode(&mode)?;
    state
        .configure(
            &tenant.user,
            Registration::from_claims(&tenant.claims),
            move |user| {
                user.execution_mode = mode;
                Ok(())
            },
        )
        .await?;
    Ok(axum::Json(ExecutionModeResponse {
        success: true,
        message: "execution_mode updated".into(),
        execution_mode: mode.as_str().into(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdatePostRequest {
    /// `link` or `text`.
    #[schema(pattern = "^(link|text)$")]
    post_type: Option<String>,
    /// A `t.me/<channel>/<id>` link, or 1 to 4096 characters of text.
    #[schema(min_length = 1, max_length = 4096)]
    post_content: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UpdatePostResponse {
    success: bool,
    message: String,
    post_type: String,
    post_content: String,
}

/// Sets what the caller posts (registering the tenant first if Herald has not seen it). The
/// content is checked against the (new or current) type.
#[utoipa::path(post, path = "/api/bot/update-post", tag = "bot", request_body = UpdatePostRequest,
    responses((status = 200, body = UpdatePostResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_post(
    State(state): State<AppState>,
    tenant: Tenant,
    Body(request): Body<UpdatePostRequest>,
) -> Result<axum::Json<UpdatePostResponse>, ApiError> {
    if request.post_type.is_none() && request.post_content.is_none() {
        return Err(ApiError::bad_request("No updates provided"));
    }
    let kind = match request.post_type.as_deref() {
        None => None,
        Some("link") => Some(PostKind::Link),
        Some("text") => Some(PostKind::Text),
        Some(_) => return Err(ApiError::bad_request("post_type must be 'link' or 'text'")),
    };
    let (updated, _) = state
        .configure(
            &tenant.user,
            Registration::from_claims(&tenant.claims),
            move |user| {
                // The content is judged against the type it will have: the new one, else the stored one.
                let kind = kind.unwrap_or(user.post_type);
                if let Some(content) = request.post_content {
                    user.post_content = checked_content(kind, content)?;
                }
                user.post_type = kind;
                Ok((
                    user.post_type.as_str().to_owned(),
                    user.post_content.clone(),
                ))
            },
        )
        .await?;
    Ok(axum::Json(UpdatePostResponse {
        success: true,
        message: "Post content updated".into(),
        post_type: updated.0,
        post_content: updated.1,
    }))
}

/// A post's content as stored: a link trimmed, a text as given; refused when empty or when it
/// does not parse as what the worker will send.
fn checked_content(kind: PostKind, content: String) -> Result<String, ApiError> {
    let content = if kind == PostKind::Link {
        content.trim().to_owned()
    } else {
        content
    };
    if content.trim().is_empty() {
        return Err(ApiError::bad_request("post_content cannot be empty"));
    }
    Post::parse(kind.as_str(), &content).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(content)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateGroupsRequest {
    /// `-100<digits>`, `@name`, `name` or `[https://]t.me/name` (stored as `@name`); a name has
    /// 4 to 32 letters, digits, underscores; invite links are refused; at most 1000.
    #[schema(max_items = 1000)]
    groups: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UpdateGroupsResponse {
    success: bool,
    message: String,
    groups_count: usize,
}

/// Checks every group; the first bad one is named in the refusal.
pub(crate) fn check_groups(groups: &[String]) -> Result<Vec<String>, ApiError> {
    if groups.len() > MAX_GROUPS {
        return Err(ApiError::bad_request(format!(
            "Too many groups. Maximum {MAX_GROUPS} groups allowed"
        )));
    }
    groups
        .iter()
        .map(|g| {
            let g = g.trim();
            if g.is_empty() {
                return Err(ApiError::bad_request("Groups cannot be empty strings"));
            }
            // A pasted link is kept as the @name it names; other spellings as the tenant wrote them.
            Target::parse(g)
                .map(|t| {
                    if g.contains('/') {
                        t.to_string()
                    } else {
                        g.to_owned()
                    }
                })
                .map_err(|e| ApiError::bad_request(e.to_string()))
        })
        .collect()
}

/// Replaces the caller's own groups (registering the tenant first if Herald has not seen it).
/// Blocked groups the tenant dropped are forgotten.
#[utoipa::path(post, path = "/api/bot/update-groups", tag = "bot", request_body = UpdateGroupsRequest,
    responses((status = 200, body = UpdateGroupsResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_groups(
    State(state): State<AppState>,
    tenant: Tenant,
    Body(request): Body<UpdateGroupsRequest>,
) -> Result<axum::Json<UpdateGroupsResponse>, ApiError> {
    let groups = check_groups(&request.groups)?;
    let count = groups.len();
    state
        .configure(
            &tenant.user,
            Registration::from_claims(&tenant.claims),
            move |user: &mut User| {
                user.blocked_groups.retain(|b| groups.contains(&b.group));
                user.groups = groups;
                Ok(())
            },
        )
        .await?;
    Ok(axum::Json(UpdateGroupsResponse {
        success: true,
        message: "Groups updated".into(),
        groups_count: count,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateDelaysRequest {
    /// Seconds between two posts of one session; not under the operator's floor.
    #[schema(maximum = 604_800)]
    delay_between_posts: Option<u64>,
    /// Seconds from a cycle's end to the next one's start; not under the operator's floor.
    #[schema(maximum = 604_800)]
    delay_between_cycles: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UpdateDelaysResponse {
    success: bool,
    message: String,
    delay_between_posts: u64,
    delay_between_cycles: u64,
}

/// Herald's addition: sets the caller's delays (registering the tenant first if Herald has not
/// seen it).
#[utoipa::path(post, path = "/api/bot/update-delays", tag = "bot", request_body = UpdateDelaysRequest,
    responses((status = 200, body = UpdateDelaysResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_delays(
    State(state): State<AppState>,
    tenant: Tenant,
    Body(request): Body<UpdateDelaysRequest>,
) -> Result<axum::Json<UpdateDelaysResponse>, ApiError> {
    let config = &state.inner.config;
    if request.delay_between_posts.is_none() && request.delay_between_cycles.is_none() {
        return Err(ApiError::bad_request("No updates provided"));
    }
    check_delay(
        "delay_between_posts",
        request.delay_between_posts,
        config.min_delay_between_posts,
    )?;
    check_delay(
        "delay_between_cycles",
        request.delay_between_cycles,
        config.min_delay_between_cycles,
    )?;
    let (posts, cycles) = (request.delay_between_posts, request.delay_between_cycles);
    let (updated, _) = state
        .configure(
            &tenant.user,
            Registration::from_claims(&tenant.claims),
            move |user| {
                if let Some(posts) = posts {
                    user.delay_between_posts = posts;
                }
                if let Some(cycles) = cycles {
                    user.delay_between_cycles = cycles;
                }
                Ok((user.delay_between_posts, user.delay_between_cycles))
            },
        )
        .await?;
    Ok(axum::Json(UpdateDelaysResponse {
        success: true,
        message: "Delays updated".into(),
        delay_between_posts: updated.0,
        delay_between_cycles: updated.1,
    }))
}

fn check_delay(name: &str, value: Option<u64>, floor: u64) -> Result<(), ApiError> {
    match value {
        Some(v) if v < floor => Err(ApiError::bad_request(format!(
            "{name} must be at least {floor} seconds"
        ))),
        Some(v) if v > MAX_DELAY => Err(ApiError::bad_request(format!(
            "{name} must be at most {MAX_DELAY} seconds"
        ))),
        _ => Ok(()),
    }
}
