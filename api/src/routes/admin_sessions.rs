//! The session pool for admins: list, upload one file or a zip of them, assign, unassign, verify
//! and ban (the health check is `admin_health`). Everything goes through the session crate; answers name files, never
//! server paths.

use axum::extract::{Multipart, State};
use herald_sessions::{MAX_SESSION_FILE_BYTES, Place};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::body::Body;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Counts {
    total: usize,
    unused: usize,
    assigned: usize,
    banned: usize,
    frozen: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssignedSession {
    filename: String,
    user_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionLists {
    unused: Vec<String>,
    assigned: Vec<AssignedSession>,
    banned: Vec<String>,
    frozen: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse {
    success: bool,
    counts: Counts,
    sessions: SessionLists,
}

/// The pool by state.
#[utoipa::path(get, path = "/api/admin/sessions/list", tag = "admin",
    responses((status = 200, body = ListResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<axum::Json<ListResponse>, ApiError> {
    // A walk of the session folders: on the blocking pool, not the runtime's threads.
    let pool = state.inner.pool.clone();
    let l = tokio::task::spawn_blocking(move || pool.listing())
        .await
        .map_err(ApiError::internal)??;
    let counts = Counts {
        total: l.unused.len() + l.assigned.len() + l.banned.len() + l.frozen.len(),
        unused: l.unused.len(),
        assigned: l.assigned.len(),
        banned: l.banned.len(),
        frozen: l.frozen.len(),
    };
    let assigned = l
        .assigned
        .into_iter()
        .map(|(filename, user_id)| AssignedSession { filename, user_id })
        .collect();
    Ok(axum::Json(ListResponse {
        success: true,
        counts,
        sessions: SessionLists {
            unused: l.unused,
            assigned,
            banned: l.banned,
            frozen: l.frozen,
        },
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verification {
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadResponse {
    success: bool,
    message: String,
    filename: String,
    verification: Verification,
}

/// Adds one session file (multipart field `file`) to the unused pool.
#[utoipa::path(post, path = "/api/admin/sessions/upload", tag = "admin", request_body(content_type = "multipart/form-data", description = "field `file`: a .session file"),
    responses((status = 200, body = UploadResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    _admin: Admin,
    multipart: Multipart,
) -> Result<axum::Json<UploadResponse>, ApiError> {
    let (name, bytes) = file_field(multipart).await?;
    // The contract's 413 for a file too big to be a session; the importer's own check (400)
    // stays for callers other than HTTP.
    if bytes.len() > MAX_SESSION_FILE_BYTES {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "Upload is larger than {} MiB: not a session",
                MAX_SESSION_FILE_BYTES >> 20
            ),
        ));
    }
    let pool = state.inner.pool.clone();
    let imported = tokio::task::spawn_blocking(move || pool.import_bytes(&name, &bytes, None))
        .await
        .map_err(ApiError::internal)??;
    Ok(axum::Json(UploadResponse {
        success: true,
        message: "Session uploaded".into(),
        filename: imported.name,
        verification: Verification {
            valid: true,
            reason: None,
        },
    }))
}

/// The `file` field of a multipart body: its name and bytes.
async fn file_field(mut multipart: Multipart) -> Result<(String, Vec<u8>), ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Upload is too large",
            )
        } else {
            ApiError::bad_request(format!("Invalid multipart body: {}", e.body_text()))
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field
            .file_name()
            .map(str::to_owned)
            .ok_or_else(|| ApiError::bad_request("The file field has no file name"))?;
        let bytes = field.bytes().await.map_err(bad)?;
        return Ok((name, bytes.to_vec()));
    }
    Err(ApiError::bad_request("Missing multipart field 'file'"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rejected {
    filename: String,
    reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResponse {
    success: bool,
    extracted: Vec<String>,
    rejected: Vec<Rejected>,
}

/// Adds every session file of a zip (multipart field `file`); entries are bounded in number, size
/// and compression ratio, and one inside a folder or with an unsafe name is refused.
#[utoipa::path(post, path = "/api/admin/sessions/bulk-upload", tag = "admin", request_body(content_type = "multipart/form-data", description = "field `file`: a zip of .session files"),
    responses((status = 200, body = BulkResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn bulk_upload(
    State(state): State<AppState>,
    _admin: Admin,
    multipart: Multipart,
) -> Result<axum::Json<BulkResponse>, ApiError> {
    let (_, bytes) = file_field(multipart).await?;
    let pool = state.inner.pool.clone();
    let import = tokio::task::spawn_blocking(move || pool.import_zip(&bytes))
        .await
        .map_err(ApiError::internal)??;
    Ok(axum::Json(BulkResponse {
        success: true,
        extracted: import.extracted,
        rejected: import
            .rejected
            .into_iter()
            .map(|(filename, reason)| Rejected { filename, reason })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignRequest {
    filename: String,
    user_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssignResponse {
    success: bool,
    message: String,
    filename: String,
    user_id: String,
}

/// Gives a named unused session to a tenant.
#[utoipa::path(post, path = "/api/admin/sessions/assign", tag = "admin", request_body = AssignRequest,
    responses((status = 200, body = AssignResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn assign(
    State(state): State<AppState>,
    _admin: Admin,
    Body(r): Body<AssignRequest>,
) -> Result<axum::Json<AssignResponse>, ApiError> {
    let user = super::user_id(&r.user_id)?;
    state.inner.pool.assign_named(&user, &r.filename).await?;
    Ok(moved(r, "Session assigned"))
}

/// Takes a session back from a tenant into the unused pool.
#[utoipa::path(post, path = "/api/admin/sessions/unassign", tag = "admin", request_body = AssignRequest,
    responses((status = 200, body = AssignResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn unassign(
    State(state): State<AppState>,
    _admin: Admin,
    Body(r): Body<AssignRequest>,
) -> Result<axum::Json<AssignResponse>, ApiError> {
    let user = super::user_id(&r.user_id)?;
    state.inner.pool.unassign(&user, &r.filename).await?;
    Ok(moved(r, "Session unassigned"))
}

/// The answer to an assign or unassign the pool carried out: the request echoed back.
fn moved(r: AssignRequest, message: &str) -> axum::Json<AssignResponse> {
    axum::Json(AssignResponse {
        success: true,
        message: message.into(),
        filename: r.filename,
        user_id: r.user_id,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FilenameRequest {
    filename: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    success: bool,
    valid: bool,
    exists: bool,
    /// unused, assigned, banned, frozen or unknown.
    location: String,
    filename: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

pub(super) fn location(place: Option<&Place>) -> String {
    place.map_or("unknown", |p| p.folder().as_str()).to_owned()
}

/// Where a session is and whether its file is a usable session.
#[utoipa::path(post, path = "/api/admin/sessions/verify", tag = "admin", request_body = FilenameRequest,
    responses((status = 200, body = VerifyResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn verify(
    State(state): State<AppState>,
    _admin: Admin,
    Body(r): Body<FilenameRequest>,
) -> Result<axum::Json<VerifyResponse>, ApiError> {
    let v = state.inner.pool.verify(&r.filename)?;
    Ok(axum::Json(VerifyResponse {
        success: true,
        valid: v.valid,
        exists: v.located.exists,
        location: location(v.located.place.as_ref()),
        filename: r.filename,
        user_id: v.located.user_id,
        reason: v.reason,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BanResponse {
    success: bool,
    message: String,
    filename: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    replacement: Option<String>,
}

/// Bans a session as if Telegram had killed it: its tenant gets a replacement.
#[utoipa::path(post, path = "/api/admin/sessions/ban", tag = "admin", request_body = FilenameRequest,
    responses((status = 200, body = BanResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn ban(
    State(state): State<AppState>,
    admin: Admin,
    Body(r): Body<FilenameRequest>,
) -> Result<axum::Json<BanResponse>, ApiError> {
    let q = state
        .inner
        .pool
        .ban(&r.filename, &format!("banned by admin {}", admin.who()))
        .await?;
    let message = if q.already {
        "Session was already banned"
    } else {
        "Session banned"
    };
    Ok(axum::Json(BanResponse {
        success: true,
        message: message.into(),
        filename: r.filename,
        replacement: q.replacement,
    }))
}
