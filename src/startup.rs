//! Starting the whole of Herald in one process on a listener the caller chose: what `herald all`
//! runs, and what the tests start on port 0. The queue and coordination are Redis when the
//! configuration names one, else in-process.

use std::net::SocketAddr;

use anyhow::Context;
use herald_data::Store;
use herald_jobs::{Coordination, Queue};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::wiring::{api, parts, roles};

/// A running Herald: API, scheduler and worker.
#[derive(Debug)]
pub struct Running {
    pub address: SocketAddr,
    pub store: Store,
    shutdown: CancellationToken,
    api: JoinHandle<anyhow::Result<()>>,
    worker: JoinHandle<anyhow::Result<()>>,
    scheduler: JoinHandle<()>,
}

/// Starts everything; returns once the API is listening.
pub async fn start(
    config: &Config,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let api_config = api::api_config(config)?;
    let store = parts::open_store(config)?;
    let (coord, queue) = match &config.redis_url {
        Some(_) => parts::connect_redis(config, "all").await?,
        None => (
            Coordination::in_memory(parts::coord_config(config)),
            Queue::in_memory(),
        ),
    };
    // One backend for the worker and the admin health check: one simulated world, one journal.
    let telegram = parts::telegram(config)?;
    let state = api::app_state(
        config,
        api_config,
        &store,
        coord.clone(),
        queue.clone(),
        telegram.clone(),
    )?;
    let address = listener.local_addr()?;
    let scheduler = tokio::spawn({
        let (config, store, coord, queue, shutdown) = (
            config.clone(),
            store.clone(),
            coord.clone(),
            queue.clone(),
            shutdown.clone(),
        );
        async move { roles::run_scheduler(&config, &store, coord, queue, shutdown).await }
    });
    let worker = tokio::spawn({
        let (config, store, coord, shutdown) = (
            config.clone(),
            store.clone(),
            coord.clone(),
            shutdown.clone(),
        );
        async move { roles::run_worker(&config, &store, coord, queue, telegram, shutdown).await }
    });
    // Serve only once a scheduler has led: bots started before that would be stopped by the
    // restart rule when it first leads. Another process's scheduler may hold the lead (a shared
    // Redis); it lapses within the lease, so the wait is bounded by it.
    let limit = config.lease_ttl * 2 + std::time::Duration::from_secs(5);
    let waited = std::time::Instant::now();
    let mut said = false;
    while coord.epoch().await.ok().flatten().is_none() {
        if waited.elapsed() > limit {
            shutdown.cancel();
            anyhow::bail!(
                "the scheduler did not take the lead within {} s (is another scheduler holding it, or Redis refusing writes?); not serving",
                limit.as_secs()
            );
        }
        if !said && waited.elapsed() > std::time::Duration::from_secs(2) {
            said = true;
            tracing::warn!(
                limit_secs = limit.as_secs(),
                "waiting for the scheduler to lead before serving requests"
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let api = tokio::spawn(api::serve(listener, state, shutdown.clone()));
    Ok(Running {
        address,
        store,
        shutdown,
        api,
        worker,
        scheduler,
    })
}

impl Running {
    /// Resolves when something asked everything to stop (a signal, or [`Running::stop`]).
    pub async fn stopped(&self) {
        self.shutdown.cancelled().await;
    }

    /// Stops taking requests and jobs, lets work in flight finish, flushes counters.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let served = self.api.await.context("the API task failed")?;
        let worked = self.worker.await.context("the worker task failed")?;
        self.scheduler.await.context("the scheduler task failed")?;
        self.store.shutdown()?;
        tracing::info!("stopped; counters flushed");
        served.and(worked)
    }
}
