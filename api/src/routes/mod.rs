//! One module per group of routes; each handler carries its OpenAPI description.

pub mod admin_groups;
pub mod admin_health;
pub mod admin_pairs;
pub mod admin_sessions;
pub mod admin_users;
pub mod bot_config;
pub mod bot_control;
pub mod health;
pub mod sync;

use herald_data::UserId;

use crate::error::ApiError;

/// A user id from a path or a body, or the 400 every admin route gives for a bad one.
pub(crate) fn user_id(id: &str) -> Result<UserId, ApiError> {
    UserId::parse(id).map_err(|e| ApiError::bad_request(format!("Invalid user_id: {e}")))
}
