//! The admin health check of a pool session, through the configured Telegram backend: it takes
//! the session's own lease (the one a running bot takes), connects with the API pair the session
//! is bound to, asks whether an account is signed in, disconnects and releases the lease. It
//! never connects a session a bot holds, and never changes the pool (the admin decides).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use herald_jobs::Coordination;
use herald_sessions::{HealthReport, Pool, SessionChecker, SessionHealth};
use herald_telegram::{ApiCredentials, SendError, SessionHandle, Telegram};
use secrecy::SecretString;

use crate::holds::session_lease_key;

/// Health checks through a Telegram backend, under the sessions' leases.
pub struct TelegramHealthCheck {
    pub telegram: Arc<dyn Telegram>,
    pub pool: Pool,
    pub coord: Coordination,
    pub lease_ttl: Duration,
}

impl std::fmt::Debug for TelegramHealthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramHealthCheck")
            .field("lease_ttl", &self.lease_ttl)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SessionChecker for TelegramHealthCheck {
    async fn check(&self, name: &str, file: &Path) -> HealthReport {
        let lease = session_lease_key(name);
        let holder = format!("health-check/{}", uuid::Uuid::new_v4());
        match self
            .coord
            .lease_acquire(&lease, &holder, self.lease_ttl)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                return HealthReport::because(
                    SessionHealth::InUse,
                    "in use by a running bot: not connected a second time",
                );
            }
            Err(err) => {
                tracing::warn!(error = %err, "health check: cannot take the session lease");
                return HealthReport::because(
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

impl TelegramHealthCheck {
    async fn connect_and_ask(&self, name: &str, file: &Path) -> HealthReport {
        let dead = |reason: String| HealthReport::because(SessionHealth::Dead, reason);
        let path = file.to_owned();
        let credentials =
            match tokio::task::spawn_blocking(move || herald_session_file::read_telethon(&path))
                .await
            {
                Ok(Ok(c)) => c,
                Ok(Err(err)) => return dead(format!("session file unusable: {err}")),
                Err(err) => return dead(format!("reading failed: {err}")),
            };
        let pair = match self.pool.pair_for(name).await {
            Ok(index) => self.pool.pair_credentials(index),
            Err(err) => Err(err),
        };
        let pair = match pair {
            Ok(pair) => pair,
            Err(err) => return dead(format!("no API pair to connect with: {err}")),
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
            Ok(false) => dead("no account is signed in with this session".into()),
            Err(err) => classify(&err),
        }
    }
}

/// What Telegram's refusal says about the session.
fn classify(err: &SendError) -> HealthReport {
    let health = match err {
        SendError::SessionDead { code } if code.contains("BAN") => SessionHealth::Banned,
        SendError::SessionDead { code } if code.starts_with("FROZEN") => SessionHealth::Frozen,
        _ => SessionHealth::Dead,
    };
    HealthReport::because(health, err.to_string())
}
