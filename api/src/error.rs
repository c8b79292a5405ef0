//! The one place where anything that goes wrong becomes an HTTP answer, in the contract's shape:
//! `{"detail": "<sentence>", "error": {"code": "<snake_case>", "message": "<sentence>"}}` (the old
//! frontend reads `detail`). 5xx answers say nothing about the cause; the cause is logged once,
//! here. No answer carries a stack trace, a path on the server, a token or a secret.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_data::DataError;
use herald_sessions::SessionsError;
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A sentence for people (what the old frontend shows).
    pub detail: String,
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case name for programs.
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn user_not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "user_not_found", "User not found")
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// The engine (queue, coordination) could not be reached: the cause is logged, the answer
    /// is a fixed sentence (a 5xx body says nothing about the cause).
    pub fn engine_unavailable(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "the engine could not be reached");
        ApiError::unavailable(
            "The engine is unavailable right now; the command may not have been carried out. Read the bot's state, then try again",
        )
    }

    /// A failure the client cannot act on: logged with its cause, answered generically.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn body(code: &str, message: &str) -> ErrorBody {
        ErrorBody {
            detail: message.to_owned(),
            error: ErrorDetail {
                code: code.to_owned(),
                message: message.to_owned(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiError::body(self.code, &self.message);
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<DataError> for ApiError {
    fn from(err: DataError) -> ApiError {
        match err {
            DataError::ReadOnly { reason } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "read_only",
                format!(
                    "Backend is in read-only mode ({reason}); changes are refused until an operator repairs it"
                ),
            ),
            DataError::UserNotFound { .. } => ApiError::user_not_found(),
            DataError::Invalid(reason) => ApiError::bad_request(reason),
            DataError::Io { ref source, .. } => {
                tracing::error!(error = %err, "data write failed");
                // The error kind ("no storage space", "read-only filesystem ...") tells an
                // operator what to fix; the path and OS message stay in the server log.
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    format!(
                        "Storage is unavailable ({}); nothing was changed, try again later",
                        source.kind()
                    ),
                )
            }
            DataError::OutcomeUnknown { ref source, .. } => {
                tracing::error!(error = %err, "data write failed after the file was replaced");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_outcome_unknown",
                    format!(
                        "Storage failed after the change was written ({}); it may or may not be kept: read the state back before trying again",
                        source.kind()
                    ),
                )
            }
            // The file cannot be read as a document, the store is shutting down, or a change's
            // own code failed: nothing the client can act on.
            err
            @ (DataError::Corrupt { .. } | DataError::Closed | DataError::ChangePanicked(_)) => {
                ApiError::internal(err)
            }
        }
    }
}

impl<E: Into<ApiError>> From<herald_data::UpdateError<E>> for ApiError {
    fn from(err: herald_data::UpdateError<E>) -> ApiError {
        match err {
            herald_data::UpdateError::Data(err) => err.into(),
            herald_data::UpdateError::Rejected(err) => err.into(),
        }
    }
}

impl From<SessionsError> for ApiError {
    fn from(err: SessionsError) -> ApiError {
        match err {
            SessionsError::UserNotFound => ApiError::user_not_found(),
            SessionsError::Suspended { reason } => ApiError::new(
                StatusCode::CONFLICT,
                "suspended",
                format!("Bot is suspended: {reason}"),
            ),
            SessionsError::NoSessions { reason } => ApiError::new(
                StatusCode::CONFLICT,
                "no_sessions",
                format!("No sessions available: {reason}"),
            ),
            SessionsError::SessionNotFound(name) => {
                ApiError::not_found(format!("Session {name} not found"))
            }
            SessionsError::Conflict(message) => ApiError::conflict(message),
            SessionsError::Invalid(message) => ApiError::bad_request(message),
            SessionsError::TooLarge(message) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
            }
            SessionsError::PairInUse { api_id, usage } => ApiError::conflict(format!(
                "API pair {api_id} is in use by {usage} session(s); unassign them first"
            )),
            SessionsError::Data(err) => err.into(),
            err @ SessionsError::Io { .. } => ApiError::internal(err),
        }
    }
}

impl From<()> for ApiError {
    fn from((): ()) -> ApiError {
        ApiError::internal("a change was refused without a reason")
    }
}
