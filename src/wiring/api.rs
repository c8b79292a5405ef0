//! The API's state wired from the engine's parts: the engine port is the API crate's own
//! [`JobsEngine`] over this process's queue and coordination; the admin health check is the
//! worker's [`TelegramHealthCheck`] over the Telegram backend it is given (in `herald all` the
//! worker's own, so one simulated world serves both). Binding and serving
//! the listener; the process's metrics recorder.

use std::sync::Arc;

use anyhow::Context;
use herald_api::engine::JobsEngine;
use herald_api::{ApiConfig, AppState};
use herald_data::Store;
use herald_jobs::{Coordination, Queue};
use herald_telegram::Telegram;
use herald_worker::TelegramHealthCheck;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

pub(crate) fn api_config(config: &Config) -> anyhow::Result<ApiConfig> {
    let mut api = ApiConfig::new(config.require_jwt_secret()?.clone());
    api.frontend_urls = config.frontend_urls.clone();
    api.command_wait = config.command_wait;
    api.min_delay_between_posts = config.min_delay_between_posts;
    api.min_delay_between_cycles = config.min_delay_between_cycles;
    api.heartbeat_ttl = config.heartbeat_ttl;
    Ok(api)
}

/// How often histogram samples are folded into their summaries.
const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// The process's Prometheus recorder, installed on first use (a process has one recorder).
/// Its upkeep runs on a thread of its own: the recorder keeps every histogram sample (a cycle's
/// duration, the scheduler's lag, each HTTP request's time) until upkeep or a scrape folds them
/// into summaries, so a deployment nobody scrapes grew by every sample it ever recorded.
pub(crate) fn metrics() -> Option<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<PrometheusHandle>> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            match metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder() {
                Ok(handle) => {
                    crate::allocator::start_gauges();
                    start_upkeep(handle.clone());
                    Some(handle)
                }
                Err(err) => {
                    tracing::warn!(error = %err, "metrics are disabled");
                    None
                }
            }
        })
        .clone()
}

fn start_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("herald-metrics".into())
        .spawn(move || {
            loop {
                std::thread::sleep(METRICS_UPKEEP);
                handle.run_upkeep();
            }
        });
    if let Err(err) = spawned {
        // Scrapes still fold the samples; only an unscraped process keeps them all.
        tracing::warn!(error = %err, "histogram upkeep is not running");
    }
}

/// Builds the API's state from the engine's parts.
pub(crate) fn app_state(
    config: &Config,
    api: ApiConfig,
    store: &Store,
    coord: Coordination,
    queue: Queue,
    telegram: Arc<dyn Telegram>,
) -> anyhow::Result<AppState> {
    let pool = super::parts::pool(config, store);
    let engine = Arc::new(JobsEngine {
        coord: coord.clone(),
        queue,
        scheduler_ttl: config.heartbeat_ttl.max(config.lease_ttl),
    });
    let checker = Arc::new(TelegramHealthCheck {
        telegram,
        pool: pool.clone(),
        coord: coord.clone(),
        lease_ttl: config.lease_ttl,
    });
    AppState::new(store.clone(), pool, engine, checker, api, metrics())
        .context("the JWT secret cannot be used")
}

/// Binds `HERALD_LISTEN`, or says why it cannot.
pub(crate) async fn bind(config: &Config) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (HERALD_LISTEN)", config.listen))
}

/// Serves the API until `shutdown`, finishing requests in flight.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!(address = %listener.local_addr()?, "API listening");
    herald_api::serve(listener, state, async move { shutdown.cancelled().await }).await?;
    Ok(())
}
