//! The engine's parts built from the configuration: the data manager, the session pool,
//! coordination and queue, the Telegram backend, the worker's and scheduler's settings, and the
//! shutdown signal. Each refuses with a clear message when Redis or the data directory is
//! unusable. Nothing here runs anything.

use std::sync::Arc;

use anyhow::Context;
use herald_data::{Store, StoreConfig};
use herald_jobs::{CoordConfig, Coordination, Queue, RedisConfig};
use herald_scheduler::SchedulerConfig;
use herald_sessions::{Pool, PoolConfig};
use herald_telegram::{GrammersTelegram, Journal, Scenario, SimTelegram, Telegram, TelegramConfig};
use herald_worker::WorkerConfig;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, TelegramBackend};

/// Opens the data directory, or says why it cannot be used.
pub(crate) fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(StoreConfig {
        root: config.data_dir.clone(),
        stats_flush_interval: config.stats_flush_interval,
    })
    .with_context(|| {
        format!(
            "the data directory {} is unusable",
            config.data_dir.display()
        )
    })
}

/// The session pool over `store`.
pub(crate) fn pool(config: &Config, store: &Store) -> Pool {
    Pool::new(
        store.clone(),
        PoolConfig {
            max_sessions_per_pair: config.max_sessions_per_pair,
            sessions_per_user: config.sessions_per_user,
            max_replacements_per_day: config.max_replacements_per_day,
        },
    )
}

pub(crate) fn coord_config(config: &Config) -> CoordConfig {
    CoordConfig {
        claim_timeout: config.lease_ttl * 2,
        ..CoordConfig::default()
    }
}

/// Coordination and queue on Redis, checked to answer.
pub(crate) async fn connect_redis(
    config: &Config,
    command: &str,
) -> anyhow::Result<(Coordination, Queue)> {
    let redis = RedisConfig::new(config.require_redis_url(command)?);
    let coord = Coordination::redis(redis.clone(), coord_config(config)).await?;
    let queue = Queue::redis(&redis).await?;
    Ok((coord, queue))
}

/// The Telegram backend the configuration names; a process builds one and shares it (the
/// worker's and the admin health check's in `herald all`).
pub(crate) fn telegram(config: &Config) -> anyhow::Result<Arc<dyn Telegram>> {
    let settings = TelegramConfig {
        call_timeout: config.telegram_call_timeout,
        dc_override: config.telegram_dc,
    };
    match config.telegram {
        TelegramBackend::Grammers => {
            if let Some(dc) = config.telegram_dc {
                tracing::warn!(%dc, "every session connects to a test DC (HERALD_TELEGRAM_DC_ADDR), not to Telegram");
            }
            Ok(Arc::new(GrammersTelegram::new(settings)))
        }
        TelegramBackend::Sim => {
            let (scenario, journal) = simulated_world(config)?;
            tracing::warn!(
                "Telegram is simulated (HERALD_TELEGRAM=sim): nothing is posted anywhere"
            );
            Ok(Arc::new(SimTelegram::with_config(
                scenario, journal, None, settings,
            )?))
        }
    }
}

/// The simulated world's scenario and journal (`HERALD_SIM_SCENARIO`, `HERALD_SIM_JOURNAL`),
/// for either door: the trait-level simulator or the test DC.
pub(crate) fn simulated_world(config: &Config) -> anyhow::Result<(Scenario, Option<Journal>)> {
    let scenario = match &config.sim_scenario {
        Some(path) => Scenario::load(path)
            .with_context(|| format!("HERALD_SIM_SCENARIO {}", path.display()))?,
        None => Scenario::builtin(),
    };
    let journal = match &config.sim_journal {
        Some(path) => Some(
            Journal::open(path)
                .with_context(|| format!("HERALD_SIM_JOURNAL {}", path.display()))?,
        ),
        None => None,
    };
    Ok((scenario, journal))
}

pub(crate) fn worker_config(config: &Config, holder: &str) -> WorkerConfig {
    let mut worker = WorkerConfig::new(holder);
    worker.max_sessions_per_user_concurrent = config.max_sessions_per_user_concurrent;
    worker.min_delay_between_posts = config.min_delay_between_posts;
    worker.min_delay_between_cycles = config.min_delay_between_cycles;
    worker.lease_ttl = config.lease_ttl;
    worker.renew_every = config.lease_ttl / 3;
    worker
}

pub(crate) fn scheduler_config(config: &Config, holder: &str) -> SchedulerConfig {
    let mut scheduler = SchedulerConfig::new(holder);
    scheduler.tick = config.tick;
    scheduler.lease_ttl = config.lease_ttl;
    scheduler
}

/// A token cancelled on SIGTERM or SIGINT.
pub(crate) fn shutdown_on_signal() -> anyhow::Result<CancellationToken> {
    let token = CancellationToken::new();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        }
        cancel.cancel();
    });
    Ok(token)
}
