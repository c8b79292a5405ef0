//! The command line: one subcommand per module, each given the validated configuration.

mod token;

use clap::{Parser, Subcommand};

use crate::config::{Config, Source};

/// Runs Telegram posting accounts for many tenants: API, scheduler and workers.
#[derive(Debug, Parser)]
#[command(name = "herald", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Mint an HS256 token with the configured secret (for tests, scripts and newcomers).
    Token(token::TokenArgs),
    /// Run one of the benchmarks of BENCHMARKS.md.
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&Source::from_process()?)?;
    crate::telemetry::init(config.log_format, &config.log_filter)?;
    match cli.command {
        Command::Token(args) => token::run(&config, &args),
        Command::Bench(command) => crate::bench::run(&config, command),
    }
}
