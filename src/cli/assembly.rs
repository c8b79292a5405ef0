//! Assembling the engine's parts from the configuration, and running them until a signal:
//! `herald worker`, `herald scheduler`, and the pieces `herald all` combines. Each refuses to
//! start with a clear message when Redis or the data directory is unusable.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use herald_data::{Store, StoreConfig};
use herald_jobs::{ConsumerLimits, CoordConfig, Coordination, Queue, RedisConfig};
use herald_scheduler::{Scheduler, SchedulerConfig};
use herald_sessions::Pool;
use herald_telegram::{GrammersTelegram, Journal, Scenario, SimTelegram, Telegram, TelegramConfig};
use herald_worker::{Worker, WorkerConfig};
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

/// The Telegram backend the configuration names.
pub(crate) fn telegram(config: &Config) -> anyhow::Result<Arc<dyn Telegram>> {
    let settings = TelegramConfig {
        call_timeout: config.telegram_call_timeout,
        dc_override: config.telegram_dc,
    };
    // Said once per process, however many parts (worker, health checks) build a backend.
    static SAID: std::sync::Once = std::sync::Once::new();
    match config.telegram {
        TelegramBackend::Grammers => {
            if let Some(dc) = config.telegram_dc {
                SAID.call_once(|| tracing::warn!(%dc, "every session connects to a test DC (HERALD_TELEGRAM_DC_ADDR), not to Telegram"));
            }
            Ok(Arc::new(GrammersTelegram::new(settings)))
        }
        TelegramBackend::Sim => {
            let (scenario, journal) = simulated_world(config)?;
            SAID.call_once(|| {
                tracing::warn!(
                    "Telegram is simulated (HERALD_TELEGRAM=sim): nothing is posted anywhere"
                )
            });
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

/// Consumes jobs until `shutdown`, then lets posts in flight finish within the deadline.
pub(crate) async fn run_worker(
    config: &Config,
    store: &Store,
    coord: Coordination,
    queue: Queue,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let pool = Pool::new(store.clone(), super::pool::pool_config(config));
    if config.telegram == TelegramBackend::Grammers {
        make_room_for_connections(&pool).await?;
    }
    let worker = Worker::new(
        store.clone(),
        pool,
        coord,
        telegram(config)?,
        worker_config(config, store.process_id()),
        shutdown.clone(),
    );
    let (on_command, on_cycle) = worker.handlers();
    let limits = ConsumerLimits {
        drain_deadline: config.shutdown_deadline,
        command_claim_idle: (config.lease_ttl * 2).max(Duration::from_secs(5)),
        ..ConsumerLimits::default()
    };
    queue
        .consume(on_command, on_cycle, limits, shutdown)
        .await?;
    Ok(())
}

/// Raises the open-file limit for a connection to each session in the pool (unused or assigned).
async fn make_room_for_connections(pool: &Pool) -> anyhow::Result<()> {
    let folders = pool.folders().clone();
    let sessions = tokio::task::spawn_blocking(move || {
        anyhow::Ok(
            folders.list(&herald_sessions::Place::Unused)?.len() + folders.list_assigned()?.len(),
        )
    })
    .await
    .context("counting the pool's sessions")?
    .context("cannot count the pool's sessions")?;
    if let Some(raised) = super::open_files::ensure(sessions as u64)? {
        tracing::info!(
            sessions,
            from = raised.from,
            to = raised.to,
            "open-file limit raised for a connection per session"
        );
    }
    Ok(())
}

pub(crate) async fn run_scheduler(
    config: &Config,
    store: &Store,
    coord: Coordination,
    queue: Queue,
    shutdown: CancellationToken,
) {
    let scheduler = Scheduler::new(
        coord,
        queue,
        store.clone(),
        scheduler_config(config, store.process_id()),
    );
    scheduler.run(shutdown).await;
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

/// `herald worker`: consumes commands and cycles from Redis.
pub(crate) async fn worker_command(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let (coord, queue) = connect_redis(config, "worker").await?;
    let shutdown = shutdown_on_signal()?;
    tracing::info!(data_dir = %config.data_dir.display(), process = store.process_id(), "worker consuming commands and cycles from Redis");
    let result = run_worker(config, &store, coord, queue, shutdown).await;
    store.shutdown()?;
    tracing::info!("worker stopped; counters flushed");
    result
}

/// `herald scheduler`: leads or stands by.
pub(crate) async fn scheduler_command(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let (coord, queue) = connect_redis(config, "scheduler").await?;
    let shutdown = shutdown_on_signal()?;
    run_scheduler(config, &store, coord, queue, shutdown).await;
    store.shutdown()?;
    Ok(())
}
