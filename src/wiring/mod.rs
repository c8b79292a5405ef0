//! The engine's parts built from the validated configuration, and run: what every command of
//! the binary and [`crate::startup`] share. Wiring only: the behaviour lives in the crates.
//!
//! # Layout
//! - `parts`: data manager, pool, coordination and queue, Telegram backend, settings, signals.
//! - `roles`: a worker and a scheduler run from their parts until shutdown.
//! - `api`: the API's state (engine port, health check, metrics), bound and served.
//! - `open_files`: the open-file limit a connection per session needs.

pub(crate) mod api;
mod open_files;
pub(crate) mod parts;
pub(crate) mod roles;
