//! The HTTP API against the whole of Herald running in this process (port 0, simulated
//! Telegram). One test binary for all API tests.

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

mod admin;
mod auth;
mod auth_attacks;
mod bad_input;
mod compat;
mod frontend;
mod helpers;
mod isolation;
mod openapi;
