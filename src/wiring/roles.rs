//! The engine's roles run from their parts until `shutdown`: a worker consuming the queue, a
//! scheduler leading or standing by. Used by `herald worker`, `herald scheduler` and
//! [`crate::startup`]; never builds the parts itself beyond the pool a worker needs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use herald_data::Store;
use herald_jobs::{ConsumerLimits, Coordination, Queue};
use herald_scheduler::Scheduler;
use herald_sessions::Pool;
use herald_telegram::Telegram;
use herald_worker::Worker;
use tokio_util::sync::CancellationToken;

use super::parts::{scheduler_config, worker_config};
use crate::config::{Config, TelegramBackend};

/// Consumes jobs until `shutdown`, then lets posts in flight finish within the deadline.
pub(crate) async fn run_worker(
    config: &Config,
    store: &Store,
    coord: Coordination,
    queue: Queue,
    telegram: Arc<dyn Telegram>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let pool = super::parts::pool(config, store);
    if config.telegram == TelegramBackend::Grammers {
        make_room_for_connections(&pool).await?;
    }
    let worker = Worker::new(
        store.clone(),
        pool,
        coord,
        telegram,
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
