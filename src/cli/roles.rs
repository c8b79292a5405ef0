//! `herald api`, `herald worker`, `herald scheduler`: one role of a scale-out deployment each,
//! on Redis, until SIGTERM or SIGINT. The parts come from [`crate::wiring`].

use crate::config::Config;
use crate::wiring::{api, parts, roles};

/// `herald api`: the HTTP API of a scale-out deployment.
pub(crate) async fn api_command(config: &Config) -> anyhow::Result<()> {
    let api = api::api_config(config)?;
    let store = parts::open_store(config)?;
    let (coord, queue) = parts::connect_redis(config, "api").await?;
    let state = api::app_state(config, api, &store, coord, queue, parts::telegram(config)?)?;
    let listener = api::bind(config).await?;
    let shutdown = parts::shutdown_on_signal()?;
    let result = api::serve(listener, state, shutdown).await;
    store.shutdown()?;
    result
}

/// `herald worker`: consumes commands and cycles from Redis.
pub(crate) async fn worker_command(config: &Config) -> anyhow::Result<()> {
    let store = parts::open_store(config)?;
    let (coord, queue) = parts::connect_redis(config, "worker").await?;
    let shutdown = parts::shutdown_on_signal()?;
    tracing::info!(data_dir = %config.data_dir.display(), process = store.process_id(), "worker consuming commands and cycles from Redis");
    let telegram = parts::telegram(config)?;
    let result = roles::run_worker(config, &store, coord, queue, telegram, shutdown).await;
    store.shutdown()?;
    tracing::info!("worker stopped; counters flushed");
    result
}

/// `herald scheduler`: leads or stands by.
pub(crate) async fn scheduler_command(config: &Config) -> anyhow::Result<()> {
    let store = parts::open_store(config)?;
    let (coord, queue) = parts::connect_redis(config, "scheduler").await?;
    let shutdown = parts::shutdown_on_signal()?;
    roles::run_scheduler(config, &store, coord, queue, shutdown).await;
    store.shutdown()?;
    Ok(())
}
