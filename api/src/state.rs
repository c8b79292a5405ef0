//! What every handler shares: the data manager, the session pool, the ports to the engine and to
//! Telegram (for session health checks), and the API's own settings.

use std::sync::Arc;
use std::time::Duration;

use herald_data::{Store, User, UserId};
use herald_sessions::{Pool, SessionChecker};
use jsonwebtoken::DecodingKey;
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::{ExposeSecret, SecretString};

use crate::engine::EnginePort;

/// The API's settings (the binary fills them from its configuration).
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub jwt_secret: SecretString,
    /// CORS origins.
    pub frontend_urls: Vec<String>,
    /// How long start/stop wait for the worker's answer before answering 202.
    pub command_wait: Duration,
    pub min_delay_between_posts: u64,
    pub min_delay_between_cycles: u64,
    /// A running bot without a heartbeat this long shows CRASHED.
    pub heartbeat_ttl: Duration,
    /// Largest JSON body.
    pub body_limit: usize,
    /// Largest upload (a session file, or a zip of them).
    pub upload_limit: usize,
    pub request_timeout: Duration,
    /// How long an admin health check of one session may take.
    pub health_check_timeout: Duration,
}

impl ApiConfig {
    pub fn new(jwt_secret: SecretString) -> ApiConfig {
        ApiConfig {
            jwt_secret,
            frontend_urls: vec!["http://localhost:3000".into()],
            command_wait: Duration::from_secs(5),
            min_delay_between_posts: 5,
            min_delay_between_cycles: 60,
            heartbeat_ttl: Duration::from_secs(30),
            body_limit: 1024 * 1024,
            upload_limit: 64 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            health_check_timeout: Duration::from_secs(15),
        }
    }
}

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) pool: Pool,
    pub(crate) engine: Arc<dyn EnginePort>,
    pub(crate) checker: Arc<dyn SessionChecker>,
    pub(crate) config: ApiConfig,
    pub(crate) metrics: Option<PrometheusHandle>,
    pub(crate) decoding_key: DecodingKey,
    /// The console's charts, sampled while this process serves.
    pub(crate) activity: crate::console::activity::Activity,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// Fails only if the key cannot be used for HS256.
    pub fn new(
        store: Store,
        pool: Pool,
        engine: Arc<dyn EnginePort>,
        checker: Arc<dyn SessionChecker>,
        config: ApiConfig,
        metrics: Option<PrometheusHandle>,
    ) -> Result<AppState, jsonwebtoken::errors::Error> {
        let decoding_key = DecodingKey::from_secret(config.jwt_secret.expose_secret().as_bytes())?;
        Ok(AppState {
            inner: Arc::new(Inner {
                store,
                pool,
                engine,
                checker,
                config,
                metrics,
                decoding_key,
                activity: crate::console::activity::Activity::new(chrono::Utc::now()),
            }),
        })
    }

    /// The last `lines` lines of the tenant's log, read off the runtime's threads (a file read).
    /// A tenant without a log costs two `stat`s and no hop to the blocking pool, which costs
    /// more than the rest of the request (bench state: 40% of the requests per second).
    pub(crate) async fn log_tail(&self, user: &UserId, lines: usize) -> Vec<String> {
        if !self.inner.store.has_log(user) {
            return Vec::new();
        }
        let (store, user) = (self.inner.store.clone(), user.clone());
        match tokio::task::spawn_blocking(move || store.log_tail(&user, lines)).await {
            Ok(tail) => tail,
            Err(err) => {
                tracing::error!(error = %err, "reading a tenant log failed");
                Vec::new()
            }
        }
    }

    /// The caller's record, or the contract's 404 `User not found`. As last parsed: a change
    /// another process made a moment ago may not show yet (the API only reads it; workers
    /// decide on fresh reads).
    pub(crate) fn tenant_record(&self, user: &UserId) -> Result<Arc<User>, crate::error::ApiError> {
        self.inner
            .store
            .user_recent(user.as_str())
            .ok_or_else(crate::error::ApiError::user_not_found)
    }
}
