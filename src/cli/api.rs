//! The API's state wired from the engine's parts: the engine port is the API crate's own
//! [`JobsEngine`] over this process's queue and coordination; the admin health check asks the
//! configured Telegram backend (it needs a Telegram client, which the API crate does not build).
//! And `herald api`, which serves them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use herald_api::engine::JobsEngine;
use herald_api::{ApiConfig, AppState, HealthReport, SessionChecker, SessionHealth};
use herald_data::Store;
use herald_jobs::{Coordination, Queue};
use herald_sessions::Pool;
use herald_telegram::{ApiCredentials, SendError, SessionHandle, Telegram};
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Health checks through the configured Telegram backend.
pub(crate) struct TelegramChecker {
    pub(crate) telegram: Arc<dyn Telegram>,
    pub(crate) pool: Pool,
    pub(crate) coord: Coordination,
    pub(crate) lease_ttl: Duration,
}

#[async_trait]
impl SessionChecker for TelegramChecker {
    async fn check(&self, name: &str, file: &Path) -> HealthReport {
        let report = |health, reason: &str| HealthReport {
            health,
            reason: Some(reason.to_owned()),
        };
        // The worker's own lease on the session: a session a running bot holds is never
        // connected a second time (Telegram answers AUTH_KEY_DUPLICATED and kills the key).
        let (lease, holder) = (
            format!("session:{name}"),
            format!("health-check/{}", uuid::Uuid::new_v4()),
        );
        match self
            .coord
            .lease_acquire(&lease, &holder, self.lease_ttl)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                return report(
                    SessionHealth::InUse,
                    "in use by a running bot: not connected a second time",
                );
            }
            Err(err) => {
                tracing::warn!(error = %err, "health check: cannot take the session lease");
                return report(
                    SessionHealth::Dead,
                    "not checked: the session's lease cannot be taken (coordination unavailable)",
                );
            }
        }
        let found = self.connect_and_ask(name, file).await;
        if let Err(err) = self.coord.lease_release(&lease, &holder).await {
            tracing::warn!(error = %err, "health check: cannot release the session lease; it expires");
        }
        found
    }
}

impl TelegramChecker {
    async fn connect_and_ask(&self, name: &str, file: &Path) -> HealthReport {
        let report = |health, reason: String| HealthReport {
            health,
            reason: Some(reason),
        };
        let path = file.to_owned();
        let credentials =
            match tokio::task::spawn_blocking(move || herald_session_file::read_telethon(&path))
                .await
            {
                Ok(Ok(c)) => c,
                Ok(Err(err)) => {
                    return report(SessionHealth::Dead, format!("session file unusable: {err}"));
                }
                Err(err) => return report(SessionHealth::Dead, format!("reading failed: {err}")),
            };
        let pair = match self.pool.pair_for(name).await {
            Ok(index) => self.pool.pair_credentials(index),
            Err(err) => Err(err),
        };
        let pair = match pair {
            Ok(pair) => pair,
            Err(err) => {
                return report(
                    SessionHealth::Dead,
                    format!("no API pair to connect with: {err}"),
                );
            }
        };
        let api = ApiCredentials {
            api_id: pair.api_id,
            api_hash: SecretString::from(pair.api_hash.expose().to_owned()),
        };
        let handle = SessionHandle::new(name, credentials);
        let mut connection = match self.telegram.connect(handle, api).await {
            Ok(c) => c,
            Err(err) => return classify(&err),
        };
        let answer = connection.is_authorized().await;
        connection.disconnect().await;
        match answer {
            Ok(true) => HealthReport {
                health: SessionHealth::Active,
                reason: None,
            },
            Ok(false) => report(
                SessionHealth::Dead,
                "no account is signed in with this session".into(),
            ),
            Err(err) => classify(&err),
        }
    }
}

fn classify(err: &SendError) -> HealthReport {
    let health = match err {
        SendError::SessionDead { code } if code.contains("BAN") => SessionHealth::Banned,
        SendError::SessionDead { code } if code.starts_with("FROZEN") => SessionHealth::Frozen,
        _ => SessionHealth::Dead,
    };
    HealthReport {
        health,
        reason: Some(err.to_string()),
    }
}

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
) -> anyhow::Result<AppState> {
    let pool = Pool::new(store.clone(), super::pool::pool_config(config));
    let engine = Arc::new(JobsEngine {
        coord: coord.clone(),
        queue,
        scheduler_ttl: config.heartbeat_ttl.max(config.lease_ttl),
    });
    let checker = Arc::new(TelegramChecker {
        telegram: super::assembly::telegram(config)?,
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

/// `herald api`: the HTTP API of a scale-out deployment.
pub(crate) async fn api_command(config: &Config) -> anyhow::Result<()> {
    let api = api_config(config)?;
    let store = super::assembly::open_store(config)?;
    let (coord, queue) = super::assembly::connect_redis(config, "api").await?;
    let state = app_state(config, api, &store, coord, queue)?;
    let listener = bind(config).await?;
    let shutdown = super::assembly::shutdown_on_signal()?;
    let result = serve(listener, state, shutdown).await;
    store.shutdown()?;
    result
}
