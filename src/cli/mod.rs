//! The command line: one subcommand per module, each given the validated configuration.

mod all;
mod pool;
mod roles;
mod testdc;
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
    /// Run API, scheduler and worker in one process (in-process queue unless HERALD_REDIS_URL is set).
    All(all::AllArgs),
    /// Run the HTTP API of a scale-out deployment (needs HERALD_REDIS_URL).
    Api,
    /// Run a worker: consume start/stop commands and cycles from Redis (any number of replicas).
    Worker,
    /// Run the scheduler: emit cycles when tenants are due (one leads, others stand by).
    Scheduler,
    /// Mint an HS256 token with the configured secret (for tests, scripts and newcomers).
    Token(token::TokenArgs),
    /// The session pool: list sessions by state.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// API_ID/API_HASH pairs: add, list.
    #[command(subcommand)]
    Pairs(pool::PairsCommand),
    /// Bring the session folders in line with users.json; reports, never deletes.
    Reconcile,
    /// Serve a local Telegram test DC (MTProto 2.0 over TCP) for the data directory's sessions.
    /// Not Telegram: outcomes come from the simulated world (HERALD_SIM_SCENARIO).
    Testdc(testdc::TestDcArgs),
    /// Run one of the benchmarks of BENCHMARKS.md.
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
}

#[derive(Debug, Subcommand)]
enum SessionsCommand {
    /// Add session files to sessions/unused/: Telethon .session files, Telethon string sessions
    /// (a text file) or grammers session files, each validated and stored as a Telethon file.
    Import {
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
    },
    /// List sessions by state (unused, assigned, banned, frozen).
    List,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&Source::from_process()?)?;
    // One-shot commands print their result; their log would only bury it.
    let service = matches!(
        cli.command,
        Command::Worker | Command::Scheduler | Command::Api | Command::All(_) | Command::Testdc(_)
    );
    let default_filter = if service { "info" } else { "warn" };
    crate::telemetry::init(
        config.log_format,
        config.log_filter.as_deref().unwrap_or(default_filter),
    )?;
    match cli.command {
        Command::All(args) => runtime()?.block_on(all::all_command(config, &args)),
        Command::Api => runtime()?.block_on(roles::api_command(&config)),
        Command::Worker => runtime()?.block_on(roles::worker_command(&config)),
        Command::Scheduler => runtime()?.block_on(roles::scheduler_command(&config)),
        Command::Token(args) => token::run(&config, &args),
        Command::Sessions(SessionsCommand::List) => pool::list_sessions(&config),
        Command::Sessions(SessionsCommand::Import { paths }) => pool::import(&config, &paths),
        Command::Pairs(command) => runtime()?.block_on(pool::pairs(&config, &command)),
        Command::Reconcile => runtime()?.block_on(pool::reconcile(&config)),
        Command::Testdc(args) => runtime()?.block_on(testdc::testdc_command(&config, &args)),
        Command::Bench(command) => crate::bench::run(&config, command),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))
}
