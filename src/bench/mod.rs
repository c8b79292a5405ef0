//! `herald bench <name>`: the benchmarks of BENCHMARKS.md. Each prints a table (Markdown) with
//! what it measured and, where one exists, the limit it measured beside it in the same run.
//! Benchmarks never run in the test suite.

pub mod dispatch;
pub mod report;
pub mod store;

use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// The data manager: update_user, add_stats and flush costs at several store sizes.
    Store(store::StoreArgs),
    /// Empty cycle jobs through scheduler, Redis and one worker process, beside BullMQ and redis-benchmark.
    Dispatch(dispatch::DispatchArgs),
}

pub fn run(config: &Config, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Store(args) => store::run(config, &args),
        BenchCommand::Dispatch(args) => dispatch::run(&args),
    }
}
