//! API pairs for admins: list (hash masked), add, delete (retired in place, refused while sessions
//! are bound to it). A full api_hash never leaves the server.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::body::Body;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct PairView {
    api_id: String,
    /// The first four characters and an ellipsis.
    api_hash: String,
    index: u32,
    usage: usize,
    max: u32,
    retired: bool,
}

impl From<herald_sessions::PairInfo> for PairView {
    fn from(p: herald_sessions::PairInfo) -> Self {
        PairView {
            api_id: p.api_id,
            api_hash: p.masked_hash,
            index: p.index,
            usage: p.usage,
            max: p.max,
            retired: p.retired,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PairsResponse {
    success: bool,
    pairs: Vec<PairView>,
    count: usize,
}

/// Every pair with its usage.
#[utoipa::path(get, path = "/api/admin/api-pairs/list", tag = "admin",
    responses((status = 200, body = PairsResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, _admin: Admin) -> axum::Json<PairsResponse> {
    let pairs: Vec<PairView> = state
        .inner
        .pool
        .list_pairs()
        .into_iter()
        .map(PairView::from)
        .collect();
    axum::Json(PairsResponse {
        success: true,
        count: pairs.len(),
        pairs,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AddPairRequest {
    /// Digits (a string or a number).
    #[schema(schema_with = api_id_schema)]
    api_id: Value,
    /// 32 hexadecimal characters.
    #[schema(pattern = "^[0-9A-Fa-f]{32}$")]
    api_hash: String,
}

/// `api_id` as clients send it: digits in a string, or a number (both are accepted).
fn api_id_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .description(Some("Digits (a string or a number)."))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9]{1,10}$")),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(i32::MAX)),
        )
        .into()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddPairResponse {
    success: bool,
    message: String,
    pair: PairView,
}

/// Registers a pair.
#[utoipa::path(post, path = "/api/admin/api-pairs/add", tag = "admin", request_body = AddPairRequest,
    responses((status = 200, body = AddPairResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    _admin: Admin,
    Body(r): Body<AddPairRequest>,
) -> Result<axum::Json<AddPairResponse>, ApiError> {
    let api_id = match r.api_id {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "api_id must be a number (digits only)",
            ));
        }
    };
    let info = state.inner.pool.add_pair(&api_id, &r.api_hash).await?;
    Ok(axum::Json(AddPairResponse {
        success: true,
        message: "API pair added".into(),
        pair: info.into(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletePairResponse {
    success: bool,
    message: String,
}

/// Retires a pair in place (indices never shift); refused while sessions are bound to it.
#[utoipa::path(delete, path = "/api/admin/api-pairs/{api_id}", tag = "admin", params(("api_id" = String, Path)),
    responses((status = 200, body = DeletePairResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    Path(api_id): Path<String>,
) -> Result<axum::Json<DeletePairResponse>, ApiError> {
    match state.inner.pool.retire_pair(&api_id).await {
        Ok(()) => Ok(axum::Json(DeletePairResponse {
            success: true,
            message: format!("API pair {api_id} retired"),
        })),
        Err(herald_sessions::SessionsError::Invalid(message)) => Err(ApiError::not_found(message)),
        Err(err) => Err(err.into()),
    }
}
