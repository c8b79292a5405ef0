//! One module per group of routes; each handler carries its OpenAPI description.

pub mod admin_groups;
pub mod admin_pairs;
pub mod admin_sessions;
pub mod admin_users;
pub mod bot_config;
pub mod bot_control;
pub mod health;
pub mod sync;
