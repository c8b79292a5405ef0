//! The herald application: configuration, telemetry and the commands of the `herald` binary,
//! wired from the library crates. `main.rs` only parses the command line and reports errors.
//!
//! # Layout
//! - [`config`]: every variable of the contract, validated once at start.
//! - [`telemetry`]: `tracing` to stderr, text or JSON.
//! - [`cli`]: one module per subcommand.
//! - [`bench`]: the benchmarks of BENCHMARKS.md.
//! - [`allocator`]: the allocator's own memory figures, as gauges.
//! - [`startup`]: API, scheduler and worker in one process (`herald all`, tests).
//! - `wiring`: the engine's parts built from the configuration and run (commands and startup
//!   share it).

pub mod allocator;
pub mod bench;
pub mod cli;
pub mod config;
pub mod startup;
pub mod telemetry;
mod wiring;
