//! `herald bench <name>`: the benchmarks of BENCHMARKS.md. Each prints a table (Markdown) with
//! what it measured and, where one exists, the limit it measured beside it in the same run.
//! Benchmarks never run in the test suite.

pub mod console;
pub mod cost;
pub mod dispatch;
pub mod http;
pub mod lag;
pub mod memory;
pub mod posts;
mod procfs;
mod reference;
pub mod report;
pub mod state;
pub mod store;
mod wire;
pub mod writes;

use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// The data manager: update_user, add_stats and flush costs at several store sizes.
    Store(store::StoreArgs),
    /// Empty cycle jobs through scheduler, Redis and one worker process, beside BullMQ and redis-benchmark.
    Dispatch(dispatch::DispatchArgs),
    /// How late cycles start after their next_run_at, in-process and through Redis.
    Lag(lag::LagArgs),
    /// End-to-end posts per second on one worker against the simulator, counters checked.
    Posts(posts::PostsArgs),
    /// GET /api/sync/state throughput and latency with many tenants, from another process.
    State(state::StateArgs),
    /// Durable POST /api/bot/update-groups throughput with concurrent clients.
    Writes(writes::WritesArgs),
    /// Resident memory of herald all, idle and with every bot running.
    Memory(memory::MemoryArgs),
    /// Memory and CPU of running bots, whole process and per bot, on the simulator or the grammers path.
    Cost(cost::CostArgs),
    /// The operator's console's requests with many tenants, from another process.
    Console(console::ConsoleArgs),
}

pub fn run(config: &Config, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Store(args) => store::run(config, &args),
        BenchCommand::Dispatch(args) => dispatch::run(&args),
        BenchCommand::Lag(args) => lag::run(&args),
        BenchCommand::Posts(args) => posts::run(&args),
        BenchCommand::State(args) => state::run(&args),
        BenchCommand::Writes(args) => writes::run(&args),
        BenchCommand::Memory(args) => memory::run(&args),
        BenchCommand::Cost(args) => cost::run(&args),
        BenchCommand::Console(args) => console::run(&args),
    }
}

/// A throw-away directory `herald-bench-<name>-*` under `parent`, which is created if missing.
pub(crate) fn scratch(parent: &std::path::Path, name: &str) -> anyhow::Result<tempfile::TempDir> {
    use anyhow::Context;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    tempfile::Builder::new()
        .prefix(&format!("herald-bench-{name}-"))
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a directory in {}", parent.display()))
}
